"""Plausible, valid forms for any process definition: for the simulator, demos and tests.

`example_form` reads only the form schema (types, options, bounds, `required_when`, rules), so
it keeps working when a service is added or changed; field-name hints make the values look like
what people type (a name for `*_name`, the capital for a `*_city` next to a province, …).
"""

from __future__ import annotations

import math
import random
import string
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from workflow_core.catalog.forms import max_length, validate_form
from workflow_core.catalog.model import FieldType, FormField, ProcessDefinition
from workflow_core.catalog.provinces import PROVINCE_LIST, PROVINCES, province

_SURNAMES: Final = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
_GIVEN: Final = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉宇晨浩然欣怡子涵梓轩雨"
_DISTRICTS: Final = ("朝阳区", "高新区", "江北区", "城关区", "经开区", "滨江区", "天河区", "武侯区")
_STREETS: Final = ("人民路", "解放路", "建设大道", "中山路", "文化路", "长江路", "和平街", "学府路")
_ORGANISATIONS: Final = (
    "市第一中学",
    "省教育考试院",
    "华信科技有限公司",
    "市科学技术协会",
    "区实验小学",
    "省人民医院",
)
_TITLES: Final = (
    "人工智能前沿讲座",
    "青年学者论坛",
    "迎新文艺晚会",
    "校园十佳歌手大赛",
    "新生篮球联赛",
    "职业生涯规划分享会",
    "传统文化节",
)
_VENUES: Final = ("逸夫楼 201 报告厅", "图书馆一楼报告厅", "学生活动中心多功能厅", "东区体育馆")
_SENTENCES: Final = (
    "因学习和工作需要提出申请。",
    "相关材料已准备齐全，请予审核。",
    "本人承诺所填信息真实有效。",
    "如有疑问请电话联系。",
    "已与相关老师沟通确认。",
)

_TRUE_HINTS: Final = ("agree",)


def example_form(
    definition: ProcessDefinition,
    rng: random.Random | None = None,
    *,
    today: date | None = None,
    normalised: bool = True,
) -> dict[str, Any]:
    """A valid, normalised form for `definition`; dates fall in the weeks after `today`.

    `normalised=False`: the same form as generated, before `validate_form` normalises it, for a
    caller that submits it at once (`decide` validates every submission; validating twice was a
    twentieth of a simulated history). `validate_form` of it is the normalised form.
    """
    rng = rng if rng is not None else random.Random()
    today = today if today is not None else date.today()
    form: dict[str, Any] = {}

    for form_field in definition.form:
        if form_field.required_when is not None:
            continue
        if form_field.required or rng.random() < 0.5:
            form[form_field.name] = _value(form_field, rng, today, form)

    # A conditional field is filled only when its condition holds (a student who stays has no
    # destination); resolve them in passes because one may depend on another.
    pending = [(f, f.required_when) for f in definition.form if f.required_when is not None]
    while pending:
        waiting = {f.name for f, _ in pending}
        decided = [(f, c) for f, c in pending if c.field not in waiting]
        if not decided:  # a cycle of conditions: leave the rest empty, which is valid
            break
        for form_field, condition in decided:
            if condition.holds(form):
                form[form_field.name] = _value(form_field, rng, today, form)
        pending = [(f, c) for f, c in pending if (f, c) not in decided]

    _fill_dependent_text(definition, form)
    # The later field is placed a plausible span after the earlier one (an event lasts hours, a
    # trip weeks); in rule order, so a chain of rules (a < b < c) holds as well.
    for rule in definition.rules:
        later, earlier = form.get(rule.field), form.get(rule.other)
        if later is not None and earlier is not None:
            form[rule.field] = _after(earlier, later, rule.strict, rng)
    return validate_form(definition, form) if normalised else form


def _value(form_field: FormField, rng: random.Random, today: date, form: dict[str, Any]) -> Any:
    kind = form_field.type
    if kind is FieldType.CHOICE:
        return rng.choice(form_field.options)
    if kind is FieldType.MULTICHOICE:
        k = rng.randint(1, min(3, len(form_field.options)))
        chosen = set(rng.sample(form_field.options, k))
        return [option for option in form_field.options if option in chosen]
    if kind is FieldType.BOOLEAN:
        if any(hint in form_field.name for hint in _TRUE_HINTS):
            return True
        return rng.random() < 0.35
    if kind is FieldType.INTEGER:
        low = math.ceil(form_field.minimum) if form_field.minimum is not None else 0
        high = math.floor(form_field.maximum) if form_field.maximum is not None else low + 100
        # Skewed towards the bottom of the range, like real requests (few ask for 5000 seats).
        return low + int((high - low) * rng.random() ** 3 + 0.5)
    if kind is FieldType.NUMBER:
        low_f = form_field.minimum if form_field.minimum is not None else 0.0
        high_f = form_field.maximum if form_field.maximum is not None else low_f + 100.0
        return min(high_f, max(low_f, round(low_f + (high_f - low_f) * rng.random() ** 3, 2)))
    if kind is FieldType.DATE:
        return (today + timedelta(days=rng.randint(1, 30))).isoformat()
    if kind is FieldType.DATETIME:
        day = today + timedelta(days=rng.randint(3, 30))
        moment = datetime.combine(day, time(rng.randint(8, 19), rng.choice((0, 30))))
        return moment.isoformat(timespec="minutes")
    if kind is FieldType.PHONE:
        return rng.choice(("13", "15", "17", "18", "19")) + "".join(
            rng.choice(string.digits) for _ in range(9)
        )
    if kind is FieldType.EMAIL:
        user = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 8)))
        return f"{user}{rng.randint(1, 999)}@example.edu.cn"
    if kind is FieldType.PROVINCE:
        return rng.choice(PROVINCES)
    return _text(form_field, rng)


def _text(form_field: FormField, rng: random.Random) -> str:
    name = form_field.name
    if form_field.type is FieldType.TEXTAREA:
        count = rng.randint(1, len(_SENTENCES))
        text = "".join(rng.sample(_SENTENCES, count))
    elif name == "site_name":
        text = rng.choice(("智能计算实验室", "学术会议", "学院主页", "课题组")) + "网站"
    elif name.endswith("_name") or name in {"vehicle_owner", "new_supervisor"}:
        text = _person(rng)
    elif "mac" in name:
        text = ":".join(f"{rng.randint(0, 255):02X}" for _ in range(6))
    elif "city" in name:
        text = rng.choice(PROVINCE_LIST).capital
    elif "address" in name and "server" in name:
        text = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    elif "address" in name:
        text = f"{rng.choice(_DISTRICTS)}{rng.choice(_STREETS)}{rng.randint(1, 300)}号"
    elif "plate" in name:
        text = rng.choice("京津沪渝冀晋辽吉黑苏浙皖闽赣鲁豫鄂湘粤琼川贵云陕甘青") + rng.choice(
            "ABCDE"
        )
        text += "".join(rng.choice(string.digits + "DF") for _ in range(5))
    elif "domain" in name:
        text = rng.choice(("ailab", "physics", "conf", "bio", "cs", "math")) + str(
            rng.randint(1, 99)
        )
    elif "organisation" in name or "department" in name:
        text = rng.choice(_ORGANISATIONS)
    elif name == "title":
        text = rng.choice(_TITLES)
    elif "venue" in name:
        text = rng.choice(_VENUES)
    elif "building" in name:
        text = f"{rng.choice('桃李杏梅竹')}园{rng.randint(1, 20)}栋"
    elif "room" in name:
        text = f"{rng.randint(1, 6)}{rng.randint(1, 30):02d}"
    elif "affiliation" in name:
        text = rng.choice(
            ("北京大学教授", "中国科学院研究员", "复旦大学副教授", "某科技公司首席工程师")
        )
    elif "position" in name:
        text = rng.choice(("兼职教授", "技术顾问", "副主任", "独立董事", "研究员"))
    elif name.endswith("_id"):
        text = f"T{rng.randint(10000, 99999)}"
    elif "major" in name:
        text = rng.choice(("计算机科学与技术", "应用数学", "材料科学与工程", "公共管理"))
    else:
        text = f"{form_field.label.zh}{rng.randint(1, 99)}"
    limit = max_length(form_field)
    return text[:limit].strip() if limit is not None else text


def _person(rng: random.Random) -> str:
    given = "".join(rng.choice(_GIVEN) for _ in range(rng.randint(1, 2)))
    return rng.choice(_SURNAMES) + given


def _fill_dependent_text(definition: ProcessDefinition, form: dict[str, Any]) -> None:
    # A destination city should lie in the destination province.
    provinces = [f.name for f in definition.form if f.type is FieldType.PROVINCE]
    for form_field in definition.form:
        if "city" not in form_field.name or form_field.name not in form:
            continue
        if form_field.type is not FieldType.TEXT:
            continue
        chosen = next((form[name] for name in provinces if name in form), None)
        if chosen is not None:
            capital = province(chosen).capital
            limit = max_length(form_field)
            form[form_field.name] = capital[:limit] if limit is not None else capital


def _after(earlier: str, current: str, strict: bool, rng: random.Random) -> str:
    if "T" in earlier:
        start = datetime.fromisoformat(earlier)
        hours = rng.randint(1, 4) if strict else rng.randint(0, 4)
        return (start + timedelta(hours=hours)).isoformat(timespec="minutes")
    day = date.fromisoformat(earlier[:10])
    days = rng.randint(1, 45) if strict else rng.randint(0, 45)
    later = day + timedelta(days=days)
    # Keep the later field's own shape: a datetime compared with a date stays a datetime.
    if "T" in current:
        return datetime.combine(later, time(9)).isoformat(timespec="minutes")
    return later.isoformat()
