-- materialized: table
-- publish: true
-- refresh: periodic
-- One row per process (native or imported log): its cases, events, and the case duration
-- (first to last event of the case, wall-clock seconds; a one-event case lasts 0): min, median,
-- mean, p90 (quantile_cont: linear interpolation), max. Cases as int_process__cases counts them.
with

cases as (select * from int_process__cases),

final as (
    select
        process_key,
        count(*) as cases,
        sum(events)::bigint as events,
        min(duration_s) as duration_min_s,
        quantile_cont(duration_s, 0.5) as duration_median_s,
        avg(duration_s) as duration_mean_s,
        quantile_cont(duration_s, 0.9) as duration_p90_s,
        max(duration_s) as duration_max_s
    from cases
    group by process_key
)

select * from final
