-- The new events of each stream beside the event before them in the stream's own order.
with

ordered as (
    select
        events.event_id,
        events.stream_id,
        events.stream_version,
        events.stream_type,
        events.event_type,
        events.occurred_at,
        lag(events.occurred_at) over (
            partition by events.stream_id order by events.stream_version
        ) as previous_occurred_at
    from quality_touched_events as events
),

final as (
    select
        event_id,
        stream_id as instance_id,
        stream_version,
        event_type,
        occurred_at,
        epoch(occurred_at) as occurred_s,
        -- The event before, split by origin: a blocking check for the workflow's own
        -- processes, a warning for imported logs (no pandas row filter: ~3x slower).
        case when stream_type <> 'imported' then epoch(previous_occurred_at) end
            as native_previous_s,
        case when stream_type = 'imported' then epoch(previous_occurred_at) end
            as imported_previous_s
    from ordered
    where event_id > getvariable('quality_after')
)

select * from final
order by event_id
