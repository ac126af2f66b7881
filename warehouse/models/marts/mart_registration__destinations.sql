-- materialized: partitioned
-- key: campaign_id
-- publish: true
-- partition: campaign_id
-- Where students spend the holiday, from each student's latest registration: staying or
-- leaving, destination province, and how many return late (after the campaign's holiday).
with

rosters as (
    select * from fct_campaign_rosters
    where not is_excluded and is_registered
      and campaign_id in (select key from affected_partitions)
),
registrations as (
    select * from fct_registrations
    where is_latest and campaign_id in (select key from affected_partitions)
),

latest as (
    select
        rosters.campaign_id,
        rosters.class_id,
        registrations.stay_or_leave,
        registrations.destination_province,
        registrations.return_date
    from rosters
    join registrations on registrations.registration_id = rosters.latest_registration_id
),

final as (
    select
        campaign_id,
        class_id,
        stay_or_leave,
        coalesce(destination_province, '') as destination_province,
        count(*) as students,
        min(return_date) as earliest_return,
        max(return_date) as latest_return
    from latest
    group by all
)

select * from final
