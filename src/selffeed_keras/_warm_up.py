"""The warm-up on a seed, shared by generation and beam search.

`run` reads the seed's steps into the state in the compiled loop, emitting
nothing: masked steps keep the state, and the carry it returns holds the
last valid step's head output and state (and, for a scaled readout, each
series' scale), from which generation draws its first element and beam
search takes its first scores. The small helpers for time-major tensors and
per-row selection live here too, below both users.
"""

import tensorflow as tf

from selffeed_keras import _loop


def time_major(x):
    """Swaps the first two axes: `(batch, time, ...)` <-> `(time, batch, ...)`."""
    return tf.transpose(x, [1, 0] + list(range(2, x.shape.rank)))


def select(keep, new, old):
    """Per row, the structure `new` where `keep` holds, else `old`."""

    def one(n, o):
        shape = tf.concat([tf.shape(keep), tf.ones([n.shape.rank - 1], tf.int32)], 0)
        return tf.where(tf.reshape(keep, shape), n, o)

    return tf.nest.map_structure(one, new, old)


def covariates_time_major(covariates, seed_time, steps):
    """Checks, in the graph, that covariates cover every step read; time first."""
    if covariates is None:
        return None
    check = tf.debugging.assert_equal(
        tf.shape(covariates)[1],
        seed_time + steps - 1,
        message="`covariates` must cover every step the layer reads: "
        "seed_time + steps - 1 (the seed's steps, then each fed-back step but "
        "the last).",
    )
    with tf.control_dependencies([check]):
        return time_major(covariates)


def run(step, seed, mask, state, covariates, *, jit_compile):
    """Reads the seed's steps; returns the carry after the last valid one.

    Args:
        step: the `_step.Step`.
        seed: `(batch, seed_time, ...)`, in the dtype of fed-back values.
        mask: None or boolean `(batch, seed_time)`, the encoder's included.
        state: the flat state to start from; for a scaled readout, its last
            tensor is each series' scale, 0 where it comes from the seed.
        covariates: None or time-major covariates, at least `seed_time` long.
        jit_compile: whether XLA compiles the loop's chunks.

    Returns:
        A dict: `outputs`, the last valid step's head output; `state`, the
        flat cell state; `scale` for a scaled readout.
    """
    batch_size, seed_time = tf.shape(seed)[0], tf.shape(seed)[1]
    carry = {
        "outputs": tf.zeros([batch_size, step.output_size], step.compute_dtype),
        "state": list(state),
    }
    if step.scaled:
        carry["state"], given_scale = carry["state"][:-1], carry["state"][-1]
        carry["scale"] = step.readout.series_scale(seed, mask, given_scale)
    inputs = {"given": time_major(seed)}
    if mask is not None:
        inputs["valid"] = time_major(mask)
    if covariates is not None:
        inputs["covariates"] = covariates[:seed_time]

    def warm_up(t, inputs_t, carry):
        x = step.encode(
            inputs_t["given"], inputs_t.get("covariates"), carry.get("scale")
        )
        outputs, state = step.advance(x, carry["state"])
        new = dict(carry, outputs=outputs, state=state)
        if mask is not None:
            new = select(inputs_t["valid"], new, carry)
        return None, new

    _, carry, _ = _loop.run(
        warm_up, carry, seed_time, inputs, emitted=None, jit_compile=jit_compile
    )
    return carry
