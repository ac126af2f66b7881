-- materialized: table
-- Students (学生) with their personal data; names and phones are shown only within scope.
with

source as (select * from raw_business__students),

final as (
    select
        student_id,
        name as student_name,
        gender,
        kind as student_kind,
        degree_level,
        cast(entry_year as integer) as entry_year,
        phone,
        home_province
    from source
)

select * from final
