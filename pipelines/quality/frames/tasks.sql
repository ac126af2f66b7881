-- Each task of the workflow's own processes touched since the checks last passed: when it was
-- created, when and how often it was decided, and whether its node is one its process defines.
with

touched as (
    select distinct task_id from raw_events
    where event_id > getvariable('quality_after')
        and task_id is not null
        and stream_type = 'instance'
),

-- A task's events are all in its instance's stream, which its new event touched.
task_events as (
    select quality_touched_events.*
    from quality_touched_events
    semi join touched using (task_id)
    where quality_touched_events.stream_type = 'instance'
),

nodes as (select * from raw_catalog__nodes),

per_task as (
    select
        task_id,
        any_value(stream_id) as instance_id,
        any_value(process_key) as process_key,
        any_value(process_version) as process_version,
        any_value(node_key) as node_key,
        min(occurred_at) filter (where event_type = 'task_created') as created_at,
        min(occurred_at) filter (where event_type in ('approved', 'rejected', 'returned'))
            as first_decided_at,
        count(*) filter (where event_type in ('approved', 'rejected', 'returned')) as decisions
    from task_events
    group by task_id
),

final as (
    select
        per_task.*,
        epoch(per_task.created_at) as created_s,
        epoch(per_task.first_decided_at) as first_decided_s,
        per_task.decisions = 0 or per_task.created_at is not null as is_created_if_decided,
        exists (
            select 1 from nodes
            where nodes.process_key = per_task.process_key
                and nodes.process_version = per_task.process_version
                and nodes.node_key = per_task.node_key
        ) as is_defined_node
    from per_task
)

select * from final
