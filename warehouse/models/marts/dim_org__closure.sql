-- materialized: table
-- publish: true
-- The org hierarchy as a closure table for scope resolution: every (ancestor, class) pair,
-- valid while the class runs. A scope over a college, a 书院 or the university reaches its
-- classes through one join; a class is its own ancestor.
with

classes as (select * from dim_classes),

pairs as (
    select 'class' as ancestor_type, class_id as ancestor_id, class_id, 0 as depth,
        opened_on, closed_on
    from classes
    union all
    select 'college', college_id, class_id, 2, opened_on, closed_on from classes
    union all
    select 'residential_college', residential_college_id, class_id, 1, opened_on, closed_on
    from classes
    where residential_college_id is not null
    union all
    select 'university', 'university', class_id, 3, opened_on, closed_on from classes
),

final as (
    select
        ancestor_type,
        ancestor_id,
        class_id,
        depth,
        opened_on as valid_from,
        closed_on as valid_to
    from pairs
)

select * from final
