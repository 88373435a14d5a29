# One entry point for users, developers and CI. Every target sets up .venv first, so
# `make run` and `make test` work on a fresh clone with only python3.11 and pip.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-all lint bench package test-package screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/llad-gui

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

test-all: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -m ""

lint: $(STAMP)
	$(BIN)/ruff check core llad_gui tests packaging
	$(BIN)/ruff format --check core llad_gui tests packaging

bench: $(STAMP)
	$(BIN)/llad bench --data ../shared/datasets/mtd --out bench_out

package: $(STAMP)
	bash packaging/build.sh

test-package: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -m package

screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python packaging/screenshots.py --out docs/screenshots
	QT_QPA_PLATFORM=offscreen $(BIN)/python packaging/screenshots_pages.py --out docs/screenshots
	QT_QPA_PLATFORM=offscreen $(BIN)/python packaging/screenshot_line_io.py --out docs/screenshots

clean:
	rm -rf build dist bench_out .pytest_cache
