-- materialized: table
-- Residential colleges (书院) that house undergraduates across academic colleges.
with

source as (select * from raw_business__residential_colleges),

final as (
    select
        residential_college_id,
        name_zh as residential_college_name_zh,
        name_en as residential_college_name_en,
        campus_id
    from source
)

select * from final
