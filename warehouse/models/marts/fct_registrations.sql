-- materialized: partitioned
-- key: campaign_id
-- publish: true
-- partition: campaign_id
-- Every whereabouts registration with its place in the student's history for the campaign:
-- revision 1 is the first, the latest one counts (`is_latest`); late means after the deadline.
with

registrations as (
    select * from int_registrations__submitted
    where campaign_id in (select key from affected_partitions)
),
campaigns as (select * from dim_campaigns where campaign_id in (select key from affected_partitions)),

ranked as (
    select
        registrations.*,
        row_number() over (
            partition by registrations.campaign_id, registrations.student_id
            order by registrations.submitted_at, registrations.registration_id
        ) as revision,
        count(*) over (
            partition by registrations.campaign_id, registrations.student_id
        ) as revisions
    from registrations
),

final as (
    select
        ranked.registration_id,
        ranked.campaign_id,
        ranked.student_id,
        ranked.submitted_at,
        ranked.supersedes,
        ranked.revision,
        ranked.revision = ranked.revisions as is_latest,
        ranked.revisions - 1 as changes,
        ranked.submitted_at > campaigns.deadline as is_late,
        ranked.stay_or_leave,
        ranked.destination_province,
        ranked.destination_city,
        ranked.destination_address,
        ranked.leave_date,
        ranked.return_date,
        ranked.transport,
        ranked.emergency_contact_name,
        ranked.emergency_contact_phone,
        ranked.remarks
    from ranked
    left join campaigns using (campaign_id)
)

select * from final
