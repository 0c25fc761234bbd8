"""Scripts that print the benchmarks page's tables, run from the repository root.

    python -m benchmarks.generate     # per-step cost of free running
    python -m benchmarks.overhead     # one call, the first call, tracing, memory
    python -m benchmarks.backends     # JAX, TensorFlow and torch
    python -m benchmarks.training     # a teacher-forced fit epoch
    python -m benchmarks.exposure_bias
    python -m benchmarks.forecast     # real series against statsmodels, DeepAR
    python -m benchmarks.recipe       # the how-to's recipe on other series

Each takes `--quick` (a tiny configuration, the tests run it). What they
share (series, scores, tables, timing) is in `benchmarks.common`; the
generation models in `benchmarks.models`.
"""

import os

# Before any script imports Keras: TensorFlow unless the caller chose, and
# without TensorFlow's C++ start-up logs.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
