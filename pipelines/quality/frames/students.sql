-- Every student of the business systems, with how many class memberships they have.
with

students as (select * from raw_business__students),
memberships as (select * from raw_business__student_class_memberships),

final as (
    select
        students.student_id,
        (select count(*) from memberships where memberships.student_id = students.student_id)
            as memberships
    from students
)

select * from final
