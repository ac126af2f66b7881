-- Every event of the streams that gained events since the checks last passed: a version may
-- only repeat one already loaded long ago. (quality_touched_events: see
-- pipelines/quality/touched.py.)
with

final as (
    select stream_id, stream_version, event_id
    from quality_touched_events
)

select * from final
order by event_id
