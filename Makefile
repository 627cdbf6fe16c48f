# The two commands of the README. Both create .venv on first use and install what they need.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: course test bench clean

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
	$(BIN)/jupyter lab notebooks/01-granule-protection.ipynb

## make test: set up, then run the whole test suite (model, kernels vs twins, notebooks, labs)
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make bench: the benchmark scripts (numbers for the closing notes)
bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_gpc.py
	$(BIN)/python benchmarks/bench_viz.py

clean:
	rm -rf $(VENV) build *.egg-info
