# Every target creates .venv and installs what it needs when that is missing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export KERAS_BACKEND := tensorflow
export TF_CPP_MIN_LOG_LEVEL := 2
export NO_MKDOCS_2_WARNING := 1

LINT_PATHS := $(wildcard src tests benchmarks examples notebooks conftest.py)

.PHONY: demo test format bench notebooks docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[$*]'
	touch $@

demo: $(VENV)/.installed-demo
	$(BIN)/python examples/sine_demo.py

test: $(VENV)/.installed-test
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/python -m pytest
	$(BIN)/mkdocs build --strict --site-dir $(VENV)/site

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/generate.py
	$(BIN)/python benchmarks/training.py
	$(BIN)/python benchmarks/exposure_bias.py
	$(BIN)/python benchmarks/forecast.py

# Re-executes the notebooks in place, so their committed outputs are fresh.
# capture_fd_output=False keeps TensorFlow's C++ start-up logs out of them.
notebooks: $(VENV)/.installed-notebooks
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.extra_arguments='["--IPKernelApp.capture_fd_output=False"]' \
		notebooks/*.ipynb

docs: $(VENV)/.installed-test
	$(BIN)/mkdocs serve

clean:
	rm -rf $(VENV) site .pytest_cache
