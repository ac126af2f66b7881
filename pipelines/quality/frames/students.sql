-- Every student of the business systems, with how many class memberships they have.
with

students as (select * from raw_business__students),
memberships as (
    select student_id, count(*) as memberships
    from raw_business__student_class_memberships
    group by student_id
),

final as (
    select
        students.student_id,
        coalesce(memberships.memberships, 0) as memberships
    from students
    left join memberships using (student_id)
)

select * from final
