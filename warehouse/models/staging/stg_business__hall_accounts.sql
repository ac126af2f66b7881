-- materialized: table
-- Hall accounts of people who are neither students nor staff: alumni and visitors.
with

source as (select * from raw_business__hall_accounts),

final as (
    select
        account_id,
        name as account_name,
        kind as account_kind,
        phone,
        cast(registered_on as date) as registered_on,
        former_student_id,
        cast(graduation_year as integer) as graduation_year
    from source
)

select * from final
