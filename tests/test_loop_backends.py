"""What every backend's loop module offers, and the refusal of the others."""

import keras
import pytest

from selffeed_keras import _loop
from selffeed_keras._loop import unsupported

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


def test_a_backend_without_a_loop_refuses_naming_it():
    with pytest.raises(NotImplementedError, match="Keras backend"):
        unsupported.run(None, None, 1, emitted=None)
    programs = unsupported.Programs(None)
    with pytest.raises(NotImplementedError, match="KERAS_BACKEND=jax"):
        programs.prepare([])
