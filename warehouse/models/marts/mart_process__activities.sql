-- materialized: table
-- publish: true
-- refresh: periodic
-- How often each activity occurs in each process (steps as defined in int_process__steps).
with

steps as (
    select * from int_process__steps
),

final as (
    select
        process_key,
        activity,
        count(*) as events
    from steps
    group by process_key, activity
)

select * from final
