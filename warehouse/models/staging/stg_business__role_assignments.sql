-- materialized: table
-- Role grants (班长, 辅导员, 学院办公室, 校领导, …) over a scope, effective-dated in campus days.
with

source as (select * from raw_business__role_assignments),

final as (
    select
        assignment_id,
        person_id,
        role,
        scope_type,
        scope_id,
        cast(valid_from as date) as valid_from,
        cast(valid_to as date) as valid_to
    from source
)

select * from final
