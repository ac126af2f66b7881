# Tongban: `make demo` simulates a university's year and serves it with live traffic;
# `make test` runs every check.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv is bootstrapped with pip when missing; `python3 -m uv` works wherever pip put it.
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
RUN := $(UV) run --frozen
# The interpreter the environment is made from: Debian's python3.11 where there is one. It is
# built with profile-guided and link-time optimisation and its libpython linked in; a default
# source build (pyenv's, say) has neither, and took 1.17× as long for the simulator's large year
# (README, "Performance"). Anywhere else, any Python 3.11 uv finds.
export UV_PYTHON ?= $(or $(wildcard /usr/bin/python3.11),3.11)
DEMO_SIZE ?= demo
DEMO_DAYS ?= 365
LIVE_RATE ?= 5
API_HOST ?= 127.0.0.1
API_PORT ?= 8000
DAGSTER_HOST ?= 127.0.0.1
DAGSTER_PORT ?= 3000
DASHBOARD_HOST ?= 127.0.0.1
DASHBOARD_PORT ?= 8050
BENCH_SIZE ?= large
# The Dagster instance lives beside the data (tongban.settings reads the same variable);
# `tongban build` creates it from pipelines/dagster.yaml when missing.
export DAGSTER_HOME ?= $(abspath $(or $(TONGBAN_HOME),var))/dagster
# The demo's long-running processes are started from the environment directly, so that a
# Ctrl-C or a SIGTERM reaches them without a `uv run` in between.
TONGBAN := .venv/bin/tongban
DAGSTER := .venv/bin/dagster

.PHONY: help install browser demo test bench lint typecheck clean

help:
	@echo "make demo   generate a university ($(DEMO_SIZE)), simulate its last $(DEMO_DAYS) days, serve the"
	@echo "            workflow API on $(API_HOST):$(API_PORT) with live traffic ($(LIVE_RATE) commands/s),"
	@echo "            the warehouse kept current by Dagster (UI on $(DAGSTER_HOST):$(DAGSTER_PORT)),"
	@echo "            the dashboards on http://$(DASHBOARD_HOST):$(DASHBOARD_PORT) (pick a persona)"
	@echo "make test   lint, type-check and run the whole test suite (installs chromium if absent)"
	@echo "make bench  measure every stage against its target on a $(BENCH_SIZE) university"
	@echo "            (BENCH_SIZE=demo for a shorter run); results in bench/results/"

# The Makefile too: it chooses the interpreter, and a checkout made on another one is made again.
.venv/.synced: pyproject.toml uv.lock Makefile
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet uv
	# Bytecode compiled once here: where PYTHONDONTWRITEBYTECODE is set (as on CI), every
	# command would otherwise compile Polars, DuckDB, Dagster… from source at each start
	# (`tongban report log` spent 1.1 of its seconds importing).
	$(UV) sync --frozen --compile-bytecode
	@touch $@

install: .venv/.synced

# The browser tests drive Debian's chromium through Playwright (`playwright install` would
# download a browser the closed network cannot reach), so a fresh machine gets it from apt,
# with a Chinese font: without one the pages (and their screenshots) show empty boxes.
browser:
	@{ command -v chromium && fc-list :lang=zh | grep -q .; } >/dev/null 2>&1 || { \
		echo "installing Debian's chromium, chromium-driver and a Chinese font for the browser tests"; \
		sudo=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q \
		&& $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			chromium chromium-driver fonts-wqy-microhei; \
	}

# The history is simulated once per store (`--once`); run `tongban init --force` to start over.
# The warehouse is built once (from scratch when an update fails, e.g. a model's SQL changed
# since the last demo), then `dagster dev` (UI and daemon, whose sensor updates the
# warehouse as live events arrive) runs in a session of its own: it ignores signals when
# started with `&`, so the trap stops its whole group, by force if it lingers.
# The dashboards (`tongban serve`, gunicorn) offer the personas to sign in as (dev
# authentication, demo mode only), call this API for 催办 and link check results to Dagster's UI.
# The API's, Dagster's and the dashboards' logs go to files, so that the terminal shows the
# live traffic.
demo: install
	$(TONGBAN) init --size $(DEMO_SIZE)
	$(TONGBAN) simulate --size $(DEMO_SIZE) --days $(DEMO_DAYS) --once
	$(TONGBAN) build || { echo "rebuilding the warehouse from scratch"; $(TONGBAN) build --full; }
	@home="$${TONGBAN_HOME:-var}"; log="$$home/api.log"; dlog="$$home/dagster.log"; \
	wlog="$$home/dashboards.log"; \
	echo "API log: $$log"; \
	echo "Dagster UI: http://$(DAGSTER_HOST):$(DAGSTER_PORT) (log: $$dlog)"; \
	echo "Dashboards: http://$(DASHBOARD_HOST):$(DASHBOARD_PORT) (log: $$wlog)"; \
	$(TONGBAN) api --host $(API_HOST) --port $(API_PORT) >>"$$log" 2>&1 & api=$$!; \
	setsid $(DAGSTER) dev -w workspace.yaml -h $(DAGSTER_HOST) -p $(DAGSTER_PORT) \
		>>"$$dlog" 2>&1 & dagster=$$!; \
	TONGBAN_AUTH=dev TONGBAN_DEMO=1 TONGBAN_API_URL=http://$(API_HOST):$(API_PORT) \
		TONGBAN_DAGSTER_URL=http://$(DAGSTER_HOST):$(DAGSTER_PORT) \
		$(TONGBAN) serve --host $(DASHBOARD_HOST) --port $(DASHBOARD_PORT) \
		>>"$$wlog" 2>&1 & web=$$!; \
	stop() { \
		kill $$api $$web 2>/dev/null; kill -TERM -- -$$dagster 2>/dev/null; \
		for _ in $$(seq 40); do kill -0 -- -$$dagster 2>/dev/null || break; sleep 0.25; done; \
		kill -KILL -- -$$dagster 2>/dev/null; wait; \
	}; \
	trap 'stop' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	$(TONGBAN) simulate --live --rate $(LIVE_RATE) --api-wait 120 \
		--api-url http://$(API_HOST):$(API_PORT) || { echo "see the API log: $$log"; exit 1; }; \
	wait $$api

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports

typecheck: install
	$(RUN) mypy

test: lint typecheck browser
	$(RUN) pytest

# Each stage's figures go to bench/results/<stage>.json; the bench universities, logs and the
# PM4Py environment the report stage compares against live under $TONGBAN_HOME/bench.
# TONGBAN_BENCH_PG_URL names a PostgreSQL server for the API stage (it creates and drops a
# database of its own); without it PostgreSQL is reported as not measured.
bench: install
	$(RUN) tongban bench --size $(BENCH_SIZE)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
