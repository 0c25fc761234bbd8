"""The compiled loop: a step function run over a horizon given as a tensor.

Nothing here knows about Keras. `run` calls `step(t, inputs_t, carry)` for
`t = 0, 1, ...` and collects what each step emits; the carry holds whatever
the step feeds forward (its own last output, the cell state, a seed state),
and `inputs_t` is the slice at `t` of optional per-step inputs (the seed's
steps, covariates). The horizon is a tensor, so that a new length never
retraces the function that holds the loop.

The loop runs in chunks. An inner `tf.while_loop` computes up to a fixed
number of steps into a buffer of that known size; an outer `tf.while_loop`
calls it until the horizon is reached and collects the buffers. With
`jit_compile=True` only the inner chunk is compiled by XLA: none of its
shapes depends on the horizon, so a new number of steps reuses the compiled
program, where a buffer sized by the horizon would be part of the compiled
shape and recompile for every new length. A horizon that fits in one chunk
(every short call) skips the outer loop and its buffers: a `tf.cond` calls
the same compiled chunk once, and a horizon of 0 (or a `stop` that holds at
once) calls nothing.
"""

import tensorflow as tf

# Steps per chunk, at most; fewer when one step's output is large, so that a
# chunk's buffer stays under _CHUNK_BYTES. Larger chunks amortize the call of
# the compiled chunk (about 60 us). Measured on 2 idle CPU cores, LSTMCell(32)
# at batch 1 over 10,000 steps, side by side: 0.76 us per step with 1,024,
# 0.68 with 4,096; 1,000 steps cost the same with either.
_MAX_CHUNK = 4096
_CHUNK_BYTES = 4 * 2**20


def run(step, carry, length, inputs=None, *, emitted, stop=None, jit_compile=False):
    """Runs `step` for `length` steps and stacks what it emits.

    Args:
        step: callable `(t, inputs_t, carry) -> (emitted, carry)`: `t` the
            step's index (scalar int32), `inputs_t` the slice of `inputs` at
            `t` (None without inputs), `carry` a nested structure of tensors
            that keeps its structure, dtypes and shapes.
        carry: the initial carry.
        length: scalar int32 tensor, at least 1: how many steps to run.
        inputs: None, or a nested structure of tensors of shape
            `(time, ...)`, time first: read one slice per step. An input
            may be shorter than `length`: steps past its end read zeros.
        emitted: a nested structure of tensors shaped like one step's
            output (values are ignored): the buffers' dtypes and shapes.
            None for a loop that emits nothing (`step` returns None).
        stop: None, or callable `carry -> scalar bool`: the loop exits early
            once it holds (it is checked after each step).
        jit_compile: bool. Whether XLA compiles the chunks.

    Returns:
        `(outputs, carry, count)`: `outputs` like `emitted` with a leading
        axis of `count`, the steps run (`length` unless stopped early), and
        the carry after the last of them. `length` may be 0: nothing runs.
    """
    flat_emitted = [] if emitted is None else tf.nest.flatten(emitted)
    size = _chunk_size(flat_emitted)
    num_chunks = (length + size - 1) // size

    def window(j):
        """The inputs of chunk `j`, padded to whole chunks: one shape for all."""
        if inputs is None:
            return None

        def one(x):
            x = x[j * size : (j + 1) * size]
            return _pad_time(x, size - tf.shape(x)[0])

        return tf.nest.map_structure(one, inputs)

    def chunk(carry, start, count, inputs):
        return _run_chunk(step, carry, start, count, size, inputs, emitted, stop)

    # One function, traced once, whichever branch below calls it.
    chunk = tf.function(chunk, jit_compile=bool(jit_compile), autograph=False)

    def gathered(values, count):
        return [
            tf.reshape(v, tf.concat([[-1], tf.shape(e)], 0))[:count]
            for v, e in zip(values, flat_emitted, strict=True)
        ]

    def one_chunk():
        values, new, computed = chunk(carry, tf.constant(0), length, window(0))
        return gathered([v[None] for v in values], computed), new, computed

    def many_chunks():
        buffers = [
            tf.TensorArray(e.dtype, size=num_chunks, element_shape=(None, *e.shape))
            for e in flat_emitted
        ]

        def keep_going(j, count, carry, buffers):
            if stop is None:
                return count < length
            return tf.logical_and(count < length, tf.logical_not(stop(carry)))

        def body(j, count, carry, buffers):
            values, carry, computed = chunk(
                carry, count, tf.minimum(size, length - count), window(j)
            )
            buffers = [b.write(j, v) for b, v in zip(buffers, values, strict=True)]
            return j + 1, count + computed, carry, buffers

        j, count, new, buffers = tf.while_loop(
            keep_going,
            body,
            (tf.constant(0), tf.constant(0), carry, buffers),
            maximum_iterations=num_chunks,
        )
        # At least one chunk ran: `stop` did not hold at once (see below).
        values = [b.gather(tf.range(j)) for b in buffers]
        return gathered(values, count), new, count

    def no_step():
        def empty(e):
            return tf.zeros(tf.concat([[0], tf.shape(e)], 0), e.dtype)

        return [empty(e) for e in flat_emitted], carry, tf.constant(0)

    # Without XLA a chunk that runs no step cannot stack its empty buffers
    # (their batch size is unknown), and a TensorArray that no chunk wrote
    # cannot be gathered: so nothing is called then.
    nothing_to_do = length <= 0
    if stop is not None:
        nothing_to_do = tf.logical_or(nothing_to_do, stop(carry))
    outputs, carry, count = tf.cond(
        nothing_to_do,
        no_step,
        lambda: tf.cond(length <= size, one_chunk, many_chunks),
    )
    if emitted is None:
        return None, carry, count
    return tf.nest.pack_sequence_as(emitted, outputs), carry, count


def _pad_time(x, padding):
    paddings = tf.concat([[[0, padding]], tf.zeros((x.shape.rank - 1, 2), tf.int32)], 0)
    return tf.pad(x, paddings)


def _chunk_size(flat_emitted):
    """Steps per chunk: at most _MAX_CHUNK, buffers under _CHUNK_BYTES."""
    step_bytes = tf.add_n(
        [tf.constant(0)] + [tf.size(e) * e.dtype.size for e in flat_emitted]
    )
    size = tf.minimum(_MAX_CHUNK, _CHUNK_BYTES // tf.maximum(step_bytes, 1))
    return tf.maximum(1, size)


def _run_chunk(step, carry, start, count, size, inputs, emitted, stop):
    """Runs `count` steps from index `start`, or fewer once `stop` holds.

    Returns `(values, carry, computed)`: flat `values` of shape
    `(size, ...)` whose first `computed` elements are the new ones.
    """
    buffers = [
        tf.TensorArray(e.dtype, size=size, element_shape=e.shape)
        for e in ([] if emitted is None else tf.nest.flatten(emitted))
    ]

    def advance(i, carry, buffers):
        inputs_t = None
        if inputs is not None:
            inputs_t = tf.nest.map_structure(lambda x: x[i], inputs)
        value, carry = step(start + i, inputs_t, carry)
        values = [] if emitted is None else tf.nest.flatten(value)
        buffers = [b.write(i, v) for b, v in zip(buffers, values, strict=True)]
        return i + 1, carry, buffers

    def while_room_for(n):
        def keep_going(i, carry, buffers):
            if stop is None:
                return i + n <= count
            return tf.logical_and(i + n <= count, tf.logical_not(stop(carry)))

        return keep_going

    def twice(*loop):
        return advance(*advance(*loop))

    loop = (tf.constant(0), carry, buffers)
    if stop is None:
        # Two steps per iteration. Measured on 2 CPU cores, LSTMCell(32) at
        # batch 1 over 10,000 steps: 0.85 us per step rolled, 0.64 unrolled
        # twice, 0.62 four times; the first call grew by about 0.15 s for two
        # and 0.35 s for four. With a stop condition it is checked per step.
        loop = tf.while_loop(
            while_room_for(2), twice, loop, maximum_iterations=size // 2
        )
    # The remaining step, or every step when the stop is checked per step.
    computed, carry, buffers = tf.while_loop(
        while_room_for(1), advance, loop, maximum_iterations=size
    )
    return [b.stack() for b in buffers], carry, computed
