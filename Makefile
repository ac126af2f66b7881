# Tongban: `make demo` serves a generated university; `make test` runs every check.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv is bootstrapped with pip when missing; `python3 -m uv` works wherever pip put it.
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
RUN := $(UV) run --frozen
DEMO_SIZE ?= demo
API_HOST ?= 127.0.0.1
API_PORT ?= 8000

.PHONY: help install demo test lint typecheck clean

help:
	@echo "make demo   generate a university ($(DEMO_SIZE)) and serve the workflow API on $(API_HOST):$(API_PORT)"
	@echo "make test   lint, type-check and run the whole test suite"

.venv/.synced: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet uv
	$(UV) sync --frozen
	@touch $@

install: .venv/.synced

demo: install
	$(RUN) tongban init --size $(DEMO_SIZE)
	$(RUN) tongban api --host $(API_HOST) --port $(API_PORT)

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports

typecheck: install
	$(RUN) mypy

test: lint typecheck
	$(RUN) pytest

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
