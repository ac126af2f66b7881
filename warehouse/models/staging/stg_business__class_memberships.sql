-- materialized: table
-- Which class a student belongs to, effective-dated in campus days (valid_to exclusive).
with

source as (select * from raw_business__student_class_memberships),

final as (
    select
        membership_id,
        student_id,
        class_id,
        cast(valid_from as date) as valid_from,
        cast(valid_to as date) as valid_to
    from source
)

select * from final
