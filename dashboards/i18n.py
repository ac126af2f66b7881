"""The UI's words in Chinese (first) and English: `t(key, lang, **values)`.

Keys are dotted by where they appear (`nav.`, `status.`, `login.`, …); a page adds its own
section to `MESSAGES`. An unknown key raises KeyError, so a typo fails a test rather than
showing a key to a user; a message without an English text falls back to the Chinese one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

Language = Literal["zh", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("zh", "en")
DEFAULT_LANGUAGE: Final[Language] = "zh"
LANGUAGE_NAMES: Final[Mapping[Language, str]] = {"zh": "中文", "en": "English"}

MESSAGES: Final[dict[str, dict[str, str]]] = {
    "app.title": {"zh": "通办 · 服务大厅数据", "en": "Tongban · service hall analytics"},
    "nav.home": {"zh": "首页", "en": "Home"},
    "nav.registration": {"zh": "去向登记", "en": "Whereabouts"},
    "nav.turnaround": {"zh": "办理效能", "en": "Turnaround"},
    "nav.process": {"zh": "流程视图", "en": "Process flow"},
    "nav.quality": {"zh": "数据质量", "en": "Data quality"},
    "nav.logout": {"zh": "退出登录", "en": "Sign out"},
    "nav.language": {"zh": "语言", "en": "Language"},
    "status.as_of": {"zh": "数据截至 {moment}", "en": "Data as of {moment}"},
    "status.failing": {
        "zh": "{count} 项数据质量检查未通过",
        "en": "{count} data-quality checks failing",
    },
    "status.blocked": {
        "zh": "发布已暂停：{count} 项阻断检查未通过",
        "en": "Publication paused: {count} blocking checks failing",
    },
    "status.all_passing": {"zh": "数据质量检查全部通过", "en": "All data-quality checks pass"},
    "status.not_checked": {
        "zh": "尚未运行数据质量检查",
        "en": "No data-quality checks have run",
    },
    "status.snapshot": {"zh": "快照 #{number}", "en": "snapshot #{number}"},
    "status.no_snapshot": {
        "zh": "数据仓库尚未发布数据（请先运行 tongban build）",
        "en": "The warehouse has published no data yet (run `tongban build` first)",
    },
    "login.title": {"zh": "登录", "en": "Sign in"},
    "login.pick_persona": {
        "zh": "演示模式：选择一个身份登录（数据来自生成的模拟大学）",
        "en": "Demo mode: sign in as one of the generated university's people",
    },
    "login.no_personas": {
        "zh": "没有可选的演示身份：请先运行 tongban init",
        "en": "No demo personas found: run `tongban init` first",
    },
    "login.signed_in_as": {"zh": "当前登录：{name}", "en": "Signed in as {name}"},
    "login.switch": {"zh": "切换身份", "en": "Switch persona"},
    "login.sso": {
        "zh": "请通过学校统一身份认证（单点登录）访问本系统。",
        "en": "Please sign in through the university's single sign-on.",
    },
    "login.sso_signed_out": {
        "zh": "已退出本系统。要完全退出，请在统一身份认证中退出。",
        "en": "Signed out here. Sign out of the university's single sign-on to end it there.",
    },
    "login.dev_refused": {
        "zh": "演示登录仅在演示模式下可用",
        "en": "Demo sign-in is available in demo mode only",
    },
    "login.unknown_persona": {
        "zh": "该身份不在演示名单中",
        "en": "That user is not one of the demo personas",
    },
    "login.role.student": {"zh": "学生", "en": "Student"},
    "login.role.class_monitor": {"zh": "班长", "en": "Class monitor"},
    "login.role.counsellor": {"zh": "辅导员", "en": "Counsellor"},
    "login.role.college_office": {"zh": "学院办公室", "en": "College office"},
    "login.role.residential_college_office": {"zh": "书院办公室", "en": "书院 office"},
    "login.role.student_affairs": {"zh": "学工部", "en": "Student affairs"},
    "login.role.graduate_school": {"zh": "研究生院", "en": "Graduate school"},
    "login.role.department_approver": {"zh": "部门审批人", "en": "Department approver"},
    "login.role.leadership": {"zh": "校领导", "en": "School leadership"},
    "login.role.data_staff": {"zh": "网信中心数据人员", "en": "Data staff (IT center)"},
    "login.role.staff": {"zh": "教职工", "en": "Staff"},
    "login.role.alumni": {"zh": "校友", "en": "Alumni"},
    "login.role.visitor": {"zh": "访客", "en": "Visitor"},
    "no_access.title": {"zh": "无访问权限", "en": "No access"},
    "no_access.body": {
        "zh": "您（{user}）没有可查看数据的角色。如需访问，请联系所在单位或网信中心。",
        "en": (
            "You ({user}) hold no role that can view these figures. Ask your unit or the "
            "IT center for access."
        ),
    },
    "no_access.page": {
        "zh": "您的角色不能查看此页面。",
        "en": "Your roles do not include this page.",
    },
    "home.title": {"zh": "欢迎，{name}", "en": "Welcome, {name}"},
    "home.pick": {"zh": "您可以查看：", "en": "You can open:"},
    "home.none_yet": {
        "zh": "您可以查看的页面尚未上线。",
        "en": "The pages your roles allow are not available yet.",
    },
    "home.scope.classes": {"zh": "负责 {count} 个班级", "en": "{count} classes in your care"},
    "home.scope.units": {"zh": "{count} 个部门或学院", "en": "{count} departments or colleges"},
    "home.scope.university": {"zh": "全校（汇总数据）", "en": "The whole university (aggregates)"},
    "home.describe.registration": {
        "zh": "假期去向登记的实时进度、未登记名单与催办",
        "en": "Live holiday whereabouts registration, who is missing, reminders",
    },
    "home.describe.turnaround": {
        "zh": "各服务、各部门的办理时长、办结率与超时",
        "en": "Turnaround, completion rate and SLA breaches per service and department",
    },
    "home.describe.process": {
        "zh": "部门间流转、关键路径与最慢案例",
        "en": "Hand-offs between departments, critical paths, slowest cases",
    },
    "home.describe.quality": {
        "zh": "每次运行的数据质量检查结果与数据新鲜度",
        "en": "Data-quality results per run and freshness of every source",
    },
    "error.not_signed_in": {"zh": "请先登录", "en": "Please sign in first"},
}


def register_messages(prefix: str, messages: Mapping[str, Mapping[str, str]]) -> None:
    """Add a page's own messages to `MESSAGES`, every key under `prefix` (e.g. "registration.").

    Dash executes a page module again for every app it makes (tests make many), so the same
    text may be registered twice; a key redefined with other text, or outside `prefix`, raises.
    """
    for key, texts in messages.items():
        if not key.startswith(prefix):
            raise ValueError(f"message {key!r} is outside its page's prefix {prefix!r}")
        if DEFAULT_LANGUAGE not in texts:
            raise ValueError(f"message {key!r} has no Chinese text")
        existing = MESSAGES.get(key)
        if existing is not None and existing != dict(texts):
            raise ValueError(f"message {key!r} is already defined with other text")
        MESSAGES[key] = dict(texts)


def t(key: str, lang: str = DEFAULT_LANGUAGE, **values: object) -> str:
    """The text of `key` in `lang` (Chinese when `lang` is unknown), with `values` filled in."""
    entry = MESSAGES[key]
    text = entry.get(lang) or entry[DEFAULT_LANGUAGE]
    return text.format(**values) if values else text


def language(value: object) -> Language:
    """`value` when it names a supported language, else the default (never trusts input)."""
    for code in LANGUAGES:
        if value == code:
            return code
    return DEFAULT_LANGUAGE
