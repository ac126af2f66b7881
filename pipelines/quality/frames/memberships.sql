-- Every class membership beside the student's previous one: memberships are effective-dated
-- (valid_to exclusive, NULL while current), and a student is in one class at a time.
with

memberships as (select * from raw_business__student_class_memberships),
classes as (select class_id from raw_business__classes),
students as (select student_id from raw_business__students),

ordered as (
    select
        membership_id,
        student_id,
        class_id,
        cast(valid_from as date) as valid_from,
        cast(valid_to as date) as valid_to,
        lag(coalesce(cast(valid_to as date), date '9999-12-31')) over (
            partition by student_id order by cast(valid_from as date), membership_id
        ) as previous_ends
    from memberships
),

final as (
    select
        ordered.*,
        ordered.class_id in (select class_id from classes) as is_existing_class,
        ordered.student_id in (select student_id from students) as is_existing_student
    from ordered
)

select * from final
