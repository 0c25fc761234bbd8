"""Names that the docstring examples use, so that pytest runs them as doctests."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import selffeed_keras  # noqa: E402


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace.update(np=np, keras=keras, selffeed_keras=selffeed_keras)


def pytest_collection_modifyitems(config, items):
    # Notebooks (run by nbmake) take minutes each: behind `slow`, run by
    # `make test-slow` and CI, not by `make test`.
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
