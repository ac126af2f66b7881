"""Great Expectations on pandas frames: one suite per frame, results turned into `CheckResult`s.

GX is imported on first use (it takes seconds), and one ephemeral context per process holds
the suites; nothing is written to disk here (Data Docs: `pipelines.quality.docs`, built from
the latest validation result of each frame, which `latest_validations` hands over).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from pipelines.quality.checks import FRAMES, Check, Frame
from warehouse.quality import SAMPLE_ROWS, CheckResult

if TYPE_CHECKING:
    import pandas as pd

_SOURCE: Final = "tongban"
_lock = threading.Lock()
_state: dict[str, Any] = {}
# The latest `ExpectationSuiteValidationResult` of each frame (one per frame: bounded).
_latest: dict[str, Any] = {}
# In how many batches each frame of `_latest` was validated.
_batches: dict[str, int] = {}


def validate_frame(
    frame_name: str,
    checks: Sequence[Check],
    frame: pd.DataFrame,
    *,
    scope: str = "full",
) -> list[CheckResult]:
    """Validate `frame` (the rows of frame `frame_name`) against `checks`, all of that frame."""
    return validate_batches(frame_name, checks, (frame,), scope=scope)


def validate_batches(
    frame_name: str,
    checks: Sequence[Check],
    batches: Iterable[pd.DataFrame],
    *,
    scope: str = "full",
) -> list[CheckResult]:
    """Validate the rows of frame `frame_name`, handed over in `batches` that together hold them
    all, against `checks`: one result per check, as if the rows were validated in one frame.

    Each batch is dropped once validated, before the next is taken from `batches`, so a batched
    frame needs the memory of one batch. A batch must hold every row that a check compares with
    another (`Frame.batch_by`) and keep the frame's order (`Frame.order_by`)."""
    wrong = sorted(c.name for c in checks if c.frame != frame_name)
    if wrong:
        raise ValueError(f"checks {wrong} do not validate frame {frame_name!r}")
    parts: dict[str, list[tuple[CheckResult, int]]] = {check.name: [] for check in checks}
    shown: Any = None
    count = 0
    for batch in batches:
        validation, rows, seconds = _validate(frame_name, tuple(checks), batch)
        del batch  # before the next batch is read
        count += 1
        # The docs show one validation a frame: the first that failed, else the first.
        if shown is None or (shown.success and not validation.success):
            shown = validation
        by_name = {str(r.expectation_config.meta["check"]): r for r in validation.results}
        missing = sorted(c.name for c in checks if c.name not in by_name)
        if missing:
            raise RuntimeError(f"Great Expectations returned no result for {missing}")
        for check in checks:
            outcome = by_name[check.name]
            parts[check.name].append(
                (
                    _result(check.name, outcome, rows, scope, seconds),
                    int((outcome.result or {}).get("missing_count") or 0),
                )
            )
    if shown is None:
        raise ValueError(f"frame {frame_name!r} was handed over in no batch")
    with _lock:
        _latest[frame_name] = shown
        _batches[frame_name] = count
    frame = FRAMES[frame_name]
    return [_merge(check.name, parts[check.name], frame) for check in checks]


def latest_validations() -> dict[str, Any]:
    """The latest GX validation result of each frame this process validated, by frame name (of
    a frame validated in batches: the first batch that failed, else the first batch)."""
    with _lock:
        return dict(_latest)


def latest_batches() -> dict[str, int]:
    """In how many batches each frame of `latest_validations` was validated."""
    with _lock:
        return dict(_batches)


def _validate(
    frame_name: str, checks: tuple[Check, ...], frame: pd.DataFrame
) -> tuple[Any, int, float]:
    """GX's validation of one frame, its rows, and the seconds it took per check."""
    started = time.perf_counter()
    with _lock:
        suite, batch_definition = _suite(frame_name, checks)
        keys = [key for key in FRAMES[frame_name].keys if key in frame.columns]
        validation = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(
            suite,
            result_format={
                "result_format": "SUMMARY",
                "partial_unexpected_count": SAMPLE_ROWS,
                "unexpected_index_column_names": keys,
            },
        )
    return validation, len(frame), (time.perf_counter() - started) / max(len(checks), 1)


def _merge(name: str, parts: Sequence[tuple[CheckResult, int]], frame: Frame) -> CheckResult:
    """One check's results over the batches of a frame as one result over the whole frame."""
    if len(parts) == 1:
        return parts[0][0]
    results = [result for result, _ in parts]
    elements = sum(r.element_count for r in results)
    unexpected = sum(r.unexpected_count for r in results)
    # GX's unexpected_percent counts only the rows it did not skip: NULLs of a column check,
    # pairs with a missing side under ignore_row_if=either_value_is_missing.
    nonmissing = elements - sum(missing for _, missing in parts)
    observed = next(
        (r.observed_value for r in results if isinstance(r.observed_value, Mapping)),
        next((r.observed_value for r in results if r.observed_value is not None), None),
    )
    order = ((frame.order_by,) if frame.order_by else ()) + frame.keys
    sample = sorted(
        (row for r in results for row in r.sample), key=lambda row: _sample_order(row, order)
    )
    return CheckResult(
        check_name=name,
        success=all(r.success for r in results),
        element_count=elements,
        unexpected_count=unexpected,
        observed_value=observed,
        unexpected_percent=100 * unexpected / nonmissing if nonmissing > 0 else None,
        sample=sample[:SAMPLE_ROWS],
        scope=results[0].scope,
        seconds=sum(r.seconds for r in results),
    )


def _sample_order(row: Mapping[str, object], columns: Sequence[str]) -> tuple[object, ...]:
    """Failing rows in the frame's order; a NULL last, and values of unlike types apart rather
    than compared."""
    key: list[object] = []
    for column in columns:
        value = row.get(column)
        key.extend((value is None, type(value).__name__, 0 if value is None else value))
    return tuple(key)


def _result(name: str, outcome: Any, rows: int, scope: str, seconds: float) -> CheckResult:
    result: Mapping[str, Any] = outcome.result or {}
    failed = not bool(outcome.success)
    error = (outcome.exception_info or {}).get("exception_message") if failed else None
    if error is None and isinstance(outcome.exception_info, Mapping):
        # GX nests exception details per metric in some versions.
        for detail in outcome.exception_info.values():
            if isinstance(detail, Mapping) and detail.get("raised_exception"):
                error = detail.get("exception_message")
                break
    unexpected = result.get("unexpected_count")
    if unexpected is None:  # table-level expectations count the table as one failing element
        unexpected = 1 if failed else 0
    observed: object = result.get("observed_value")
    if error:
        observed = {"error": str(error)}
    sample = [_plain_row(row) for row in result.get("partial_unexpected_index_list") or []]
    return CheckResult(
        check_name=name,
        success=not failed,
        element_count=int(result.get("element_count", rows)),
        unexpected_count=int(unexpected),
        observed_value=_plain(observed),
        unexpected_percent=_finite(result.get("unexpected_percent")),
        sample=sample[:SAMPLE_ROWS],
        scope="incremental" if scope == "incremental" else "full",
        seconds=seconds,
    )


def _suite(frame_name: str, checks: tuple[Check, ...]) -> tuple[Any, Any]:
    key = f"{frame_name}:{','.join(f'{c.name}@{c.fingerprint}' for c in checks)}"
    cached = _state.get(key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    gx, expectations, context = _gx()
    source = context.data_sources.get(_SOURCE)
    asset_name = f"{frame_name}_{len(_state)}"
    batch_definition = source.add_dataframe_asset(asset_name).add_batch_definition_whole_dataframe(
        "whole"
    )
    suite = gx.ExpectationSuite(name=asset_name)
    for check in checks:
        factory = getattr(expectations, check.expect.kind)
        suite.add_expectation(factory(**check.expect.kwargs, meta={"check": check.name}))
    suite = context.suites.add(suite)
    _state[key] = (suite, batch_definition)
    return suite, batch_definition


def _gx() -> tuple[Any, Any, Any]:
    loaded = _state.get("__gx__")
    if loaded is None:
        import great_expectations as gx
        import great_expectations.expectations as gxe
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.execution_engine import pandas_execution_engine

        # GX fingerprints every pandas batch under 1 GB (its shallow size) by hashing all of
        # its rows: a batch marker nothing here reads, and 31 % of the checks' time over a
        # year of events (0.55 s of a 1 M-row batch's 0.84). No batch is small enough now.
        pandas_execution_engine.HASH_THRESHOLD = 0

        context = gx.get_context(mode="ephemeral")
        # tqdm bars would flood the run's stderr.
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.data_sources.add_pandas(_SOURCE)
        loaded = _state["__gx__"] = (gx, gxe, context)
    return loaded  # type: ignore[no-any-return]


def _plain_row(row: Mapping[str, Any]) -> dict[str, object]:
    return {str(k): _plain(v) for k, v in row.items()}


def _plain(value: object) -> object:
    """JSON-friendly: numpy scalars to Python, NaN/NaT to None, timestamps to ISO text."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    item = getattr(value, "item", None)
    if callable(item) and not hasattr(value, "isoformat"):
        try:
            value = item()
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float):
        return _finite(value)
    if hasattr(value, "isoformat"):
        try:
            import pandas as pd

            if pd.isna(value):  # type: ignore[call-overload]
                return None
        except (TypeError, ValueError):
            pass
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()  # type: ignore[attr-defined]
    if isinstance(value, bool | int | str):
        return value
    try:
        import pandas as pd

        if pd.isna(value):  # type: ignore[call-overload]
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _finite(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None
