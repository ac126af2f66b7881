"""Submitted forms are normalised, or refused with every bad field named at once."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

import pytest

from workflow_core.catalog.forms import FORM_KEY, MAX_FORM_KEYS, validate_form
from workflow_core.catalog.loader import default_catalog
from workflow_core.catalog.model import (
    Audience,
    FieldType,
    FormField,
    ProcessDefinition,
    Text,
)
from workflow_core.catalog.provinces import PROVINCE_LIST, PROVINCES, normalise_province
from workflow_core.errors import FormValidationError

CATALOG = default_catalog()
WHEREABOUTS = CATALOG.get("holiday_whereabouts")
CERTIFICATE = CATALOG.get("enrollment_certificate")
ACTIVITY = CATALOG.get("activity_application")
VPN = CATALOG.get("vpn_application")
SECONDMENT = CATALOG.get("staff_secondment")
HARDSHIP = CATALOG.get("graduate_hardship_grant")


def _leaving(**changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "stay_or_leave": "离校",
        "destination_province": "浙江省",
        "destination_city": "杭州市",
        "destination_address": "西湖区文三路 100 号",
        "leave_date": "2026-01-15",
        "return_date": "2026-02-24",
        "transport": "火车",
        "emergency_contact_name": "张伟",
        "emergency_contact_phone": "13800138000",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not _GONE}


_GONE = object()


def _activity(**changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "title": "人工智能前沿讲座",
        "activity_type": "讲座",
        "venue_type": "学术报告厅",
        "venue": "逸夫楼 201",
        "start_time": "2026-04-10T14:00",
        "end_time": "2026-04-10T16:00",
        "expected_attendance": 200,
        "speaker_name": "李明",
        "speaker_affiliation": "北京大学教授",
        "foreign_speaker": False,
        "livestream": True,
        "organiser_contact": "13900001111",
        "description": "讲座介绍",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not _GONE}


def _problems(definition: ProcessDefinition, form: object) -> dict[str, str]:
    with pytest.raises(FormValidationError) as caught:
        validate_form(definition, form)
    assert caught.value.fields, "a refusal must name at least one field"
    return caught.value.fields


def test_a_valid_leaving_registration_is_normalised() -> None:
    form = _leaving(
        destination_province=" 广西 ",
        destination_city="  南宁市 ",
        leave_date=date(2026, 1, 15),
        emergency_contact_phone="+86 138-0013-8000",
        remarks="   ",
    )
    assert validate_form(WHEREABOUTS, form) == {
        "stay_or_leave": "离校",
        "destination_province": "广西壮族自治区",
        "destination_city": "南宁市",
        "destination_address": "西湖区文三路 100 号",
        "leave_date": "2026-01-15",
        "return_date": "2026-02-24",
        "transport": "火车",
        "emergency_contact_name": "张伟",
        "emergency_contact_phone": "13800138000",
    }


def test_a_student_who_stays_gives_no_destination() -> None:
    form = {
        "stay_or_leave": "留校",
        "emergency_contact_name": "张伟",
        "emergency_contact_phone": "010-62751234",
    }
    assert validate_form(WHEREABOUTS, form) == form


def test_a_student_who_leaves_must_say_where_and_when() -> None:
    form = {
        "stay_or_leave": "离校",
        "emergency_contact_name": "张伟",
        "emergency_contact_phone": "13800138000",
    }
    assert _problems(WHEREABOUTS, form) == {
        name: "required"
        for name in (
            "destination_province",
            "destination_city",
            "destination_address",
            "leave_date",
            "return_date",
            "transport",
        )
    }


def test_every_bad_field_is_named_at_once() -> None:
    problems = _problems(
        WHEREABOUTS,
        _leaving(
            destination_province="加州",
            leave_date="2026/01/15",
            transport="骑马",
            emergency_contact_phone="12345",
            emergency_contact_name=_GONE,
            colour="red",
        ),
    )
    assert set(problems) == {
        "destination_province",
        "leave_date",
        "transport",
        "emergency_contact_phone",
        "emergency_contact_name",
        "colour",
    }
    assert problems["colour"] == "unknown field"
    assert problems["emergency_contact_name"] == "required"
    assert "province-level division" in problems["destination_province"]
    assert "骑马" in problems["transport"]


def test_an_unknown_deciding_value_does_not_also_demand_the_dependent_fields() -> None:
    problems = _problems(
        WHEREABOUTS,
        {
            "stay_or_leave": "出国",
            "emergency_contact_name": "张伟",
            "emergency_contact_phone": "13800138000",
        },
    )
    assert set(problems) == {"stay_or_leave"}


@pytest.mark.parametrize("form", [None, [], ["stay_or_leave"], "离校", 3, True])
def test_a_form_that_is_not_an_object_is_refused(form: object) -> None:
    problems = _problems(WHEREABOUTS, form)
    assert set(problems) == {FORM_KEY}
    assert "must be an object" in problems[FORM_KEY]


def test_field_names_must_be_strings_and_not_too_many() -> None:
    mixed: dict[object, Any] = {3: "x"}
    for name, value in _leaving().items():
        mixed[name] = value
    assert FORM_KEY in _problems(WHEREABOUTS, mixed)
    flood = {f"f{i}": 1 for i in range(MAX_FORM_KEYS + 1)}
    assert set(_problems(WHEREABOUTS, flood)) == {FORM_KEY}


def test_return_before_leaving_is_refused_but_the_same_day_is_fine() -> None:
    problems = _problems(WHEREABOUTS, _leaving(return_date="2026-01-14"))
    assert set(problems) == {"return_date"}
    assert "leave_date" in problems["return_date"]
    same_day = validate_form(WHEREABOUTS, _leaving(return_date="2026-01-15"))
    assert same_day["return_date"] == same_day["leave_date"]


def test_an_activity_must_end_after_it_starts() -> None:
    assert set(_problems(ACTIVITY, _activity(end_time="2026-04-10T14:00:00"))) == {"end_time"}
    assert set(_problems(ACTIVITY, _activity(end_time="2026-04-10T13:00"))) == {"end_time"}


def test_datetimes_are_read_in_campus_time() -> None:
    form = validate_form(
        ACTIVITY,
        _activity(start_time="2026-04-10T06:00:00Z", end_time=datetime(2026, 4, 10, 16, 30, 15)),
    )
    assert form["start_time"] == "2026-04-10T14:00:00"
    assert form["end_time"] == "2026-04-10T16:30:15"
    with_offset = validate_form(ACTIVITY, _activity(start_time="2026-04-10 14:00+08:00"))
    assert with_offset["start_time"] == "2026-04-10T14:00:00"


@pytest.mark.parametrize(
    "value", ["2026-04-10", "10/04/2026 14:00", "2026-04-10T25:00", 1712728800, None]
)
def test_malformed_datetimes_are_refused(value: object) -> None:
    problems = _problems(ACTIVITY, _activity(start_time=value))
    assert "start_time" in problems


@pytest.mark.parametrize(
    "value", ["2026-02-30", "2026/01/15", "20260115", "2026-W03-1", 20260115, "2026-01-15T08:00"]
)
def test_malformed_dates_are_refused(value: object) -> None:
    assert "leave_date" in _problems(WHEREABOUTS, _leaving(leave_date=value))


def test_a_datetime_object_is_not_a_date() -> None:
    assert "leave_date" in _problems(WHEREABOUTS, _leaving(leave_date=datetime(2026, 1, 15, 8)))


def test_lectures_need_a_speaker_but_concerts_do_not() -> None:
    problems = _problems(ACTIVITY, _activity(speaker_name=_GONE, speaker_affiliation=""))
    assert problems == {"speaker_name": "required", "speaker_affiliation": "required"}
    concert = validate_form(
        ACTIVITY, _activity(activity_type="文艺", speaker_name=_GONE, speaker_affiliation=_GONE)
    )
    assert "speaker_name" not in concert


def test_a_paid_post_must_state_its_remuneration() -> None:
    form = {
        "arrangement": "校外兼职",
        "host_organisation": "某研究院",
        "host_position": "技术顾问",
        "start_date": "2026-03-01",
        "end_date": "2027-02-28",
        "paid": True,
        "reason": "产学研合作",
        "contact_phone": "13800138000",
    }
    assert _problems(SECONDMENT, form) == {"annual_remuneration": "required"}
    assert validate_form(SECONDMENT, {**form, "annual_remuneration": 36000})[
        "annual_remuneration"
    ] == pytest.approx(36000.0)
    assert "annual_remuneration" not in validate_form(SECONDMENT, {**form, "paid": False})


def _certificate(**changes: Any) -> dict[str, Any]:
    return {"purpose": "签证", "copies": 2, "language": "英文", **changes}


def test_a_certificate_request_is_valid() -> None:
    assert validate_form(CERTIFICATE, _certificate()) == _certificate()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("3", "must be an integer"),
        (3.0, "must be an integer"),
        (True, "must be an integer"),
        (0, "at least 1"),
        (11, "at most 10"),
        (None, "required"),
    ],
)
def test_copies_must_be_a_real_integer_in_range(value: object, problem: str) -> None:
    problems = _problems(CERTIFICATE, _certificate(copies=value))
    assert set(problems) == {"copies"}
    assert problem in problems["copies"]


@pytest.mark.parametrize("value", ["true", 1, 0, "是", None])
def test_booleans_must_be_real_booleans(value: object) -> None:
    assert "livestream" in _problems(ACTIVITY, _activity(livestream=value))


def test_other_purpose_must_be_explained() -> None:
    assert _problems(CERTIFICATE, _certificate(purpose="其他")) == {"purpose_detail": "required"}
    ok = validate_form(CERTIFICATE, _certificate(purpose="其他", purpose_detail=" 出国交流 "))
    assert ok["purpose_detail"] == "出国交流"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (-1, "at least 0"),
        ("5000", "must be a number"),
        (False, "must be a number"),
    ],
)
def test_numbers_are_finite_and_in_range(value: object, problem: str) -> None:
    form = {
        "hardship_type": "家庭经济困难",
        "registered_needy": True,
        "family_size": 4,
        "annual_family_income": value,
        "requested_amount": 3000,
        "hardship_description": "父亲生病住院",
        "contact_phone": "13800138000",
    }
    problems = _problems(HARDSHIP, form)
    assert problem in problems["annual_family_income"]
    assert validate_form(HARDSHIP, {**form, "annual_family_income": 48000})[
        "annual_family_income"
    ] == pytest.approx(48000.0)


def _vpn(**changes: Any) -> dict[str, Any]:
    return {
        "applicant_category": "研究生",
        "purpose": "访问图书馆电子资源",
        "systems": ["图书馆数据库", "教务系统"],
        "start_date": "2026-03-01",
        "end_date": "2026-07-15",
        "contact_phone": "13800138000",
        "email": "Zhang.San@Example.EDU.CN",
        **changes,
    }


def test_multichoice_is_kept_in_option_order_and_email_domain_lowercased() -> None:
    form = validate_form(VPN, _vpn())
    assert form["systems"] == ["教务系统", "图书馆数据库"]
    assert form["email"] == "Zhang.San@example.edu.cn"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("教务系统", "must be a list"),
        (["教务系统", "教务系统"], "twice"),
        (["游戏平台"], "not one of"),
        ([1], "found an integer"),
        ([], "required"),
    ],
)
def test_multichoice_values_are_distinct_options(value: object, problem: str) -> None:
    assert problem in _problems(VPN, _vpn(systems=value))["systems"]


@pytest.mark.parametrize("value", ["zhang", "zhang@", "@edu.cn", "zhang san@edu.cn", "a@b"])
def test_malformed_email_is_refused(value: str) -> None:
    assert "email" in _problems(VPN, _vpn(email=value))


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("+8613800138000", "13800138000"),
        ("0086-138-0013-8000", "13800138000"),
        ("010-62751234", "010-62751234"),
        ("0571-88881234-801", "0571-88881234-801"),
    ],
)
def test_phone_numbers_are_normalised(value: str, normalised: str) -> None:
    assert validate_form(VPN, _vpn(contact_phone=value))["contact_phone"] == normalised


@pytest.mark.parametrize("value", ["12800138000", "1380013800", "62751234", "phone", 13800138000])
def test_malformed_phone_numbers_are_refused(value: object) -> None:
    assert "contact_phone" in _problems(VPN, _vpn(contact_phone=value))


def test_there_are_34_province_level_divisions() -> None:
    assert len(PROVINCES) == len(set(PROVINCES)) == 34
    assert len({p.code for p in PROVINCE_LIST}) == 34
    assert len({p.short for p in PROVINCE_LIST}) == 34
    for province in PROVINCE_LIST:
        assert normalise_province(province.short) == province.name
        assert normalise_province(province.name) == province.name
    assert normalise_province("加州") is None


def _one_field(form_field: FormField) -> ProcessDefinition:
    return ProcessDefinition(
        key="probe",
        version=1,
        name=Text("探针", "Probe"),
        category="records",
        owner_department="it_center",
        audience=frozenset({Audience.STAFF}),
        form=(form_field,),
        steps=(),
    )


def test_text_and_textarea_have_default_length_limits() -> None:
    text = _one_field(FormField("v", Text("值", "Value"), FieldType.TEXT))
    area = _one_field(FormField("v", Text("值", "Value"), FieldType.TEXTAREA))
    assert validate_form(text, {"v": "字" * 200}) == {"v": "字" * 200}
    assert "at most 200" in _problems(text, {"v": "字" * 201})["v"]
    assert validate_form(area, {"v": "字" * 2000}) == {"v": "字" * 2000}
    assert "at most 2000" in _problems(area, {"v": "字" * 2001})["v"]


def test_text_is_one_line_and_textarea_line_breaks_are_unified() -> None:
    text = _one_field(FormField("v", Text("值", "Value"), FieldType.TEXT))
    area = _one_field(FormField("v", Text("值", "Value"), FieldType.TEXTAREA))
    assert "single line" in _problems(text, {"v": "第一行\n第二行"})["v"]
    assert validate_form(area, {"v": "第一行\r\n第二行\r"}) == {"v": "第一行\n第二行"}
    assert "control" in _problems(area, {"v": "a\x00b"})["v"]
    assert "must be a string" in _problems(text, {"v": 42})["v"]


def test_an_explicit_max_length_wins() -> None:
    certificate_detail = CERTIFICATE.form_field("purpose_detail")
    assert certificate_detail is not None and certificate_detail.max_length == 100
    problems = _problems(CERTIFICATE, _certificate(purpose="其他", purpose_detail="长" * 101))
    assert "at most 100" in problems["purpose_detail"]


def test_the_error_message_lists_the_problems() -> None:
    with pytest.raises(FormValidationError) as caught:
        validate_form(CERTIFICATE, _certificate(copies=0, language="法文"))
    message = caught.value.message
    assert message.startswith("invalid form for enrollment_certificate: ")
    assert "copies: must be at least 1" in message
    assert "language:" in message
    assert caught.value.code == "invalid_form"


def test_each_definition_is_validated_against_its_own_form() -> None:
    # validate_form keeps a plan per definition object; a changed copy (a new version of the
    # service, a test's variant) must not be checked with the plan of the original.
    form = {"purpose": "签证", "copies": 2, "language": "中文"}
    assert validate_form(CERTIFICATE, form)["copies"] == 2
    fewer = dataclasses.replace(
        CERTIFICATE, form=tuple(f for f in CERTIFICATE.form if f.name != "copies")
    )
    with pytest.raises(FormValidationError) as refused:
        validate_form(fewer, form)
    assert refused.value.fields == {"copies": "unknown field"}
    assert validate_form(CERTIFICATE, form)["copies"] == 2
