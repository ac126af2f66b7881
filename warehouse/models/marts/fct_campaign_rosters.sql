-- materialized: partitioned
-- key: campaign_id
-- publish: true
-- partition: campaign_id
-- Each campaign's roster: every student of its audience in a class on the roster day (the
-- deadline; today while the campaign is open), with their status that day — 休学 and 已离校
-- are excluded from the registration rate but shown — and how they registered and were
-- reminded (催办).
with

campaigns as (select * from dim_campaigns where campaign_id in (select key from affected_partitions)),
students as (select * from stg_business__students),
memberships as (select * from stg_business__class_memberships),
statuses as (select * from stg_business__student_statuses),
registrations as (select * from fct_registrations where campaign_id in (select key from affected_partitions)),
reminders as (
    select * from int_campaign_reminders__exploded
    where campaign_id in (select key from affected_partitions)
),

members as (
    select
        campaigns.campaign_id,
        campaigns.roster_day,
        campaigns.deadline,
        memberships.student_id,
        memberships.class_id
    from campaigns
    join memberships
        on memberships.valid_from <= campaigns.roster_day
        and (memberships.valid_to is null or memberships.valid_to > campaigns.roster_day)
    join students
        on students.student_id = memberships.student_id
        and list_contains(campaigns.audience, students.student_kind)
),

with_status as (
    select
        members.*,
        coalesce(statuses.status, '在读') as status
    from members
    left join statuses
        on statuses.student_id = members.student_id
        and statuses.valid_from <= members.roster_day
        and (statuses.valid_to is null or statuses.valid_to > members.roster_day)
),

registered as (
    select
        campaign_id,
        student_id,
        min(submitted_at) as first_registered_at,
        arg_max(registration_id, revision) as latest_registration_id,
        max(revision) - 1 as changes,
        bool_or(is_late and revision = 1) as registered_late
    from registrations
    group by all
),

reminded as (
    select
        campaign_id,
        student_id,
        count(*) as reminders,
        min(reminded_at) as first_reminded_at,
        max(reminded_at) as last_reminded_at
    from reminders
    group by all
),

final as (
    select
        with_status.campaign_id,
        with_status.student_id,
        with_status.class_id,
        with_status.roster_day,
        with_status.status,
        with_status.status <> '在读' as is_excluded,
        registered.first_registered_at is not null as is_registered,
        registered.first_registered_at,
        registered.latest_registration_id,
        coalesce(registered.changes, 0) as changes,
        coalesce(registered.registered_late, false) as is_late,
        coalesce(reminded.reminders, 0) as reminders,
        reminded.first_reminded_at,
        reminded.last_reminded_at,
        registered.first_registered_at > reminded.first_reminded_at as registered_after_reminder,
        epoch(registered.first_registered_at) - epoch(reminded.first_reminded_at)
            as seconds_from_reminder_to_registration
    from with_status
    left join registered using (campaign_id, student_id)
    left join reminded using (campaign_id, student_id)
)

select * from final
