"""The university's administrative departments (职能部门) that approve hall services.

Codes are stable identifiers shared by the process catalog and the business systems; the
directory generator creates exactly these, and catalog validation refuses any other code.
"""

from __future__ import annotations

from typing import Final

from workflow_core.catalog.model import Text

DEPARTMENTS: Final[dict[str, Text]] = {
    "party_office": Text("党委办公室", "Party Committee Office"),
    "president_office": Text("校长办公室", "President's Office"),
    "propaganda": Text("党委宣传部", "Publicity Department"),
    "student_affairs": Text("学生工作部（学生处）", "Student Affairs Office"),
    "youth_league": Text("校团委", "Youth League Committee"),
    "academic_affairs": Text("教务处", "Academic Affairs Office"),
    "graduate_school": Text("研究生院", "Graduate School"),
    "hr": Text("人事处", "Human Resources Office"),
    "finance": Text("财务处", "Finance Office"),
    "research": Text("科学研究处", "Research Office"),
    "international": Text("国际合作与交流处", "International Office"),
    "security": Text("保卫处", "Security Office"),
    "property": Text("物业管理处", "Property Management Office"),
    "logistics": Text("后勤保障部", "Logistics Department"),
    "assets": Text("国有资产管理处", "State Assets Office"),
    "it_center": Text("网络与信息中心", "Network and Information Center"),
    "library": Text("图书馆", "Library"),
    "museum": Text("博物馆", "Museum"),
    "alumni": Text("校友总会", "Alumni Association"),
    "leadership": Text("校领导", "University Leadership"),
}
