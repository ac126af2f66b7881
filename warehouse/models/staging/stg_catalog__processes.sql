-- materialized: table
-- The services of the hall, from the process catalog.
with

source as (select * from raw_catalog__processes),

final as (
    select
        process_key,
        cast(process_version as integer) as process_version,
        name_zh as process_name_zh,
        name_en as process_name_en,
        category,
        owner_department,
        string_split(audience, ',') as audience,
        is_campaign,
        cast(steps as integer) as steps
    from source
)

select * from final
