-- materialized: table
-- publish: true
-- refresh: periodic
-- Department-to-department hand-offs: for every task, the department whose approval created it
-- (or the applicant, for a first or resubmitted step), per service and for all services ('*'):
-- how many hand-offs, and how long the case then waited and took in the receiving department.
with

tasks as (select * from fct_tasks),

final as (
    select
        coalesce(process_key, '*') as process_key,
        from_department_id,
        department_id as to_department_id,
        count(*) as handoffs,
        count(distinct instance_id) as instances,
        count(wait_s) as waited,
        quantile_cont(wait_s, 0.5) as wait_median_s,
        avg(wait_s) as wait_mean_s,
        quantile_cont(wait_working_s, 0.5) as wait_working_median_s,
        quantile_cont(duration_s, 0.5) as duration_median_s,
        quantile_cont(duration_working_s, 0.5) as duration_working_median_s
    from tasks
    group by grouping sets (
        (process_key, from_department_id, department_id),
        (from_department_id, department_id)
    )
)

select * from final
