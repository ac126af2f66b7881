-- materialized: incremental
-- key: instance_id
-- One row per native request or registration: submitted, terminal (办结 or withdrawn),
-- outcome, turnaround (first submission → terminal event) in wall-clock and working seconds
-- under the university's default calendar, returns, nodes visited.
with

instances as (
    select * from int_instances__folded
    where instance_id in (select stream_id from affected_streams)
),

clock as (
    select * from int_calendar__working_clock
    where calendar_id = '*'
),

at_submitted as (
    select
        instances.instance_id,
        coalesce(
            clock.seconds_before
            + least(greatest(epoch(instances.submitted_at) - epoch(clock.interval_start), 0), clock.seconds),
        0
        ) as w_submitted
    from instances
    asof left join clock on instances.submitted_at >= clock.interval_start
),

at_terminal as (
    select
        instances.instance_id,
        coalesce(
            clock.seconds_before
            + least(greatest(epoch(instances.terminal_at) - epoch(clock.interval_start), 0), clock.seconds),
        0
        ) as w_terminal
    from instances
    asof left join clock on instances.terminal_at >= clock.interval_start
    where instances.terminal_at is not null
),

final as (
    select
        instances.instance_id,
        instances.process_key,
        instances.process_version,
        instances.applicant_id,
        instances.campaign_id,
        instances.submitted_at,
        instances.terminal_event,
        instances.terminal_at,
        instances.outcome,
        instances.is_terminal,
        epoch(instances.terminal_at) - epoch(instances.submitted_at) as turnaround_s,
        at_terminal.w_terminal - at_submitted.w_submitted as turnaround_working_s,
        at_submitted.w_submitted as working_clock_at_submitted,
        instances.returns,
        instances.resubmissions,
        instances.tasks,
        instances.nodes_visited,
        instances.reminders,
        instances.events,
        instances.last_event_at,
        instances.last_event_id
    from instances
    left join at_submitted using (instance_id)
    left join at_terminal using (instance_id)
)

select * from final
