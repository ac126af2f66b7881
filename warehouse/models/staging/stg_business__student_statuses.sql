-- materialized: table
-- Student status (学籍状态: 在读, 休学, 已离校), effective-dated in campus days.
with

source as (select * from raw_business__student_statuses),

final as (
    select
        status_id,
        student_id,
        status,
        reason as status_reason,
        cast(valid_from as date) as valid_from,
        cast(valid_to as date) as valid_to
    from source
)

select * from final
