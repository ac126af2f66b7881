-- Per campaign and college: the classes' counts added up, beside the same counts taken straight
-- from the campaign rosters (the college's figure on the page is the first; they must agree).
with

progress as (select * from mart_registration__progress),
rosters as (select * from fct_campaign_rosters),
classes as (select class_id, college_id from dim_classes),

from_classes as (
    select
        campaign_id,
        college_id,
        sum(roster) as class_roster,
        sum(registered) as class_registered
    from progress
    group by all
),

from_rosters as (
    select
        rosters.campaign_id,
        classes.college_id,
        count(*) as roster,
        count(*) filter (where rosters.is_registered and not rosters.is_excluded) as registered
    from rosters
    join classes using (class_id)
    group by all
),

final as (
    select
        from_classes.campaign_id,
        from_classes.college_id,
        from_classes.class_roster,
        coalesce(from_rosters.roster, 0) as roster,
        from_classes.class_registered,
        coalesce(from_rosters.registered, 0) as registered
    from from_classes
    left join from_rosters using (campaign_id, college_id)
)

select * from final
