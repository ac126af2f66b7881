-- materialized: table
-- publish: true
-- refresh: periodic
-- Per service, node and department, by period of decision (all time, campus month, ISO
-- week): decided tasks, wait vs handling vs duration (median, p90, min) in wall-clock and
-- working seconds, on-time rate against the node's SLA, breaches. `decided` is the sample size.
with

tasks as (select * from fct_tasks where is_decided),

periods as (
    select
        tasks.*,
        grain.period_grain,
        case grain.period_grain
            when 'all' then date '1970-01-01'
            when 'month' then cast(date_trunc('month', decided_at + interval 8 hour) as date)
            else cast(date_trunc('week', decided_at + interval 8 hour) as date)
        end as period_start
    from tasks
    cross join (values ('all'), ('month'), ('week')) as grain(period_grain)
),

final as (
    select
        process_key,
        node_key,
        department_id,
        period_grain,
        period_start,
        any_value(step) as step,
        any_value(is_parallel_step) as is_parallel_step,
        max(sla_hours) as sla_hours,
        count(*) as decided,
        count(*) filter (where outcome = 'approved') as approved,
        count(*) filter (where outcome = 'rejected') as rejected,
        count(*) filter (where outcome = 'returned') as returned,
        -- Both quantiles of a column from one aggregate (a list of quantiles, the repeated
        -- expression computed once): half the states to hold for 10,000 groups.
        quantile_cont(wait_s, [0.5, 0.9])[1] as wait_median_s,
        quantile_cont(wait_s, [0.5, 0.9])[2] as wait_p90_s,
        quantile_cont(handling_s, [0.5, 0.9])[1] as handling_median_s,
        quantile_cont(handling_s, [0.5, 0.9])[2] as handling_p90_s,
        quantile_cont(duration_s, [0.5, 0.9])[1] as duration_median_s,
        quantile_cont(duration_s, [0.5, 0.9])[2] as duration_p90_s,
        min(duration_s) as duration_min_s,
        quantile_cont(wait_working_s, [0.5, 0.9])[1] as wait_working_median_s,
        quantile_cont(wait_working_s, [0.5, 0.9])[2] as wait_working_p90_s,
        quantile_cont(handling_working_s, [0.5, 0.9])[1] as handling_working_median_s,
        quantile_cont(handling_working_s, [0.5, 0.9])[2] as handling_working_p90_s,
        quantile_cont(duration_working_s, [0.5, 0.9])[1] as duration_working_median_s,
        quantile_cont(duration_working_s, [0.5, 0.9])[2] as duration_working_p90_s,
        min(duration_working_s) as duration_working_min_s,
        count(*) filter (where not is_breached) / count(*) as on_time_rate,
        count(*) filter (where is_breached) as breaches
    from periods
    group by process_key, node_key, department_id, period_grain, period_start
)

select * from final
