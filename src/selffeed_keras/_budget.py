"""The memory estimate of everything a call allocates, checked before it does.

`generate(..., max_bytes=...)` refuses a call whose estimate passes the
limit, before the call makes any state, history or output. The estimate
counts, for the loop's rows (`batch`, `batch * num_samples` paths, or
`batch * num_beams` beams):

- the outputs, each step's elements (for a beam search, each step's token
  and parent, then the sequences traced back), several times over: the
  loop's buffers (on JAX, `steps` rounded up to the program's power of two),
  their gathering and the final layout;
- each row's state (the cell's states and the scale), twice: the carry
  before and after a step;
- with lags, each row's history: the ring buffer of `max(lags)` slots, the
  copy a step's update makes of it (on TensorFlow), the histories gathered
  for beams and for the returned state, and the indices that gather them;
- the head outputs of one step (logits, for token models), several times
  over: a sampler's or a beam search's scratch;
- the covariates (repeated per path) and the seed, twice.

Measured against the growth of peak resident memory in `benchmarks/memory.py`
(see the limits how-to for the ratios).

Whatever `max_bytes`, a call whose rows times `max(lags)` passes 2**31 - 1
is refused: the history is read through int32 indices.
"""

import functools
import math

import keras

from selffeed_keras import _backend, _checks

# Copies of a row's state: the carry before and after a step.
_STATE_COPIES = 2
# Copies of one step's head outputs (logits) alive at once in a sampler or a
# beam search: the outputs, their log-probabilities, the candidates, the
# ranking.
_SCRATCH_COPIES = 6
# Bytes a beam search keeps per beam and step: its token and parent (int32),
# then the beam traced back at that step.
_BEAM_STEP_BYTES = 3 * 4

# The most rows times `max(lags)`: the history is read through int32 indices.
_MAX_HISTORY_SLOTS = 2**31 - 1


@functools.lru_cache(maxsize=64)
def itemsize(dtype):
    """Bytes per element of a dtype (a name, or a TensorFlow or NumPy dtype)."""
    name = keras.backend.standardize_dtype(dtype)
    return 1 if name == "bool" else int("".join(filter(str.isdigit, name))) // 8


def _bytes(shape, dtype):
    """Bytes of a tensor of `shape` (ints) and `dtype`."""
    return math.prod(int(size) for size in shape) * itemsize(dtype)


# Per spec, computed once: every `generate` call checks its budget, and the
# dtype arithmetic below costs tens of microseconds.
@functools.lru_cache(maxsize=64)
def _row_bytes(spec, beams):
    """`(bytes of one output element, a row's bytes besides its outputs)`."""
    step, copies = spec.step, _backend.MEMORY_COPIES
    if beams:
        element = _BEAM_STEP_BYTES
    else:
        value_shape, value_dtype = step.fed_spec
        element = _bytes(value_shape, value_dtype)
    # The cell's states and the scale (the history is counted apart).
    state = sum(_bytes(s.shape[1:], s.dtype) for s in spec.state_specs)
    fixed = 0
    history = step.history
    if history.num_states:
        state -= _bytes((history.size - 1, history.width), step.compute_dtype)
        slot = copies["history"] * _bytes((history.width,), step.compute_dtype)
        fixed += history.size * (slot + copies["index"])
    fixed += _STATE_COPIES * state + _SCRATCH_COPIES * step.output_size * 4
    return element, fixed


def estimate(spec, seed, steps, *, num_samples=None, covariates=None, sampler=None):
    """The bytes that a `generate` call allocates, as the module counts them.

    Args:
        spec: the built layer's `_spec.Spec`.
        seed: the checked seed.
        steps: the number of steps, a Python int.
        num_samples: None, or the number of paths per row, a Python int.
        covariates: None, or the checked covariates.
        sampler: the sampler the call uses (its own or the layer's), or None.

    Returns:
        `(needed, rows)`: the estimate in bytes, and the loop's rows.
    """
    batch = int(seed.shape[0])
    # A search keeps `num_beams` rows per row; it draws no paths.
    beams = getattr(sampler, "search", None) is not None
    rows = batch * (getattr(sampler, "num_beams", 1) if beams else (num_samples or 1))
    element, fixed = _row_bytes(spec, beams)
    per_row = _backend.MEMORY_COPIES["outputs"] * _backend.held_steps(steps) * element
    per_row += fixed
    if covariates is not None:
        per_row += 2 * _bytes(covariates.shape[1:], covariates.dtype)
    needed = rows * per_row + 2 * _bytes(seed.shape, seed.dtype)
    return needed, rows


def check(spec, max_bytes, seed, steps, num_samples, covariates, sampler):
    """Raises `ValueError` before a call that would pass `max_bytes`.

    Eager calls only, before the call allocates anything: see the module.

    Args:
        spec: the built layer's `_spec.Spec`.
        max_bytes: the call's argument.
        seed: the checked seed.
        steps: the checked `steps`.
        num_samples: the checked `num_samples`, or None.
        covariates: the checked covariates, or None.
        sampler: the sampler the call uses (its own or the layer's), or None.
    """
    max_bytes = _checks.max_bytes(max_bytes)
    if not _backend.concrete() or not _backend.concrete(steps):
        return
    if num_samples is not None:
        if not _backend.concrete(num_samples):
            return
        num_samples = int(num_samples)
    steps = int(steps)
    needed, rows = estimate(
        spec, seed, steps, num_samples=num_samples, covariates=covariates,
        sampler=sampler,
    )  # fmt: skip
    size = getattr(spec.history, "size", 1)
    if rows * size > _MAX_HISTORY_SLOTS:
        raise ValueError(
            f"`lags` reach {size} elements back: with {rows} rows (batch times "
            "`num_samples` or `num_beams`), the history holds "
            f"{rows * size} slots, past 2**31 - 1, the most that int32 "
            "indices reach. Generate fewer rows per call, or use shorter "
            f"`lags`. Received: lags={spec.history.lags!r}."
        )
    if max_bytes is not None and needed > max_bytes:
        raise ValueError(
            f"This call would need about {needed / 2**30:.1f} GiB: {rows} rows "
            f"(batch times `num_samples` or `num_beams`) of {steps} `steps`, "
            f"past `max_bytes`={max_bytes} ({max_bytes / 2**30:.1f} GiB). "
            "Generate fewer rows or steps per call (with `initial_state` and "
            "`return_state` to continue), use shorter `lags`, or pass a larger "
            "`max_bytes` (None for no limit)."
        )
