-- materialized: table
-- Campuses of the university, from the business systems.
with

source as (select * from raw_business__campuses),

final as (
    select campus_id, name_zh as campus_name_zh, name_en as campus_name_en, address
    from source
)

select * from final
