-- materialized: table
-- publish: true
-- Who holds which role over which scope, when (班长 → class, 辅导员 → classes, 学院办公室 →
-- college, 校领导 → university, …): the source of every reader's scope.
with

grants as (select * from stg_business__role_assignments),

final as (
    select person_id, role, scope_type, scope_id, valid_from, valid_to
    from grants
)

select * from final
