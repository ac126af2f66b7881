-- materialized: table
-- publish: true
-- Whereabouts campaigns (寒假, 暑假, 国庆, 五一, …): when each opened, its deadline, its
-- audience, and whether it is still open at the build's `as_of`.
with

events as (
    select * from stg_events__all
    where stream_type = 'campaign'
),

opened as (
    select
        stream_id as campaign_id,
        process_key,
        campaign_title,
        holiday,
        opens_at,
        deadline,
        actor_id as organised_by,
        campaign_audience as audience,
        occurred_at as opened_at
    from events
    where event_type = 'campaign_opened'
),

reminders as (
    select stream_id as campaign_id, count(*) as reminder_rounds
    from events
    where event_type = 'campaign_reminded'
    group by all
),

final as (
    select
        opened.campaign_id,
        opened.process_key,
        opened.campaign_title,
        opened.holiday,
        opened.opens_at,
        opened.deadline,
        opened.audience,
        opened.organised_by,
        coalesce(reminders.reminder_rounds, 0) as reminder_rounds,
        getvariable('as_of') < opened.deadline as is_open,
        -- The roster counts as it stood on the deadline; while the campaign runs, as of now.
        -- Campus days are China Standard Time: UTC+8, no daylight saving.
        cast(least(opened.deadline, getvariable('as_of')) + interval 8 hour as date) as roster_day
    from opened
    left join reminders using (campaign_id)
)

select * from final
