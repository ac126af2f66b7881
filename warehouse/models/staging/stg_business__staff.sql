-- materialized: table
-- Staff (教职工) and the unit each works in: a department, a college or a 书院.
with

source as (select * from raw_business__staff),

final as (
    select
        staff_id,
        name as staff_name,
        gender,
        unit_type,
        unit_id,
        title,
        phone,
        cast(hired_on as date) as hired_on
    from source
)

select * from final
