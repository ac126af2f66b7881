-- materialized: table
-- One row a calendar day from warehouse.academic_calendar: the national calendar (statutory
-- holidays, 调休 make-up workdays, the Mon–Fri fallback beyond chinese_calendar's data) with
-- campus closures applied. `is_workday` means the offices open; `source` says which rule spoke.
with

raw_calendar__days as (
    select * from raw_calendar__days
),

final as (
    select
        cast(day as date) as calendar_date,
        cast(is_workday as boolean) as is_workday,
        cast(is_national_workday as boolean) as is_national_workday,
        cast(is_makeup_workday as boolean) as is_makeup_workday,
        cast(is_statutory_holiday as boolean) as is_statutory_holiday,
        cast(holiday_name as varchar) as holiday_name,
        cast(holiday_name_zh as varchar) as holiday_name_zh,
        cast(is_closure as boolean) as is_closure,
        cast(source as varchar) as calendar_source
    from raw_calendar__days
)

select * from final
