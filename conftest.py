"""Shared by every test: doctest names, a fixed random seed, the markers."""

import importlib.util
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import selffeed_keras  # noqa: E402

# The per-backend folders import their backend's package at the top, and an
# environment may lack the others' (the unit extra installs neither jax nor
# torch): pytest collects the doctests of the running backend's folder only.
collect_ignore = [
    f"src/selffeed_keras/_backend/{name}"
    for name in ("tensorflow", "jax", "torch")
    if name != keras.backend.backend()
]


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace.update(np=np, keras=keras, selffeed_keras=selffeed_keras)


@pytest.fixture(autouse=True)
def _seeded():
    # Each test starts from the same weights and draws, whatever ran before
    # it: a comparison within a tolerance cannot pass or fail by the luck of
    # an initialization.
    keras.utils.set_random_seed(0)


def pytest_collection_modifyitems(config, items):
    # Notebooks (run by nbmake) take minutes each: behind `slow`, run by
    # `make test-slow` and CI, not by `make test`.
    backend = keras.backend.backend()
    # The DataFrame reader's example needs pandas, which the unit extra (the
    # oldest supported versions' environment) does not install.
    no_pandas = importlib.util.find_spec("pandas") is None
    for item in items:
        if no_pandas and item.name.endswith("Panel.from_dataframe"):
            item.add_marker(pytest.mark.skip(reason="pandas is not installed"))
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
        # `make test-jax` runs the unit tests on JAX but for those about
        # TensorFlow itself (tf.function, tf.data, ExportArchive, ...).
        marker = item.get_closest_marker("tensorflow_only")
        if marker is not None and backend != "tensorflow":
            reason = marker.kwargs.get("reason") or (marker.args or ("",))[0]
            item.add_marker(pytest.mark.skip(reason=f"TensorFlow only: {reason}"))
