"""The shipped catalog loads, and its services have the shapes the hall relies on."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflow_core.catalog.loader import PROCESSES_DIR, Catalog, default_catalog, load_catalog
from workflow_core.catalog.model import AssigneeRuleKind, Audience, FieldType
from workflow_core.directory.departments import DEPARTMENTS
from workflow_core.errors import NotFoundError

SERVICES = {
    "holiday_whereabouts",
    "enrollment_certificate",
    "activity_application",
    "vpn_application",
    "dorm_air_conditioner",
    "personal_info_change",
    "graduate_status_change",
    "graduate_hardship_grant",
    "staff_domain_name",
    "fixed_ip",
    "vehicle_pass",
    "staff_secondment",
    "museum_booking",
    "campus_bus_booking",
    "temp_staff_account_extension",
}


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return default_catalog()


def test_every_shipped_file_loads_under_its_own_key(shipped: Catalog) -> None:
    files = {p.stem for p in PROCESSES_DIR.glob("*.yaml")}
    assert files == SERVICES
    assert set(shipped.keys()) == SERVICES
    assert len(shipped) == len(SERVICES)
    assert [d.key for d in shipped] == sorted(SERVICES)
    for definition in shipped:
        assert Path(definition.source_path).name == f"{definition.key}.yaml"
        assert definition.key in shipped


def test_enrollment_certificate_has_six_sequential_nodes(shipped: Catalog) -> None:
    definition = shipped.get("enrollment_certificate")
    assert len(definition.nodes) == 6
    assert not any(step.parallel for step in definition.steps)
    assert definition.audience == {Audience.UNDERGRADUATE}
    assert definition.nodes[0].assignee.kind is AssigneeRuleKind.CLASS_COUNSELLOR


def test_activity_application_passes_fifteen_nodes_with_two_parallel_groups(
    shipped: Catalog,
) -> None:
    definition = shipped.get("activity_application")
    assert len(definition.nodes) == 15
    assert len({node.key for node in definition.nodes}) == 15
    assert [len(step.nodes) for step in definition.steps] == [1, 1, 1, 5, 4, 1, 1, 1]
    first_group, second_group = (s for s in definition.steps if s.parallel)
    assert {n.assignee.department for n in first_group.nodes} == {
        "propaganda",
        "security",
        "property",
        "logistics",
        "assets",
    }
    conditions = {n.key: n.condition for n in second_group.nodes}
    livestream = conditions["it_center_review"]
    assert livestream is not None and livestream.holds({"livestream": True})
    assert not livestream.holds({"livestream": False})
    library = conditions["library_review"]
    assert library is not None and library.holds({"venue_type": "图书馆报告厅"})
    assert definition.nodes[-1].assignee.department == "president_office"


def test_whereabouts_is_a_campaign_without_approval(shipped: Catalog) -> None:
    definition = shipped.get("holiday_whereabouts")
    assert definition.campaign_based
    assert definition.steps == ()
    assert definition.audience == {Audience.UNDERGRADUATE, Audience.GRADUATE}
    province = definition.form_field("destination_province")
    assert province is not None and province.type is FieldType.PROVINCE
    assert province.required_when is not None
    assert province.required_when.holds({"stay_or_leave": "离校"})
    assert not province.required_when.holds({"stay_or_leave": "留校"})
    assert [r.as_dict() for r in definition.rules] == [
        {"field": "return_date", "not_before": "leave_date"}
    ]


def test_only_whereabouts_is_campaign_based(shipped: Catalog) -> None:
    assert [d.key for d in shipped if d.campaign_based] == ["holiday_whereabouts"]
    for definition in shipped:
        if not definition.campaign_based:
            assert definition.nodes, definition.key


def test_every_node_names_a_known_department_and_a_positive_sla(shipped: Catalog) -> None:
    for definition in shipped:
        assert definition.owner_department in DEPARTMENTS
        assert definition.description is not None
        for node in definition.nodes:
            assert node.sla_hours > 0
            if node.assignee.kind is AssigneeRuleKind.DEPARTMENT:
                assert node.assignee.department in DEPARTMENTS
            else:
                assert node.assignee.department is None


def test_audiences_match_the_services(shipped: Catalog) -> None:
    assert shipped.get("museum_booking").audience == set(Audience)
    assert shipped.get("campus_bus_booking").audience == {Audience.VISITOR}
    assert shipped.get("vpn_application").audience == {
        Audience.STAFF,
        Audience.GRADUATE,
        Audience.UNDERGRADUATE,
    }
    for key in ("vehicle_pass", "staff_secondment", "temp_staff_account_extension"):
        assert shipped.get(key).audience == {Audience.STAFF}
    visitor_services = {d.key for d in shipped.for_audience(Audience.VISITOR)}
    assert visitor_services == {"museum_booking", "campus_bus_booking"}


def test_as_dict_shows_conditional_requirements_and_rules(shipped: Catalog) -> None:
    shown = shipped.get("holiday_whereabouts").as_dict()
    fields = {f["name"]: f for f in shown["form"]}
    assert fields["destination_city"]["required_when"] == {
        "field": "stay_or_leave",
        "equals": "离校",
    }
    assert fields["destination_city"]["required"] is False
    assert "required_when" not in fields["stay_or_leave"]
    assert shown["rules"] == [{"field": "return_date", "not_before": "leave_date"}]
    activity = shipped.get("activity_application").as_dict()
    assert activity["rules"] == [{"field": "end_time", "after": "start_time"}]
    assert [step["parallel"] for step in activity["steps"]].count(True) == 2


def test_text_fields_carry_their_effective_length_limit(shipped: Catalog) -> None:
    for definition in shipped:
        for form_field in definition.form:
            if form_field.type in (FieldType.TEXT, FieldType.TEXTAREA):
                assert form_field.max_length is not None, (definition.key, form_field.name)


def test_unknown_process_is_not_found(shipped: Catalog) -> None:
    with pytest.raises(NotFoundError) as caught:
        shipped.get("no_such_service")
    assert "no_such_service" in caught.value.message


def test_loading_is_cached(shipped: Catalog) -> None:
    assert default_catalog() is shipped
    assert load_catalog(PROCESSES_DIR) is shipped
    assert load_catalog() is shipped
