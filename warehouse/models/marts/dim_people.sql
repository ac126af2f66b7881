-- materialized: table
-- publish: true
-- Everyone the hall knows: students, staff, alumni and visitors, with the personal data that
-- the read API shows only within a scope that owns it.
with

students as (select * from stg_business__students),
staff as (select * from stg_business__staff),
accounts as (select * from stg_business__hall_accounts),

final as (
    select
        student_id as person_id,
        student_name as person_name,
        student_kind as person_kind,
        gender,
        phone,
        home_province,
        null as unit_type,
        null as unit_id,
        null as title
    from students
    union all
    select staff_id, staff_name, 'staff', gender, phone, null, unit_type, unit_id, title
    from staff
    union all
    select account_id, account_name, account_kind, null, phone, null, null, null, null
    from accounts
)

select * from final
