-- Every student status (在读, 休学, 已离校, …) beside the student's previous one: statuses are
-- effective-dated like memberships, and a student has one status at a time.
with

statuses as (select * from raw_business__student_statuses),

final as (
    select
        status_id,
        student_id,
        status,
        cast(valid_from as date) as valid_from,
        cast(valid_to as date) as valid_to,
        lag(coalesce(cast(valid_to as date), date '9999-12-31')) over (
            partition by student_id order by cast(valid_from as date), status_id
        ) as previous_ends
    from statuses
)

select * from final
