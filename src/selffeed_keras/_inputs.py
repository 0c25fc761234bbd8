"""Checks of the tensors a call reads: seeds, masks, states, covariates.

Their shapes, dtypes and values (finite numbers, token ids in the
vocabulary), and the memory a generation would take. Eager calls raise
`ValueError` or `TypeError` naming the argument, what was expected and what
was received, before any graph exists; in a graph, token ids are asserted
outside the compiled loop. The scalar arguments are `_checks`'.
"""

import keras
import ml_dtypes
import numpy as np
from keras import ops

from selffeed_keras import _backend
from selffeed_keras._checks import (
    dtype_name,
    is_floating,
    is_integer,
    rank_of,
)


def not_traced(method):
    """Raises `TypeError` when a caller's `jax.jit` (or vmap, grad) traces `method`.

    `generate`, `score` and `history_state` check their arguments in Python
    and run programs of their own, which a caller's trace cannot hold.
    """
    if _backend.traced():
        raise TypeError(
            f"`{method}` runs its own compiled program and checks its arguments "
            "in Python, so it cannot be traced by the caller: call it outside "
            "`jax.jit`, `jax.vmap` or `jax.grad`, with concrete arrays (it is "
            "compiled already). Received: a call inside a JAX trace."
        )


def as_tensor(value, name, ids=False):
    """Converts array-likes to a tensor, naming the argument when that fails.

    With `ids`, integer token ids of any width are checked to fit int32, the
    dtype the layer reads them in, before anything converts them: JAX (without
    x64) and a cast would wrap 2**32 + 1 to 1.
    """
    if _backend.is_tensor(value):
        if ids:
            value = _fit_int32(value, name)
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
    if ids:
        _fit_int32(array, name)
    return _backend.constant(array)


_INT32 = np.iinfo(np.int32)


def _fit_int32(value, name):
    """`value`, checked to hold no integer that int32 cannot hold.

    Eagerly for NumPy arrays and concrete tensors (naming the first bad
    position); in a TensorFlow graph by an assertion. Other dtypes pass: the
    caller refuses them.
    """
    dtype = dtype_name(value.dtype)
    if not is_integer(dtype) or np.can_cast(dtype, "int32"):
        return value
    message = (
        f"`{name}` must hold token ids in [0, 2**31 - 1] (the layer reads "
        "them as int32), within the vocabulary."
    )
    if isinstance(value, np.ndarray) or _backend.concrete(value):
        array = value if isinstance(value, np.ndarray) else _backend.to_numpy(value)
        bad = (array > _INT32.max) | (array < _INT32.min)
        if bad.any():
            position = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{message} Received: {name}{list(position)} = "
                f"{int(array[position])} (the first id out of range)."
            )
        return value

    def check():
        within = ops.logical_and(
            ops.all(value <= _INT32.max), ops.all(value >= _INT32.min)
        )
        return within, [f"{message} Received ids past int32 in {name}."]

    return _backend.checked(value, check, f"check_{name}_width")


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


def seed(value, token_model, dtype, name="seed"):
    """Returns the seed (or the argument `name` read like one) as a tensor of
    `dtype`, int32 ids for token models, or raises."""
    value = as_tensor(value, name, ids=token_model)
    rank = 2 if token_model else 3
    if rank_of(value) != rank:
        raise ValueError(rank_message(name, tuple(value.shape), token_model))
    if value.shape[0] == 0 or value.shape[1] == 0:
        raise ValueError(
            f"`{name}` must hold at least one row and one time step. "
            f"Received: {name}.shape={tuple(value.shape)}."
        )
    if token_model:
        if not is_integer(value.dtype):
            raise TypeError(
                f"`{name}` must hold integer token ids, since the layer has a "
                f"sampler. Received: {name}.dtype={dtype_name(value.dtype)}."
            )
        return _backend.cast(value, "int32")
    real_numbers(
        value.dtype, name, "real numbers (floats), since the layer has no sampler"
    )
    return _cast(value, dtype, name)


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


def seed_features(value, input_shape, name="seed"):
    """Raises unless the feature axes of `value` match the built `input_shape`."""
    if tuple(value.shape[2:]) != tuple(input_shape[2:]):
        raise ValueError(
            f"`{name}` must have the feature size the layer was built for, "
            f"{tuple(input_shape[2:])}. Received: {name}.shape={tuple(value.shape)}."
        )


def seed_mask(value, seed, name="seed_mask", of="seed", empty_rows=False):
    """Returns the mask `name` of the argument `of` as a boolean tensor, None
    for None, or raises. A seed mask needs a valid step in every row, and so
    does a context mask (`of="context"`, the seed a call will read); a
    history mask (`of="history"`) does not: a row may have no history, and
    with `empty_rows` (`observe`'s mask) a row may read nothing."""
    if value is None:
        return None
    value = as_tensor(value, name)
    if dtype_name(value.dtype) != "bool":
        raise TypeError(
            f"`{name}` must be boolean, True where a step of `{of}` is real. "
            f"Received: {name}.dtype={dtype_name(value.dtype)}."
        )
    if tuple(value.shape) != tuple(seed.shape[:2]):
        raise ValueError(
            f"`{name}` must have shape (batch, time) = "
            f"{tuple(seed.shape[:2])}, the first two axes of `{of}`. "
            f"Received: {name}.shape={tuple(value.shape)}."
        )
    if not empty_rows and of != "history" and _backend.concrete(value):
        empty = np.flatnonzero(~np.any(_backend.to_numpy(value), axis=1))
        if empty.size:
            raise ValueError(
                f"Every row of `{name}` needs at least one valid (True) step "
                f"to continue from. Received: rows {empty.tolist()} with none."
            )
    return value


def initial_state(value, specs, batch_size, name="initial_state"):
    """Returns `value` as a flat list cast like `specs`, None for None, or raises.

    Args:
        value: the argument: None or a flat list of state tensors.
        specs: specs of the flat state (with `shape` and `dtype`), batch size
            unknown.
        batch_size: the seed's batch size.
        name: the argument's name, for messages (`observe`'s `state`).
    """
    if value is None:
        return None
    flat = call_state(value, specs, batch_size, name)
    for index, state in enumerate(flat):
        _finite_state(state, index, name)
    return [_backend.cast(s, spec.dtype) for s, spec in zip(flat, specs, strict=True)]


def _finite_state(value, index, argument="initial_state"):
    """Raises for a bool, or a NaN or infinity, in a state tensor (eagerly)."""
    name = f"{argument}[{index}]"
    dtype = getattr(value, "dtype", None)
    if dtype is None:  # a Python list: converted by the cast that follows
        return
    real_numbers(dtype, name)
    if isinstance(value, np.ndarray):
        array = value
    elif _backend.is_tensor(value) and _backend.concrete(value):
        array = _backend.to_numpy(value)
    else:  # in a graph: unknown values
        return
    if not is_floating(array.dtype):
        return
    bad = ~np.isfinite(array)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise ValueError(
            f"`{name}` must hold finite numbers: a NaN or an infinity in the "
            "state would silently spread to every output. Received: a "
            f"non-finite value in row {row} of {name}, shape "
            f"{tuple(array.shape)}."
        )


def fits(received, expected):
    """Whether two shapes agree, an unknown size (None) agreeing with any."""
    return len(received) == len(expected) and all(
        r is None or e is None or r == e
        for r, e in zip(received, expected, strict=True)
    )


def call_inputs(inputs, input_shape, token_model):
    """Raises unless a call's `inputs` fit the shape the layer was built for.

    Sizes unknown in a graph (None) are not compared.
    """
    shape = tuple(inputs.shape)
    if len(shape) != (2 if token_model else 3):
        raise ValueError(rank_message("inputs", shape, token_model))
    if not fits(shape[2:], tuple(input_shape[2:])):
        raise ValueError(
            "`inputs` must have the feature size the layer was built for, "
            f"{tuple(input_shape[2:])}. Received: inputs.shape={shape}."
        )


def call_mask(mask, inputs):
    """Raises unless a call's `mask` is `(batch, time)` of the inputs, or None."""
    if mask is None:
        return
    shape = tuple(np.shape(mask) if not hasattr(mask, "shape") else mask.shape)
    expected = tuple(inputs.shape[:2])
    if not fits(shape, expected):
        raise ValueError(
            f"`mask` must have shape (batch, time) = {expected}, the first two "
            f"axes of `inputs`, True where a step is real. Received: "
            f"mask.shape={shape}."
        )


def call_state(value, template, batch_size, name="initial_state"):
    """Returns `initial_state` as a flat list, or raises for wrong shapes.

    The call's check, and the first of `initial_state`'s.

    Args:
        value: the argument: a flat list of state tensors.
        template: the flat state (tensors or specs) whose shapes it must
            have, batch size aside.
        batch_size: the inputs' batch size, None where unknown.
        name: the argument's name, for the message.
    """
    flat = keras.tree.flatten(value)
    expected = [(batch_size, *t.shape[1:]) for t in template]
    received = [tuple(getattr(t, "shape", ())) for t in flat]
    if len(received) != len(expected) or not all(
        fits(r, e) for r, e in zip(received, expected, strict=True)
    ):
        raise ValueError(
            f"`{name}` must be a flat list of state tensors with shapes "
            f"{expected} for this cell and batch, as a call with "
            "`return_state=True`, `generate(..., return_state=True)` or "
            f"`observe` returns. Received shapes: {received}."
        )
    return flat


_COVARIATES_HELP = (
    "covariates are inputs read at every step but never predicted, shaped "
    "(batch, time, num_covariates)"
)


def covariates_shape(shape):
    """Returns the number of covariates for a build shape, None for None."""
    if shape is None:
        return None
    shape = tuple(shape)
    if len(shape) != 3 or not isinstance(shape[-1], int) or shape[-1] < 1:
        raise ValueError(
            f"`covariates` must have shape (batch, time, num_covariates) with a "
            f"known number of covariates, at least 1 (leave them out for none). "
            f"Received: covariates.shape={shape}."
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
    if not hasattr(value, "shape"):
        raise TypeError(
            "`covariates` must be an array or a tensor of shape (batch, time, "
            f"{num_covariates}). Received: covariates of type "
            f"{type(value).__name__}."
        )
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
    value, seed, steps, num_covariates, built, dtype, where="`generate`",
    seed_name="seed",
):  # fmt: skip
    """Returns the covariates of `generate` (or `where`) cast to `dtype`, or raises.

    `steps` None is a call that only reads (`observe`, whose values are
    named `seed_name`): the covariates have one step per step it reads.
    """
    if built:
        _presence(value, num_covariates, where)
    if value is None:
        return None
    value = as_tensor(value, "covariates")
    if rank_of(value) != 3:
        raise ValueError(
            "`covariates` must have shape (batch, seed_time + steps - 1, "
            f"num_covariates). Received: covariates.shape={tuple(value.shape)}."
        )
    real_numbers(value.dtype, "covariates")
    batch, seed_time = seed.shape[0], seed.shape[1]
    if value.shape[0] != batch:
        whose = "the seed's" if seed_name == "seed" else f"the `{seed_name}`'"
        raise ValueError(
            f"`covariates` must have {whose} batch size, {batch}. "
            f"Received: covariates.shape={tuple(value.shape)}."
        )
    if num_covariates is not None and value.shape[2] != num_covariates:
        raise ValueError(
            f"`covariates` must have the {num_covariates} covariates the layer "
            f"was built with. Received: covariates.shape={tuple(value.shape)}."
        )
    if steps is None and seed_time is not None:
        if value.shape[1] != seed_time:
            raise ValueError(
                "`covariates` must have one step for each step of "
                f"`{seed_name}`, read with it: {seed_time}. Received: "
                f"covariates.shape={tuple(value.shape)}."
            )
    elif _backend.concrete(steps) and seed_time is not None:
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


def finite(value, name, seed_mask=None, mask_name="seed_mask", gaps=False):
    """Raises `ValueError` for a NaN or infinity in `value`, in eager calls.

    Steps that `seed_mask` marks as padding are not read, so they are not
    checked; with `gaps` (`observe`), a NaN is a missing value and passes.
    In a graph the values are unknown: nothing is checked.

    Args:
        value: a `(batch, time, ...)` tensor of real numbers.
        name: the argument's name, for the message.
        seed_mask: None, or a boolean `(batch, seed_time)` tensor.
        mask_name: the argument that marks missing steps of `value`, for the
            message; None for an argument without one.
    """
    if not _backend.concrete(value) or not is_floating(value.dtype):
        return
    array = _backend.to_numpy(value)
    finite = np.isfinite(array)
    if finite.all():  # the usual case: nothing to locate
        return
    bad = ~finite
    if gaps:
        bad &= ~np.isnan(array)
    if array.ndim >= 2:
        bad &= _valid_steps(seed_mask, array.shape).reshape(
            array.shape[:2] + (1,) * (array.ndim - 2)
        )
    if bad.any():
        row, step = _first_position(bad) if array.ndim >= 2 else (None, None)
        if gaps:
            raise ValueError(
                f"`{name}` must hold finite numbers, or NaN for a missing "
                "value: an infinity would silently spread through the state "
                f"to every later output. Received: {name}[{row}, {step}] = "
                f"{array[row, step].tolist()!r} (the first infinite position, "
                "row and step)."
            )
        raise ValueError(
            f"`{name}` must hold finite numbers: a NaN or an infinity would "
            "silently spread through the state to every later output. "
            f"Received: {name}[{row}, {step}] = {array[row, step].tolist()!r} "
            "(the first non-finite position, row and step). Fill missing "
            "values first"
            + (f", or mark missing steps with `{mask_name}`." if mask_name else ".")
        )


_SUPPORTS = {
    "positive": (lambda array: array > 0, "positive values (above 0)"),
    "non_negative": (lambda array: array >= 0, "non-negative values (0 or above)"),
}


def in_support(value, name, distribution, mask=None, mask_name="seed_mask", gaps=False):
    """Raises `ValueError` for values outside `distribution.support`, eagerly.

    A log-normal describes positive values and a negative binomial counts:
    a seed outside them would be read as data and scored as impossible.
    Steps that `mask` marks as padding are not read, so not checked; with
    `gaps`, neither are NaNs (missing values).
    """
    rule = _SUPPORTS.get(getattr(distribution, "support", "real"))
    if rule is None or not _backend.concrete(value):
        return
    inside, what = rule
    array = _backend.to_numpy(value)
    bad = ~inside(array) & _valid_steps(mask, array.shape).reshape(
        array.shape[:2] + (1,) * (array.ndim - 2)
    )
    if gaps:
        bad &= ~np.isnan(array)
    if bad.any():
        row, step = _first_position(bad)
        raise ValueError(
            f"`{name}` must hold {what}: the layer's "
            f"{type(distribution).__name__} describes no other. Received: "
            f"{name}[{row}, {step}] = {array[row, step].tolist()!r} (the first "
            "position outside, row and step). Use a distribution of real "
            'values (`"normal"`, `"student_t"`)'
            + (f", or mark missing steps with `{mask_name}`." if mask_name else ".")
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
