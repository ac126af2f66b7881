-- materialized: append
-- Every stored event, typed: the envelope columns, and the payload fields analysis needs lifted
-- into columns. Only events after the model's high-water mark are read on each run.
with

raw_events as (
    select * from raw_events
    where event_id > getvariable('model_hwm')
),

final as (
    select
        event_id,
        stream_id,
        stream_version,
        stream_type,
        occurred_at,
        recorded_at,
        event_type,
        process_key,
        process_version,
        node_key,
        task_id,
        actor_id,
        actor_role,
        department_id,
        -- submitted
        payload ->> '$.applicant_id' as applicant_id,
        payload ->> '$.campaign_id' as campaign_id,
        payload ->> '$.supersedes' as supersedes,
        case when event_type in ('submitted', 'resubmitted') then payload -> '$.form' end as form,
        -- task_created
        try_cast(payload ->> '$.sla_hours' as double) as sla_hours,
        try_cast(payload ->> '$.step' as integer) as step,
        -- task_created, reassigned: who may decide the task from then on
        cast(payload -> '$.assignees' as varchar[]) as assignees,
        -- task_viewed
        coalesce(try_cast(payload ->> '$.implicit' as boolean), false) as is_implicit_view,
        -- completed
        payload ->> '$.outcome' as outcome,
        -- rejected, returned, withdrawn, reassigned, task_cancelled
        payload ->> '$.reason' as reason,
        -- reassigned
        payload ->> '$.to' as reassigned_to,
        try_cast(payload ->> '$.delegate' as boolean) as is_delegation,
        -- campaign_opened, campaign_reminded
        payload ->> '$.title' as campaign_title,
        payload ->> '$.holiday' as holiday,
        cast(payload ->> '$.opens_at' as timestamptz) at time zone 'UTC' as opens_at,
        cast(payload ->> '$.deadline' as timestamptz) at time zone 'UTC' as deadline,
        cast(payload -> '$.audience' as varchar[]) as campaign_audience,
        cast(payload -> '$.student_ids' as varchar[]) as student_ids,
        -- imported logs: case_imported, activity
        payload ->> '$.case_id' as case_id,
        payload ->> '$.activity' as activity,
        try_cast(payload ->> '$.sequence' as integer) as sequence,
        payload ->> '$.lifecycle' as lifecycle
    from raw_events
)

select * from final
