-- materialized: table
-- Majors (专业), each in one college, with its degree level.
with

source as (select * from raw_business__majors),

final as (
    select
        major_id,
        college_id,
        name_zh as major_name_zh,
        name_en as major_name_en,
        degree_level,
        cast(duration_years as integer) as duration_years
    from source
)

select * from final
