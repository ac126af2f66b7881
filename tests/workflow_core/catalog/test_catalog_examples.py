"""example_form yields a valid form for every service, and validation never crashes on junk."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflow_core.catalog.examples import example_form
from workflow_core.catalog.forms import validate_form
from workflow_core.catalog.loader import default_catalog
from workflow_core.catalog.model import ProcessDefinition
from workflow_core.catalog.provinces import province
from workflow_core.errors import FormValidationError

DEFINITIONS = list(default_catalog())


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: d.key)
def test_an_example_form_is_valid_for_every_service(definition: ProcessDefinition) -> None:
    for seed in range(50):
        form = example_form(definition, random.Random(seed), today=date(2026, 3, 2))
        assert validate_form(definition, form) == form


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: d.key)
def test_an_unnormalised_example_validates_to_the_normalised_one(
    definition: ProcessDefinition,
) -> None:
    for seed in range(50):
        raw = example_form(
            definition, random.Random(seed), today=date(2026, 3, 2), normalised=False
        )
        normalised = example_form(definition, random.Random(seed), today=date(2026, 3, 2))
        assert validate_form(definition, raw) == normalised


def test_examples_are_reproducible_with_a_seeded_rng() -> None:
    activity = default_catalog().get("activity_application")
    first = example_form(activity, random.Random(7), today=date(2026, 3, 2))
    again = example_form(activity, random.Random(7), today=date(2026, 3, 2))
    assert first == again


def test_examples_cover_both_branches_of_a_condition() -> None:
    whereabouts = default_catalog().get("holiday_whereabouts")
    forms = [example_form(whereabouts, random.Random(seed)) for seed in range(40)]
    leaving = [f for f in forms if f["stay_or_leave"] == "离校"]
    staying = [f for f in forms if f["stay_or_leave"] == "留校"]
    assert leaving and staying
    for form in staying:
        assert "destination_province" not in form
    for form in leaving:
        assert form["return_date"] >= form["leave_date"]
        assert form["destination_city"] == province(form["destination_province"]).capital


def test_an_activity_example_ends_after_it_starts() -> None:
    activity = default_catalog().get("activity_application")
    for seed in range(30):
        form = example_form(activity, random.Random(seed))
        assert form["end_time"] > form["start_time"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    definition=st.sampled_from(DEFINITIONS),
    rng=st.randoms(use_true_random=False),
    today=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 1, 1)),
)
def test_example_form_always_validates(
    definition: ProcessDefinition, rng: random.Random, today: date
) -> None:
    form = example_form(definition, rng, today=today)
    assert validate_form(definition, form) == form


_JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=60)
    | st.sampled_from(["2026-01-15", "2026-01-15T08:00", "13800138000", "离校", "北京", "其他"])
)
_JSON = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@st.composite
def _junk_form(draw: st.DrawFn, definition: ProcessDefinition) -> dict[str, Any]:
    base = example_form(definition, draw(st.randoms(use_true_random=False)))
    names = [f.name for f in definition.form] + ["unknown"]
    for name in draw(st.lists(st.sampled_from(names), max_size=4)):
        if draw(st.booleans()):
            base.pop(name, None)
        else:
            base[name] = draw(_JSON)
    return base


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), definition=st.sampled_from(DEFINITIONS))
def test_validation_refuses_junk_cleanly_and_normalises_idempotently(
    data: st.DataObject, definition: ProcessDefinition
) -> None:
    form = data.draw(_junk_form(definition))
    try:
        normalised = validate_form(definition, form)
    except FormValidationError as exc:
        assert exc.fields
        assert set(exc.fields) <= {f.name for f in definition.form} | set(form) | {"_form"}
        return
    assert validate_form(definition, normalised) == normalised
