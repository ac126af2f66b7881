-- Who applied, in the workflow's own processes, since the checks last passed, and whether the
-- business systems know them (a student, a member of staff or a hall account).
with

submitted as (
    select event_id, stream_id, occurred_at, payload ->> '$.applicant_id' as applicant_id
    from raw_events
    where event_id > getvariable('quality_after')
        and stream_type = 'instance'
        and event_type = 'submitted'
),

people as (
    select student_id as person_id from raw_business__students
    union all
    select staff_id from raw_business__staff
    union all
    select account_id from raw_business__hall_accounts
),

final as (
    select
        submitted.event_id,
        submitted.stream_id as instance_id,
        submitted.occurred_at,
        submitted.applicant_id,
        submitted.applicant_id in (select person_id from people) as is_known_applicant
    from submitted
)

select * from final
order by event_id
