"""`tongban bench [--size small|demo|large] [--only STAGE] [--repeats N]`."""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path
from typing import Final

import click

from tongban.bench.harness import SIZES, BenchContext, Stage, print_table
from tongban.bench.processes import BenchError
from tongban.bench.results import StageResult
from tongban.settings import Settings

# In the order they run: later stages use what earlier ones leave (the simulated store, the
# built warehouse), and the servers' stages come last so that a build never runs beside them.
STAGES: Final = (
    "simulate",
    "api",
    "build",
    "incremental",
    "freshness",
    "callbacks",
    "memory",
    "report",
)


def stage_function(name: str) -> Stage:
    module = importlib.import_module(f"tongban.bench.{name}_stage")
    function: Stage = module.run
    return function


@click.command()
@click.option(
    "--size",
    type=click.Choice(SIZES),
    default="large",
    show_default=True,
    help="The university: large passes 10 M events (the targets' size); demo 4 M; small, tests.",
)
@click.option(
    "--only",
    "only",
    multiple=True,
    type=click.Choice(STAGES),
    help="Run this stage alone (repeatable); what it needs from earlier stages is made first.",
)
@click.option("--repeats", type=click.IntRange(1), default=None, help="Runs per figure.")
@click.option(
    "--results",
    "results_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("bench/results"),
    show_default=True,
    help="Where each stage's JSON is written.",
)
@click.option(
    "--pg-url",
    envvar="TONGBAN_BENCH_PG_URL",
    default=None,
    help="PostgreSQL server for the API stage (it creates and drops a database of its own)."
    "  [env: TONGBAN_BENCH_PG_URL]",
)
def bench(
    size: str, only: tuple[str, ...], repeats: int | None, results_dir: Path, pg_url: str | None
) -> None:
    """Measure every stage against its target and write bench/results/<stage>.json."""
    settings = Settings.from_env()
    context = BenchContext(
        size=size,
        root=settings.home / "bench",
        results_dir=results_dir.resolve(),
        repeats=repeats,
        pg_url=pg_url,
    )
    chosen = [name for name in STAGES if not only or name in only]
    results: dict[str, StageResult] = {}
    failed: list[str] = []
    started = time.perf_counter()
    for name in chosen:
        context.say(f"[bold]── {name}[/] ({size})")
        stage_started = time.perf_counter()
        try:
            result = stage_function(name)(context)
        except BenchError as exc:
            context.say(f"[red]{name}: {exc}[/]")
            failed.append(name)
            continue
        except Exception:
            context.say(f"[red]{name} failed:[/]\n{traceback.format_exc()}")
            failed.append(name)
            continue
        path = result.write(context.results_dir, size)
        results[name] = result
        context.say(
            f"{name}: {result.figure} (target {result.target}) → {path}"
            f" [{time.perf_counter() - stage_started:.0f} s]"
        )
    print_table(context.console, results)
    context.say(f"{len(results)} stages in {time.perf_counter() - started:.0f} s")
    if failed:
        click.echo(f"tongban: bench stages failed: {', '.join(failed)}", err=True)
        sys.exit(1)
