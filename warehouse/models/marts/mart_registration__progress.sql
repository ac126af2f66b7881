-- materialized: partitioned
-- key: campaign_id
-- publish: true
-- partition: campaign_id
-- Registration progress (登记率) per campaign and class: the roster on the roster day,
-- exclusions (休学, 已离校), registered, late, changed, reminded, and the rate over eligible
-- students (the sample size).
with

rosters as (select * from fct_campaign_rosters where campaign_id in (select key from affected_partitions)),
classes as (select * from dim_classes),

per_class as (
    select
        campaign_id,
        class_id,
        count(*) as roster,
        count(*) filter (where is_excluded) as excluded,
        count(*) filter (where is_excluded and status = '休学') as excluded_suspended,
        count(*) filter (where is_excluded and status = '已离校') as excluded_left,
        count(*) filter (where not is_excluded) as eligible,
        count(*) filter (where not is_excluded and is_registered) as registered,
        count(*) filter (where not is_excluded and is_registered and not is_late)
            as registered_on_time,
        count(*) filter (where not is_excluded and is_late) as registered_late,
        count(*) filter (where not is_excluded and changes > 0) as changed,
        count(*) filter (where not is_excluded and reminders > 0) as reminded,
        count(*) filter (where not is_excluded and registered_after_reminder)
            as registered_after_reminder,
        max(first_registered_at) as last_registered_at
    from rosters
    group by all
),

final as (
    select
        per_class.campaign_id,
        per_class.class_id,
        classes.class_name_zh,
        classes.grade,
        classes.degree_level,
        classes.college_id,
        classes.college_name_zh,
        classes.residential_college_id,
        classes.residential_college_name_zh,
        per_class.roster,
        per_class.excluded,
        per_class.excluded_suspended,
        per_class.excluded_left,
        per_class.eligible,
        per_class.registered,
        per_class.eligible - per_class.registered as not_registered,
        per_class.registered_on_time,
        per_class.registered_late,
        per_class.changed,
        per_class.reminded,
        per_class.registered_after_reminder,
        case when per_class.eligible > 0
            then per_class.registered / per_class.eligible end as registration_rate,
        per_class.last_registered_at
    from per_class
    join classes using (class_id)
)

select * from final
