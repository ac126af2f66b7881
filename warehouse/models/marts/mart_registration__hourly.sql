-- materialized: partitioned
-- key: campaign_id
-- publish: true
-- partition: campaign_id
-- First registrations per campaign, class and campus hour (China Standard Time), with the
-- running total: the cumulative curve of the live page. Hours without a registration are
-- absent; the curve holds its level across them.
with

rosters as (
    select * from fct_campaign_rosters
    where not is_excluded and is_registered
      and campaign_id in (select key from affected_partitions)
),

per_hour as (
    select
        campaign_id,
        class_id,
        -- Campus hours are China Standard Time: UTC+8, no daylight saving.
        date_trunc('hour', first_registered_at + interval 8 hour) as campus_hour,
        count(*) as registrations
    from rosters
    group by all
),

final as (
    select
        campaign_id,
        class_id,
        campus_hour,
        registrations,
        cast(sum(registrations) over (
            partition by campaign_id, class_id order by campus_hour
        ) as bigint) as cumulative_registrations
    from per_hour
)

select * from final
