"""What every backend's loop module offers."""

import pathlib

import keras
from test_backends import defined_names

from selffeed_keras import _loop

NAMES = [
    "Programs",
    "check_time",
    "executing_eagerly",
    "fill_after",
    "function",
    "run",
    "stream",
]


def test_the_backend_module_offers_every_name():
    assert _loop.BACKEND == keras.backend.backend()
    for name in NAMES:
        assert callable(getattr(_loop, name)), name
    assert isinstance(_loop.SEED_IN_THE_FREE_LOOP, bool)


def test_every_backend_module_defines_every_name():
    directory = pathlib.Path(_loop.__file__).parent
    for backend in ["tensorflow", "jax", "torch"]:
        defined = defined_names(directory / f"{backend}.py")
        assert set(NAMES) | {"_MAX_CHUNK", "SEED_IN_THE_FREE_LOOP"} <= defined, backend
