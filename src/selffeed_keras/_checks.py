"""Argument validation shared by the modules.

Every check raises `ValueError` or `TypeError` whose message names the
argument, what was expected and what was received, before any graph exists.
"""

import numbers

import numpy as np
import tensorflow as tf


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_int(value, name, what=""):
    """Returns `value` if it is an integer of at least 1, else raises."""
    if not _is_int(value) or value < 1:
        raise ValueError(
            f"`{name}` must be a positive integer{what}. Received: {name}={value!r}."
        )
    return int(value)


def boolean(value, name):
    """Returns `value` if it is a bool, else raises `TypeError`."""
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be a bool. Received: {name}={value!r}.")
    return value


def positive_float(value, name, what=""):
    """Returns `value` as a float if it is a finite number above 0."""
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not np.isfinite(value)
        or value <= 0
    ):
        raise ValueError(
            f"`{name}` must be a number above 0{what}. Received: {name}={value!r}."
        )
    return float(value)


def probability(value, name, *, open_at_zero=False, what=""):
    """Returns `value` as a float in [0, 1] (or (0, 1] if `open_at_zero`)."""
    low = "(0, 1]" if open_at_zero else "[0, 1]"
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not 0 <= value <= 1
        or (open_at_zero and value == 0)
    ):
        raise ValueError(
            f"`{name}` must be a number in {low}{what}. Received: {name}={value!r}."
        )
    return float(value)


def optional_seed(value, name):
    """Returns `value` if it is None or a non-negative integer."""
    if value is not None and (not _is_int(value) or value < 0):
        raise ValueError(
            f"`{name}` must be None or a non-negative integer. "
            f"Received: {name}={value!r}."
        )
    return value


def steps(value):
    """Returns `steps` as a scalar int32 tensor; accepts an int or a scalar tensor."""
    message = (
        "`steps` must be a positive integer (a Python int or a scalar integer "
        "tensor): the number of elements to generate after the seed. "
        f"Received: steps={value!r}."
    )
    if _is_int(value):
        if value < 1:
            raise ValueError(message)
        return tf.constant(int(value), tf.int32)
    if isinstance(value, (tf.Tensor, tf.Variable, np.ndarray, np.generic)):
        dtype = tf.as_dtype(value.dtype)
        if not dtype.is_integer or len(value.shape) != 0:
            raise ValueError(message)
        value = tf.cast(value, tf.int32)
        if tf.executing_eagerly() and int(value) < 1:
            raise ValueError(message)
        return value
    raise TypeError(message)


def as_tensor(value, name):
    """Converts array-likes to a tensor, naming the argument when that fails."""
    if isinstance(value, (tf.Tensor, tf.Variable)):
        return tf.convert_to_tensor(value)
    try:
        array = np.asarray(value)
    except Exception as error:  # numpy raises many types for ragged input
        raise TypeError(
            f"`{name}` must be an array or a tensor. Received: {name}={value!r}."
        ) from error
    if array.dtype == object or array.dtype.kind in "USV":
        raise TypeError(
            f"`{name}` must hold numbers. Received: {name} of dtype {array.dtype}."
        )
    return tf.convert_to_tensor(array)


def layer_or_none(value, name, example):
    """Returns `value` if it is None or a Keras layer."""
    import keras

    if value is not None and not isinstance(value, keras.layers.Layer):
        raise TypeError(
            f"`{name}` must be a Keras layer (for example `{example}`) or None. "
            f"Received: {name}={value!r} of type {type(value).__name__}."
        )
    return value


def jit_compile(value):
    """Returns `value` if it is True, False or "auto"."""
    if not (
        value is True or value is False or (isinstance(value, str) and value == "auto")
    ):
        raise ValueError(
            '`jit_compile` must be True, False or "auto": whether XLA compiles '
            "the generation loop. Received: "
            f"jit_compile={value!r} of type {type(value).__name__}."
        )
    return value
