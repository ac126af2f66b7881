"""A malformed catalog file is refused whole, with an error naming the file and the field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from workflow_core.catalog.loader import CatalogLoadError, load_catalog
from workflow_core.errors import CatalogError

Doc = dict[str, Any]


def _node(key: str, **extra: Any) -> Doc:
    return {
        "key": key,
        "name": {"zh": f"{key}节点", "en": f"{key} node"},
        "assignee": {"kind": "department", "department": "security"},
        "sla_hours": 8,
        **extra,
    }


BASE: Doc = {
    "key": "sample",
    "version": 1,
    "name": {"zh": "示例", "en": "Sample"},
    "description": {"zh": "示例服务", "en": "A sample service"},
    "category": "campus_access",
    "owner_department": "security",
    "audience": ["staff"],
    "form": [
        {
            "name": "kind",
            "label": {"zh": "类型", "en": "Kind"},
            "type": "choice",
            "options": ["甲", "乙"],
        },
        {"name": "flag", "label": {"zh": "标记", "en": "Flag"}, "type": "boolean"},
        {"name": "start", "label": {"zh": "开始", "en": "Start"}, "type": "date"},
        {"name": "end", "label": {"zh": "结束", "en": "End"}, "type": "date"},
        {
            "name": "count",
            "label": {"zh": "数量", "en": "Count"},
            "type": "integer",
            "minimum": 1,
            "maximum": 9,
        },
        {"name": "note", "label": {"zh": "备注", "en": "Note"}, "type": "text", "required": False},
    ],
    "rules": [{"field": "end", "not_before": "start"}],
    "steps": [
        {**_node("first"), "assignee": {"kind": "class_counsellor"}},
        {
            "parallel": [
                _node("second"),
                _node(
                    "third",
                    assignee={"kind": "department", "department": "property"},
                    condition={"field": "kind", "equals": "甲"},
                ),
            ]
        },
        _node("fourth", assignee={"kind": "leadership"}),
    ],
}


def _write(directory: Path, doc: Any, name: str = "sample.yaml") -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _load_error(directory: Path) -> CatalogError:
    with pytest.raises(CatalogError) as caught:
        load_catalog(directory)
    return caught.value


def test_the_base_document_is_valid(tmp_path: Path) -> None:
    _write(tmp_path, BASE)
    catalog = load_catalog(tmp_path)
    definition = catalog.get("sample")
    assert [n.key for n in definition.nodes] == ["first", "second", "third", "fourth"]
    assert definition.steps[1].parallel


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    """Mutate the document at a dotted path with [i] indexes; value None-sentinel deletes."""

    def mutate(doc: Doc) -> None:
        target: Any = doc
        parts = path.replace("[", ".").replace("]", "").split(".")
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        last = parts[-1]
        key: Any = int(last) if last.isdigit() else last
        if value is _DELETE:
            del target[key]
        else:
            target[key] = value

    return mutate


_DELETE = object()

CASES: list[tuple[str, Callable[[Doc], None], str, str]] = [
    ("missing version", _set("version", _DELETE), "version", "missing"),
    ("missing description", _set("description", _DELETE), "description", "missing"),
    ("unknown top-level key", _set("colour", "red"), "colour", "unknown key"),
    ("version as a string", _set("version", "1"), "version", "expected an integer"),
    ("version zero", _set("version", 0), "version", "at least 1"),
    ("name without english", _set("name.en", _DELETE), "name.en", "missing"),
    ("empty chinese name", _set("name.zh", "  "), "name.zh", "must not be empty"),
    ("name as a string", _set("name", "示例"), "name", "expected a mapping"),
    ("unknown category", _set("category", "misc"), "category", "unknown category"),
    (
        "unknown owner department",
        _set("owner_department", "dean"),
        "owner_department",
        "unknown department 'dean'",
    ),
    ("empty audience", _set("audience", []), "audience", "at least one"),
    ("unknown audience", _set("audience", ["faculty"]), "audience[0]", "unknown value"),
    ("audience twice", _set("audience", ["staff", "staff"]), "audience[1]", "listed twice"),
    ("audience not a list", _set("audience", "staff"), "audience", "expected a list"),
    ("campaign flag as a string", _set("campaign_based", "yes"), "campaign_based", "true or false"),
    ("form not a list", _set("form", {"kind": 1}), "form", "expected a list"),
    (
        "duplicate form field",
        _set("form[1].name", "kind"),
        "form[1].name",
        "duplicate field name 'kind'",
    ),
    ("field name not snake case", _set("form[1].name", "Flag"), "form[1].name", "lower_snake"),
    ("unknown field type", _set("form[1].type", "colour"), "form[1].type", "unknown value"),
    ("unknown field key", _set("form[1].default", True), "form[1].default", "unknown key"),
    ("required as a string", _set("form[1].required", "no"), "form[1].required", "true or false"),
    ("choice without options", _set("form[0].options", _DELETE), "form[0].options", "options"),
    ("choice with no options", _set("form[0].options", []), "form[0].options", "at least one"),
    ("options twice", _set("form[0].options", ["甲", "甲"]), "form[0].options[1]", "twice"),
    ("options on a text field", _set("form[5].options", ["x"]), "form[5].options", "only choice"),
    ("max_length on an integer", _set("form[4].max_length", 3), "form[4].max_length", "no max"),
    ("max_length zero", _set("form[5].max_length", 0), "form[5].max_length", "between"),
    ("minimum on a date", _set("form[2].minimum", 1), "form[2].minimum", "no minimum"),
    ("minimum above maximum", _set("form[4].minimum", 10), "form[4].maximum", "below"),
    (
        "required_when on an unknown field",
        _set("form[5].required_when", {"field": "nope", "equals": 1}),
        "form[5].required_when.field",
        "no form field named 'nope'",
    ),
    (
        "required_when with an impossible value",
        _set("form[5].required_when", {"field": "kind", "equals": "丙"}),
        "form[5].required_when.equals",
        "not one of",
    ),
    (
        "required_when on itself",
        _set("form[5].required_when", {"field": "note", "equals": "x"}),
        "form[5].required_when.field",
        "itself",
    ),
    (
        "required_when with required true",
        _set(
            "form[5]",
            {
                **BASE["form"][5],
                "required": True,
                "required_when": {"field": "flag", "equals": True},
            },
        ),
        "form[5].required",
        "must be false",
    ),
    ("rule on a non-date", _set("rules[0].field", "count"), "rules[0].field", "not a date"),
    ("rule on a missing field", _set("rules[0].not_before", "nope"), "rules[0].not_before", "no"),
    ("rule with two comparisons", _set("rules[0].after", "start"), "rules[0]", "exactly one"),
    ("rule on itself", _set("rules[0].field", "start"), "rules[0]", "itself"),
    ("steps not a list", _set("steps", {"a": 1}), "steps", "expected a list"),
    ("step as a string", _set("steps[0]", "first"), "steps[0]", "expected a mapping"),
    ("node key missing", _set("steps[0].key", _DELETE), "steps[0].key", "missing"),
    ("node key not snake case", _set("steps[0].key", "First"), "steps[0].key", "lower_snake"),
    ("unknown node key", _set("steps[0].timeout", 3), "steps[0].timeout", "unknown key"),
    (
        "duplicate node key in a group",
        _set("steps[1].parallel[1].key", "first"),
        "steps[1].parallel[1].key",
        "duplicate node key 'first'",
    ),
    ("duplicate node key in sequence", _set("steps[2].key", "second"), "steps[2].key", "duplicate"),
    (
        "unknown department in a parallel group",
        _set("steps[1].parallel[1].assignee.department", "propaganda_x"),
        "steps[1].parallel[1].assignee.department",
        "unknown department 'propaganda_x'",
    ),
    (
        "department rule without a department",
        _set("steps[1].parallel[0].assignee", {"kind": "department"}),
        "steps[1].parallel[0].assignee.department",
        "missing",
    ),
    (
        "department given for another kind",
        _set("steps[0].assignee.department", "security"),
        "steps[0].assignee.department",
        "only kind 'department'",
    ),
    ("unknown rule kind", _set("steps[0].assignee.kind", "dean"), "steps[0].assignee.kind", "dean"),
    ("sla zero", _set("steps[0].sla_hours", 0), "steps[0].sla_hours", "more than 0"),
    ("sla negative", _set("steps[2].sla_hours", -4), "steps[2].sla_hours", "more than 0"),
    ("sla as text", _set("steps[0].sla_hours", "8h"), "steps[0].sla_hours", "expected a number"),
    ("sla as boolean", _set("steps[0].sla_hours", True), "steps[0].sla_hours", "expected a number"),
    (
        "condition on a missing field",
        _set("steps[1].parallel[1].condition.field", "colour"),
        "steps[1].parallel[1].condition.field",
        "no form field named 'colour'",
    ),
    (
        "condition value not among the options",
        _set("steps[1].parallel[1].condition.equals", "丙"),
        "steps[1].parallel[1].condition.equals",
        "'丙' is not one of",
    ),
    (
        "condition one_of value not among the options",
        _set("steps[1].parallel[1].condition", {"field": "kind", "one_of": ["甲", "丁"]}),
        "steps[1].parallel[1].condition.one_of[1]",
        "not one of",
    ),
    (
        "condition with empty one_of",
        _set("steps[1].parallel[1].condition", {"field": "kind", "one_of": []}),
        "steps[1].parallel[1].condition.one_of",
        "at least one",
    ),
    (
        "condition with both equals and one_of",
        _set("steps[1].parallel[1].condition.one_of", ["甲"]),
        "steps[1].parallel[1].condition",
        "exactly one",
    ),
    (
        "condition on a boolean with a string",
        _set("steps[1].parallel[1].condition", {"field": "flag", "equals": "true"}),
        "steps[1].parallel[1].condition.equals",
        "true or false",
    ),
    (
        "condition out of the field's range",
        _set("steps[1].parallel[1].condition", {"field": "count", "equals": 20}),
        "steps[1].parallel[1].condition.equals",
        "at most 9",
    ),
    ("empty parallel group", _set("steps[1].parallel", []), "steps[1].parallel", "empty"),
    (
        "parallel group of one",
        _set("steps[1].parallel", [_node("second")]),
        "steps[1].parallel",
        "at least two",
    ),
    (
        "parallel group with another key",
        _set("steps[1].name", "group"),
        "steps[1].name",
        "unknown key",
    ),
    (
        "campaign with steps",
        _set("campaign_based", True),
        "steps",
        "campaign-based process has no approval steps",
    ),
    ("no steps and no campaign", _set("steps", []), "steps", "at least one step"),
]


@pytest.mark.parametrize(
    ("mutate", "field", "problem"),
    [pytest.param(m, f, p, id=i) for i, m, f, p in CASES],
)
def test_each_mistake_names_the_file_and_the_field(
    tmp_path: Path, mutate: Callable[[Doc], None], field: str, problem: str
) -> None:
    doc = copy.deepcopy(BASE)
    mutate(doc)
    _write(tmp_path, doc)
    error = _load_error(tmp_path)
    assert error.path == "sample.yaml"
    assert error.field == field
    assert problem in error.problem
    assert error.message.startswith(f"sample.yaml: {field}: ")
    assert error.fields == {field: error.problem}


def test_the_message_reads_file_field_problem(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE)
    doc["steps"][1]["parallel"][1]["assignee"]["department"] = "propaganda_x"
    _write(tmp_path, doc)
    assert str(_load_error(tmp_path)) == (
        "sample.yaml: steps[1].parallel[1].assignee.department: unknown department 'propaganda_x'"
    )


def test_key_must_match_the_file_name(tmp_path: Path) -> None:
    _write(tmp_path, BASE, name="other.yaml")
    error = _load_error(tmp_path)
    assert (error.path, error.field) == ("other.yaml", "key")
    assert "'sample'" in error.problem and "'other'" in error.problem


def test_a_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "sample.yaml").write_text(
        "key: sample\nversion: 1\nname: {zh: 示例, en: Sample\nform: []\n", encoding="utf-8"
    )
    error = _load_error(tmp_path)
    assert error.path == "sample.yaml"
    assert error.field.startswith("line 4")
    assert "YAML syntax error" in error.problem


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    text = yaml.safe_dump(BASE, allow_unicode=True, sort_keys=False) + "version: 2\n"
    (tmp_path / "sample.yaml").write_text(text, encoding="utf-8")
    error = _load_error(tmp_path)
    assert error.field.startswith(f"line {text.count(chr(10))}")
    assert "duplicate key 'version'" in error.problem


def test_python_tags_are_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (tmp_path / "sample.yaml").write_text(
        f'key: !!python/object/apply:os.system ["touch {marker}"]\n', encoding="utf-8"
    )
    error = _load_error(tmp_path)
    assert error.field.startswith("line 1")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "field", "problem"),
    [
        ("", "(document)", "empty"),
        ("# only a comment\n", "(document)", "empty"),
        ("- key: sample\n", "(document)", "expected a mapping"),
        ("just text\n", "(document)", "expected a mapping"),
    ],
)
def test_a_document_that_is_not_a_mapping_is_refused(
    tmp_path: Path, content: str, field: str, problem: str
) -> None:
    (tmp_path / "sample.yaml").write_text(content, encoding="utf-8")
    error = _load_error(tmp_path)
    assert (error.path, error.field) == ("sample.yaml", field)
    assert problem in error.problem


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    (tmp_path / "sample.yaml").write_bytes("key: 示例\n".encode("gbk"))
    error = _load_error(tmp_path)
    assert (error.path, error.field) == ("sample.yaml", "(file)")


def test_a_yml_file_is_refused_not_ignored(tmp_path: Path) -> None:
    _write(tmp_path, BASE, name="sample.yml")
    error = _load_error(tmp_path)
    assert (error.path, error.field) == ("sample.yml", "(file)")


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    error = _load_error(tmp_path / "nowhere")
    assert error.field == "(directory)"


def test_one_bad_file_refuses_the_whole_catalog_and_every_bad_file_is_listed(
    tmp_path: Path,
) -> None:
    _write(tmp_path, BASE)
    bad = copy.deepcopy(BASE)
    bad["key"] = "broken"
    bad["steps"][0]["sla_hours"] = 0
    _write(tmp_path, bad, name="broken.yaml")
    worse = copy.deepcopy(BASE)
    worse["key"] = "worse"
    worse["audience"] = []
    _write(tmp_path, worse, name="worse.yaml")
    with pytest.raises(CatalogLoadError) as caught:
        load_catalog(tmp_path)
    error = caught.value
    assert [(e.path, e.field) for e in error.errors] == [
        ("broken.yaml", "steps[0].sla_hours"),
        ("worse.yaml", "audience"),
    ]
    assert (error.path, error.field) == ("broken.yaml", "steps[0].sla_hours")
    assert "broken.yaml: steps[0].sla_hours" in str(error)
    assert "worse.yaml: audience" in str(error)


def test_a_fixed_file_is_picked_up_on_the_next_load(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE)
    doc["steps"][0]["sla_hours"] = -1
    path = _write(tmp_path, doc)
    _load_error(tmp_path)
    doc["steps"][0]["sla_hours"] = 12.5
    path.write_text(yaml.safe_dump(doc, allow_unicode=True) + "\n# fixed\n", encoding="utf-8")
    catalog = load_catalog(tmp_path)
    assert catalog.get("sample").nodes[0].sla_hours == 12.5
    assert load_catalog(tmp_path) is catalog


def test_files_other_than_yaml_are_ignored(tmp_path: Path) -> None:
    _write(tmp_path, BASE)
    (tmp_path / "README.md").write_text("notes", encoding="utf-8")
    (tmp_path / ".sample.yaml.swp").write_text("junk", encoding="utf-8")
    assert load_catalog(tmp_path).keys() == ("sample",)
