-- materialized: table
-- publish: true
-- refresh: periodic
-- The directly-follows graph of each process: pairs (from_activity, to_activity) where the
-- second directly follows the first within a case, in case order (int_process__steps); how
-- many such pairs, and the median (quantile_cont) and mean wall-clock seconds between them.
with

steps as (
    select * from int_process__steps
),

final as (
    select
        process_key,
        activity as from_activity,
        next_activity as to_activity,
        count(*) as pairs,
        quantile_cont(seconds_to_next, 0.5) as median_s,
        avg(seconds_to_next) as mean_s
    from steps
    where next_activity is not null
    group by process_key, activity, next_activity
)

select * from final
