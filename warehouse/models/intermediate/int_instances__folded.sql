-- materialized: incremental
-- key: instance_id
-- One row per native instance (a request or a whereabouts registration), folded from its
-- events: who submitted it when, where it ended (办结: completed approved or rejected; or
-- withdrawn), how often it was returned, how many nodes it visited.
with

events as (
    select * from affected_events
    where stream_type = 'instance'
),

submitted as (
    select
        stream_id as instance_id,
        process_key,
        process_version,
        applicant_id,
        campaign_id,
        supersedes,
        occurred_at as submitted_at
    from events
    where event_type = 'submitted'
),

terminal as (
    select
        stream_id as instance_id,
        arg_min(event_type, event_id) as terminal_event,
        min(occurred_at) as terminal_at,
        arg_min(case when event_type = 'completed' then outcome else 'withdrawn' end, event_id)
            as outcome
    from events
    where event_type in ('completed', 'withdrawn')
    group by all
),

activity as (
    select
        stream_id as instance_id,
        count(*) as events,
        count(*) filter (where event_type = 'returned') as returns,
        count(*) filter (where event_type = 'resubmitted') as resubmissions,
        count(*) filter (where event_type = 'task_created') as tasks,
        count(distinct node_key) filter (where event_type = 'task_created') as nodes_visited,
        count(*) filter (where event_type = 'reminded') as reminders,
        max(occurred_at) as last_event_at,
        -- Rows of instances with news since a mark are then those past it: a range the
        -- table's zone maps answer without a scan (the checks read them so).
        max(event_id) as last_event_id
    from events
    group by all
),

final as (
    select
        submitted.instance_id,
        submitted.process_key,
        submitted.process_version,
        submitted.applicant_id,
        submitted.campaign_id,
        submitted.supersedes,
        submitted.submitted_at,
        terminal.terminal_event,
        terminal.terminal_at,
        terminal.outcome,
        terminal.terminal_at is not null as is_terminal,
        activity.events,
        activity.returns,
        activity.resubmissions,
        activity.tasks,
        activity.nodes_visited,
        activity.reminders,
        activity.last_event_at,
        activity.last_event_id
    from submitted
    left join terminal using (instance_id)
    left join activity using (instance_id)
)

select * from final
