"""Great Expectations Data Docs, built as a by-product of the checks: nothing depends on them.

`build_docs(directory)` writes a GX file-mode project under `directory` (GX puts it in
`directory/gx/`) holding, per frame, its suite and the latest validation result this process
made (`pipelines.quality.validate.latest_validations`), and renders the static site at
`directory/gx/uncommitted/data_docs/local_site/index.html`. The project keeps one validation per
frame (the previous one is replaced), so it stays small however many runs write to it; of a
frame too big to validate at once, that is one of its batches (the build's log says so). The
pages load their CSS and JavaScript from CDNs: offline they are unstyled, which is one reason the
dashboards' own data-quality page never links to them.

A build costs 0.5-1 s for the twenty-odd frames, too much for the live update's passes
every few seconds: `pipelines.quality.asset_checks.maybe_build_docs` skips that job. A failed
build logs a warning and returns None; it never fails the run.
"""

from __future__ import annotations

import copy
import logging
import shutil
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from pipelines.quality.checks import FRAMES
from pipelines.quality.validate import latest_batches, latest_validations

logger = logging.getLogger(__name__)

SITE: Final = "local_site"
# Every stored validation carries this run name; its run time is when the frame was validated.
RUN_NAME: Final = "latest"


def build_docs(directory: Path, log: logging.Logger | None = None) -> Path | None:
    """Build Data Docs under `directory` from the latest validation of each frame; the site's
    `index.html`, or None when nothing was validated yet or the build failed (logged as a
    warning on `log`, default this module's logger)."""
    out = log or logger
    validations = latest_validations()
    if not validations:
        out.info("Data Docs not built: no frame was validated in this process")
        return None
    started = time.perf_counter()
    try:
        index = _build(Path(directory), validations)
    except Exception as exc:  # nothing depends on the docs: never fail the caller
        out.warning(f"Data Docs not built in {directory}: {type(exc).__name__}: {exc}")
        return None
    out.info(
        f"Data Docs of {len(validations)} frames built in {time.perf_counter() - started:.2f} s:"
        f" {index}"
    )
    batched = {name: n for name, n in sorted(latest_batches().items()) if n > 1}
    if batched:
        out.info(
            "Data Docs show one batch of each frame validated in batches (the first that failed,"
            " else the first; the checks' results count every batch): "
            + ", ".join(f"{name} in {n} batches" for name, n in batched.items())
        )
    return index


def _build(directory: Path, validations: Mapping[str, Any]) -> Path:
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    directory.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(directory))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    sites = context.variables.data_docs_sites or {}
    if SITE not in sites:
        raise RuntimeError(f"the GX project in {directory} has no {SITE!r} Data Docs site")
    sites[SITE]["show_how_to_buttons"] = False  # no "how to" tutorial links on the pages
    context.variables.data_docs_sites = sites

    store: Any = context.validation_results_store
    # One validation per frame: a new one replaces the last, and retired frames drop out.
    for key in store.list_keys():
        name = key.expectation_suite_identifier.name
        if name in validations or name not in FRAMES:
            store.remove_key(key)
    for suite in context.suites.all():
        if suite.name not in validations and suite.name not in FRAMES:
            context.suites.delete(suite.name)
    for frame_name, validation in sorted(validations.items()):
        result = copy.deepcopy(validation)
        # The ephemeral suite's name numbers it per process; the pages name the frame.
        result.suite_name = frame_name
        run_id = RunIdentifier(run_name=RUN_NAME, run_time=_validated_at(result))
        result.meta = {
            **(result.meta or {}),
            "run_id": run_id,
            "validation_time": run_id.run_time.strftime("%Y%m%dT%H%M%S.%fZ"),
            "batch_spec": {
                **((result.meta or {}).get("batch_spec") or {}),
                "data_asset_name": frame_name,
            },
        }
        context.suites.add_or_update(
            gx.ExpectationSuite(
                name=frame_name,
                expectations=[
                    copy.copy(r.expectation_config.to_domain_obj()) for r in result.results
                ],
                meta={"frame": frame_name, "keys": list(FRAMES[frame_name].keys)}
                if frame_name in FRAMES
                else None,
            )
        )
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=frame_name),
            run_id=run_id,
            batch_identifier=frame_name,
        )
        store.set(key, result)

    # The site rebuilt whole from the stores: pages of replaced validations go with it.
    site_dir = Path(
        str(context.root_directory), str(sites[SITE]["store_backend"]["base_directory"])
    )
    for pages in ("validations", "expectations"):
        shutil.rmtree(site_dir / pages, ignore_errors=True)
    built = context.build_data_docs(site_names=[SITE])
    index = site_dir / "index.html"
    if SITE not in built or not index.is_file():
        raise RuntimeError(f"GX reported no index page for {SITE!r} (built: {built})")
    return index


def _validated_at(result: Any) -> datetime:
    """When the frame was loaded for validation (GX's batch marker), else now; aware UTC."""
    marker = ((result.meta or {}).get("batch_markers") or {}).get("ge_load_time")
    if isinstance(marker, str):
        try:
            return datetime.strptime(marker, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.now(UTC)
