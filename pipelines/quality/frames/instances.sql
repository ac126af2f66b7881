-- Each instance of the workflow's own processes touched since the checks last passed: how many
-- terminal events it has and how many events came after its first one.
with

instance_events as (
    select
        events.stream_id,
        events.stream_version,
        events.event_type in ('completed', 'withdrawn') as is_terminal,
        min(events.stream_version) filter (
            where events.event_type in ('completed', 'withdrawn')
        ) over (partition by events.stream_id) as first_terminal_version
    from quality_touched_events as events
    where events.stream_type = 'instance'
),

final as (
    select
        stream_id as instance_id,
        count(*) filter (where is_terminal) as terminal_events,
        count(*) filter (where stream_version > first_terminal_version) as events_after_terminal
    from instance_events
    group by stream_id
)

select * from final
