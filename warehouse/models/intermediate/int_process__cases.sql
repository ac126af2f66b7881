-- materialized: incremental
-- key: case_id
-- One row per case of every process (native instance or imported case): first and last
-- counted event, events, and the case duration (first to last event, wall-clock seconds; a
-- one-event case lasts 0), as int_process__steps counts them.
with

-- The steps of the cases with events past the model's mark (every case's steps carry its newest
-- event): a range, where a join with the touched streams read all 11 M steps.
steps as (
    select * from int_process__steps
    where case_last_event_id > getvariable('model_hwm')
),

final as (
    select
        stream_id as case_id,
        any_value(process_key) as process_key,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        count(*) as events,
        (epoch_us(max(occurred_at)) - epoch_us(min(occurred_at))) / 1e6 as duration_s
    from steps
    group by stream_id
)

select * from final
