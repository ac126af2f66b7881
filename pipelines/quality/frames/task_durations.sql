-- The task facts of the instances that gained events since the checks last passed.
with

touched as (
    select distinct stream_id as instance_id from raw_events
    where event_id > getvariable('quality_after')
        and stream_type = 'instance'
),

final as (
    select
        task_id,
        instance_id,
        wait_s,
        handling_s,
        duration_s,
        wait_working_s,
        handling_working_s,
        duration_working_s
    from fct_tasks
    semi join touched using (instance_id)
)

select * from final
