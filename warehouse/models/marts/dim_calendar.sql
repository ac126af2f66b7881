-- materialized: table
-- publish: true
-- The academic calendar for the dashboards, one row a day: whether the offices open and why
-- not (weekend, statutory holiday, campus closure), the 调休 make-up workdays, the default
-- calendar's working seconds that day (the summer timetable changes the hours, not the total),
-- and whether the day was decided by chinese_calendar or by the Mon–Fri fallback, which the
-- data-quality page reports. Academic years start on September 1 (秋季学期), a convention:
-- term dates themselves are not in any source yet.
with

stg_calendar__days as (
    select * from stg_calendar__days
),

stg_calendar__working_intervals as (
    select * from stg_calendar__working_intervals
),

default_hours as (
    select
        calendar_date,
        sum(seconds) as working_seconds,
        min(interval_start) as opens_at,
        max(interval_end) as closes_at
    from stg_calendar__working_intervals
    where calendar_id = '*'
    group by calendar_date
),

final as (
    select
        days.calendar_date,
        year(days.calendar_date) as calendar_year,
        month(days.calendar_date) as calendar_month,
        isodow(days.calendar_date) as iso_weekday,
        strftime(days.calendar_date, '%a') as weekday_name,
        isodow(days.calendar_date) >= 6 as is_weekend,
        case
            when month(days.calendar_date) >= 9
                then year(days.calendar_date) || '-' || (year(days.calendar_date) + 1)
            else (year(days.calendar_date) - 1) || '-' || year(days.calendar_date)
        end as academic_year,
        days.is_workday,
        days.is_national_workday,
        days.is_makeup_workday,
        days.is_statutory_holiday,
        days.holiday_name,
        days.holiday_name_zh,
        days.is_closure,
        case
            when days.is_closure then 'closure'
            when days.is_statutory_holiday then 'statutory_holiday'
            when days.is_makeup_workday then 'makeup_workday'
            when days.is_workday then 'workday'
            else 'weekend'
        end as day_kind,
        coalesce(default_hours.working_seconds, 0) as default_working_seconds,
        default_hours.opens_at as default_opens_at,
        default_hours.closes_at as default_closes_at,
        days.calendar_source,
        days.calendar_source = 'weekday_fallback' as is_fallback
    from stg_calendar__days as days
    left join default_hours
        on default_hours.calendar_date = days.calendar_date
)

select * from final
