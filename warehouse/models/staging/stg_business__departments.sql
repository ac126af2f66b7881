-- materialized: table
-- Administrative departments (职能部门): 教务处, 学工部, 保卫处, …
with

source as (select * from raw_business__departments),

final as (
    select department_id, name_zh as department_name_zh, name_en as department_name_en
    from source
)

select * from final
