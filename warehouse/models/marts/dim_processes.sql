-- materialized: table
-- publish: true
-- The hall's services: native processes from the catalog, and imported real event logs.
with

catalog as (select * from stg_catalog__processes),
events as (select * from stg_events__all),

imported as (
    select distinct process_key
    from events
    where stream_type = 'imported'
),

final as (
    select
        process_key,
        process_name_zh,
        process_name_en,
        category,
        owner_department,
        audience,
        is_campaign,
        steps,
        'native' as origin
    from catalog
    union all
    select
        process_key,
        process_key,
        process_key,
        'imported',
        null,
        null,
        false,
        null,
        'imported'
    from imported
    where process_key not in (select process_key from catalog)
)

select * from final
