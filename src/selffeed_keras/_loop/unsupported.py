"""Backends without a generation loop yet: `generate` refuses, naming the backend."""

import keras

_MAX_CHUNK = 4096


def _refuse(*args, **kwargs):
    raise NotImplementedError(
        "`generate` and `score` run on the TensorFlow and JAX backends; this "
        "Keras backend has no generation loop yet. Set KERAS_BACKEND=jax or "
        "KERAS_BACKEND=tensorflow before Python imports keras. Received: Keras "
        f"backend {keras.backend.backend()!r}."
    )


run = fill_after = check_time = stream = function = _refuse


def executing_eagerly():
    """Always: this backend traces nothing."""
    return True


class Programs:
    """Refuses to run: see `_refuse`."""

    def __init__(self, generation):
        self.functions = {}

    def prepare(self, args, reservation=None):
        _refuse()

    random_seed = __call__ = prepare
