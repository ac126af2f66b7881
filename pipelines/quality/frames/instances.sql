-- Each instance of the workflow's own processes touched since the checks last passed: how many
-- terminal events it has and how many events came after its first one.
with

touched as (
    select distinct stream_id from raw_events
    where event_id > getvariable('quality_after')
        and stream_type = 'instance'
),

instance_events as (
    select
        raw_events.stream_id,
        raw_events.stream_version,
        raw_events.event_type in ('completed', 'withdrawn') as is_terminal,
        min(raw_events.stream_version) filter (
            where raw_events.event_type in ('completed', 'withdrawn')
        ) over (partition by raw_events.stream_id) as first_terminal_version
    from raw_events
    semi join touched using (stream_id)
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
