-- materialized: table
-- publish: true
-- refresh: periodic
-- The 20 longest cases of every service (native or imported), first to last event, with their
-- ids only: the process view lists them for leadership, who see no applicant's name.
with

cases as (select * from int_process__cases),

ranked as (
    select
        cases.*,
        row_number() over (
            partition by process_key order by duration_s desc, case_id
        ) as slowness_rank
    from cases
),

final as (
    select * from ranked where slowness_rank <= 20
)

select * from final
