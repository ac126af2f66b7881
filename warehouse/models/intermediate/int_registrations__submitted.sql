-- materialized: incremental
-- key: registration_id
-- One row per whereabouts registration (去向登记) as submitted, with its form: stay or leave,
-- destination, travel dates, emergency contact. A student's later registration in the same
-- campaign supersedes the earlier one (`supersedes` names it).
with

events as (
    select * from affected_events
    where stream_type = 'instance'
      and event_type = 'submitted'
      and campaign_id is not null
),

final as (
    select
        stream_id as registration_id,
        campaign_id,
        process_key,
        applicant_id as student_id,
        supersedes,
        occurred_at as submitted_at,
        form ->> '$.stay_or_leave' as stay_or_leave,
        form ->> '$.destination_province' as destination_province,
        form ->> '$.destination_city' as destination_city,
        form ->> '$.destination_address' as destination_address,
        try_cast(form ->> '$.leave_date' as date) as leave_date,
        try_cast(form ->> '$.return_date' as date) as return_date,
        form ->> '$.transport' as transport,
        form ->> '$.emergency_contact_name' as emergency_contact_name,
        form ->> '$.emergency_contact_phone' as emergency_contact_phone,
        form ->> '$.remarks' as remarks
    from events
)

select * from final
