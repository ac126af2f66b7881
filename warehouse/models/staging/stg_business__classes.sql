-- materialized: table
-- Classes (班级): a major's cohort of one grade, open from opened_on until graduation.
with

source as (select * from raw_business__classes),

final as (
    select
        class_id,
        name_zh as class_name_zh,
        major_id,
        cast(entry_year as integer) as grade,
        campus_id,
        residential_college_id,
        cast(opened_on as date) as opened_on,
        cast(closed_on as date) as closed_on
    from source
)

select * from final
