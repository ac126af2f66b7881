-- The events loaded since the checks last passed, with what each check needs beside them.
with

new_events as (
    select * from raw_events
    where event_id > getvariable('quality_after')
),

final as (
    select
        event_id,
        stream_id,
        event_type,
        occurred_at,
        -- Seconds since the epoch: GX compares numbers ~10x faster than timestamps.
        epoch(occurred_at) as occurred_s,
        -- Clocks of the front ends and of the store may differ by a little; more is a bug.
        epoch(recorded_at) + 300 as latest_plausible_s,
        task_id is not null or event_type not in (
            'task_created', 'task_viewed', 'approved', 'rejected', 'returned', 'reassigned',
            'task_cancelled', 'reminded'
        ) as is_task_named,
        process_key is not null or stream_type <> 'instance' as is_process_named
    from new_events
)

select * from final
order by event_id
