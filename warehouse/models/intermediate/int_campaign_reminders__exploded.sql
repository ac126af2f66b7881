-- materialized: incremental
-- key: campaign_id
-- One row per student reminded (催办) in a whereabouts campaign, by whom and when.
with

events as (
    select * from affected_events
    where stream_type = 'campaign'
      and event_type = 'campaign_reminded'
),

final as (
    select
        stream_id as campaign_id,
        event_id as reminder_event_id,
        occurred_at as reminded_at,
        actor_id as reminded_by,
        unnest(student_ids) as student_id
    from events
)

select * from final
