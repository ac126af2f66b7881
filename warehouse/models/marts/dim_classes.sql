-- materialized: table
-- publish: true
-- Classes with everything a roll-up needs: major, degree level, grade (年级), college (学院),
-- residential college (书院, undergraduates only), campus, and the days the class ran.
with

classes as (select * from stg_business__classes),
majors as (select * from stg_business__majors),
colleges as (select * from stg_business__colleges),
residential_colleges as (select * from stg_business__residential_colleges),

final as (
    select
        classes.class_id,
        classes.class_name_zh,
        classes.grade,
        majors.major_id,
        majors.major_name_zh,
        majors.degree_level,
        majors.college_id,
        colleges.college_name_zh,
        classes.residential_college_id,
        residential_colleges.residential_college_name_zh,
        classes.campus_id,
        classes.opened_on,
        classes.closed_on
    from classes
    join majors using (major_id)
    join colleges using (college_id)
    left join residential_colleges using (residential_college_id)
)

select * from final
