-- materialized: incremental
-- key: stream_id
-- The steps of every case of every process, in case order, each with the step that directly
-- follows it: the base of the process-mining marts (cases, durations, activities, DFG).
--
-- Definitions (one place; the marts and `tongban report process` only aggregate these rows):
-- - a case is one stream; case_id is the stream id. Campaign streams are no cases.
-- - imported process (stream_type 'imported', a real log): the events are the case's
--   `activity` events (not `case_imported`); activity = the logged activity (concept:name);
--   order by (occurred_at, sequence): sequence is the event's position in the file within the
--   case, so events with equal timestamps keep the file's order (as PM4Py's stable sort does).
-- - native process (stream_type 'instance', e.g. enrollment_certificate, whereabouts
--   registrations): the events are all the instance's events; activity =
--   node_key || ':' || event_type when node_key is set, else event_type (`submitted`,
--   `counsellor_review:task_created`, `counsellor_review:approved`, `completed`); order by
--   (occurred_at, stream_version).
-- - position is 1-based within the case; next_activity is the step that directly follows
--   (null for the last), seconds_to_next the wall-clock seconds until it.
with

events as (
    select * from affected_events
),

counted as (
    select
        stream_id,
        event_id,
        stream_type,
        occurred_at,
        case
            when stream_type = 'imported' then activity
            when node_key is not null then node_key || ':' || event_type
            else event_type
        end as activity,
        case
            when stream_type = 'imported' then sequence
            else stream_version
        end as order_in_case
    from events
    where
        (stream_type = 'imported' and event_type = 'activity')
        or stream_type = 'instance'
),

-- Per case: its newest event, counted or not (its steps' rows with news since a model's mark
-- are those past it: int_process__cases reads them by that range, which zone maps answer), and
-- its process (a group by: the same maximum as a window over the case took 9 of 17 s).
cases as (
    select
        stream_id,
        max(event_id) as case_last_event_id,
        max(process_key) filter (
            where (stream_type = 'imported' and event_type = 'activity')
                or stream_type = 'instance'
        ) as case_process_key
    from events
    group by all
),

ordered as (
    select
        *,
        row_number() over by_case as position,
        lead(activity) over by_case as next_activity,
        lead(occurred_at) over by_case as next_occurred_at
    from counted
    window by_case as (partition by stream_id order by occurred_at, order_in_case, event_id)
),

final as (
    select
        stream_id,
        stream_id as case_id,
        cases.case_process_key as process_key,
        stream_type,
        event_id,
        activity,
        occurred_at,
        position,
        next_activity,
        (epoch_us(next_occurred_at) - epoch_us(occurred_at)) / 1e6 as seconds_to_next,
        cases.case_last_event_id
    from ordered
    left join cases using (stream_id)
)

select * from final
