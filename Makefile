# The two commands of the README. Both create .venv on first use and install what they need.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: course test test-browser bench clean binder-check release

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-course: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[course]"
	$(BIN)/python -c "import ccalab; ccalab.warmup(verbose=True)"
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m ipykernel install --prefix $(VENV) --name python3 > /dev/null
	touch $@

## make course: set up, then open the course in JupyterLab
course: $(VENV)/.installed-course
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root,) notebooks/00-start-here.ipynb

## make test: set up, then run the whole test suite (model, kernels vs twins, notebooks, labs)
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

$(VENV)/.installed-browser: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,browser]"
	$(BIN)/python -m ipykernel install --prefix $(VENV) --name python3 > /dev/null
	touch $@

## make test-browser: the widgets in JupyterLab in headless Chromium (needs Debian's chromium: .ci/install-browser)
test-browser: $(VENV)/.installed-browser
	$(BIN)/python -m pytest tests/browser $(PYTEST_ARGS)

## make bench: the benchmark scripts (numbers for the closing notes)
bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_gpc.py
	$(BIN)/python benchmarks/bench_mmu.py
	$(BIN)/python benchmarks/bench_mec.py
	$(BIN)/python benchmarks/bench_mec_path.py
	$(BIN)/python benchmarks/bench_viz.py
	$(BIN)/python benchmarks/bench_rmm.py
	$(BIN)/python benchmarks/bench_attest.py
	$(BIN)/python benchmarks/bench_attest_produce.py

## make binder-check: build binder/ as repo2docker would, in a fresh venv, and run every notebook and lab in it
binder-check: $(VENV)/.installed-test
	CCALAB_BINDER_CHECK=1 $(BIN)/python -m pytest -q tests/test_binder.py $(PYTEST_ARGS)

## make release: the learner versions of notebooks/ and labs/ (solutions and outputs removed) in $(RELEASE_DIR)
RELEASE_DIR ?= build/learner
release: $(VENV)/.installed-course
	$(BIN)/python -m ccalab release notebooks $(RELEASE_DIR)/notebooks
	$(BIN)/python -m ccalab release labs $(RELEASE_DIR)/labs

clean:
	rm -rf $(VENV) build *.egg-info
