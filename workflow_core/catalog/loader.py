"""Load the process catalog (流程目录) from YAML, one file a service, and validate it.

Every file is checked completely before any definition is handed out: a malformed file is
never half-loaded. An error names the file and the path of the offending field, e.g.
``activity_application.yaml: steps[3].parallel[1].assignee.department: unknown department
'propaganda_x'``. Only the first error of each file is reported (later ones are often
consequences of it); when several files are bad, all of them are listed.

The YAML is parsed with a `yaml.SafeLoader` that also refuses duplicate mapping keys, which
plain `safe_load` would silently resolve to the last one.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, NoReturn, TypeVar

import yaml

from workflow_core.catalog.forms import (
    DEFAULT_MAX_LENGTH,
    MAX_FORM_CHARS,
    InvalidValue,
    normalise_value,
)
from workflow_core.catalog.model import (
    AssigneeRule,
    AssigneeRuleKind,
    Audience,
    Condition,
    FieldType,
    FormField,
    FormRule,
    Node,
    ProcessDefinition,
    Step,
    Text,
)
from workflow_core.directory.departments import DEPARTMENTS
from workflow_core.errors import CatalogError, NotFoundError

PROCESSES_DIR: Final = Path(__file__).resolve().parent / "processes"
SUFFIX: Final = ".yaml"

CATEGORIES: Final[dict[str, Text]] = {
    "student_affairs": Text("学生事务", "Student affairs"),
    "academic": Text("教学与学籍", "Academic records"),
    "activities": Text("活动与场地", "Activities and venues"),
    "network": Text("网络与信息", "Network and IT"),
    "logistics": Text("后勤服务", "Campus services"),
    "personnel": Text("人事服务", "Personnel"),
    "records": Text("个人信息", "Personal records"),
    "campus_access": Text("校园出入", "Campus access"),
    "culture": Text("文化场馆", "Culture and venues"),
}

_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")
_MAX_OPTION_LENGTH = 100
_LENGTH_TYPES = frozenset({FieldType.TEXT, FieldType.TEXTAREA, FieldType.EMAIL})
_RANGE_TYPES = frozenset({FieldType.INTEGER, FieldType.NUMBER})
_OPTION_TYPES = frozenset({FieldType.CHOICE, FieldType.MULTICHOICE})
_TIME_TYPES = frozenset({FieldType.DATE, FieldType.DATETIME})

_PROCESS_KEYS = (
    ("key", "version", "name", "description", "category", "owner_department", "audience", "form"),
    ("campaign_based", "rules", "steps"),
)
_FIELD_KEYS = (
    ("name", "label", "type"),
    ("required", "required_when", "options", "max_length", "minimum", "maximum", "help"),
)
_NODE_KEYS = (("key", "name", "assignee", "sla_hours"), ("condition",))
_ASSIGNEE_KEYS = (("kind",), ("department",))
_CONDITION_KEYS = (("field",), ("equals", "one_of"))
_TEXT_KEYS = (("zh", "en"), ())


_E = TypeVar("_E", FieldType, AssigneeRuleKind, Audience)


class CatalogLoadError(CatalogError):
    """One or more catalog files are malformed; `errors` holds the first error of each file."""

    def __init__(self, errors: Sequence[CatalogError]) -> None:
        first = errors[0]
        super().__init__(first.path, first.field, first.problem)
        self.errors = tuple(errors)
        if len(errors) > 1:
            self.message = "\n".join(error.message for error in errors)
            self.args = (self.message,)


class Catalog:
    """The services of the hall, by key. Immutable; iterate in key order."""

    def __init__(self, definitions: Iterable[ProcessDefinition], directory: Path | None = None):
        by_key: dict[str, ProcessDefinition] = {}
        for definition in definitions:
            if definition.key in by_key:
                raise ValueError(f"process {definition.key!r} is defined twice")
            by_key[definition.key] = definition
        self._by_key = dict(sorted(by_key.items()))
        self.directory = directory

    def get(self, key: str) -> ProcessDefinition:
        try:
            return self._by_key[key]
        except KeyError:
            raise NotFoundError(
                f"no process {key!r} in the catalog", {"process_key": "unknown process"}
            ) from None

    def keys(self) -> tuple[str, ...]:
        return tuple(self._by_key)

    def for_audience(self, audience: Audience) -> tuple[ProcessDefinition, ...]:
        return tuple(d for d in self._by_key.values() if audience in d.audience)

    def __iter__(self) -> Iterator[ProcessDefinition]:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def __repr__(self) -> str:
        return f"Catalog({', '.join(self._by_key)})"


def load_catalog(directory: Path | None = None) -> Catalog:
    """Every `*.yaml` of `directory` (default: the shipped processes), validated.

    Cached per directory; the cache is keyed on each file's size and modification time, so an
    edited file is picked up on the next call and an unchanged catalog costs only a few stats.
    """
    root = (directory if directory is not None else PROCESSES_DIR).resolve()
    if not root.is_dir():
        raise CatalogError(str(root), "(directory)", "no such directory")
    files = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
    signature = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    return _load_cached(root, signature)


def default_catalog() -> Catalog:
    """The shipped catalog (cached)."""
    return load_catalog(None)


def load_file(path: Path) -> ProcessDefinition:
    """One process definition file, validated; CatalogError naming the file and the field."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogError(name, "(file)", f"not UTF-8 text: {exc.reason}") from None
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: safe
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(yaml)"
        problem = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise CatalogError(name, where, f"YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise CatalogError(name, "(yaml)", f"YAML error: {exc}") from None
    try:
        definition = _process(document, path)
    except _Invalid as exc:
        raise CatalogError(name, exc.field or "(document)", exc.problem) from None
    if definition.key != path.stem:
        raise CatalogError(
            name, "key", f"{definition.key!r} does not match the file name {path.stem!r}"
        )
    return definition


@functools.lru_cache(maxsize=32)
def _load_cached(root: Path, signature: tuple[tuple[str, int, int], ...]) -> Catalog:
    definitions: list[ProcessDefinition] = []
    errors: list[CatalogError] = []
    for file_name, _, _ in signature:
        path = root / file_name
        if path.suffix == ".yml":
            errors.append(CatalogError(file_name, "(file)", f"use the {SUFFIX} extension"))
            continue
        if path.suffix != SUFFIX:
            continue
        try:
            definitions.append(load_file(path))
        except CatalogError as exc:
            errors.append(exc)
    if errors:
        raise CatalogLoadError(errors)
    return Catalog(definitions, root)


# libyaml parses the catalog about ten times faster than the pure-Python parser; both construct
# with SafeConstructor, so the duplicate-key check below applies to either.
try:
    from yaml import CSafeLoader as _SafeBase
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _SafeBase  # type: ignore[assignment]


class _StrictLoader(_SafeBase):
    """SafeLoader that refuses a key given twice in one mapping."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, Hashable):
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _Invalid(Exception):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def _fail(field: str, problem: str) -> NoReturn:
    raise _Invalid(field, problem)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


def _mapping(
    value: object, path: str, keys: tuple[tuple[str, ...], tuple[str, ...]]
) -> dict[str, Any]:
    required, optional = keys
    if not isinstance(value, dict):
        _fail(path or "(document)", f"expected a mapping, got {_type_name(value)}")
    for key in value:
        if not isinstance(key, str) or (key not in required and key not in optional):
            allowed = ", ".join((*required, *optional))
            _fail(_join(path, str(key)), f"unknown key (expected one of: {allowed})")
    for key in required:
        if key not in value:
            _fail(_join(path, key), "missing")
    return value


def _list(value: object, path: str) -> list[Any]:
    if not isinstance(value, list):
        _fail(path, f"expected a list, got {_type_name(value)}")
    return value


def _string(value: object, path: str) -> str:
    if not isinstance(value, str):
        _fail(path, f"expected a string, got {_type_name(value)}")
    if not value.strip():
        _fail(path, "must not be empty")
    return value.strip()


def _identifier(value: object, path: str) -> str:
    text = _string(value, path)
    if not _IDENTIFIER.fullmatch(text):
        _fail(path, f"{text!r} must be lower_snake_case (a-z, 0-9, _)")
    return text


def _boolean(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        _fail(path, f"expected true or false, got {_type_name(value)}")
    return value


def _integer(value: object, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(path, f"expected an integer, got {_type_name(value)}")
    return value


def _number(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(path, f"expected a number, got {_type_name(value)}")
    if not math.isfinite(value):
        _fail(path, "must be a finite number")
    return float(value)


def _text(value: object, path: str) -> Text:
    mapping = _mapping(value, path, _TEXT_KEYS)
    return Text(
        _string(mapping["zh"], _join(path, "zh")), _string(mapping["en"], _join(path, "en"))
    )


def _enum_value(enum: type[_E], value: object, path: str) -> _E:
    text = _string(value, path)
    try:
        return enum(text)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        _fail(path, f"unknown value {text!r} (expected one of: {allowed})")


def _department(value: object, path: str) -> str:
    code = _string(value, path)
    if code not in DEPARTMENTS:
        _fail(path, f"unknown department {code!r}")
    return code


def _process(document: object, path: Path) -> ProcessDefinition:
    if document is None:
        _fail("(document)", "the file is empty")
    raw = _mapping(document, "", _PROCESS_KEYS)
    key = _identifier(raw["key"], "key")
    version = _integer(raw["version"], "version")
    if version < 1:
        _fail("version", "must be at least 1")
    name = _text(raw["name"], "name")
    description = _text(raw["description"], "description")
    category = _string(raw["category"], "category")
    if category not in CATEGORIES:
        _fail(
            "category", f"unknown category {category!r} (expected one of: {', '.join(CATEGORIES)})"
        )
    owner = _department(raw["owner_department"], "owner_department")
    audience = _audience(raw["audience"])
    campaign_based = _boolean(raw.get("campaign_based", False), "campaign_based")

    form = _form(raw["form"])
    by_name = {form_field.name: form_field for form_field in form}
    rules = tuple(
        _rule(item, f"rules[{i}]", by_name)
        for i, item in enumerate(_list(raw.get("rules", []), "rules"))
    )
    steps = _steps(raw.get("steps", []), by_name)
    if campaign_based and steps:
        _fail("steps", "a campaign-based process has no approval steps")
    if not campaign_based and not steps:
        _fail("steps", "a process that is not campaign-based needs at least one step")

    return ProcessDefinition(
        key=key,
        version=version,
        name=name,
        description=description,
        category=category,
        owner_department=owner,
        audience=audience,
        form=form,
        rules=rules,
        steps=steps,
        campaign_based=campaign_based,
        source_path=str(path),
    )


def _audience(value: object) -> frozenset[Audience]:
    items = _list(value, "audience")
    if not items:
        _fail("audience", "must name at least one kind of applicant")
    audience: set[Audience] = set()
    for i, item in enumerate(items):
        member = _enum_value(Audience, item, f"audience[{i}]")
        if member in audience:
            _fail(f"audience[{i}]", f"{member.value!r} is listed twice")
        audience.add(member)
    return frozenset(audience)


def _form(value: object) -> tuple[FormField, ...]:
    items = _list(value, "form")
    fields: list[FormField] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        path = f"form[{i}]"
        form_field = _form_field(item, path)
        if form_field.name in seen:
            _fail(
                _join(path, "name"),
                f"duplicate field name {form_field.name!r} (also form[{seen[form_field.name]}])",
            )
        seen[form_field.name] = i
        fields.append(form_field)
    by_name = {form_field.name: form_field for form_field in fields}
    # required_when may point at a field declared later, so it is resolved once all are known.
    for i, (item, form_field) in enumerate(zip(items, fields, strict=True)):
        if "required_when" not in item:
            continue
        path = f"form[{i}].required_when"
        condition = _condition(item["required_when"], path, by_name)
        if condition.field == form_field.name:
            _fail(_join(path, "field"), "a field cannot depend on itself")
        fields[i] = dataclasses.replace(form_field, required_when=condition)
    return tuple(fields)


def _form_field(value: object, path: str) -> FormField:
    raw = _mapping(value, path, _FIELD_KEYS)
    name = _identifier(raw["name"], _join(path, "name"))
    label = _text(raw["label"], _join(path, "label"))
    field_type = _enum_value(FieldType, raw["type"], _join(path, "type"))

    if "required_when" in raw:
        if raw.get("required", False) is not False:
            _fail(
                _join(path, "required"), "must be false (or left out) when required_when is given"
            )
        required = False
    else:
        required = _boolean(raw.get("required", True), _join(path, "required"))

    options: tuple[str, ...] = ()
    if field_type in _OPTION_TYPES:
        if "options" not in raw:
            _fail(_join(path, "options"), f"a {field_type.value} field needs options")
        options = _options(raw["options"], _join(path, "options"))
    elif "options" in raw:
        _fail(
            _join(path, "options"),
            f"only choice and multichoice fields have options, not {field_type.value}",
        )

    max_length: int | None = None
    if "max_length" in raw:
        if field_type not in _LENGTH_TYPES:
            _fail(_join(path, "max_length"), f"a {field_type.value} field has no max_length")
        max_length = _integer(raw["max_length"], _join(path, "max_length"))
        if not 1 <= max_length <= MAX_FORM_CHARS:
            _fail(_join(path, "max_length"), f"must be between 1 and {MAX_FORM_CHARS}")
    else:
        max_length = DEFAULT_MAX_LENGTH.get(field_type)

    bounds: dict[str, float | None] = {"minimum": None, "maximum": None}
    for bound in bounds:
        if bound in raw:
            if field_type not in _RANGE_TYPES:
                _fail(_join(path, bound), f"a {field_type.value} field has no {bound}")
            if field_type is FieldType.INTEGER:
                bounds[bound] = _integer(raw[bound], _join(path, bound))
            else:
                bounds[bound] = _number(raw[bound], _join(path, bound))
    minimum, maximum = bounds["minimum"], bounds["maximum"]
    if minimum is not None and maximum is not None and minimum > maximum:
        _fail(_join(path, "maximum"), f"{maximum} is below the minimum {minimum}")

    help_text = _string(raw["help"], _join(path, "help")) if "help" in raw else None
    return FormField(
        name=name,
        label=label,
        type=field_type,
        required=required,
        options=options,
        max_length=max_length,
        minimum=minimum,
        maximum=maximum,
        help=help_text,
    )


def _options(value: object, path: str) -> tuple[str, ...]:
    items = _list(value, path)
    if not items:
        _fail(path, "must list at least one option")
    options: list[str] = []
    for i, item in enumerate(items):
        option = _string(item, f"{path}[{i}]")
        if len(option) > _MAX_OPTION_LENGTH:
            _fail(f"{path}[{i}]", f"longer than {_MAX_OPTION_LENGTH} characters")
        if option in options:
            _fail(f"{path}[{i}]", f"{option!r} is listed twice")
        options.append(option)
    return tuple(options)


def _condition(value: object, path: str, form: Mapping[str, FormField]) -> Condition:
    raw = _mapping(value, path, _CONDITION_KEYS)
    name = _string(raw["field"], _join(path, "field"))
    form_field = form.get(name)
    if form_field is None:
        _fail(_join(path, "field"), f"no form field named {name!r}")
    if form_field.type is FieldType.MULTICHOICE:
        _fail(
            _join(path, "field"), f"conditions on multichoice fields ({name!r}) are not supported"
        )
    if ("equals" in raw) == ("one_of" in raw):
        _fail(path, "needs exactly one of equals, one_of")
    if "equals" in raw:
        return Condition(
            name, equals=_condition_value(form_field, raw["equals"], _join(path, "equals"))
        )
    items = _list(raw["one_of"], _join(path, "one_of"))
    if not items:
        _fail(_join(path, "one_of"), "must list at least one value")
    values = tuple(
        _condition_value(form_field, item, f"{path}.one_of[{i}]") for i, item in enumerate(items)
    )
    return Condition(name, one_of=values)


def _condition_value(form_field: FormField, value: object, path: str) -> Any:
    # A condition compares against the normalised form, so its value must be a valid,
    # normalised value of the field: an option of a choice, a real boolean, an ISO date, …
    if value is None:
        _fail(path, f"a value of field {form_field.name!r} is needed, not null")
    try:
        return normalise_value(form_field, value)
    except InvalidValue as exc:
        _fail(path, f"not a valid value of field {form_field.name!r}: {exc}")


def _rule(value: object, path: str, form: Mapping[str, FormField]) -> FormRule:
    raw = _mapping(value, path, (("field",), ("after", "not_before")))
    if ("after" in raw) == ("not_before" in raw):
        _fail(path, "needs exactly one of after, not_before")
    strict = "after" in raw
    names: list[str] = []
    for key in ("field", "after" if strict else "not_before"):
        name = _string(raw[key], _join(path, key))
        form_field = form.get(name)
        if form_field is None:
            _fail(_join(path, key), f"no form field named {name!r}")
        if form_field.type not in _TIME_TYPES:
            _fail(
                _join(path, key),
                f"{name!r} is a {form_field.type.value} field, not a date or datetime",
            )
        names.append(name)
    if names[0] == names[1]:
        _fail(path, "a field cannot be compared with itself")
    return FormRule(names[0], names[1], strict=strict)


def _steps(value: object, form: Mapping[str, FormField]) -> tuple[Step, ...]:
    items = _list(value, "steps")
    steps: list[Step] = []
    seen: dict[str, str] = {}

    def node(item: object, path: str) -> Node:
        parsed = _node(item, path, form)
        if parsed.key in seen:
            _fail(
                _join(path, "key"), f"duplicate node key {parsed.key!r} (also {seen[parsed.key]})"
            )
        seen[parsed.key] = path
        return parsed

    for i, item in enumerate(items):
        path = f"steps[{i}]"
        if isinstance(item, dict) and "parallel" in item:
            _mapping(item, path, (("parallel",), ()))
            group_path = _join(path, "parallel")
            members = _list(item["parallel"], group_path)
            if not members:
                _fail(group_path, "an empty parallel group")
            if len(members) == 1:
                _fail(
                    group_path,
                    "a parallel group needs at least two nodes; write one node as a step",
                )
            steps.append(
                Step(tuple(node(member, f"{group_path}[{j}]") for j, member in enumerate(members)))
            )
        else:
            steps.append(Step((node(item, path),)))
    return tuple(steps)


def _node(value: object, path: str, form: Mapping[str, FormField]) -> Node:
    raw = _mapping(value, path, _NODE_KEYS)
    key = _identifier(raw["key"], _join(path, "key"))
    name = _text(raw["name"], _join(path, "name"))
    assignee = _assignee(raw["assignee"], _join(path, "assignee"))
    sla_hours = _number(raw["sla_hours"], _join(path, "sla_hours"))
    if sla_hours <= 0:
        _fail(_join(path, "sla_hours"), f"must be more than 0 working hours, got {sla_hours:g}")
    condition = (
        _condition(raw["condition"], _join(path, "condition"), form) if "condition" in raw else None
    )
    return Node(key=key, name=name, assignee=assignee, sla_hours=sla_hours, condition=condition)


def _assignee(value: object, path: str) -> AssigneeRule:
    raw = _mapping(value, path, _ASSIGNEE_KEYS)
    kind = _enum_value(AssigneeRuleKind, raw["kind"], _join(path, "kind"))
    if kind is AssigneeRuleKind.DEPARTMENT:
        if "department" not in raw:
            _fail(_join(path, "department"), "missing (a department rule names its department)")
        return AssigneeRule(kind, _department(raw["department"], _join(path, "department")))
    if "department" in raw:
        _fail(
            _join(path, "department"),
            f"only kind 'department' names a department, not {kind.value!r}",
        )
    return AssigneeRule(kind)
