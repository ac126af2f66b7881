-- materialized: table
-- publish: true
-- refresh: periodic
-- Open tasks at the build's `as_of`, aged in working time against their SLA: on track (under
-- 75 % of the SLA used), due soon (临期: 75–100 %), overdue (超期: past the SLA); per service,
-- node and department, with counts, the median and the oldest age.
with

tasks as (
    select fct_tasks.*
    from fct_tasks
    join fct_instances using (instance_id)
    where fct_tasks.is_open
      and not fct_instances.is_terminal
      and fct_tasks.created_at <= getvariable('as_of')
),

clock as (select * from int_calendar__working_clock),

now_by_calendar as (
    select
        calendars.calendar_id,
        coalesce(
            clock.seconds_before
            + least(greatest(epoch(calendars.now_at) - epoch(clock.interval_start), 0), clock.seconds),
        0
        ) as w_now
    from (select distinct calendar_id, getvariable('as_of') as now_at from clock) as calendars
    asof left join clock
        on clock.calendar_id = calendars.calendar_id
        and calendars.now_at >= clock.interval_start
),

-- The clock at creation is read afresh, not taken from fct_tasks.working_clock_at_created:
-- that absolute reading was made by the run that built the task's row, and a calendar reloaded
-- since from an earlier first day (an earlier event arrived) starts its clock elsewhere.
at_created as (
    select
        tasks.task_id,
        coalesce(
            clock.seconds_before
            + least(greatest(epoch(tasks.created_at) - epoch(clock.interval_start), 0), clock.seconds),
        0
        ) as w_created
    from tasks
    asof left join clock
        on clock.calendar_id = tasks.calendar_id and tasks.created_at >= clock.interval_start
),

aged as (
    select
        tasks.*,
        now_by_calendar.w_now - at_created.w_created as age_working_s,
        epoch(getvariable('as_of')) - epoch(tasks.created_at) as age_s
    from tasks
    join at_created using (task_id)
    join now_by_calendar using (calendar_id)
),

classified as (
    select
        aged.*,
        case
            when age_working_s > sla_working_s then 'overdue'
            when age_working_s >= 0.75 * sla_working_s then 'due_soon'
            else 'on_track'
        end as ageing_status
    from aged
),

final as (
    select
        process_key,
        node_key,
        department_id,
        ageing_status,
        count(*) as open_tasks,
        quantile_cont(age_working_s, 0.5) as age_working_median_s,
        max(age_working_s) as age_working_max_s,
        quantile_cont(age_s, 0.5) as age_median_s,
        max(age_s) as age_max_s,
        max(sla_hours) as sla_hours,
        getvariable('as_of') as as_of
    from classified
    group by all
)

select * from final
