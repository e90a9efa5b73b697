# clusterimpact: the two commands are `make report` and `make test`.
# Each bootstraps .venv in the repo when it is missing or stale (pyproject.toml newer than the stamp).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.clusterimpact-installed
# Bounded size for the slow-marked checks inside `make test` (1.0 = full size).
CLUSTERIMPACT_SLOW_SCALE ?= 0.2
export CLUSTERIMPACT_SLOW_SCALE
export MPLBACKEND := Agg

.PHONY: all report test lint bench synth venv clean chromium notebooks notebooks-execute tolerance-audit golden docs

all: test

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,docs,dask]'
	@touch $(STAMP)

venv: $(STAMP)

## make report: regenerate reports/ from the synthetic default (data/synthetic/).
report: $(STAMP)
	$(PY) -m clusterimpact report --out reports

## make test: the whole suite, notebooks and the report included (slow checks at a bounded size).
# Two pytest workers on two cores: one BLAS thread each, or they oversubscribe (about 6x slower).
test: $(STAMP) chromium
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist loadgroup -q

## headless Chromium for the report screenshot test (Debian package; installed when missing).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the report screenshot test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "WARNING: could not install chromium; the report screenshot test will fail"; }

## make docs: the Sphinx site (user guide, API reference from __all__, example gallery) in docs/_build/html,
# warnings as errors. The API pages (docs/api/) and the gallery (docs/auto_examples/) are generated.
docs: $(STAMP)
	cd docs && $(abspath $(PY)) -m sphinx -W --keep-going -b html . _build/html
	@echo "open docs/_build/html/index.html"

## make notebooks: open notebooks/ in JupyterLab (the `notebooks` extra), or say how to get it.
# The .ipynb files are paired with the jupytext .py files (edit either; jupytext keeps both in step).
# MPLBACKEND is unset so that the kernel shows figures inline.
notebooks: $(STAMP)
	@if $(PY) -c "import jupyterlab, jupytext" 2>/dev/null; then \
	  env -u MPLBACKEND $(VENV)/bin/jupyter lab notebooks/; \
	else \
	  echo "JupyterLab is not installed in $(VENV). Install it with:"; \
	  echo "    $(PY) -m pip install -e '.[notebooks]'"; \
	  echo "then run 'make notebooks' again (or open notebooks/*.ipynb in any Jupyter or VS Code)."; \
	fi

## make notebooks-execute: re-run every notebook and rewrite the paired .ipynb/.py with outputs.
notebooks-execute: $(STAMP)
	env -u MPLBACKEND $(PY) notebooks/execute.py

lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m ruff format --check src tests benchmarks
	$(PY) -m mypy

## make tolerance-audit: the numeric tests under several OpenBLAS kernels, numpy SIMD levels and thread
# counts; the largest share of its tolerance each comparison uses (tests/README.md). About 10 CPU-minutes.
tolerance-audit: $(STAMP)
	$(PY) tests/_tolerance_audit.py --by-name

## make bench: timings against the peer packages, in one run (see benchmarks/README.md).
bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) benchmarks/run_all.py $(BENCH_ARGS)

## make golden: rewrite the report's golden record (tests/reference/report_golden/golden.json) from the
# small test report. Only when the report is meant to change: commit golden.json with that change, saying why.
golden: $(STAMP)
	OPENBLAS_NUM_THREADS=1 PYTHONPATH=src:tests $(PY) tests/reference/report_golden/make_golden.py

## make synth: regenerate data/synthetic/ bit-identically from its seed.
synth: $(STAMP)
	$(PY) -m clusterimpact synth --scenario ecoom --seed 1 --out data/synthetic

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
