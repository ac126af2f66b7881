-- materialized: table
-- publish: true
-- refresh: periodic
-- Signals about how approvals are made, per department and approver (all time and by campus
-- month of decision): approvals within 30 s of opening the task (秒批), decisions out of
-- office hours, handling time, and the queue each approver faces at `as_of`.
with

decided as (select * from fct_tasks where is_decided),

open_tasks as (
    select fct_tasks.*
    from fct_tasks
    join fct_instances using (instance_id)
    where fct_tasks.is_open and not fct_instances.is_terminal
),

periods as (
    select
        decided.*,
        grain.period_grain,
        case grain.period_grain
            when 'all' then date '1970-01-01'
            else cast(date_trunc('month', decided_at + interval 8 hour) as date)
        end as period_start
    from decided
    cross join (values ('all'), ('month')) as grain(period_grain)
),

decisions as (
    select
        department_id,
        decided_by as approver_id,
        period_grain,
        period_start,
        count(*) as decisions,
        count(*) filter (where outcome = 'approved') as approvals,
        count(*) filter (where is_instant_approval) as instant_approvals,
        count(*) filter (where is_after_hours_decision) as after_hours_decisions,
        quantile_cont(handling_s, 0.5) as handling_median_s,
        quantile_cont(duration_working_s, 0.5) as duration_working_median_s
    from periods
    group by all
),

assigned as (
    select department_id, unnest(assignees) as approver_id, created_at
    from open_tasks
),

queues as (
    select
        department_id,
        approver_id,
        count(*) as queue_depth,
        min(created_at) as oldest_open_created_at
    from assigned
    group by all
),

final as (
    select
        decisions.*,
        case when decisions.period_grain = 'all' then coalesce(queues.queue_depth, 0) end
            as queue_depth,
        case when decisions.period_grain = 'all' then queues.oldest_open_created_at end
            as oldest_open_created_at
    from decisions
    left join queues using (department_id, approver_id)
    union all by name
    -- An approver who has decided nothing yet still faces a queue: one all-time row for it.
    select
        queues.department_id,
        queues.approver_id,
        'all' as period_grain,
        date '1970-01-01' as period_start,
        0 as decisions,
        0 as approvals,
        0 as instant_approvals,
        0 as after_hours_decisions,
        null as handling_median_s,
        null as duration_working_median_s,
        queues.queue_depth,
        queues.oldest_open_created_at
    from queues
    anti join decisions using (department_id, approver_id)
)

select * from final
