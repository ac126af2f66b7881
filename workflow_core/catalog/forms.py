"""Validate a submitted form against its process's form schema, and normalise it.

The hall's front ends send JSON, so the checks follow JSON types, strictly:

- `integer` takes a JSON integer only: "3" and 3.0 are refused, because a front end that sends
  strings for numbers has a bug we want to see, and accepting them in one place but not another
  would make the events disagree with each other. `number` takes integers and finite floats.
- `boolean` takes true or false only (not "true", 0 or 1).
- `date` takes "YYYY-MM-DD"; `datetime` takes ISO 8601 "YYYY-MM-DDTHH:MM[:SS]" in campus time
  (an offset, if given, is converted to China Standard Time and dropped). Python callers may
  pass `date`/`datetime` objects. Both come back as ISO strings, so the events hold JSON only.
- strings are stripped; an empty string counts as missing. `text` is one line (default at most
  200 characters), `textarea` may hold line breaks (default at most 2000).
- `phone` is a mainland mobile number (normalised to 11 digits, +86 dropped) or a landline
  with area code; `province` accepts full or short names and keeps the full official name.
- `choice` is one of the options; `multichoice` a list of distinct options, kept in option order.

Optional fields that are missing or empty are left out of the normalised form. Fields whose
`required_when` condition does not hold are optional. Every problem is reported at once, each
under its field's name; problems with the form as a whole are under `_form`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Final

from workflow_core.catalog.model import FieldType, FormField, FormRule, ProcessDefinition
from workflow_core.catalog.provinces import normalise_province
from workflow_core.errors import FormValidationError

FORM_KEY: Final = "_form"  # where problems with the whole form are reported
DEFAULT_MAX_LENGTH: Final[dict[FieldType, int]] = {
    FieldType.TEXT: 200,
    FieldType.TEXTAREA: 2000,
    FieldType.EMAIL: 254,  # RFC 5321's limit on a forward path
}
MAX_FORM_KEYS: Final = 200  # a form with more keys than this is garbage, not a typo
MAX_FORM_CHARS: Final = 20_000  # sum of the normalised string values

CAMPUS_TZ: Final = timezone(timedelta(hours=8), "CST")

_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}(-\d{1,6})?")
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?",
)
# Control characters other than tab and line breaks never belong in a form value.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class InvalidValue(ValueError):
    """One field's value is wrong; the message is the problem, phrased for the field."""


def max_length(form_field: FormField) -> int | None:
    """The effective length limit: the field's own, or the default for its type."""
    if form_field.max_length is not None:
        return form_field.max_length
    return DEFAULT_MAX_LENGTH.get(form_field.type)


def is_empty(value: object) -> bool:
    """Missing for the purpose of `required`: None, a blank string or an empty list."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, (list, tuple)) and not value


def normalise_value(form_field: FormField, value: object) -> Any:
    """Check one non-empty value against its field; return it normalised or raise InvalidValue."""
    checker = _CHECKERS[form_field.type]
    return checker(form_field, value)


def validate_form(definition: ProcessDefinition, form: object) -> dict[str, Any]:
    """The normalised form, or FormValidationError naming every bad field."""
    if not isinstance(form, Mapping):
        kind = type(form).__name__
        problem = f"the form must be an object mapping field names to values, not {kind}"
        raise FormValidationError(
            f"invalid form for {definition.key}: {problem}", {FORM_KEY: problem}
        )
    if len(form) > MAX_FORM_KEYS:
        problem = f"the form has {len(form)} fields; {definition.key} has {len(definition.form)}"
        raise FormValidationError(
            f"invalid form for {definition.key}: {problem}", {FORM_KEY: problem}
        )

    plan = _plan(definition)
    problems: dict[str, str] = {}
    for name in form:
        if not isinstance(name, str):
            problems[FORM_KEY] = "field names must be strings"
        elif name not in plan.names:
            problems[name] = "unknown field"

    values: dict[str, Any] = {}
    for name, checker, form_field in plan.checks:
        raw = form.get(name)
        if is_empty(raw):
            continue
        try:
            values[name] = checker(form_field, raw)
        except InvalidValue as exc:
            problems[name] = str(exc)

    for form_field in definition.form:
        if form_field.name in values or form_field.name in problems:
            continue
        if _required(form_field, values, problems):
            problems[form_field.name] = "required"

    for rule in definition.rules:
        broken = _check_rule(definition, rule, values)
        if broken is not None and rule.field not in problems:
            problems[rule.field] = broken

    total = sum(_size(value) for value in values.values())
    if total > MAX_FORM_CHARS and FORM_KEY not in problems:
        problems[FORM_KEY] = f"the form is too large ({total} characters, at most {MAX_FORM_CHARS})"

    if problems:
        listed = ", ".join(f"{name}: {problem}" for name, problem in problems.items())
        raise FormValidationError(f"invalid form for {definition.key}: {listed}", problems)
    return values


@dataclass(frozen=True)
class _Plan:
    """What `validate_form` needs of a definition, worked out once: the field names as a set
    (the unknown-field check scanned the form schema for every key) and each field's checker
    (looked up by type for every value)."""

    definition: ProcessDefinition  # held, so that its id is not reused while the plan is cached
    names: frozenset[str]
    checks: tuple[tuple[str, Callable[[FormField, object], Any], FormField], ...]


# Keyed by the definition's id: hashing a definition (every field, node and option) would cost
# more than the validation. Definitions are few and long-lived; the bound only guards tests
# that make many.
_PLANS: dict[int, _Plan] = {}
_MAX_PLANS: Final = 512


def _plan(definition: ProcessDefinition) -> _Plan:
    plan = _PLANS.get(id(definition))
    if plan is None or plan.definition is not definition:
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        plan = _PLANS[id(definition)] = _Plan(
            definition=definition,
            names=frozenset(f.name for f in definition.form),
            checks=tuple((f.name, _CHECKERS[f.type], f) for f in definition.form),
        )
    return plan


def _required(
    form_field: FormField, values: Mapping[str, Any], problems: Mapping[str, str]
) -> bool:
    condition = form_field.required_when
    if condition is None:
        return form_field.required
    # When the deciding field is itself wrong, that error is the one to fix first.
    if condition.field in problems:
        return False
    return condition.holds(values)


def _check_rule(
    definition: ProcessDefinition, rule: FormRule, values: Mapping[str, Any]
) -> str | None:
    later, earlier = values.get(rule.field), values.get(rule.other)
    if later is None or earlier is None:
        return None
    # Parsed rather than compared as text so that a date against a datetime still compares right.
    first = _as_datetime(later)
    second = _as_datetime(earlier)
    other_field = definition.form_field(rule.other)
    other_label = other_field.label.zh if other_field is not None else rule.other
    if rule.strict and not first > second:
        return f"must be after {rule.other} ({other_label})"
    if not rule.strict and first < second:
        return f"must not be before {rule.other} ({other_label})"
    return None


def _as_datetime(value: str) -> datetime:
    if _DATE.fullmatch(value):
        return datetime.combine(date.fromisoformat(value), datetime.min.time())
    return datetime.fromisoformat(value)


def _size(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(len(str(item)) for item in value)
    return len(str(value))


def _string(form_field: FormField, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f"must be a string, not {_json_type(value)}")
    text = value.strip()
    if form_field.type is FieldType.TEXTAREA:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    elif "\n" in text or "\r" in text or "\t" in text:
        raise InvalidValue("must be a single line")
    if _CONTROL.search(text):
        raise InvalidValue("contains control characters")
    limit = max_length(form_field)
    if limit is not None and len(text) > limit:
        raise InvalidValue(f"too long: {len(text)} characters, at most {limit}")
    return text


def _text(form_field: FormField, value: object) -> str:
    return _string(form_field, value)


def _integer(form_field: FormField, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(f"must be an integer, not {_json_type(value)}")
    _check_range(form_field, value)
    return value


def _number(form_field: FormField, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidValue(f"must be a number, not {_json_type(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidValue("must be a finite number")
    _check_range(form_field, number)
    return number


def _check_range(form_field: FormField, number: float) -> None:
    if form_field.minimum is not None and number < form_field.minimum:
        raise InvalidValue(f"must be at least {_show(form_field.minimum)}")
    if form_field.maximum is not None and number > form_field.maximum:
        raise InvalidValue(f"must be at most {_show(form_field.maximum)}")


def _show(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _boolean(form_field: FormField, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidValue(f"must be true or false, not {_json_type(value)}")
    return value


def _date(form_field: FormField, value: object) -> str:
    if isinstance(value, datetime):
        raise InvalidValue("must be a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str):
        raise InvalidValue(f"must be a date (YYYY-MM-DD), not {_json_type(value)}")
    text = value.strip()
    if not _DATE.fullmatch(text):
        raise InvalidValue("must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise InvalidValue("is not a calendar date") from None


def _datetime(form_field: FormField, value: object) -> str:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        if not _DATETIME.fullmatch(text):
            raise InvalidValue("must be a date and time written YYYY-MM-DDTHH:MM")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidValue("is not a valid date and time") from None
    else:
        raise InvalidValue(f"must be a date and time (YYYY-MM-DDTHH:MM), not {_json_type(value)}")
    if moment.tzinfo is not None:
        moment = moment.astimezone(CAMPUS_TZ).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat(timespec="seconds")


def _choice(form_field: FormField, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f"must be one of the options, not {_json_type(value)}")
    text = value.strip()
    if text not in form_field.options:
        raise InvalidValue(f"{_quote(text)} is not one of: {', '.join(form_field.options)}")
    return text


def _multichoice(form_field: FormField, value: object) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidValue(f"must be a list of options, not {_json_type(value)}")
    chosen: set[str] = set()
    for item in value:
        if not isinstance(item, str):
            raise InvalidValue(f"must be a list of options, found {_json_type(item)}")
        text = item.strip()
        if text not in form_field.options:
            raise InvalidValue(f"{_quote(text)} is not one of: {', '.join(form_field.options)}")
        if text in chosen:
            raise InvalidValue(f"{_quote(text)} is chosen twice")
        chosen.add(text)
    return [option for option in form_field.options if option in chosen]


def _phone(form_field: FormField, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f"must be a phone number written as a string, not {_json_type(value)}")
    text = value.strip()
    compact = re.sub(r"[\s-]", "", text)
    for prefix in ("+86", "0086"):
        if compact.startswith(prefix):
            compact = compact[len(prefix) :]
            break
    if _MOBILE.fullmatch(compact):
        return compact
    landline = re.sub(r"\s", "", text)
    if _LANDLINE.fullmatch(landline):
        return landline
    raise InvalidValue("is not a mobile number (11 digits from 1) or a landline with area code")


def _email(form_field: FormField, value: object) -> str:
    text = _string(form_field, value)
    if not _EMAIL.fullmatch(text):
        raise InvalidValue("is not an email address")
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def _province(form_field: FormField, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f"must be a province name, not {_json_type(value)}")
    name = normalise_province(value)
    if name is None:
        raise InvalidValue(f"{_quote(value.strip())} is not a province-level division of China")
    return name


def _quote(text: str) -> str:
    return repr(text[:40] + "…" if len(text) > 40 else text)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


_CHECKERS: Final[dict[FieldType, Callable[[FormField, object], Any]]] = {
    FieldType.TEXT: _text,
    FieldType.TEXTAREA: _text,
    FieldType.INTEGER: _integer,
    FieldType.NUMBER: _number,
    FieldType.BOOLEAN: _boolean,
    FieldType.DATE: _date,
    FieldType.DATETIME: _datetime,
    FieldType.CHOICE: _choice,
    FieldType.MULTICHOICE: _multichoice,
    FieldType.PHONE: _phone,
    FieldType.EMAIL: _email,
    FieldType.PROVINCE: _province,
}
