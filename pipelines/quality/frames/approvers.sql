-- Who decided tasks of the workflow's own processes since the checks last passed, and whether
-- the business systems know them as staff.
with

decisions as (
    select event_id, stream_id, task_id, occurred_at, actor_id
    from raw_events
    where event_id > getvariable('quality_after')
        and stream_type = 'instance'
        and event_type in ('approved', 'rejected', 'returned')
),

final as (
    select
        decisions.event_id,
        decisions.stream_id as instance_id,
        decisions.task_id,
        decisions.occurred_at,
        decisions.actor_id,
        decisions.actor_id in (select staff_id from raw_business__staff) as is_known_approver
    from decisions
)

select * from final
order by event_id
