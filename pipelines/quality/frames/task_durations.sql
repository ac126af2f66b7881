-- The task facts of the instances that gained events since the checks last passed: those whose
-- instance's newest event came after it (a range the zone maps answer, where a join with the
-- new events' instances read all 2.5 M tasks).
with

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
    where instance_last_event_id > getvariable('quality_after')
)

select * from final
