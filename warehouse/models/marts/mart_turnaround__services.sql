-- materialized: table
-- publish: true
-- refresh: periodic
-- Per service and period (all time, campus month, ISO week) of submission: volume, how many
-- reached their end (办结率 = terminal / submitted), outcomes, and the turnaround of finished
-- requests (approved or rejected; withdrawals excluded) in wall-clock and working seconds.
-- Every figure carries its sample size.
with

instances as (
    select fct_instances.*
    from fct_instances
    join dim_processes using (process_key)
    where not dim_processes.is_campaign
),

periods as (
    select
        instances.*,
        grain.period_grain,
        case grain.period_grain
            when 'all' then date '1970-01-01'
            when 'month' then cast(date_trunc('month', submitted_at + interval 8 hour) as date)
            else cast(date_trunc('week', submitted_at + interval 8 hour) as date)
        end as period_start
    from instances
    cross join (values ('all'), ('month'), ('week')) as grain(period_grain)
),

final as (
    select
        process_key,
        period_grain,
        period_start,
        count(*) as submitted,
        count(*) filter (where is_terminal) as terminal,
        count(*) filter (where outcome = 'approved') as approved,
        count(*) filter (where outcome = 'rejected') as rejected,
        count(*) filter (where outcome = 'withdrawn') as withdrawn,
        count(*) filter (where not is_terminal) as open,
        count(*) filter (where is_terminal) / count(*) as completion_rate,
        count(*) filter (where outcome in ('approved', 'rejected')) as finished,
        quantile_cont(turnaround_s, 0.5) filter (where outcome in ('approved', 'rejected'))
            as turnaround_median_s,
        quantile_cont(turnaround_s, 0.9) filter (where outcome in ('approved', 'rejected'))
            as turnaround_p90_s,
        min(turnaround_s) filter (where outcome in ('approved', 'rejected')) as turnaround_min_s,
        max(turnaround_s) filter (where outcome in ('approved', 'rejected')) as turnaround_max_s,
        quantile_cont(turnaround_working_s, 0.5) filter (
            where outcome in ('approved', 'rejected')
        ) as turnaround_working_median_s,
        quantile_cont(turnaround_working_s, 0.9) filter (
            where outcome in ('approved', 'rejected')
        ) as turnaround_working_p90_s,
        min(turnaround_working_s) filter (where outcome in ('approved', 'rejected'))
            as turnaround_working_min_s,
        cast(sum(returns) as bigint) as returns
    from periods
    group by all
)

select * from final
