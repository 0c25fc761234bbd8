"""JAX: a `jax.lax.while_loop` over fixed-size buffers, in one `jax.jit` program.

`run` knows nothing about Keras. Its loop runs a step count given at run
time (a traced scalar), so a new `steps` needs no new program; what a JAX
program cannot have is an output whose size depends on a traced value, so
each step writes into a buffer of a fixed `capacity` and the program
returns the whole buffer with the count of steps that filled it.

`Programs` traces the generation graph once per key (the optional arguments
given) into a `jax.jit` program whose arguments are the values of the
layer's variables, mapped onto the variables by a `keras.StatelessScope`:
nothing of the weights is baked into the program, so a `fit` between calls
compiles nothing anew. The seed generator's state is an argument too, and
the program returns its new value; the call advances the generator by the
difference. The shapes that a program is compiled for:

- the batch size and `num_samples` (the loop's rows);
- `capacity`: `steps` rounded up to a power of two (at least 16): a new
  `steps` within the same power of two reuses the program, and the loop
  runs `steps`, not `capacity`;
- the seed's length, rounded up to a bucket of less than 1/4 more steps
  (4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, ...): the seed is padded on the left
  with steps that `seed_mask` marks as padding, which each row skips.
"""

import functools
import threading

import jax
import jax.numpy as jnp
import keras
import numpy as np

_MIN_CAPACITY = 16

# Generation reads the seed in a loop of its own, then runs free: both loops
# are in the one program, and the free run's steps skip the seed's per-step
# selects (the input, the seed mask over the cell state). Measured on a
# 2-core AMD EPYC, LSTMCell(32), 50-step seed, against a hand-written jitted
# `lax.scan`: 1.49x (100 steps) and 2.99x (10,000) in one loop, 1.09x and
# 1.07x in two.
SEED_IN_THE_FREE_LOOP = False


def check_time(x, expected, message):
    """`x`: on JAX the call checked its length before it padded it."""
    return x


def run(
    step, carry, length, inputs=None, *, emitted, stop=None, keep_from=None,
    capacity=None, jit_compile=True,
):  # fmt: skip
    """Runs `step` for `length` steps into buffers of `capacity` steps.

    Args:
        step: callable `(t, inputs_t, carry) -> (emitted, carry)`, as for the
            TensorFlow loop.
        carry: the initial carry.
        length: scalar int32 (traced): how many steps to run.
        inputs: None, or a nested structure of arrays of shape `(time, ...)`:
            step `t` reads slice `t` (steps past the end read the last one).
        emitted: a nested structure of arrays shaped like one step's output,
            or None for a loop that emits nothing.
        stop: None, or callable `carry -> scalar bool`, checked after each
            step: the loop exits once it holds.
        keep_from: None, or a scalar int32: the outputs of the steps before
            it are not kept (each is written where the first kept one goes,
            which overwrites it).
        capacity: int, the buffers' length: at least the number of outputs
            kept. Required with `emitted`.
        jit_compile: ignored: the program is compiled as a whole.

    Returns:
        `(outputs, carry, count)`: `outputs` like `emitted` with a leading
        axis of `capacity`, whose first `count` rows are the outputs kept
        (the steps run less `keep_from`), and the carry after the last step.
    """
    flat = [] if emitted is None else jax.tree_util.tree_leaves(emitted)
    if flat and capacity is None:
        raise ValueError("The JAX loop needs a `capacity` for its outputs.")
    buffers = [jnp.zeros((capacity, *e.shape), e.dtype) for e in flat]
    offset = 0 if keep_from is None else keep_from

    def keep_going(loop):
        t, carry, _ = loop
        going = t < length
        if stop is not None:
            going = jnp.logical_and(going, jnp.logical_not(stop(carry)))
        return going

    def advance(loop):
        t, carry, buffers = loop
        inputs_t = None
        if inputs is not None:
            inputs_t = jax.tree_util.tree_map(
                lambda x: jax.lax.dynamic_index_in_dim(
                    x, jnp.minimum(t, x.shape[0] - 1), keepdims=False
                ),
                inputs,
            )
        value, carry = step(t, inputs_t, carry)
        where = jnp.maximum(t - offset, 0)
        values = [] if emitted is None else jax.tree_util.tree_leaves(value)
        buffers = [
            jax.lax.dynamic_update_index_in_dim(b, v.astype(b.dtype), where, 0)
            for b, v in zip(buffers, values, strict=True)
        ]
        return t + 1, carry, buffers

    t, carry, buffers = jax.lax.while_loop(
        keep_going, advance, (jnp.zeros((), jnp.int32), carry, buffers)
    )
    count = jnp.maximum(t - offset, 0)
    if emitted is None:
        return None, carry, count
    outputs = jax.tree_util.tree_unflatten(
        jax.tree_util.tree_structure(emitted), buffers
    )
    return outputs, carry, count


def fill_after(outputs, count, total, value):
    """`outputs` (time first) with `value` in every row from `count` on."""
    rows = jnp.arange(outputs.shape[0]).reshape((-1,) + (1,) * (outputs.ndim - 1))
    return jnp.where(rows < count, outputs, jnp.asarray(value, outputs.dtype))


def stream(variable, reservation):
    """A call's stream, from the generator's `variable` and its `reservation`.

    Inside the program's `keras.StatelessScope`: reads the generator's state,
    adds one to its counter (the program returns the new state, which the
    call assigns), and mixes the state read with `reservation` into a `(2,)`
    seed state of its own.
    """
    state = variable.value
    variable.assign(state + jnp.asarray([0, 1], state.dtype))
    mixed = jax.random.fold_in(state.astype(jnp.uint32), reservation)
    return jax.random.bits(mixed, (2,), jnp.uint32)


def function(fn, signature, variables):
    """`fn` as a `jax.jit` program whose arguments are the `variables`' values.

    `signature` is not used: a new shape compiles the program anew.
    """
    variables = list(variables)

    def program(values, *args):
        with keras.StatelessScope(list(zip(variables, values, strict=True))):
            return fn(*args)

    jitted = jax.jit(program)
    return lambda *args: jitted([v.value for v in variables], *args)


def _capacity(steps):
    """`steps` rounded up to a power of two, at least `_MIN_CAPACITY`."""
    return max(_MIN_CAPACITY, 1 << (steps - 1).bit_length())


def _seed_bucket(time):
    """The padded length of a seed of `time` steps: under 1/4 more, from 4."""
    if time <= 4:
        return 4
    octave = 1 << (time.bit_length() - 1)
    unit = max(1, octave // 4)
    return -(-time // unit) * unit


class Programs:
    """The `jax.jit` programs of one `_generate.Generation`, one per key.

    A program takes the values of the layer's variables and of the seed
    generator's state as arguments; `traces` counts its traces per key.
    """

    def __init__(self, generation):
        self.generation = generation
        self.functions = {}
        self.traces = {}
        self._all_beams = {}  # key -> whether it returns (sequences, scores)
        self._lock = threading.Lock()
        self._generator_lock = threading.Lock()
        generator = generation.seed_generator.state
        variables = [v for v in generation.variables if v is not generator]
        self._variables = variables
        self._generator = generator

    def prepare(self, args, reservation=None):
        """The call's arguments: a reservation travels as an int32."""
        if reservation is None:
            return args
        return [*args, np.int32(reservation)]

    def random_seed(self, random_seed):
        """A call's `random_seed` as the `(2,)` uint32 state it starts from."""
        return np.asarray([int(np.asarray(random_seed)), 0], np.uint32)

    def __call__(self, key, args):
        function = self.functions.get(key)
        if function is None:
            with self._lock:
                function = self.functions.get(key)
                if function is None:
                    function = self.functions[key] = self._trace(key)
        seed, steps, *optional = args
        steps = int(steps)
        options = dict(zip(key.options, optional, strict=True))
        seed, options = _pad(seed, steps, options)
        num_samples = options.pop("num_samples", None)
        if num_samples is not None:
            num_samples = int(num_samples)
        values = [v.value for v in self._variables]
        seed_state = self._generator.value
        outputs, state, new_seed = function(
            values, seed_state, seed, steps, options,
            capacity=_capacity(steps), num_samples=num_samples,
        )  # fmt: skip
        if new_seed is not None:
            # The state advances by what this call drew, from where it is
            # now: calls that overlap in time read the same state, and each
            # counts (as on TensorFlow), so a later call never reads a state
            # that an earlier one read.
            with self._generator_lock:
                advance = new_seed - seed_state
                self._generator.assign(self._generator.value + advance)
        if outputs is None:  # an observe program: the state only
            return None, state
        if self._all_beams.get(key):
            sequences, scores = outputs
            return (_cut(sequences, steps, 2), scores), state
        return _cut(outputs, steps, 1 if num_samples is None else 2), state

    def _trace(self, key):
        generation = self.generation
        graph = generation.graph_for(key)
        variables, generator = self._variables, self._generator
        self.traces[key] = 0
        sampler = getattr(graph, "sampler", None)
        self._all_beams[key] = bool(getattr(sampler, "return_all_beams", False))

        def program(values, seed_state, seed, steps, options, capacity, num_samples):
            self.traces[key] += 1
            mapping = list(zip(variables, values, strict=True))
            mapping.append((generator, seed_state))
            with keras.StatelessScope(state_mapping=mapping) as scope:
                outputs, state = graph(
                    seed, steps, **options, num_samples=num_samples,
                    capacity=capacity, jit_compile=True,
                )  # fmt: skip
            new_seed = scope.get_current_value(generator)
            # None for a program that draws nothing: no assignment per call.
            return outputs, state, None if new_seed is seed_state else new_seed

        return jax.jit(program, static_argnames=("capacity", "num_samples"))


def _pad(seed, steps, options):
    """Pads the seed on the left to its bucket, marked in `seed_mask`.

    Covariates are padded alike on the left, and on the right to the
    program's capacity, so that their shape depends on the buckets only.
    The seed always travels with a mask (all True for a seed whose length
    is a bucket's). The padding is NumPy work on the host: an eager JAX op
    costs more than the whole program of a short call.
    """
    seed = np.asarray(seed)
    batch, time = seed.shape[:2]
    padding = _seed_bucket(time) - time
    options = dict(options)
    if padding:
        seed = _padded(seed, padding, 0)
    # Always a mask, so that every seed length of a bucket runs one program.
    mask = options.get("seed_mask")
    if mask is None:
        options["seed_mask"] = _padding_mask(batch, time, padding)
    else:
        options["seed_mask"] = _padded(np.asarray(mask, bool), padding, 0)
    covariates = options.get("covariates")
    if covariates is not None:
        right = _capacity(steps) - steps
        options["covariates"] = _padded(np.asarray(covariates), padding, right)
    if "end_token" in options:
        options["end_token"] = np.int32(options["end_token"])
    return seed, options


def _padded(x, left, right):
    """`x` with `left` and `right` zero steps on its axis 1."""
    batch, time = x.shape[:2]
    out = np.zeros((batch, left + time + right, *x.shape[2:]), x.dtype)
    out[:, left : left + time] = x
    return out


@functools.lru_cache(maxsize=64)
def _padding_mask(batch, time, padding):
    """`seed_mask` of a seed padded by `padding` steps on the left."""
    mask = np.ones((batch, padding + time), bool)
    mask[:, :padding] = False
    mask.setflags(write=False)
    return mask


def _cut(outputs, steps, axis):
    """The first `steps` of outputs whose time `axis` has the program's capacity.

    Cut on the host: an eager slice (`jax.lax.slice_in_dim`, or indexing)
    compiles a program per `steps` (35-40 ms each), and so does
    `jnp.asarray` per shape; `jax.device_put` of the NumPy cut compiles
    nothing, so a new `steps` within the program's capacity compiles
    nothing either.
    """
    if outputs.shape[axis] == steps:
        return outputs
    cut = np.asarray(outputs)[(slice(None),) * axis + (slice(0, steps),)]
    return jax.device_put(cut, outputs.sharding)


# One buffer of outputs; the history's ring is updated in place.
# Measured against peak resident memory (benchmarks/memory.py): see the
# protocol's `MEMORY_COPIES`.
MEMORY_COPIES = {"outputs": 2, "history": 1, "index": 2}


def held_steps(steps):
    return _capacity(steps)
