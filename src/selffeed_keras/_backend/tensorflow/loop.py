"""TensorFlow: a chunked `tf.while_loop` under XLA, in one `tf.function` per key.

`run` knows nothing about Keras. It calls `step(t, inputs_t, carry)` for
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

`Programs` traces the generation graph once per key with an input
signature (a new `steps`, seed length or batch size reuses it) and falls
back from XLA when XLA cannot compile the cell; the graph reads the layer's
variables, so a `fit` between calls needs no new trace.
"""

import functools
import threading
import warnings

import tensorflow as tf

# Steps per chunk, at most; fewer when one step's output is large, so that a
# chunk's buffer stays under _CHUNK_BYTES. Larger chunks amortize the call of
# the compiled chunk (about 60 us). Measured on 2 idle CPU cores, LSTMCell(32)
# at batch 1 over 10,000 steps, side by side: 0.76 us per step with 1,024,
# 0.68 with 4,096; 1,000 steps cost the same with either.
_MAX_CHUNK = 4096
_CHUNK_BYTES = 4 * 2**20

# Generation reads the seed and runs free in one loop, the cell reading a
# seed step or its own last element by a `tf.cond` at each step: one compiled
# chunk serves both, where a loop of its own for the seed would add a second
# chunk to compile and to call (about 35 us of a 100-step call). Measured on
# a 2-core AMD EPYC, LSTMCell(32), 50-step seed: 0.82 ms (100 steps) and
# 9.97 ms (10,000) in one loop, 0.85 and 8.52 ms in two.
SEED_IN_THE_FREE_LOOP = True


def run(
    step, carry, length, inputs=None, *, emitted, stop=None, keep_from=None,
    capacity=None, jit_compile=False,
):  # fmt: skip
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
        keep_from: None, or a scalar int32 tensor: the outputs of the
            steps before it are dropped (at least that many steps run).
        capacity: ignored here: the outputs have the length of the steps
            run (see the JAX loop, whose buffers are of a fixed size).
        jit_compile: bool. Whether XLA compiles the chunks.

    Returns:
        `(outputs, carry, count)`: `outputs` like `emitted` with a leading
        axis of `count`, the steps run (`length` unless stopped early) less
        `keep_from`, and the carry after the last step. `length` may be 0:
        nothing runs.
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
    if keep_from is not None:
        outputs, count = [o[keep_from:] for o in outputs], count - keep_from
    return tf.nest.pack_sequence_as(emitted, outputs), carry, count


def fill_after(outputs, count, total, value):
    """`outputs` (`count` steps, time first) followed by `value` up to `total`."""
    padding = tf.fill(tf.concat([[total - count], tf.shape(outputs)[1:]], 0), value)
    return tf.concat([outputs, padding], 0)


def check_time(x, expected, message):
    """`x`, once the graph has checked that its axis 1 has `expected` steps."""
    check = tf.debugging.assert_equal(tf.shape(x)[1], expected, message=message)
    with tf.control_dependencies([check]):
        return tf.identity(x)


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


# ---------------------------------------------------------------- programs


def stream(variable, reservation):
    """A call's stream, from the generator's `variable` and its `reservation`.

    Reads the variable and adds one to its counter (in the graph's order: the
    read first), so that the generator advances by one per call however many
    draws the call makes, and mixes the state read with `reservation` into a
    `(2,)` int64 seed state far from the generator's own, `[seed, counter]`.
    `variable` is the generator's `keras.Variable`.
    """
    variable = variable.value  # the tf.Variable
    state = tf.cast(variable.read_value(), tf.int64)
    with tf.control_dependencies([state]):
        variable.assign_add(tf.constant([0, 1], variable.dtype))
    mixed = tf.random.experimental.stateless_fold_in(state, reservation)
    return tf.random.stateless_uniform(
        (2,), seed=mixed, minval=0, maxval=2**31 - 1, dtype=tf.int64
    )


@tf.autograph.experimental.do_not_convert
def function(fn, signature, variables):
    """`fn` traced once with an input signature; it reads the `variables`.

    `signature` is a list of `keras.KerasTensor`s (or lists of them), batch
    and time unknown, so that new lengths and batch sizes reuse the trace.
    """
    specs = tf.nest.map_structure(_spec, signature)
    # A `partial`, so that TensorFlow counts the traces of each function on
    # their own (see `Programs._trace`).
    return tf.function(functools.partial(fn), input_signature=specs, autograph=False)


def _xla_failure(error):
    """The line of a TensorFlow error saying what XLA could not compile, or None."""
    for line in error.message.splitlines():
        if "XLA" in line or "tf2xla" in line:
            return line.strip()[:300]
    return None


# Not converted when a caller's `tf.function` runs autograph over `generate`.
@tf.autograph.experimental.do_not_convert
def _spec(tensor):
    """A `tf.TensorSpec` of a `keras.KerasTensor`'s shape and dtype."""
    return tf.TensorSpec(tensor.shape, tensor.dtype)


class Programs:
    """The `tf.function`s of one `_generate.Generation`, one per key.

    Each is traced once with an input signature, so that a new `steps`,
    seed length or batch size reuses it; its first run may fall back from
    XLA. The functions read the layer's variables: new weights need no new
    trace.
    """

    def __init__(self, generation):
        self.generation = generation
        self.jit_compile = generation.jit_compile
        self.functions = {}
        # The concrete function of each traced one: calling it skips the
        # binding of arguments to a signature, half the cost of a short call.
        self._concrete = {}
        self._lock = threading.Lock()
        self._reservations = {}  # reservation -> its tensor, the first ones

    def prepare(self, args, reservation=None):
        """The call's arguments as the functions take them."""
        if reservation is None:
            return args
        tensor = self._reservations.get(reservation)
        if tensor is None:
            tensor = tf.constant(reservation, tf.int64)
            if reservation < 64:
                self._reservations[reservation] = tensor
        return [*args, tensor]

    def random_seed(self, random_seed):
        """A call's `random_seed` as the `(2,)` int64 state it starts from."""
        if tf.executing_eagerly():
            return tf.constant([int(random_seed), 0], tf.int64)
        return tf.stack([random_seed, tf.zeros((), tf.int64)])

    def __call__(self, key, args):
        """Runs the function for `key`; its first run may fall back from XLA.

        Concurrent first runs of a key wait for each other, so that a
        fallback replaces the function once.
        """
        concrete = self._concrete.get(key)
        if concrete is not None:
            return concrete(*args)
        return self._first_call(key, args)

    # Not converted when a caller's `tf.function` runs autograph over
    # `generate`. Only here: the wrapper costs about 10 us a call, a tenth
    # of a short call's Python time, and `__call__`'s fast path above needs
    # no care from autograph.
    @tf.autograph.experimental.do_not_convert
    def _first_call(self, key, args):
        with self._lock:
            function = self.functions.get(key)
            if function is not None:
                return function(*args)
            if self.jit_compile is False:
                return self._first_run(key, args, jit_compile=False)
            try:
                return self._first_run(key, args, jit_compile=True)
            except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as e:
                self.functions.pop(key, None)
                reason = _xla_failure(e)
                if reason is None:
                    raise
                name = self.generation.cell_name
                if self.jit_compile is True:
                    raise ValueError(
                        "XLA could not compile the generation loop of this cell, "
                        "and `jit_compile=True` asks for it. Pass "
                        '`jit_compile="auto"` to fall back with a warning, or '
                        f"`jit_compile=False`. Received: cell={name!r}. "
                        f"XLA said: {reason}"
                    ) from e
                warnings.warn(
                    "XLA could not compile the generation loop of cell "
                    f"{name!r}, so `generate` runs without XLA, several "
                    "times slower per step. Pass `jit_compile=False` to the layer "
                    f"to silence this warning. XLA said: {reason}",
                    stacklevel=6,
                )
                self.jit_compile = False
                return self._first_run(key, args, jit_compile=False)

    def _first_run(self, key, args, jit_compile):
        function = self._trace(key, jit_compile)
        result = function(*args)
        self.functions[key] = function
        self._concrete[key] = function.get_concrete_function()
        return result

    def _trace(self, key, jit_compile):
        """Traces generation for a `_generate.CallKey`."""
        generation = self.generation
        graph = generation.graph_for(key)
        key = key.options
        specs = {
            "initial_state": [_spec(s) for s in generation.state_specs],
            "covariates": tf.TensorSpec(
                (None, None, generation.num_covariates), generation.step.compute_dtype
            ),
            "seed_mask": tf.TensorSpec((None, None), tf.bool),
            "end_token": tf.TensorSpec((), tf.int32),
            "random_seed": tf.TensorSpec((2,), tf.int64),
            "reservation": tf.TensorSpec((), tf.int64),
            "num_samples": tf.TensorSpec((), tf.int32),
            "noise_scale": tf.TensorSpec((), tf.float32),
        }
        signature = [_spec(generation.seed_spec), tf.TensorSpec((), tf.int32)]
        signature += [specs[name] for name in key]

        def generate(seed, steps, *optional):
            options = dict(zip(key, optional, strict=True))
            return graph(seed, steps, **options, jit_compile=jit_compile)

        # TensorFlow counts traces per Python code object, so the functions
        # of every layer (a backtest makes one per origin) would add up to a
        # false "retracing" warning. A `partial` has no code object: each
        # function is counted on its own, and each traces once.
        return tf.function(
            functools.partial(generate), input_signature=signature, autograph=False
        )


# TensorFlow's chunks keep more copies of the outputs than JAX's one buffer,
# and a step's update copies the history's ring.
# Measured against peak resident memory (benchmarks/memory.py): see the
# protocol's `MEMORY_COPIES`.
MEMORY_COPIES = {"outputs": 4, "history": 2, "index": 12}


def held_steps(steps):
    return steps
