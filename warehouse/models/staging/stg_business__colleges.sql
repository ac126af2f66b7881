-- materialized: table
-- Academic colleges (学院).
with

source as (select * from raw_business__colleges),

final as (
    select
        college_id,
        name_zh as college_name_zh,
        name_en as college_name_en,
        discipline,
        campus_id
    from source
)

select * from final
