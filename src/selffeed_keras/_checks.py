"""Argument validation shared by the modules: numbers, ranges, options.

The tensors a call reads (seeds, masks, states, covariates) are `_inputs`'.

Every check raises `ValueError` or `TypeError` whose message names the
argument, what was expected and what was received, before any graph exists.
"""

import functools
import math
import numbers

import keras
import numpy as np
from keras import ops

from selffeed_keras import _backend


def message(name, expected, received):
    return f"`{name}` must be {expected}. Received: {name}={received!r}."


def rank_of(value):
    """The number of axes of a tensor, None where it is unknown."""
    try:
        return len(value.shape)
    except (TypeError, ValueError):  # TensorFlow's shape of unknown rank
        return None


# Cached: the eager checks of every `generate` call ask, and Keras' dtype
# standardization costs microseconds per call.
@functools.lru_cache(maxsize=64)
def is_integer(dtype):
    """Whether `dtype` (a backend's or a name) holds integers, signed or not."""
    return keras.backend.is_int_dtype(dtype)


@functools.lru_cache(maxsize=64)
def is_floating(dtype):
    """Whether `dtype` (a backend's or a name) holds floating-point numbers."""
    return keras.backend.is_float_dtype(dtype)


@functools.lru_cache(maxsize=64)
def dtype_name(dtype):
    """The name of `dtype`, as Keras writes it: "float32", "int64"."""
    return keras.backend.standardize_dtype(dtype)


def number(value, name, expected, *, integer=False, valid=None):
    """Returns `value` as a Python `int` or `float`, or raises.

    Accepts what users hold: Python numbers, NumPy scalars and 0-d arrays,
    so that stored arguments stay plain numbers and configs stay JSON. A
    `bool` is refused: `True` is an int to Python, but never meant as one.

    Args:
        value: the argument as received.
        name: the argument's name, for the message.
        expected: what the argument must be, completing "`name` must be ...".
        integer: whether an integer is required; else any real number.
        valid: optional predicate on the Python number, for its range.

    Returns:
        A Python `int` if `integer`, else a Python `float`.

    Raises:
        TypeError: for a value that is not a real number (or not an integer
            if `integer`), including a bool.
        ValueError: for a number that `valid` refuses.
    """
    scalar = value
    if isinstance(scalar, np.ndarray) and scalar.ndim == 0:
        scalar = scalar[()]
    if isinstance(scalar, (bool, np.bool_)):
        raise TypeError(message(name, f"{expected}, not a bool", value))
    kind = numbers.Integral if integer else numbers.Real
    if not isinstance(scalar, kind):
        raise TypeError(message(name, expected, value))
    scalar = int(scalar) if integer else float(scalar)
    if valid is not None and not valid(scalar):
        raise ValueError(message(name, expected, value))
    return scalar


def positive_int(value, name, what=""):
    """Returns `value` as a Python int if it is an integer of at least 1."""
    return number(
        value, name, f"a positive integer{what}", integer=True, valid=lambda v: v >= 1
    )


def boolean(value, name):
    """Returns `value` if it is a bool, else raises `TypeError`."""
    if not isinstance(value, bool):
        raise TypeError(message(name, "a bool", value))
    return value


def positive_float(value, name, what=""):
    """Returns `value` as a Python float if it is a finite number above 0."""
    return number(
        value,
        name,
        f"a number above 0{what}",
        valid=lambda v: math.isfinite(v) and v > 0,
    )


def probability(value, name, *, open_at_zero=False, what=""):
    """Returns `value` as a float in [0, 1] (or (0, 1] if `open_at_zero`)."""
    low = "(0" if open_at_zero else "[0"
    return number(
        value,
        name,
        f"a number in {low}, 1]{what}",
        valid=lambda v: (0 < v if open_at_zero else 0 <= v) and v <= 1,
    )


def probability_or_schedule(value, name, schedule_class):
    """Returns `value` if it is a schedule, else as a float in [0, 1]."""
    if isinstance(value, schedule_class):
        return value
    return probability(
        value,
        name,
        what=" or a `selffeed_keras.schedules.Schedule` (Constant, Linear, "
        "Exponential, InverseSigmoid)",
    )


# The largest `steps` and `num_samples`: int32 counts, as the loop runs them.
INT32_MAX = 2**31 - 1
# The largest `random_seed`: the seed state of `keras.random.SeedGenerator` is
# uint32 on JAX, so a larger seed would not mean the same on every backend.
SEED_MAX = 2**32 - 1


def optional_seed(value, name):
    """Returns None, or `value` as a Python int in [0, 2**32 - 1]."""
    if value is None:
        return None
    return number(
        value,
        name,
        "None or a non-negative integer up to 2**32 - 1",
        integer=True,
        valid=lambda v: 0 <= v <= SEED_MAX,
    )


def _integer_tensor(value, name, expected, minimum, maximum, dtype):
    """Returns an int, NumPy int or scalar integer tensor as a `dtype` tensor.

    Python and NumPy numbers, and tensors in eager mode, are checked here;
    a tensor in a graph (a `tf.function`, an export endpoint) is checked by
    an assertion in that graph, outside any compiled loop, whose message
    names the argument (on TensorFlow; `jax.jit` runs no assertion).
    """
    if not _backend.is_tensor(value):
        value = number(
            value,
            name,
            expected,
            integer=True,
            valid=lambda v: minimum <= v <= maximum,
        )
        return _backend.constant(value, dtype)
    if not is_integer(value.dtype) or rank_of(value) != 0:
        raise ValueError(message(name, expected, value))
    if _backend.concrete(value):
        if not minimum <= int(value) <= maximum:
            raise ValueError(message(name, expected, value))
        return _backend.cast(value, dtype)

    def check():
        # Compared in int64, before the cast, so that nothing wraps first.
        wide = _backend.cast(value, "int64")
        within = ops.logical_and(wide >= minimum, wide <= maximum)
        return within, [f"`{name}` must be {expected}. Received: {name}=", wide]

    return _backend.checked(_backend.cast(value, dtype), check, f"check_{name}")


def steps(value):
    """Returns `steps` as a scalar int32 tensor; accepts an int or a scalar tensor."""
    expected = (
        "a positive integer up to 2**31 - 1 (a Python or NumPy int, or a scalar "
        "integer tensor): the number of elements to generate after the seed"
    )
    return _integer_tensor(value, "steps", expected, 1, INT32_MAX, "int32")


def random_seed(value):
    """Returns `random_seed` as a scalar tensor, None for None, or raises.

    Its dtype is the backend's `RANDOM_SEED_DTYPE`: one that holds every
    allowed seed (the seed state's own where it can, else int64, which the
    program bit-casts into the state).
    """
    if value is None:
        return None
    expected = (
        "None, a non-negative integer up to 2**32 - 1 (what the seed state of "
        "every Keras backend holds) or a scalar integer tensor"
    )
    dtype = _backend.RANDOM_SEED_DTYPE
    return _integer_tensor(value, "random_seed", expected, 0, SEED_MAX, dtype)


def keras_seed(value):
    """Returns a `seed` as `keras.random` takes it: None, an int or a generator."""
    if value is None or isinstance(value, keras.random.SeedGenerator):
        return value
    expected = "None, an integer or a `keras.random.SeedGenerator`"
    return number(value, "seed", expected, integer=True)


def layer_or_none(value, name, example):
    """Returns `value` if it is None or a Keras layer."""
    if value is not None and not isinstance(value, keras.layers.Layer):
        raise TypeError(
            f"`{name}` must be a Keras layer (for example `{example}`) or None. "
            f"Received: {name}={value!r} of type {type(value).__name__}."
        )
    return value


def feedback_width(input_shape, output_shape):
    """Raises unless a head output of `output_shape` can be fed back as input."""
    if output_shape[-1] != input_shape[-1]:
        raise ValueError(
            "With `sampler=None` the head's output is fed back as the next input, "
            "so its width must equal the input's feature size "
            f"({input_shape[-1]}). Received: a head output of shape {output_shape}. "
            "Use a head such as `keras.layers.Dense(features)`, or, for logits, "
            "a `sampler` and an `encoder` such as `Embedding`."
        )


def token_head_width(output_width, encoder):
    """Raises for a token head wider than the encoder's vocabulary.

    The sampler picks ids in `[0, output_width)` and the encoder reads them
    back: an id past its `input_dim` fails inside the loop (and under XLA an
    `Embedding` clips it silently). An encoder without `input_dim` is not
    checked.
    """
    vocab_size = getattr(encoder, "input_dim", None)
    if isinstance(vocab_size, int) and output_width > vocab_size:
        raise ValueError(
            "A token model's `head` gives one logit per token id, and every id "
            "the sampler picks is fed back through the `encoder`, which reads "
            f"ids in [0, {vocab_size}): the head's width must be at most "
            f"{vocab_size}. Received: a head output of width {output_width} "
            f"with an encoder of input_dim={vocab_size}."
        )


def noise_scale(value, distribution):
    """Returns `noise_scale` as a Python float, None for None, or raises.

    Args:
        value: the argument.
        distribution: the layer's distribution, or None.
    """
    if value is None:
        return None
    # The draws are float32: a factor past its range would make every draw
    # infinite (or, below its smallest normal number, every spread 0).
    low, high = float(np.finfo("float32").tiny), float(np.finfo("float32").max)
    value = number(
        value,
        "noise_scale",
        f"a number above 0 that float32 holds, from {low:.3g} to {high:.3g} "
        "(the draws are float32)",
        valid=lambda v: math.isfinite(v) and low <= v <= high,
    )
    if distribution is None:
        raise ValueError(
            "`noise_scale` scales the spread of the draws of a distribution: it "
            "needs a layer built with a `distribution`. This layer's feedback "
            f"is no distribution's draw. Received: noise_scale={value!r}."
        )
    if not distribution.scales_noise:
        raise ValueError(
            f"`noise_scale` needs a distribution that defines `scale_noise`; "
            f"{type(distribution).__name__} does not, so its draws cannot be "
            f"widened or narrowed. Received: noise_scale={value!r}."
        )
    return value


def end_token(value, token_model, vocab_size):
    """Returns the end token as a scalar int32 tensor, None for None, or raises."""
    if value is None:
        return None
    if not token_model:
        raise ValueError(
            "`end_token` needs a token model: a layer with a `sampler` that "
            f"emits token ids. Received: end_token={value!r} on a layer with "
            "sampler=None."
        )
    value = number(
        value,
        "end_token",
        f"an integer token id in [0, {vocab_size}), the head's vocabulary",
        integer=True,
        valid=lambda v: 0 <= v < vocab_size,
    )
    return _backend.constant(value, "int32")


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


def scaling(value, distribution):
    """Returns `scaling` if it is None, or "mean" with a distribution."""
    if value is None:
        return None
    if not (isinstance(value, str) and value == "mean"):
        raise ValueError(message("scaling", 'None or "mean"', value))
    if distribution is None:
        raise ValueError(
            '`scaling="mean"` scales the parameters of a `distribution`; pass one, '
            'such as distribution="student_t". Received: scaling="mean" with '
            "distribution=None."
        )
    return value


def context_length(value, scaling):
    """Returns `context_length`: None, or a positive int with `scaling="mean"`."""
    if value is None:
        return None
    value = positive_int(
        value,
        "context_length",
        ": the steps of each call's inputs that the scale is taken from",
    )
    if scaling != "mean":
        raise ValueError(
            "`context_length` says which steps of a call's inputs the series "
            'scale of `scaling="mean"` is taken from; pass scaling="mean" too, '
            f"or leave context_length=None. Received: context_length={value!r} "
            f"with scaling={scaling!r}."
        )
    return value


def num_samples(value, deterministic):
    """Returns `num_samples` as a scalar int32 tensor, None for None, or raises.

    Args:
        value: the argument.
        deterministic: None for a layer whose feedback is random, else what
            makes it deterministic, for the message.
    """
    if value is None:
        return None
    if deterministic is not None:
        raise ValueError(
            "`num_samples` draws several sample paths, and this layer's feedback "
            f"is deterministic ({deterministic}): every path would be the same. "
            "Use a `distribution` or a random sampler. "
            f"Received: num_samples={value!r}."
        )
    expected = (
        "a positive integer up to 2**31 - 1 (a Python or NumPy int, or a scalar "
        "integer tensor)"
    )
    return _integer_tensor(value, "num_samples", expected, 1, INT32_MAX, "int32")


# The default of `generate(..., max_bytes=...)`: 4 GiB.
MAX_BYTES = 4 * 2**30


def max_bytes(value):
    """Returns `max_bytes` as a Python int, None for None (no limit), or raises."""
    if value is None:
        return None
    return positive_int(value, "max_bytes", " (bytes), or None for no limit")
