# Two entry points: `make run` serves the studio on http://127.0.0.1:7860, `make test` runs the tests.
# Both create .venv on first use; torch (training and tests only) is pinned to the CPU build.
# Procgen (CoinRun's episodes) comes from procgen-mirror, whose metadata pins numpy<2, gym<1 and gym3<1
# although it runs on numpy 2: it goes with the gym3 and gym it imports, without their dependencies, into a
# folder of its own (.venv/procgen, which studio/games/coinrun.py puts on the path), outside pip's view, so
# `pip check` holds; what they import besides (cffi, imageio, cloudpickle) is in the train extra. `make test`
# and `make train` install it.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROCGEN := procgen-mirror==0.10.7 gym3==0.3.3 gym==0.26.2
# improving-transformers-world-model's metadata asks for pufferlib and an RL library its world model never
# imports: it goes without them into a folder of its own (.venv/outside); what it does import is the outside extra
OUTSIDE := improving-transformers-world-model==0.0.59
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export GRADIO_ANALYTICS_ENABLED := False
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba
export NUMBA_THREADING_LAYER := workqueue
export OMP_WAIT_POLICY := PASSIVE

.PHONY: run test screenshots chromium train clean

run: $(VENV)/.installed-run
	$(PY) app.py

test: $(VENV)/.installed-dev $(VENV)/.installed-procgen $(VENV)/.installed-outside chromium
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest

# The README's pictures (docs/*.png): the studio on the shipped bundle, driven in headless Chromium.
screenshots: $(VENV)/.installed-dev chromium
	$(PY) docs/screenshots.py

train: $(VENV)/.installed-dev $(VENV)/.installed-procgen
	$(VENV)/bin/studio train configs/breakout.json

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[train,test,outside]"
	touch $@ $(VENV)/.installed-run

$(VENV)/.installed-outside: | $(VENV)/bin/python
	$(PY) -m pip install --quiet --no-deps --upgrade --target $(VENV)/outside $(OUTSIDE)
	touch $@

$(VENV)/.installed-procgen: | $(VENV)/bin/python
	$(PY) -m pip install --quiet --no-deps --upgrade --target $(VENV)/procgen $(PROCGEN)
	touch $@

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

clean:
	rm -rf $(VENV) .cache .pytest_cache
