-- materialized: table
-- publish: true
-- The nodes of every native service, in step order, with their SLA in working hours.
with

nodes as (select * from stg_catalog__nodes),

final as (
    select
        process_key,
        process_version,
        step,
        is_parallel,
        node_key,
        node_name_zh,
        node_name_en,
        assignee_kind,
        fixed_department_id,
        sla_hours,
        is_conditional
    from nodes
)

select * from final
