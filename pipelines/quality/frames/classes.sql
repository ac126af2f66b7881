-- Every class with the college its major belongs to (NULL: the class hangs in the air, and
-- every roll-up to colleges would lose its students).
with

classes as (select * from raw_business__classes),
majors as (select * from raw_business__majors),
colleges as (select * from raw_business__colleges),

final as (
    select
        classes.class_id,
        classes.major_id,
        colleges.college_id
    from classes
    left join majors on majors.major_id = classes.major_id
    left join colleges on colleges.college_id = majors.college_id
)

select * from final
