"""Argument validation shared by the modules.

Every check raises `ValueError` or `TypeError` whose message names the
argument, what was expected and what was received, before any graph exists.
"""

import functools
import math
import numbers

import keras
import ml_dtypes
import numpy as np
from keras import ops

from selffeed_keras import _backend


def _message(name, expected, received):
    return f"`{name}` must be {expected}. Received: {name}={received!r}."


def _rank(value):
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
        raise TypeError(_message(name, f"{expected}, not a bool", value))
    kind = numbers.Integral if integer else numbers.Real
    if not isinstance(scalar, kind):
        raise TypeError(_message(name, expected, value))
    scalar = int(scalar) if integer else float(scalar)
    if valid is not None and not valid(scalar):
        raise ValueError(_message(name, expected, value))
    return scalar


def positive_int(value, name, what=""):
    """Returns `value` as a Python int if it is an integer of at least 1."""
    return number(
        value, name, f"a positive integer{what}", integer=True, valid=lambda v: v >= 1
    )


def boolean(value, name):
    """Returns `value` if it is a bool, else raises `TypeError`."""
    if not isinstance(value, bool):
        raise TypeError(_message(name, "a bool", value))
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
    if not is_integer(value.dtype) or _rank(value) != 0:
        raise ValueError(_message(name, expected, value))
    if _backend.concrete(value):
        if not minimum <= int(value) <= maximum:
            raise ValueError(_message(name, expected, value))
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

    Its dtype is the one of the backend's seed state where that holds every
    allowed seed: int64 on TensorFlow, uint32 on JAX. torch's seed state is
    int32, which stops at 2**31 - 1: the seed goes as int64, and the
    program bit-casts it into the state.
    """
    if value is None:
        return None
    expected = (
        "None, a non-negative integer up to 2**32 - 1 (what the seed state of "
        "every Keras backend holds) or a scalar integer tensor"
    )
    dtype = "int64" if _backend.SEED_DTYPE == "int32" else _backend.SEED_DTYPE
    return _integer_tensor(value, "random_seed", expected, 0, SEED_MAX, dtype)


def keras_seed(value):
    """Returns a `seed` as `keras.random` takes it: None, an int or a generator."""
    if value is None or isinstance(value, keras.random.SeedGenerator):
        return value
    expected = "None, an integer or a `keras.random.SeedGenerator`"
    return number(value, "seed", expected, integer=True)


def as_tensor(value, name):
    """Converts array-likes to a tensor, naming the argument when that fails."""
    if _backend.is_tensor(value):
        return _backend.constant(value)
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
    return _backend.constant(array)


def layer_or_none(value, name, example):
    """Returns `value` if it is None or a Keras layer."""
    if value is not None and not isinstance(value, keras.layers.Layer):
        raise TypeError(
            f"`{name}` must be a Keras layer (for example `{example}`) or None. "
            f"Received: {name}={value!r} of type {type(value).__name__}."
        )
    return value


def rank_message(name, shape, token_model):
    """The message for an input or seed of the wrong rank."""
    if token_model:
        expected = "(batch, time) integer token ids, since the layer has a sampler"
    else:
        expected = (
            "(batch, time, features) values, since the layer has no sampler; "
            "for one feature, add the axis with `x[..., None]`"
        )
    return f"`{name}` must have shape {expected}. Received: {name}.shape={shape}."


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


def seed(value, token_model, dtype):
    """Returns the seed as a tensor of the layer's input dtype, or raises."""
    value = as_tensor(value, "seed")
    rank = 2 if token_model else 3
    if _rank(value) != rank:
        raise ValueError(rank_message("seed", tuple(value.shape), token_model))
    if value.shape[0] == 0 or value.shape[1] == 0:
        raise ValueError(
            "`seed` must hold at least one row and one time step. "
            f"Received: seed.shape={tuple(value.shape)}."
        )
    if token_model:
        if not is_integer(value.dtype):
            raise TypeError(
                "`seed` must hold integer token ids, since the layer has a "
                f"sampler. Received: seed.dtype={dtype_name(value.dtype)}."
            )
        return _backend.cast(value, "int32")
    real_numbers(
        value.dtype, "seed", "real numbers (floats), since the layer has no sampler"
    )
    return _cast(value, dtype, "seed")


def _cast(value, dtype, name):
    """`value` cast to `dtype`; raises where a finite value overflows it."""
    cast = _backend.cast(value, dtype)
    cast_dtype = dtype_name(cast.dtype)
    if (
        cast.dtype != value.dtype
        and is_floating(cast_dtype)
        and _backend.concrete(value)
    ):
        array = _backend.to_numpy(value)
        overflow = np.isfinite(array) & ~np.isfinite(_backend.to_numpy(cast))
        if overflow.any():
            largest = float(ml_dtypes.finfo(cast_dtype).max)
            raise ValueError(
                f"`{name}` holds values past the largest {cast_dtype}, "
                f"{largest:,.0f}, the layer's compute dtype. Use "
                '`scaling="mean"` (a scaled layer reads its series in float32), '
                "standardize the values first, or use a float32 policy. "
                f"Received: {name} with values up to "
                f"{float(np.nanmax(np.abs(array))):,.0f}."
            )
    return cast


def real_numbers(dtype, name, what="real numbers (floats or integers)"):
    """Raises `TypeError` unless `dtype` holds real numbers (not bool)."""
    dtype = dtype_name(dtype)
    if dtype == "bool" or not (is_floating(dtype) or is_integer(dtype)):
        raise TypeError(f"`{name}` must hold {what}. Received: {name}.dtype={dtype}.")


def seed_features(value, input_shape):
    """Raises unless the seed's feature axes match the built `input_shape`."""
    if tuple(value.shape[2:]) != tuple(input_shape[2:]):
        raise ValueError(
            "`seed` must have the feature size the layer was built for, "
            f"{tuple(input_shape[2:])}. Received: seed.shape={tuple(value.shape)}."
        )


def seed_mask(value, seed):
    """Returns the seed mask as a boolean tensor, None for None, or raises."""
    if value is None:
        return None
    value = as_tensor(value, "seed_mask")
    if dtype_name(value.dtype) != "bool":
        raise TypeError(
            "`seed_mask` must be boolean, True where a seed step is real. "
            f"Received: seed_mask.dtype={dtype_name(value.dtype)}."
        )
    if tuple(value.shape) != tuple(seed.shape[:2]):
        raise ValueError(
            "`seed_mask` must have shape (batch, seed_time) = "
            f"{tuple(seed.shape[:2])}, the seed's first two axes. "
            f"Received: seed_mask.shape={tuple(value.shape)}."
        )
    if _backend.concrete(value):
        empty = np.flatnonzero(~np.any(_backend.to_numpy(value), axis=1))
        if empty.size:
            raise ValueError(
                "Every row of `seed_mask` needs at least one valid (True) step "
                f"to continue from. Received: rows {empty.tolist()} with none."
            )
    return value


def initial_state(value, specs, batch_size):
    """Returns `value` as a flat list cast like `specs`, None for None, or raises.

    Args:
        value: the argument: None or a flat list of state tensors.
        specs: specs of the flat state (with `shape` and `dtype`), batch size
            unknown.
        batch_size: the seed's batch size.
    """
    if value is None:
        return None
    flat = keras.tree.flatten(value)
    expected = [(batch_size, *s.shape[1:]) for s in specs]
    received = [tuple(getattr(t, "shape", ())) for t in flat]
    if received != expected:
        raise ValueError(
            "`initial_state` must be a flat list of state tensors with shapes "
            f"{expected} for this cell and batch, as `generate(..., "
            f"return_state=True)` returns. Received shapes: {received}."
        )
    return [_backend.cast(s, spec.dtype) for s, spec in zip(flat, specs, strict=True)]


def noise_scale(value, distribution):
    """Returns `noise_scale` as a Python float, None for None, or raises.

    Args:
        value: the argument.
        distribution: the layer's distribution, or None.
    """
    if value is None:
        return None
    value = positive_float(
        value,
        "noise_scale",
        " (a Python number: each value traces a function of its own)",
    )
    if distribution is None:
        raise ValueError(
            "`noise_scale` scales the spread of the draws of a distribution: it "
            "needs a layer built with a `distribution`. This layer's feedback "
            f"is no distribution's draw. Received: noise_scale={value!r}."
        )
    # Imported here: distributions imports _draws, which imports this module.
    from selffeed_keras import distributions

    if type(distribution).scale_noise is distributions.Distribution.scale_noise:
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


_COVARIATES_HELP = (
    "covariates are inputs read at every step but never predicted, shaped "
    "(batch, time, num_covariates)"
)


def covariates_shape(shape):
    """Returns the number of covariates for a build shape, None for None."""
    if shape is None:
        return None
    shape = tuple(shape)
    if len(shape) != 3 or not isinstance(shape[-1], int):
        raise ValueError(
            f"`covariates` must have shape (batch, time, num_covariates) with a "
            f"known number of covariates. Received: covariates.shape={shape}."
        )
    return int(shape[-1])


def _presence(value, num_covariates, where):
    if value is None and num_covariates is not None:
        raise ValueError(
            f"This layer was built with {num_covariates} covariates, so {where} "
            f"needs them: pass `covariates=` ({_COVARIATES_HELP}). "
            "Received: covariates=None."
        )
    if value is not None and num_covariates is None:
        raise ValueError(
            f"This layer was built without covariates, so {where} cannot read "
            "them; create and train a new layer with covariates instead. "
            f"Received: covariates of shape {tuple(getattr(value, 'shape', ()))}."
        )


def call_covariates(value, inputs, num_covariates):
    """Raises unless `value` fits a call on `inputs` of a layer built so."""
    _presence(value, num_covariates, "calling it")
    if value is None:
        return
    shape = tuple(value.shape)
    if len(shape) != 3:
        raise ValueError(
            f"`covariates` must have shape (batch, time, {num_covariates}). "
            f"Received: covariates.shape={shape}."
        )
    real_numbers(value.dtype, "covariates")
    expected = tuple(inputs.shape[:2]) + (num_covariates,)
    known = zip(expected, shape, strict=True)
    if any(e is not None and r is not None and e != r for e, r in known):
        raise ValueError(
            "`covariates` must have the inputs' batch and time sizes and the "
            f"number of covariates the layer was built with: {expected}. "
            f"Received: covariates.shape={shape}."
        )


def generate_covariates(
    value, seed, steps, num_covariates, built, dtype, where="`generate`"
):
    """Returns the covariates of `generate` (or `where`) cast to `dtype`, or raises."""
    if built:
        _presence(value, num_covariates, where)
    if value is None:
        return None
    value = as_tensor(value, "covariates")
    if _rank(value) != 3:
        raise ValueError(
            "`covariates` must have shape (batch, seed_time + steps - 1, "
            f"num_covariates). Received: covariates.shape={tuple(value.shape)}."
        )
    real_numbers(value.dtype, "covariates")
    batch, seed_time = seed.shape[0], seed.shape[1]
    if value.shape[0] != batch:
        raise ValueError(
            f"`covariates` must have the seed's batch size, {batch}. "
            f"Received: covariates.shape={tuple(value.shape)}."
        )
    if num_covariates is not None and value.shape[2] != num_covariates:
        raise ValueError(
            f"`covariates` must have the {num_covariates} covariates the layer "
            f"was built with. Received: covariates.shape={tuple(value.shape)}."
        )
    if _backend.concrete(steps) and seed_time is not None:
        length = seed_time + int(steps) - 1
        if value.shape[1] != length:
            raise ValueError(
                "`covariates` must cover every step the layer reads: the "
                f"{seed_time} seed steps, then the {int(steps) - 1} fed-back "
                f"steps (all but the last of the {int(steps)} generated "
                f"elements), {length} in all. Received: covariates.shape="
                f"{tuple(value.shape)}."
            )
    return _cast(value, dtype, "covariates")


def scaling(value, distribution):
    """Returns `scaling` if it is None, or "mean" with a distribution."""
    if value is None:
        return None
    if not (isinstance(value, str) and value == "mean"):
        raise ValueError(_message("scaling", 'None or "mean"', value))
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


def _first_position(bad):
    """The `(row, step)` of the first True of a `(batch, time, ...)` array."""
    row, step = np.argwhere(bad.reshape(bad.shape[0], bad.shape[1], -1).any(-1))[0]
    return int(row), int(step)


def _valid_steps(seed_mask, shape):
    """The positions a check reads: True but at masked seed steps."""
    valid = np.ones(shape[:2], bool)
    if seed_mask is not None:
        mask = np.asarray(seed_mask)
        valid[:, : mask.shape[1]] = mask
    return valid


def finite(value, name, seed_mask=None):
    """Raises `ValueError` for a NaN or infinity in `value`, in eager calls.

    Steps that `seed_mask` marks as padding are not read, so they are not
    checked. In a graph the values are unknown: nothing is checked.

    Args:
        value: a `(batch, time, ...)` tensor of real numbers.
        name: the argument's name, for the message.
        seed_mask: None, or a boolean `(batch, seed_time)` tensor.
    """
    if not _backend.concrete(value) or not is_floating(value.dtype):
        return
    array = _backend.to_numpy(value)
    finite = np.isfinite(array)
    if finite.all():  # the usual case: nothing to locate
        return
    bad = ~finite
    if array.ndim >= 2:
        bad &= _valid_steps(seed_mask, array.shape).reshape(
            array.shape[:2] + (1,) * (array.ndim - 2)
        )
    if bad.any():
        row, step = _first_position(bad) if array.ndim >= 2 else (None, None)
        raise ValueError(
            f"`{name}` must hold finite numbers: a NaN or an infinity would "
            "silently spread through the state to every later output. "
            f"Received: {name}[{row}, {step}] = {array[row, step].tolist()!r} "
            "(the first non-finite position, row and step). Fill missing "
            "values first, or mark missing seed steps with `seed_mask`."
        )


def token_ids(value, name, vocab_size):
    """Returns int32 token ids, checked to lie in `[0, vocab_size)`, or raises.

    Eager calls raise `ValueError` naming the first bad position. In a graph
    (a `tf.function`, an export endpoint), an assertion outside the compiled
    loop checks them: under XLA an embedding lookup would clip an id out of
    range silently. Under `jax.jit` nothing checks them.
    """
    expected = f"token ids in [0, {vocab_size}), the vocabulary"
    if _backend.concrete(value):
        array = _backend.to_numpy(value)
        bad = (array < 0) | (array >= vocab_size)
        if bad.any():
            row, step = _first_position(bad)
            raise ValueError(
                f"`{name}` must hold {expected}. Received: {name}[{row}, {step}] "
                f"= {int(array[row, step])} (the first id out of range, row and "
                "step)."
            )
        return value

    def check():
        within = ops.logical_and(ops.all(value >= 0), ops.all(value < vocab_size))
        return within, [
            f"`{name}` must hold {expected}. Received out-of-range ids in {name}."
        ]

    return _backend.checked(value, check, f"check_{name}")


def padding_rows(seed, seed_mask):
    """Raises for a token seed row that is padding only (`mask_zero=True`).

    Such a row has no step to continue from, as a `seed_mask` row without a
    True does not. Eager calls only.
    """
    if not _backend.concrete(seed):
        return
    valid = _backend.to_numpy(seed) != 0
    if seed_mask is not None:
        valid &= _backend.to_numpy(seed_mask)
    empty = np.flatnonzero(~valid.any(axis=1))
    if empty.size:
        raise ValueError(
            "Every row of `seed` needs at least one token that is not padding: "
            "the encoder's `mask_zero=True` masks the id 0, so such a row has "
            f"no step to continue from. Received: rows {empty.tolist()} of "
            "`seed` with only padding (or only masked steps)."
        )


# The default of `generate(..., max_bytes=...)`: 4 GiB.
MAX_BYTES = 4 * 2**30


def max_bytes(value):
    """Returns `max_bytes` as a Python int, None for None (no limit), or raises."""
    if value is None:
        return None
    return positive_int(value, "max_bytes", " (bytes), or None for no limit")


def generation_bytes(limit, *, rows, steps, element_bytes, row_bytes):
    """Raises `ValueError` when a call would need more than `limit` bytes.

    The estimate, in eager calls only: the outputs three times over (the
    loop's buffers, the copy that gathers them, the copy that puts the
    batch first), and each row's repeated state and covariates.

    Args:
        limit: the most bytes allowed, or None for no limit.
        rows: `batch * num_samples`, or the batch.
        steps: the `steps` tensor.
        element_bytes: bytes of one generated element of one row.
        row_bytes: bytes that each row holds besides its outputs.
    """
    if limit is None or not _backend.concrete(steps):
        return
    steps = int(steps)
    needed = rows * (3 * steps * element_bytes + row_bytes)
    if needed > limit:
        raise ValueError(
            f"This call would need about {needed / 2**30:.1f} GiB: {rows} rows "
            f"(batch times `num_samples`) of {steps} `steps`, past `max_bytes`="
            f"{limit} ({limit / 2**30:.1f} GiB). Draw the paths in batches of "
            "fewer rows or steps (with `initial_state` and `return_state` to "
            "continue), or pass a larger `max_bytes` (None for no limit)."
        )
