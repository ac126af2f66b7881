-- Every counsellor assignment (辅导员 → class), and whether its person and class exist.
with

assignments as (
    select * from raw_business__role_assignments
    where role = 'counsellor'
),

final as (
    select
        assignment_id,
        person_id,
        scope_type,
        scope_id as class_id,
        person_id in (select staff_id from raw_business__staff) as is_existing_staff,
        scope_type = 'class'
            and scope_id in (select class_id from raw_business__classes) as is_existing_class
    from assignments
)

select * from final
