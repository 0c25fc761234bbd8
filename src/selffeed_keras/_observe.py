"""Observing: values read into a state, teacher-forced, as `generate` reads a seed.

`graph` is the program that `_generate.Generation` traces for an observe
call (a `CallKey` with `observe=True`), by the same backend machinery as
generation's: on TensorFlow a `tf.function` with an input signature (a new
number of values or rows traces nothing), on JAX a `jax.jit` program per
bucket of lengths (the values padded on the left with masked steps), on
torch the graph run eagerly. It reads the values with `_warm_up.run`, the
code that reads `generate`'s seed, and returns the state after them.

Two things differ from a seed:

- a gap (a NaN at a step that is not masked) still counts as a step: the
  row reads its last element again (`_step.Step.read`), so that lags keep
  counting the series' time; a masked step is not read at all;
- with `scaling="mean"`, a row's scale is set once, by the first call that
  reads a value of the row (`_scaling.MeanScaler.first_values`), and then
  carried; 0 in a state means "not set yet".
"""

from keras import ops

from selffeed_keras import _warm_up


def graph(
    step, zero_state, seed, initial_state=None, covariates=None, seed_mask=None,
    *, jit_compile,
):  # fmt: skip
    """The state after reading `seed` (`observe`'s values) from `initial_state`.

    Args:
        step: the `_step.Step`.
        zero_state: callable `batch -> flat state`, for a call without one.
        seed: `(batch, time, ...)` values (NaN at gaps, with lags) or ids.
        initial_state: None, or the flat state to start from.
        covariates: None, or `(batch, time, num_covariates)`.
        seed_mask: None, or boolean `(batch, time)`: steps to read.
        jit_compile: whether XLA compiles the loop's chunks (TensorFlow).

    Returns:
        The flat state: the cell's states, the history (with lags), the
        scale (with `scaling="mean"`: 0 for a row that has read no value).
    """
    seed_time = ops.shape(seed)[1]
    mask = step.input_mask(seed, seed_mask)
    if initial_state is None:
        initial_state = zero_state(ops.shape(seed)[0])
    value_dtype = step.fed_spec[1]
    gaps = real = None
    if step.history.num_states and value_dtype != "int32":
        missing = ops.isnan(seed)
        gaps = ops.any(missing, axis=-1)
        seed = ops.where(missing, ops.zeros_like(seed), seed)
        real = ops.logical_not(gaps)
        if mask is not None:
            real = ops.logical_and(mask, real)
    elif mask is not None:
        real = mask
    seed = ops.cast(seed, value_dtype)
    scale = loop_scale = None
    if step.scaled:
        _, _, given = step.split_state(initial_state)
        scale = step.scaler.first_values(seed, real, given)
        # A row without a scale reads no value here: any scale will do.
        loop_scale = ops.where(scale > 0, scale, ops.ones_like(scale))
    covariates = _warm_up.covariates_time_major(covariates, seed_time, 1)
    carry = _warm_up.run(
        step, seed, mask, initial_state, covariates, jit_compile=jit_compile,
        scale=loop_scale, gaps=gaps,
    )  # fmt: skip
    if scale is not None:
        carry = dict(carry, scale=scale)
    return _warm_up.final_state(step, carry)
