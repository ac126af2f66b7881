-- materialized: table
-- The office intervals of every calendar (a department id, or '*' for the default hours) on
-- the days its offices open, as naive UTC timestamps like every time in the warehouse.
with

raw_calendar__working_intervals as (
    select * from raw_calendar__working_intervals
),

final as (
    select
        cast(calendar_id as varchar) as calendar_id,
        cast(day as date) as calendar_date,
        cast(interval_start as timestamp) as interval_start,
        cast(interval_end as timestamp) as interval_end,
        cast(seconds as bigint) as seconds
    from raw_calendar__working_intervals
)

select * from final
