"""Reading a seed, shared by generation and beam search.

`read` is one step that reads a seed step (masked steps keep the carry) or,
after the seed, the element drawn at the step before: generation runs it
over the seed and on in one compiled loop. `run` reads only the seed's
steps, emitting nothing; the carry it returns holds the last valid step's
head output and state (and, for a scaled readout, each series' scale), from
which beam search takes its first scores and sample paths their first
draws. The small helpers for time-major tensors and per-row selection live
here too, below both users.
"""

from keras import ops, tree

from selffeed_keras import _backend


def time_major(x):
    """Swaps the first two axes: `(batch, time, ...)` <-> `(time, batch, ...)`."""
    return ops.transpose(x, [1, 0] + list(range(2, len(x.shape))))


def select(keep, new, old):
    """Per row, the structure `new` where `keep` holds, else `old`."""

    def one(n, o):
        return ops.where(ops.reshape(keep, (-1,) + (1,) * (len(n.shape) - 1)), n, o)

    return tree.map_structure(one, new, old)


def covariates_time_major(covariates, seed_time, steps):
    """Checks, in the graph, that covariates cover every step read; time first.

    (On a backend whose programs take covariates padded to a fixed length,
    the call checked them before.)
    """
    if covariates is None:
        return None
    covariates = _backend.check_time(
        covariates,
        seed_time + steps - 1,
        "`covariates` must cover every step the layer reads: "
        "seed_time + steps - 1 (the seed's steps, then each fed-back step but "
        "the last).",
    )
    return time_major(covariates)


def start(step, seed, mask, state, scale=None):
    """The carry before the seed's first step.

    A dict: `outputs`, zeros of the head's output; `state`, the flat cell
    state; `history`, the step's history in its loop form (empty without
    lags); for a scaled readout, `scale`: the `scale` given (`observe`'s),
    else each series' scale from the seed (or the one a continued call
    carries: the last tensor of `state`).
    """
    cell_state, history, given_scale = step.split_state(state)
    carry = {
        "outputs": ops.zeros(
            (ops.shape(seed)[0], step.output_size), step.compute_dtype
        ),
        "state": cell_state,
        "history": step.history.ring(history),
    }
    if step.scaled:
        if scale is None:
            scale = step.scaler.compute(seed, mask, given_scale)
        carry["scale"] = scale
    return carry


def final_state(step, carry):
    """The flat state of a carry: cell states, then history, then the scale."""
    scale = [carry["scale"]] if step.scaled else []
    return list(carry["state"]) + step.history.state(carry["history"]) + scale


def repeat(step, carry, repeats):
    """Each row of the carry `repeats` times, a row's copies side by side."""
    history = carry["history"]
    carry = {k: v for k, v in carry.items() if k != "history"}
    carry = tree.map_structure(lambda x: ops.repeat(x, repeats, axis=0), carry)
    return dict(carry, history=step.history.repeat(history, repeats))


def seed_inputs(seed, mask, covariates, gaps=None):
    """The per-step inputs of the seed's steps, time first, for `_backend.run`."""
    inputs = {"given": time_major(seed)}
    if mask is not None:
        inputs["valid"] = time_major(mask)
    if gaps is not None:
        inputs["gap"] = time_major(gaps)
    if covariates is not None:
        inputs["covariates"] = covariates
    return inputs


def read(step, t, inputs_t, carry, seed_time):
    """One step: the cell reads seed step `t`, or its own last element after.

    While `t < seed_time` the cell reads `inputs_t["given"]`, and a row whose
    `inputs_t["valid"]` is False keeps its carry; after the seed it reads
    `carry["value"]`, the element drawn at the step before. A carry without
    `value` reads the seed only. Covariates are read at every step. A row
    whose `inputs_t["gap"]` is True (`observe`: a missing value) reads its
    last element again, and its step counts.

    Returns:
        The carry with the new head `outputs`, `state` and `history`.
    """
    inputs_t = inputs_t or {}
    value, in_seed = carry.get("value"), t < seed_time
    if value is None:
        value = inputs_t["given"]
    elif "given" in inputs_t:
        # A cond, not a `where`: XLA on a CPU fused the select into the
        # cell and ran an LSTMCell(32) at batch 64 at 2.6x the time per step.
        own = value
        value = ops.cond(in_seed, lambda: inputs_t["given"], lambda: own)
    valid = None
    if "valid" in inputs_t:
        valid = ops.logical_or(inputs_t["valid"], ops.logical_not(in_seed))
    x, history = step.read(
        value, inputs_t.get("covariates"), carry.get("scale"), carry["history"],
        valid, inputs_t.get("gap"),
    )  # fmt: skip
    outputs, state = step.advance(x, carry["state"])
    new = {"outputs": outputs, "state": state}
    if valid is not None:
        old = {"outputs": carry["outputs"], "state": carry["state"]}
        new = select(valid, new, old)
    return dict(carry, history=history, **new)


def run(step, seed, mask, state, covariates, *, jit_compile, scale=None, gaps=None):
    """Reads the seed's steps; returns the carry after the last valid one.

    Args:
        step: the `_step.Step`.
        seed: `(batch, seed_time, ...)`, in the dtype of fed-back values.
        mask: None or boolean `(batch, seed_time)`, the encoder's included.
        state: the flat state to start from: the cell's states, the history
            (with lags), and for a scaled readout each series' scale, 0
            where it comes from the seed.
        covariates: None or time-major covariates, at least `seed_time` long.
        jit_compile: whether XLA compiles the loop's chunks.
        scale: None, or (for a scaled readout) the scale to read with, in
            place of the seed's (`observe`'s policy).
        gaps: None, or boolean `(batch, seed_time)` (with lags): steps whose
            value is missing, which read the row's last element again.

    Returns:
        A dict: `outputs`, the last valid step's head output; `state`, the
        flat cell state; `history`, in its loop form; `scale` for a scaled
        readout.
    """
    seed_time = ops.shape(seed)[1]
    if covariates is not None:
        covariates = covariates[:seed_time]

    def warm_up(t, inputs_t, carry):
        return None, read(step, t, inputs_t, carry, seed_time)

    _, carry, _ = _backend.run(
        warm_up,
        start(step, seed, mask, state, scale),
        seed_time,
        seed_inputs(seed, mask, covariates, gaps),
        emitted=None,
        jit_compile=jit_compile,
    )
    return carry
