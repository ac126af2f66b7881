-- materialized: table
-- publish: true
-- Every organisational unit that can own a task or a scope: the university, its departments
-- (职能部门), colleges (学院), residential colleges (书院) and classes (班级), with names.
with

departments as (select * from stg_business__departments),
colleges as (select * from stg_business__colleges),
residential_colleges as (select * from stg_business__residential_colleges),
classes as (select * from stg_business__classes),

units as (
    select 'university' as unit_type, 'university' as unit_id, '全校' as name_zh,
        'University' as name_en
    union all
    select 'department', department_id, department_name_zh, department_name_en from departments
    union all
    select 'college', college_id, college_name_zh, college_name_en from colleges
    union all
    select 'residential_college', residential_college_id, residential_college_name_zh,
        residential_college_name_en
    from residential_colleges
    union all
    select 'class', class_id, class_name_zh, class_name_zh from classes
),

final as (
    select * from units
)

select * from final
