-- materialized: incremental
-- key: instance_id
-- One row per task (a node visit) of a native instance, folded from its events: when it was
-- created, first viewed and decided, how it ended, who decided it. A task is decided by its
-- first approval, rejection or return; a cancelled task (a sibling rejected, the applicant
-- withdrew) has no decision. An implicit view (a decision without a prior view) is recorded at
-- the decision, so such a task waited the whole time and took no handling time.
with

events as (
    select * from affected_events
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

-- Who may decide the task now: the assignees of its last task_created or reassigned event
-- (转办 replaces them, 委托 adds a delegate).
assigned as (
    select task_id, arg_max(assignees, event_id) as assignees
    from events
    where event_type in ('task_created', 'reassigned')
    group by all
),

viewed as (
    select task_id, min(occurred_at) as first_viewed_at
    from events
    where event_type = 'task_viewed'
    group by all
),

decided as (
    select
        task_id,
        arg_min(event_type, event_id) as decision,
        min(occurred_at) as decided_at,
        arg_min(actor_id, event_id) as decided_by,
        arg_min(event_id, event_id) as decision_event_id
    from events
    where event_type in ('approved', 'rejected', 'returned')
    group by all
),

cancelled as (
    select task_id, min(occurred_at) as cancelled_at, arg_min(reason, event_id) as cancel_reason
    from events
    where event_type = 'task_cancelled'
    group by all
),

activity as (
    select
        task_id,
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
        coalesce(assigned.assignees, created.assignees) as assignees,
        created.sla_hours,
        created.created_at,
        -- A view logged after the decision (possible when clocks disagree) does not count.
        case
            when decided.decided_at is null then viewed.first_viewed_at
            else least(coalesce(viewed.first_viewed_at, decided.decided_at), decided.decided_at)
        end as first_viewed_at,
        decided.decided_at,
        decided.decided_by,
        cancelled.cancelled_at,
        cancelled.cancel_reason,
        case
            when decided.decision is not null then decided.decision
            when cancelled.cancelled_at is not null then 'cancelled'
            else 'open'
        end as outcome,
        coalesce(activity.reminders, 0) as reminders,
        coalesce(activity.reassignments, 0) as reassignments,
        coalesce(activity.delegations, 0) as delegations,
        marks.instance_last_event_id
    from created
    left join assigned using (task_id)
    left join viewed using (task_id)
    left join decided using (task_id)
    left join cancelled using (task_id)
    left join activity using (task_id)
    left join marks using (instance_id)
)

select * from final
