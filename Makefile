# shadowlens: `make run` and `make test` are the whole set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DIR ?=

.PHONY: run test lint typecheck bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@ $(VENV)/.installed

# Watch the user's Pictures folder (or DIR=...) in the foreground: index what is there, then
# every photo that arrives. Ctrl-C stops it.
run: $(VENV)/.installed
	$(BIN)/shadowlens -v watch $(if $(DIR),"$(DIR)")

test: $(VENV)/.installed-dev lint
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev typecheck
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy cannot follow setuptools' editable import hook, so it reads the sources
# through a shadowlens/ tree of symlinks that mirrors the installed layout.
typecheck: $(VENV)/.installed-dev
	rm -rf build/typecheck && mkdir -p build/typecheck/shadowlens
	for pkg in daemon tui models migrations; do ln -s ../../../$$pkg build/typecheck/shadowlens/$$pkg; done
	cd build/typecheck && MYPYPATH=. ../../$(BIN)/mypy --config-file ../../pyproject.toml -p shadowlens

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
