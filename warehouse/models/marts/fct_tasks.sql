-- materialized: incremental
-- key: instance_id
-- One row per task (node visit) of a native request: created, first viewed, decided; wait
-- (created → first view), handling (first view → decision) and duration (both) in wall-clock
-- seconds and in working seconds under its department's calendar; the SLA and whether the
-- decision breached it; signals: a decision out of office hours, an approval within 30 s of
-- opening the task (秒批). Working seconds use the working clock: W(b) − W(a)
-- (int_calendar__working_clock).
with

-- The tasks of the instances with events past the model's mark: a range on their instance's
-- newest event, where a join with the touched streams read all 2.5 M tasks. task_row (the row
-- in int_tasks__folded) joins a task's parts back together: a number hashes faster than text.
tasks as (
    select rowid as task_row, * from int_tasks__folded
    where instance_last_event_id > getvariable('model_hwm')
),

clock as (select * from int_calendar__working_clock),

calendars as (select distinct calendar_id from clock),

nodes as (select * from stg_catalog__nodes),

resubmissions as (
    select stream_id as instance_id, occurred_at as resubmitted_at
    from affected_events
    where stream_type = 'instance'
      and event_type = 'resubmitted'
),

approvals as (
    select instance_id, department_id, decided_at, step
    from tasks
    where outcome = 'approved'
),

-- The hand-off into each task: the department whose approval opened its step (the latest
-- approval of an earlier step at or before the task's creation), or the applicant, for a first
-- step or a step that a resubmission after a return opened. One pass over each instance's
-- approvals, resubmissions and task creations in time order (an approval or a resubmission at
-- the very moment of a creation before it), where an ASOF join for each sorted the tasks twice.
timeline as (
    select
        instance_id,
        decided_at as happened_at,
        0 as kind,
        null::bigint as task_row,
        null::integer as task_step,
        {'department_id': department_id, 'step': step, 'decided_at': decided_at} as approval,
        null::timestamp as resubmitted_at
    from approvals
    union all
    select instance_id, resubmitted_at, 0, null, null, null, resubmitted_at
    from resubmissions
    union all
    select instance_id, created_at, 1, task_row, step, null, null
    from tasks
),

before_creation as (
    select
        task_row,
        task_step,
        last_value(approval ignore nulls) over by_time as approval,
        max(resubmitted_at) over by_time as resubmitted_at
    from timeline
    window by_time as (
        partition by instance_id
        order by happened_at, kind
        rows between unbounded preceding and current row
    )
    qualify kind = 1
),

handoffs as (
    select
        task_row,
        case
            when approval.step is not null and approval.step < task_step
                and (resubmitted_at is null or resubmitted_at < approval.decided_at)
                then approval.department_id
            else 'applicant'
        end as from_department_id
    from before_creation
),

placed as (
    select
        tasks.*,
        coalesce(calendars.calendar_id, '*') as calendar_id
    from tasks
    left join calendars on calendars.calendar_id = tasks.department_id
),

-- The three moments of each task that the working clock reads, in one column: one ASOF join
-- of them all, where a join a moment sorted the tasks three times and joined them back thrice.
moments as (
    select task_row, calendar_id, 'created' as moment, created_at as moment_at from placed
    union all
    select task_row, calendar_id, 'viewed', first_viewed_at from placed
    where first_viewed_at is not null
    union all
    select task_row, calendar_id, 'decided', decided_at from placed
    where decided_at is not null
),

clocked as (
    select
        moments.task_row,
        moments.moment,
        coalesce(
            clock.seconds_before
            + least(
                greatest(epoch(moments.moment_at) - epoch(clock.interval_start), 0), clock.seconds
            ),
        0
        ) as w,
        -- Out of office hours: after the last interval that started before the moment ended.
        clock.interval_end is null or moments.moment_at >= clock.interval_end as is_after_hours
    from moments
    asof left join clock
        on clock.calendar_id = moments.calendar_id and moments.moment_at >= clock.interval_start
),

working as (
    select
        task_row,
        any_value(w) filter (where moment = 'created') as w_created,
        any_value(w) filter (where moment = 'viewed') as w_viewed,
        any_value(w) filter (where moment = 'decided') as w_decided,
        any_value(is_after_hours) filter (where moment = 'decided') as is_after_hours_decision
    from clocked
    group by task_row
),

final as (
    select
        placed.task_id,
        placed.instance_id,
        placed.process_key,
        placed.process_version,
        placed.node_key,
        placed.step,
        coalesce(nodes.is_parallel, false) as is_parallel_step,
        placed.department_id,
        handoffs.from_department_id,
        placed.calendar_id,
        placed.assignees,
        placed.created_at,
        placed.first_viewed_at,
        placed.decided_at,
        placed.decided_by,
        placed.cancelled_at,
        placed.outcome,
        placed.outcome in ('approved', 'rejected', 'returned') as is_decided,
        placed.outcome = 'open' as is_open,
        epoch(placed.first_viewed_at) - epoch(placed.created_at) as wait_s,
        epoch(placed.decided_at) - epoch(placed.first_viewed_at) as handling_s,
        epoch(placed.decided_at) - epoch(placed.created_at) as duration_s,
        working.w_viewed - working.w_created as wait_working_s,
        working.w_decided - working.w_viewed as handling_working_s,
        working.w_decided - working.w_created as duration_working_s,
        -- The working clock at creation: open-task ageing subtracts it from the clock "now".
        working.w_created as working_clock_at_created,
        placed.sla_hours,
        placed.sla_hours * 3600 as sla_working_s,
        working.w_decided - working.w_created > placed.sla_hours * 3600 as is_breached,
        coalesce(working.is_after_hours_decision, false) as is_after_hours_decision,
        placed.outcome = 'approved'
            and epoch(placed.decided_at) - epoch(placed.first_viewed_at) < 30 as is_instant_approval,
        placed.reminders,
        placed.reassignments,
        placed.delegations,
        -- The instance's newest event: the checks read the tasks with news past a mark by it.
        placed.instance_last_event_id
    from placed
    left join working using (task_row)
    left join handoffs using (task_row)
    left join nodes
        on nodes.process_key = placed.process_key
        and nodes.process_version = placed.process_version
        and nodes.node_key = placed.node_key
)

select * from final
