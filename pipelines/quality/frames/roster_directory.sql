-- Per campaign: its roster beside the directory's own count of the audience's students in a
-- class on the roster day (the deadline; today while open), taken from the business systems.
with

campaigns as (select campaign_id, roster_day, audience from dim_campaigns),
rosters as (select campaign_id, count(*) as roster from fct_campaign_rosters group by all),
memberships as (select * from raw_business__student_class_memberships),
students as (select student_id, kind from raw_business__students),

directory as (
    select campaigns.campaign_id, count(distinct memberships.student_id) as directory_students
    from campaigns
    join memberships
        on cast(memberships.valid_from as date) <= campaigns.roster_day
        and (memberships.valid_to is null or cast(memberships.valid_to as date) > campaigns.roster_day)
    join students
        on students.student_id = memberships.student_id
        and list_contains(campaigns.audience, students.kind)
    group by all
),

final as (
    select
        campaigns.campaign_id,
        campaigns.roster_day,
        coalesce(rosters.roster, 0) as roster,
        coalesce(directory.directory_students, 0) as directory_students
    from campaigns
    left join rosters using (campaign_id)
    left join directory using (campaign_id)
)

select * from final
