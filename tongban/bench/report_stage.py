"""Stage `report`: a real log from file to process report, against PM4Py in the same run.

Ours, in a fresh home each run, each command timed as the wall time of its CLI process. The path
a user runs for a report of a file, held to the target: `tongban report log FILE --json` (the
file read and checked as the importer reads it, the warehouse's process models over the rows an
import would write, in memory; nothing written). Beside it, as figures, on one import
(`tongban import-log`, XES → event store): the store path, `tongban report process --from-store
--json`; and the warehouse path, `tongban build` (the Dagster job, checks and publication) and
`tongban report process --json` from the published snapshot. All three reports must equal PM4Py's.

The peer: `bench/pm4py_reference.py` (`read_xes`, case durations, activity counts, the DFG and
the performance DFG) in a dev-only PM4Py environment, timed as its whole process too (interpreter
start and imports included, as ours includes the CLI's start-up). Target: the same figures, and
PM4Py's seconds ÷ ours ≥ 5. The floor, in the same repeat: `bench/xes_floor.py`, the cheapest
ways to read the file at all (inflating it; expat tokenising every element and handing nothing to
Python; lxml visiting every attribute), so the notes can say what 5× leaves after parsing alone.

Each command's output is kept under `var/bench/report/logs/`. What the commands print about
themselves (import: read vs write seconds; build: job seconds, per-asset seconds) and what the
build's Dagster run recorded (planning, GX checks, Data Docs) make a profile of where our time
goes, reported in the notes when the target is missed.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from tongban.bench import pm4py_env
from tongban.bench.harness import BenchContext, tongban_command
from tongban.bench.processes import BenchError
from tongban.bench.results import StageResult, spread

LOG_NAME: Final = "bpic2012.xes.gz"
PROCESS_KEY: Final = "bpic2012"
LOG_ENV: Final = "TONGBAN_BENCH_LOG"  # another log instead of BPIC 2012 (a path)
# The repository is cloned beside `shared/` (as the importing tests expect): <clone>/../shared.
REAL_LOGS: Final = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real_logs"
MIN_RATIO: Final = 5.0
REL_TOL: Final = 1e-9
ABS_TOL_S: Final = 1e-3  # our durations are kept to the millisecond
SHOWN_DIFFERENCES: Final = 20
COMMAND_TIMEOUT_S: Final = 3600
FLOOR_SCRIPT: Final = Path(__file__).resolve().parents[2] / "bench" / "xes_floor.py"

_IMPORT_SPLIT = re.compile(r"read\s+([\d.]+)\s+s,\s+wrote\s+([\d.]+)\s+s")
_BUILD_TOTAL = re.compile(r"finished in\s+([\d.]+)\s+s")
_ASSET_LINE = re.compile(r"^\S+\s+[\d,]+ rows\s+([\d.]+) s", re.MULTILINE)
_CHECKS = re.compile(r"data quality:\s+(\d+) checks")
# What the checks and the Data Docs log in the run's record (pipelines/quality).
_CHECKS_LOGGED = re.compile(r"checks evaluated, \d+ holding, in ([\d.]+) s")
_DOCS_LOGGED = re.compile(r"Data Docs of \d+ frames built in ([\d.]+) s")


def bench_log() -> Path:
    """BPIC 2012 from the shared real logs, or the log that TONGBAN_BENCH_LOG names."""
    override = os.environ.get(LOG_ENV)
    log = Path(override).expanduser().resolve() if override else REAL_LOGS / LOG_NAME
    if not log.is_file():
        hint = f"set by {LOG_ENV}" if override else f"expected beside the clone; or set {LOG_ENV}"
        raise BenchError(f"the report stage's log {log} is missing ({hint})")
    return log


# --- same figures --------------------------------------------------------------------------


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL_S)
    return bool(a == b)


def compare_figures(ours: Mapping[str, Any], reference: Mapping[str, Any]) -> list[str]:
    """What differs between our report and PM4Py's, one named line each (empty: the same).

    Counts must be equal, seconds equal to 1e-9 relative or 1 ms. The order of activities and
    edges is presentation, not a figure: they are matched by name.
    """
    differences = [
        f"{key}: ours {ours.get(key)!r}, PM4Py {reference.get(key)!r}"
        for key in ("cases", "events")
        if ours.get(key) != reference.get(key)
    ]
    differences += _compare_mapping(
        "case_duration_s", ours.get("case_duration_s", {}), reference.get("case_duration_s", {})
    )
    differences += _compare_mapping(
        "activity_counts", ours.get("activity_counts", {}), reference.get("activity_counts", {})
    )
    differences += _compare_dfg(ours.get("dfg", []), reference.get("dfg", []))
    return differences


def _compare_mapping(name: str, ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> list[str]:
    found = []
    for key in [*ours, *(k for k in theirs if k not in ours)]:
        if key not in theirs:
            found.append(f"{name}[{key!r}]: ours {ours[key]!r}, missing in PM4Py")
        elif key not in ours:
            found.append(f"{name}[{key!r}]: missing in ours, PM4Py {theirs[key]!r}")
        elif not _close(ours[key], theirs[key]):
            found.append(f"{name}[{key!r}]: ours {ours[key]!r}, PM4Py {theirs[key]!r}")
    return found


def _compare_dfg(
    ours: Sequence[Mapping[str, Any]], theirs: Sequence[Mapping[str, Any]]
) -> list[str]:
    mine = {(e["from"], e["to"]): e for e in ours}
    other = {(e["from"], e["to"]): e for e in theirs}
    found = []
    for edge in [*mine, *(k for k in other if k not in mine)]:
        label = f"dfg {edge[0]} → {edge[1]}"
        if edge not in other:
            found.append(f"{label}: in ours ({mine[edge]['count']}), missing in PM4Py")
        elif edge not in mine:
            found.append(f"{label}: missing in ours, in PM4Py ({other[edge]['count']})")
        else:
            found += [
                f"{label} {key}: ours {mine[edge][key]!r}, PM4Py {other[edge][key]!r}"
                for key in ("count", "median_s", "mean_s")
                if not _close(mine[edge].get(key), other[edge].get(key))
            ]
    return found


# --- one run --------------------------------------------------------------------------------


@dataclass
class Run:
    """One repeat: the seconds of each part, the reports, the floor, and the profile of our
    time. `ours` is the report of the file (the path a user runs), `stored` the report from the
    store, `built` the report from the published warehouse."""

    log_report_s: float
    import_s: float
    store_report_s: float
    build_s: float
    report_s: float
    pm4py_s: float
    ours: dict[str, Any]
    theirs: dict[str, Any]
    stored: dict[str, Any] = field(default_factory=dict)
    built: dict[str, Any] = field(default_factory=dict)
    floor: dict[str, float] = field(default_factory=dict)
    profile: dict[str, float] = field(default_factory=dict)
    checks: int | None = None  # the data-quality checks the build ran

    @property
    def end_to_end_s(self) -> float:
        """The path a user runs for a file's report: one command."""
        return self.log_report_s

    @property
    def store_path_s(self) -> float:
        """Import, then the report from the store."""
        return self.import_s + self.store_report_s

    @property
    def build_path_s(self) -> float:
        """The warehouse path: import, build, the report from the published snapshot."""
        return self.import_s + self.build_s + self.report_s


@dataclass(frozen=True)
class Done:
    """A command that ran: its wall seconds, what it printed (the CLI's console is stderr)."""

    seconds: float
    stdout: str
    stderr: str


def timed(command: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path) -> Done:
    """Run a command to its end; both outputs are kept beside `log` (.out, .err)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log.with_suffix(".out"), log.with_suffix(".err")
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        done = subprocess.run(
            list(command),
            env=dict(env),
            cwd=cwd,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            timeout=COMMAND_TIMEOUT_S,
        )
        elapsed = time.perf_counter() - started
    if done.returncode != 0:
        lines = err_path.read_text(errors="replace").strip().splitlines() or ["no message"]
        raise BenchError(f"{log.name} exited {done.returncode}: {lines[-1]}; see {err_path}")
    return Done(
        elapsed,
        out_path.read_text(encoding="utf-8", errors="replace"),
        err_path.read_text(encoding="utf-8", errors="replace"),
    )


def run_ours(context: BenchContext, log: Path, logs: Path, index: int) -> dict[str, Any]:
    """The file's report; then import-log, the report from the store, build and the report from
    the published warehouse, in a fresh home: seconds, the reports, the profile. The two paths
    through the store share the one import (the same command), and the report from the store
    runs before the build touches anything."""
    home = context.root / "report" / "home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    # A wide console, so that no line the profile parses is wrapped.
    env = context.env(home=home, COLUMNS="400")
    # The build needs a university directory (roles, calendar); not part of the measurement.
    timed(tongban_command("init", "--size", "small"), env, home, logs / f"{index}-init")
    # The report command's start-up: `tongban --help` would import every subcommand to list them.
    startup = timed(tongban_command("report", "--help"), env, home, logs / f"{index}-help")
    direct = timed(
        tongban_command("report", "log", str(log), "--process-key", PROCESS_KEY, "--json"),
        env,
        home,
        logs / f"{index}-report-log",
    )
    imported = timed(
        tongban_command("import-log", str(log), "--process-key", PROCESS_KEY),
        env,
        home,
        logs / f"{index}-import-log",
    )
    from_store = timed(
        tongban_command("report", "process", PROCESS_KEY, "--from-store", "--json"),
        env,
        home,
        logs / f"{index}-report-from-store",
    )
    built = timed(tongban_command("build"), env, home, logs / f"{index}-build")
    reported = timed(
        tongban_command("report", "process", PROCESS_KEY, "--json"),
        env,
        home,
        logs / f"{index}-report",
    )
    return {
        "log_report_s": direct.seconds,
        "log_report": json.loads(direct.stdout),
        "import_s": imported.seconds,
        "store_report_s": from_store.seconds,
        "build_s": built.seconds,
        "report_s": reported.seconds,
        "store_report": json.loads(from_store.stdout),
        "report": json.loads(reported.stdout),
        "checks": int(checks[1]) if (checks := _CHECKS.search(built.stderr)) else None,
        "profile": {
            "cli_startup_s": startup.seconds,
            **_import_profile(imported.stderr, imported.seconds),
            **_build_profile(built.stderr, built.seconds, home / "dagster"),
        },
    }


def _import_profile(output: str, wall_s: float) -> dict[str, float]:
    found = _IMPORT_SPLIT.search(output)
    if not found:
        return {}
    parse_s, write_s = float(found[1]), float(found[2])
    # The rest: interpreter and CLI start-up, the schema check, the file's hash, the summary.
    return {
        "import_parse_s": parse_s,
        "import_write_s": write_s,
        "import_other_s": wall_s - parse_s - write_s,
    }


def _build_profile(output: str, wall_s: float, dagster_home: Path) -> dict[str, float]:
    total = _BUILD_TOTAL.search(output)
    if not total:
        return {}
    job_s = float(total[1])
    assets_s = sum(float(s) for s in _ASSET_LINE.findall(output))
    profile = {
        # Importing Dagster and the definitions, opening the instance: before the job starts.
        "build_startup_s": wall_s - job_s,
        "build_job_s": job_s,
        # The seconds the assets report for their own SQL and writes.
        "build_assets_s": assets_s,
        # The job's remainder: Dagster's orchestration and the Great Expectations checks.
        "build_orchestration_and_checks_s": job_s - assets_s,
    }
    run_log = dagster_run_profile(dagster_home)
    if run_log:
        profile |= run_log
        profile["build_dagster_other_s"] = job_s - assets_s - sum(run_log.values())
    return profile


def dagster_run_profile(dagster_home: Path) -> dict[str, float]:
    """The latest run's own record, untimed: Dagster's planning before the first step, and the
    seconds the steps log for the GX checks and the Data Docs (not printed by `tongban build`).

    Best effort: an instance or message it cannot read leaves the profile without these parts.
    """
    try:
        import dagster as dg

        instance = dg.DagsterInstance.from_config(str(dagster_home))
        try:
            runs = instance.get_runs(limit=1)
            records = instance.all_logs(runs[0].run_id) if runs else []
        finally:
            instance.dispose()
    except Exception:  # the profile is a by-product; the measurement stands without it
        return {}
    starts = [
        r.timestamp
        for r in records
        if r.dagster_event is not None and r.dagster_event.event_type_value == "STEP_START"
    ]
    messages = [r.user_message or "" for r in records if r.dagster_event is None]
    if not starts or not records:
        return {}
    return {
        "build_dagster_planning_s": min(starts) - records[0].timestamp,
        "build_gx_checks_s": sum(float(m[1]) for t in messages if (m := _CHECKS_LOGGED.search(t))),
        "build_data_docs_s": sum(float(m[1]) for t in messages if (m := _DOCS_LOGGED.search(t))),
    }


def run_pm4py(python: Path, log: Path, logs: Path, index: int) -> dict[str, Any]:
    """The reference script, from outside the repository: seconds, its report, its steps."""
    cwd = python.parents[1]  # the environment's own directory
    done = timed(
        pm4py_env.reference_command(python, log),
        pm4py_env.clean_env(),
        cwd,
        logs / f"{index}-pm4py",
    )
    report = json.loads(done.stdout)
    steps = report.pop("timings_s", {})
    profile = {f"pm4py_{name}_s": value for name, value in steps.items() if name != "total"}
    if "total" in steps:
        # Interpreter start and the imports of pandas, numpy and pm4py.
        profile["pm4py_startup_s"] = done.seconds - steps["total"]
    return {"seconds": done.seconds, "report": report, "profile": profile}


def run_floor(python: Path, log: Path, logs: Path, index: int) -> dict[str, float]:
    """The floor script with the PM4Py environment's interpreter (it has lxml): seconds of
    inflating the file, of expat's parse, of lxml's visit (None without lxml), in process."""
    done = timed(
        [str(python), "-I", str(FLOOR_SCRIPT), str(log)],
        pm4py_env.clean_env(),
        python.parents[1],
        logs / f"{index}-floor",
    )
    found = json.loads(done.stdout)
    floor = {
        "decompress_s": float(found["decompress_s"]),
        "expat_s": float(found["expat_s"]),
        "process_s": done.seconds,
    }
    if found.get("lxml_s") is not None:
        floor["lxml_s"] = float(found["lxml_s"])
    return floor


def measure(context: BenchContext, log: Path, python: Path, index: int) -> Run:
    """Ours, then PM4Py, then the floor, in the same repeat: the machine's noise falls on all."""
    logs = context.root / "report" / "logs"
    context.say(
        f"  run {index + 1}: tongban report log; import-log, report --from-store, build, report …"
    )
    ours = run_ours(context, log, logs, index)
    context.say(f"  run {index + 1}: PM4Py …")
    theirs = run_pm4py(python, log, logs, index)
    context.say(f"  run {index + 1}: the floor (reading the file at all) …")
    floor = run_floor(python, log, logs, index)
    return Run(
        log_report_s=ours["log_report_s"],
        import_s=ours["import_s"],
        store_report_s=ours["store_report_s"],
        build_s=ours["build_s"],
        report_s=ours["report_s"],
        pm4py_s=theirs["seconds"],
        ours=ours["log_report"],
        theirs=theirs["report"],
        stored=ours["store_report"],
        built=ours["report"],
        floor=floor,
        profile={**ours["profile"], **theirs["profile"]},
        checks=ours["checks"],
    )


# --- the stage ------------------------------------------------------------------------------


def run(context: BenchContext) -> StageResult:
    log = bench_log()
    python, install_s = pm4py_env.ensure(context.root / "pm4py-env", context.say)
    shutil.rmtree(context.root / "report" / "logs", ignore_errors=True)
    repeats = context.times(small=1, demo=3, large=3)
    runs = [measure(context, log, python, index) for index in range(repeats)]
    return summarise(runs, log, install_s)


def _ratio(peer_s: float, ours_s: float) -> float:
    return round(peer_s / ours_s, 3) if ours_s > 0 else math.inf


def _times(ratio: float) -> str:
    return f"{ratio:.2f}×" if ratio < 10 else f"{ratio:.0f}×"


def _floor_spreads(runs: Sequence[Run]) -> dict[str, Any]:
    """Each way of reading the file at all, and `parse`: the cheapest full parse of each repeat
    (expat, or lxml where it was faster), the floor a reader of this file cannot go below."""
    names = sorted({name for r in runs for name in r.floor})
    found: dict[str, Any] = {
        name.removesuffix("_s"): spread([r.floor[name] for r in runs if name in r.floor])
        for name in names
    }
    parses = [min(r.floor[n] for n in ("expat_s", "lxml_s") if n in r.floor) for r in runs]
    found["parse"] = spread(parses)
    return found


def summarise(runs: Sequence[Run], log: Path, install_s: float | None) -> StageResult:
    parts = {"end_to_end": spread([r.end_to_end_s for r in runs])}
    store_path = {
        "end_to_end": spread([r.store_path_s for r in runs]),
        "import_log": spread([r.import_s for r in runs]),
        "report_from_store": spread([r.store_report_s for r in runs]),
    }
    build_path = {
        "end_to_end": spread([r.build_path_s for r in runs]),
        "import_log": store_path["import_log"],
        "build": spread([r.build_s for r in runs]),
        "report": spread([r.report_s for r in runs]),
    }
    pm4py = spread([r.pm4py_s for r in runs])
    floor = _floor_spreads(runs)
    ratio = _ratio(pm4py["median"], parts["end_to_end"]["median"])
    store_ratio = _ratio(pm4py["median"], store_path["end_to_end"]["median"])
    build_ratio = _ratio(pm4py["median"], build_path["end_to_end"]["median"])
    report_ratio = _ratio(pm4py["median"], build_path["report"]["median"])
    differences = sorted({d for r in runs for d in compare_figures(r.ours, r.theirs)})
    # The reports from the store and from the published warehouse are held to them too.
    for name, report in (("from the store", "stored"), ("published", "built")):
        differences += sorted(
            {
                f"{name}: {d}"
                for r in runs
                if getattr(r, report)
                for d in compare_figures(getattr(r, report), r.theirs)
            }
        )
    same = not differences
    profile = _profile_spreads(runs)
    e2e = parts["end_to_end"]["median"]
    budget = pm4py["median"] / MIN_RATIO
    figures = {
        "log": log.name,
        "events": runs[-1].ours.get("events"),
        "cases": runs[-1].ours.get("cases"),
        "runs": len(runs),
        # The path a user runs for a file's report: report log.
        "ours_s": parts,
        # Through the event store: import-log, then report --from-store.
        "store_path_s": store_path,
        # The warehouse path on the same store: import-log, build, report (published).
        "build_path_s": build_path,
        "pm4py_s": pm4py,
        "floor_s": floor,
        "ratio_end_to_end": ratio,
        "ratio_store_path": store_ratio,
        "ratio_build_path": build_ratio,
        "ratio_report_alone": report_ratio,
        # PM4Py ÷ the cheapest parse: the ratio even a reader that built nothing would reach.
        "ratio_floor": _ratio(pm4py["median"], floor["parse"]["median"]),
        # What ours would have to take, end to end, to meet the ratio; and the share of that
        # budget that parsing the file alone takes.
        "budget_s": round(budget, 3),
        "floor_share_of_budget": round(floor["parse"]["median"] / budget, 3) if budget else None,
        "same_figures": same,
        "difference_count": len(differences),
        "differences": differences[:SHOWN_DIFFERENCES],
        "pm4py_version": runs[-1].theirs.get("pm4py"),
        "pm4py_env_install_s": round(install_s, 1) if install_s is not None else None,
        "profile_s": profile,
        "build_checks": runs[-1].checks,
    }
    meets = same and ratio >= MIN_RATIO
    return StageResult(
        stage="report",
        figure=(
            f"{e2e:.1f} s `report log`; import + report --from-store"
            f" {store_path['end_to_end']['median']:.1f} s; import + build + report"
            f" {build_path['end_to_end']['median']:.1f} s"
        ),
        target=f"same figures as PM4Py, ≥ {MIN_RATIO:g}× faster",
        meets_target=meets,
        figures=figures,
        targets={"same_figures": True, "ratio_min": MIN_RATIO},
        peer=(
            f"PM4Py {pm4py['median']:.1f} s: {_times(ratio)} (through the store"
            f" {_times(store_ratio)}, the build {_times(build_ratio)}, the published report"
            f" alone {_times(report_ratio)});"
            f" floor, parsing the file alone: {floor['parse']['median']:.1f} s"
            + ("" if same else f"; {len(differences)} figures differ")
        ),
        notes=[] if meets else _notes(figures, profile),
    )


def _profile_spreads(runs: Sequence[Run]) -> dict[str, dict[str, Any]]:
    names = sorted({name for r in runs for name in r.profile})
    return {name: spread([r.profile[name] for r in runs if name in r.profile]) for name in names}


def _notes(figures: Mapping[str, Any], profile: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Where our time goes, in medians, when the target is missed."""

    def m(name: str) -> float:
        return float(profile.get(name, {}).get("median", math.nan))

    def f(name: str) -> float:
        return float(figures["floor_s"].get(name, {}).get("median", math.nan))

    notes = []
    if not figures["same_figures"]:
        notes.append(f"{figures['difference_count']} figures differ from PM4Py's (see differences)")
    ours, stored, built = figures["ours_s"], figures["store_path_s"], figures["build_path_s"]
    notes += [
        f"ours must take ≤ {figures['budget_s']:.1f} s end to end for {MIN_RATIO:g}×;"
        f" it took {ours['end_to_end']['median']:.1f} s",
        f"the floor: parsing the file alone takes {f('parse'):.1f} s"
        f" ({figures['floor_share_of_budget']:.0%} of that budget; inflating it"
        f" {f('decompress'):.2f}, expat with no handlers {f('expat'):.1f},"
        f" lxml visiting every attribute {f('lxml'):.1f}):"
        f" PM4Py ÷ the floor is {figures['ratio_floor']:.1f}×",
        f"a bare `tongban report --help` (the report command's start-up, in each of ours)"
        f" {m('cli_startup_s'):.1f} s",
        f"through the store: import-log {stored['import_log']['median']:.1f} s (parse"
        f" {m('import_parse_s'):.1f}, write {m('import_write_s'):.1f}, start-up and the rest"
        f" {m('import_other_s'):.1f}), report --from-store"
        f" {stored['report_from_store']['median']:.1f} s:"
        f" {stored['end_to_end']['median']:.1f} s ({figures['ratio_store_path']:.2f}×)",
        f"through the warehouse instead: build {built['build']['median']:.1f} s (start-up"
        f" {m('build_startup_s'):.1f}, Dagster's planning before the first step"
        f" {m('build_dagster_planning_s'):.1f}, assets' own work {m('build_assets_s'):.1f},"
        f" {figures['build_checks']} GX checks {m('build_gx_checks_s'):.1f},"
        f" Data Docs {m('build_data_docs_s'):.1f},"
        f" the rest of Dagster's bookkeeping {m('build_dagster_other_s'):.1f}), the published"
        f" report {built['report']['median']:.1f} s: {built['end_to_end']['median']:.1f} s"
        f" ({figures['ratio_build_path']:.2f}×)",
        f"PM4Py {figures['pm4py_s']['median']:.1f} s: start-up and imports"
        f" {m('pm4py_startup_s'):.1f}, read_xes {m('pm4py_read_s'):.1f}, the rest"
        f" {sum(m(n) for n in _PM4PY_STEPS):.1f}",
    ]
    return notes


_PM4PY_STEPS: Final = (
    "pm4py_case_durations_s",
    "pm4py_activity_counts_s",
    "pm4py_dfg_s",
    "pm4py_performance_dfg_s",
)
