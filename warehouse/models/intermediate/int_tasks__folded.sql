-- materialized: incremental
-- key: instance_id
-- One row per task (a node visit) of a native instance, folded from its events: when it was
-- created, first viewed and decided, how it ended, who decided it. A task is decided by its
-- first approval, rejection or return; a cancelled task (a sibling rejected, the applicant
-- withdrew) has no decision. An implicit view (a decision without a prior view) is recorded at
-- the decision, so such a task waited the whole time and took no handling time.
with

events as (
    select
        *,
        event_type in ('approved', 'rejected', 'returned') as is_decision
    from affected_events
    where stream_type = 'instance'
      and task_id is not null
),

-- Each instance's newest event, of a task or not: fct_tasks reads the tasks of the instances
-- with events past its mark by this range.
marks as (
    select stream_id as instance_id, max(event_id) as instance_last_event_id
    from affected_events
    where stream_type = 'instance'
    group by all
),

created as (
    select
        task_id,
        stream_id as instance_id,
        process_key,
        process_version,
        node_key,
        department_id,
        occurred_at as created_at,
        sla_hours,
        step,
        assignees
    from events
    where event_type = 'task_created'
),

-- Everything else a task's events tell, in one pass over them (a group by a question, each
-- joined back, took twice as long): who may decide it now (the assignees of its last
-- task_created or reassigned event: 转办 replaces them, 委托 adds a delegate), its first view,
-- its decision (the first approval, rejection or return), its cancellation, and how often it
-- was reminded, reassigned and delegated.
per_task as (
    select
        task_id,
        arg_max(assignees, event_id) filter (where event_type in ('task_created', 'reassigned'))
            as assignees,
        min(occurred_at) filter (where event_type = 'task_viewed') as first_viewed_at,
        arg_min(event_type, event_id) filter (where is_decision) as decision,
        min(occurred_at) filter (where is_decision) as decided_at,
        arg_min(actor_id, event_id) filter (where is_decision) as decided_by,
        min(occurred_at) filter (where event_type = 'task_cancelled') as cancelled_at,
        arg_min(reason, event_id) filter (where event_type = 'task_cancelled') as cancel_reason,
        count(*) filter (where event_type = 'reminded') as reminders,
        count(*) filter (where event_type = 'reassigned' and not is_delegation) as reassignments,
        count(*) filter (where event_type = 'reassigned' and is_delegation) as delegations
    from events
    group by all
),

final as (
    select
        created.task_id,
        created.instance_id,
        created.process_key,
        created.process_version,
        created.node_key,
        created.step,
        created.department_id,
        coalesce(per_task.assignees, created.assignees) as assignees,
        created.sla_hours,
        created.created_at,
        -- A view logged after the decision (possible when clocks disagree) does not count.
        case
            when per_task.decided_at is null then per_task.first_viewed_at
            else least(coalesce(per_task.first_viewed_at, per_task.decided_at), per_task.decided_at)
        end as first_viewed_at,
        per_task.decided_at,
        per_task.decided_by,
        per_task.cancelled_at,
        per_task.cancel_reason,
        case
            when per_task.decision is not null then per_task.decision
            when per_task.cancelled_at is not null then 'cancelled'
            else 'open'
        end as outcome,
        coalesce(per_task.reminders, 0) as reminders,
        coalesce(per_task.reassignments, 0) as reassignments,
        coalesce(per_task.delegations, 0) as delegations,
        marks.instance_last_event_id
    from created
    left join per_task using (task_id)
    left join marks using (instance_id)
)

select * from final
