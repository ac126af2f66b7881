-- materialized: table
-- The working clock: each calendar's office intervals with the working seconds that calendar
-- has accumulated before each one starts, so that working time between two moments is two
-- look-ups and a subtraction instead of a range join over every interval in between.
--
-- W(t), the working clock of calendar c at moment t (naive UTC), is read from the last
-- interval of c that starts at or before t:
--     W(t) = seconds_before + least(greatest(epoch(t) - epoch(interval_start), 0), seconds)
-- (least: after the interval ends the clock stands still until the next one starts), and the
-- working seconds between a and b are W(b) - W(a). Out of hours, on weekends, holidays and
-- closures no interval starts, so the clock simply does not move. Use it with an asof join,
-- once per moment:
--
--     from tasks as t
--     asof left join int_calendar__working_clock as created
--         on created.calendar_id = t.calendar_id and created.interval_start <= t.created_at
--     asof left join int_calendar__working_clock as decided
--         on decided.calendar_id = t.calendar_id and decided.interval_start <= t.decided_at
--     select
--         (decided.seconds_before + least(greatest(
--             epoch(t.decided_at) - epoch(decided.interval_start), 0), decided.seconds))
--       - (created.seconds_before + least(greatest(
--             epoch(t.created_at) - epoch(created.interval_start), 0), created.seconds))
--         as working_seconds
--
-- calendar_id is the task's department id (calendar_frames gives every department passed to it
-- its own rows) or '*' for the default hours. A moment before a calendar's first interval
-- finds no row: coalesce that side's W to 0. Both moments must use the same calendar.
with

stg_calendar__working_intervals as (
    select * from stg_calendar__working_intervals
),

clocked as (
    select
        calendar_id,
        calendar_date,
        interval_start,
        interval_end,
        seconds,
        coalesce(
            sum(seconds) over (
                partition by calendar_id
                order by interval_start
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as seconds_before
    from stg_calendar__working_intervals
),

final as (
    select
        calendar_id,
        calendar_date,
        interval_start,
        interval_end,
        seconds,
        cast(seconds_before as bigint) as seconds_before
    from clocked
)

select * from final
