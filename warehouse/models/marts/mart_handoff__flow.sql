-- materialized: table
-- publish: true
-- Department-to-department hand-offs: for every task, the department whose approval created it
-- (or the applicant, for a first or resubmitted step), per service and for all services ('*'):
-- how many hand-offs, and how long the case then waited and took in the receiving department.
with

tasks as (select * from fct_tasks),

resubmissions as (
    select stream_id as instance_id, occurred_at as resubmitted_at
    from stg_events__all
    where stream_type = 'instance' and event_type = 'resubmitted'
),

approvals as (
    select instance_id, department_id, decided_at, step
    from tasks
    where outcome = 'approved'
),

linked as (
    select
        tasks.process_key,
        tasks.instance_id,
        tasks.department_id as to_department_id,
        -- The approval that opened this step: the latest approval of an earlier step in the
        -- instance at or before the task's creation, unless the applicant resubmitted after it
        -- (a returned request restarts at a step the resubmission opens, not that approval).
        case
            when approvals.step is not null and approvals.step < tasks.step
                and (
                    resubmissions.resubmitted_at is null
                    or resubmissions.resubmitted_at < approvals.decided_at
                )
                then approvals.department_id
            else 'applicant'
        end as from_department_id,
        tasks.wait_s,
        tasks.duration_s,
        tasks.wait_working_s,
        tasks.duration_working_s
    from tasks
    asof left join approvals
        on approvals.instance_id = tasks.instance_id
        and tasks.created_at >= approvals.decided_at
    asof left join resubmissions
        on resubmissions.instance_id = tasks.instance_id
        and tasks.created_at >= resubmissions.resubmitted_at
),

final as (
    select
        coalesce(process_key, '*') as process_key,
        from_department_id,
        to_department_id,
        count(*) as handoffs,
        count(distinct instance_id) as instances,
        count(wait_s) as waited,
        quantile_cont(wait_s, 0.5) as wait_median_s,
        avg(wait_s) as wait_mean_s,
        quantile_cont(wait_working_s, 0.5) as wait_working_median_s,
        quantile_cont(duration_s, 0.5) as duration_median_s,
        quantile_cont(duration_working_s, 0.5) as duration_working_median_s
    from linked
    group by grouping sets (
        (process_key, from_department_id, to_department_id),
        (from_department_id, to_department_id)
    )
)

select * from final
