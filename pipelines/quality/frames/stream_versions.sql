-- Every event of the streams that gained events since the checks last passed: a version may
-- only repeat one already loaded long ago.
with

touched as (
    select distinct stream_id from raw_events
    where event_id > getvariable('quality_after')
),

final as (
    select raw_events.stream_id, raw_events.stream_version, raw_events.event_id
    from raw_events
    semi join touched using (stream_id)
)

select * from final
order by event_id
