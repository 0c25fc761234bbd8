# Every target creates .venv and installs what it needs when that is missing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# `make demo` runs on the backend the environment names (`KERAS_BACKEND=jax
# make demo`), TensorFlow by default; every other target sets its own.
export KERAS_BACKEND ?= tensorflow
TENSORFLOW_TARGETS := test test-slow docs-check test-oldest dist bench notebooks \
	figures docs
$(TENSORFLOW_TARGETS): export KERAS_BACKEND := tensorflow
export TF_CPP_MIN_LOG_LEVEL := 2
export NO_MKDOCS_2_WARNING := 1

# M1 yearly (benchmarks/panel.py, notebook 06) is a file of aeon's wheel:
# the wheel is downloaded here, not installed (aeon would pull numba and
# newer pandas and NumPy than the bench extra's GluonTS takes), and read as
# a zip. Nothing downloads data at run time. Defined before any rule names
# it: make expands a rule's prerequisites as it reads the rule.
AEON_WHEEL := $(VENV)/wheels/aeon-1.6.0-py3-none-any.whl

LINT_PATHS := $(wildcard src tests benchmarks examples notebooks docs/hooks conftest.py)

.PHONY: demo test test-jax test-torch test-slow test-oldest dist format bench notebooks figures docs docs-check chromium clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[$*]'
	touch $@

# On JAX or torch, the demo installs that backend's extra too.
demo: $(VENV)/.installed-demo $(addprefix $(VENV)/.installed-,$(filter jax torch,$(KERAS_BACKEND)))
	$(BIN)/python examples/sine_demo.py

# pytest exits 5 when it collects no test: a selection that matches nothing
# fails here with a message, so that CI cannot pass having run nothing.
define pytest
	$(1)/python -m pytest $(2) || { status=$$?; \
		if [ $$status -eq 5 ]; then echo "make $@: pytest collected no test" >&2; fi; \
		exit $$status; }
endef

# Lint, unit tests and doctests, README/docs examples, docs build; not the
# tests marked slow (notebooks, benchmarks, long and statistical tests).
# The tests run in one process per core (pytest-xdist): on a 2-core Intel
# Xeon, 262 s instead of 582 s (346 s for `make test` from a fresh clone).
test: $(VENV)/.installed-test
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(call pytest,$(BIN),-m "not slow" -n auto --durations=10)
	$(BIN)/mkdocs build --strict --site-dir $(VENV)/site

# The unit tests, doctests and README/docs examples (not slow) on Keras' JAX
# backend, in the same environment with the jax extra; those of TensorFlow
# itself (marked tensorflow_only: tf.function, GradientTape, ExportArchive,
# the XLA fallback, int64 tensors, ...) skip there; tests/test_jax_generate.py runs there
# only, tests/test_generate_jax_torch.py there and on torch.
test-jax: export KERAS_BACKEND := jax
test-jax: $(VENV)/.installed-unit $(VENV)/.installed-jax
	$(call pytest,$(BIN),-m "not slow" -n auto --durations=10 tests src)

# Generation on Keras' torch backend, an eager loop (the unit extra and the
# torch extra, in the same environment): against hand-written loops, beams
# against score, random streams, a file saved on TensorFlow; what differs
# between backends (imports without TensorFlow, fit and reload); lags and
# covariates in calls, generate, score, history_state, fit and .keras files
# (test_lags, test_covariates); the values a call reads (test_inputs), the
# memory estimate (test_budget), the forecasting windows and forecaster
# (test_forecasting, test_forecaster), observe (test_observe), the backend
# protocol; the doctests. The other files test
# TensorFlow's and JAX's loops. On a 2-core AMD EPYC at a load average of 1:
# torch 2.13.0 and its dependencies install in 29 s (a fresh venv), and
# these tests took 50 s in one process before test_lags and test_covariates
# joined them; with them they take 1.5 times as long (on 2 workers at a load
# average of 4, back to back: 140 s without, 214 s with).
TORCH_TESTS := src tests/test_torch_generate.py tests/test_generate_jax_torch.py \
	tests/test_backends.py tests/test_backend_protocol.py tests/test_noise_scale.py \
	tests/test_lags.py tests/test_covariates.py tests/test_inputs.py \
	tests/test_forecasting.py tests/test_forecaster.py tests/test_budget.py \
	tests/test_observe.py

test-torch: export KERAS_BACKEND := torch
test-torch: $(VENV)/.installed-unit $(VENV)/.installed-torch
	$(call pytest,$(BIN),-m "not slow" -n auto --durations=10 $(TORCH_TESTS))

# The tests marked slow, notebooks, figure scripts and the browser check of
# the site included. CI runs them after `make test`.
test-slow: $(VENV)/.installed-test $(AEON_WHEEL) chromium
	$(call pytest,$(BIN),-m slow)

# Headless Chromium and its WebDriver, for the browser check of the site
# (tests/test_site.py), from Debian's packages. CI's machine starts bare and
# runs as root, so apt-get installs them there; elsewhere, run this once with
# sudo or install the two packages yourself.
chromium:
	@if [ ! -x /usr/bin/chromedriver ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends chromium chromium-driver; fi

# Builds the site and opens every page in headless Chromium at 1366 and 390
# px: broken links, missing images, clipped tables and code blocks, TeX left
# as typed, figure text under 8 px, unlinked mentions of other pages and
# pages that scroll sideways fail it (`make test-slow` runs it too).
docs-check: $(VENV)/.installed-test chromium
	$(call pytest,$(BIN),-m slow tests/test_site.py)

# The unit tests (not slow, not notebooks) on the oldest TensorFlow and Keras
# that pyproject.toml allows, in their own environment.
OLDEST_TENSORFLOW := 2.16.1
OLDEST_KERAS := 3.10.0
OLDEST := .venv-oldest

$(OLDEST)/.installed: pyproject.toml Makefile
	rm -rf $(OLDEST)
	$(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet --upgrade pip
	$(OLDEST)/bin/python -m pip install --quiet -e '.[unit]' \
		tensorflow==$(OLDEST_TENSORFLOW) keras==$(OLDEST_KERAS)
	touch $@

test-oldest: $(OLDEST)/.installed
	$(OLDEST)/bin/python -c "import tensorflow as tf, keras; \
		assert (tf.__version__, keras.__version__) == \
		('$(OLDEST_TENSORFLOW)', '$(OLDEST_KERAS)'), (tf.__version__, keras.__version__); \
		print('TensorFlow', tf.__version__, 'Keras', keras.__version__)"
	$(call pytest,$(OLDEST)/bin,-m "not slow" -n auto tests src)

# Builds the sdist and the wheel, checks them, checks that the wheel holds the
# package only, installs it in a fresh environment and runs the README's
# quick start there, outside the source tree.
DIST_VENV := $(VENV)/dist-check

dist: $(VENV)/.installed-dist
	rm -rf dist $(DIST_VENV)
	$(BIN)/python -m build --outdir dist
	$(BIN)/twine check --strict dist/*
	$(BIN)/python -m zipfile -l dist/*.whl | awk 'NR > 1 {print $$1}' > dist/wheel-files.txt
	@if grep -Ev '^selffeed_keras(/|-[^/]+\.dist-info/)' dist/wheel-files.txt; then \
		echo "make dist: the wheel holds files outside the package (above)" >&2; exit 1; fi
	@grep -q '^selffeed_keras/__init__.py$$' dist/wheel-files.txt
	@grep -q '\.dist-info/licenses/LICENSE$$' dist/wheel-files.txt
	$(PYTHON) -m venv $(DIST_VENV)
	$(DIST_VENV)/bin/python -m pip install --quiet dist/*.whl
	$(BIN)/python -c "import pathlib, re; fence = chr(96) * 3; \
		text = pathlib.Path('README.md').read_text(); \
		print(re.search(f'^{fence}python\\n(.*?)^{fence}', text, re.M | re.S)[1])" \
		> $(DIST_VENV)/quick_start.py
	cd $(DIST_VENV) && env -u PYTHONPATH ./bin/python -c "import selffeed_keras; \
		assert 'site-packages' in selffeed_keras.__file__, selffeed_keras.__file__" \
		&& env -u PYTHONPATH ./bin/python quick_start.py
	@echo "make dist: $$(ls dist/*.whl dist/*.tar.gz) built, checked and installed"

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

$(AEON_WHEEL): | $(BIN)/python
	$(BIN)/python -m pip download --quiet --no-deps --dest $(VENV)/wheels aeon==1.6.0

bench: $(VENV)/.installed-bench $(AEON_WHEEL)
	$(BIN)/python -m benchmarks.generate
	$(BIN)/python -m benchmarks.overhead
	$(BIN)/python -m benchmarks.online
	$(BIN)/python -m benchmarks.backends
	$(BIN)/python -m benchmarks.training
	$(BIN)/python -m benchmarks.exposure_bias
	$(BIN)/python -m benchmarks.forecast
	$(BIN)/python -m benchmarks.recipe
	$(BIN)/python -m benchmarks.panel
	$(BIN)/python -m benchmarks.memory
	$(BIN)/python -m benchmarks.scale

# Re-executes the notebooks in place, so their committed outputs are fresh.
# capture_fd_output=False keeps TensorFlow's C++ start-up logs out of them.
notebooks: $(VENV)/.installed-notebooks $(AEON_WHEEL)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.extra_arguments='["--IPKernelApp.capture_fd_output=False"]' \
		notebooks/*.ipynb

# Draws the docs' figures (docs/figures/*.png) again from examples/: after a
# change to those scripts or to the benchmarks page's tables, which
# tests/test_figures.py would otherwise report as stale.
figures: $(VENV)/.installed-test
	$(BIN)/python -m examples.quick_start
	$(BIN)/python -m examples.probabilistic
	$(BIN)/python -m examples.covariates
	$(BIN)/python -m examples.online
	$(BIN)/python -m examples.benchmark_figures

docs: $(VENV)/.installed-test
	$(BIN)/mkdocs serve

clean:
	rm -rf $(VENV) $(OLDEST) dist site .pytest_cache
