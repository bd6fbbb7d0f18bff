# Every target installs what it needs into its own virtual environment ($(VENV)).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_WORKERS ?= 2

.PHONY: test venv clean-venv

$(VENV)/.installed: setup.py
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

# The main job on the embedded default: tokenizer -> token records -> train -> sample -> evaluate.
# On the CPU unless JAX_PLATFORMS says otherwise: the venv holds libtpu (for the mock-TPU
# compile tests), whose failed TPU probe would otherwise print errors on machines without one.
JAX_PLATFORMS ?= cpu
demo: $(VENV)/.installed
	JAX_PLATFORMS=$(JAX_PLATFORMS) $(PY) -m lumos_jax.demo --workdir=runs/demo

.PHONY: demo
