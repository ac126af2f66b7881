-- materialized: table
-- The nodes of each service, in step order; members of one step run in parallel.
with

source as (select * from raw_catalog__nodes),

final as (
    select
        process_key,
        cast(process_version as integer) as process_version,
        cast(step as integer) as step,
        is_parallel,
        node_key,
        name_zh as node_name_zh,
        name_en as node_name_en,
        assignee_kind,
        department as fixed_department_id,
        sla_hours,
        is_conditional
    from source
)

select * from final
