# Every target installs what it needs into its own virtual environment ($(VENV)).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_WORKERS ?= 2

.PHONY: test venv clean-venv lint format

# [all]: every extra the tests exercise (tensorboard, convert, test, lint); [tpu]: the libtpu
# matching the installed jax, for the mock-TPU compile tests. jax 0.11 needs Python >= 3.12:
# with PYTHON=python3.11 pip installs jax 0.10.x.
$(VENV)/.installed: setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[all,tpu]'
	touch $@

venv: $(VENV)/.installed

# Tests run on an emulated 8-device CPU mesh (tests/conftest.py sets XLA_FLAGS).
test: $(VENV)/.installed
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --durations=15 tests

clean-venv:
	rm -rf $(VENV)

# ruff, configured in pyproject.toml: lint checks and changes nothing; format rewrites.
lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(VENV)/.installed
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# The main job on the embedded default: tokenizer -> token records -> train -> sample -> evaluate.
# On the CPU unless JAX_PLATFORMS says otherwise: the venv holds libtpu (for the mock-TPU
# compile tests), whose failed TPU probe would otherwise print errors on machines without one.
JAX_PLATFORMS ?= cpu
demo: $(VENV)/.installed
	JAX_PLATFORMS=$(JAX_PLATFORMS) $(PY) -m lumos_jax.demo --workdir=runs/demo

.PHONY: demo
