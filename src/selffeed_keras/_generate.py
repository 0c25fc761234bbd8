"""Generation: the traced functions that run a `Step` on its own outputs.

`Generation` holds, for one layer configuration, the `tf.function`s that
generate, one per combination of optional arguments, each traced once with
an input signature: a new `steps`, seed length or batch size reuses it. One
function runs the seed's warm-up and the free-running steps in the same
compiled loop: at step `t` the cell reads seed step `t` while `t` is inside
the seed, its own last output after, and column `t` of the covariates
throughout. Sample paths (`num_samples`) read the seed first, once per row,
in a loop of their own, then repeat the rows for the free run.

Randomness is reentrant: the seed generator's state travels in the loop's
carry and the sampler draws inside a `keras.StatelessScope` that maps the
generator's variable to it. Every call that draws runs on a stream of its
own, a `(2,)` seed state: `[random_seed, 0]` (what `SeedGenerator(random_seed)`
starts from) for a call with one. An eager call without one passes a
`reservation` instead, an int64 that `Generation.reserve` hands out on the
host (no read or write of the variable there): the traced function reads
the generator's state, adds one to its counter, and mixes the state with
the reservation into the call's stream (`stream`). Concurrent calls
therefore never share draws; the layer's generator advances by one per
call. A symbolic caller's graph draws its stream from the generator instead
(`reserve_stream`).
"""

import contextlib
import copy
import functools
import json
import threading
import warnings

import keras
import tensorflow as tf

from selffeed_keras import _beam, _loop, _step, _warm_up, samplers


def _xla_failure(error):
    """The line of a TensorFlow error saying what XLA could not compile, or None."""
    for line in error.message.splitlines():
        if "XLA" in line or "tf2xla" in line:
            return line.strip()[:300]
    return None


def stream(variable, reservation):
    """A call's stream, from the generator's `variable` and its `reservation`.

    Reads the variable and adds one to its counter (in the graph's order: the
    read first), so that the generator advances by one per call however many
    draws the call makes, and mixes the state read with `reservation` into a
    `(2,)` int64 seed state far from the generator's own, `[seed, counter]`.
    """
    state = tf.cast(variable.read_value(), tf.int64)
    with tf.control_dependencies([state]):
        variable.assign_add(tf.constant([0, 1], variable.dtype))
    mixed = tf.random.experimental.stateless_fold_in(state, reservation)
    return tf.random.stateless_uniform(
        (2,), seed=mixed, minval=0, maxval=2**31 - 1, dtype=tf.int64
    )


def sampler_key(sampler, layer_sampler):
    """What a call's `sampler` adds to its function's key: a tuple.

    Empty for the layer's own sampler, run as it is; for another sampler,
    and for any `BeamSampler` (the layer's own included: it is no per-step
    sampler), `((class, config as JSON),)`, so that equal samplers share one
    function.
    """
    sampler = layer_sampler if sampler is None else sampler
    if sampler is layer_sampler and not isinstance(sampler, samplers.BeamSampler):
        return ()
    return ((type(sampler), json.dumps(sampler.get_config(), sort_keys=True)),)


class Generation:
    """The traced generation functions of one layer configuration.

    A plain object, so that neither Keras nor TensorFlow tracks it as part of
    the layer: a SavedModel export would try to save the functions and fail.

    Args:
        step: the `_step.Step` to run.
        seed_generator: the layer's `keras.random.SeedGenerator`.
        seed_spec: `tf.TensorSpec` of the seed, `(None, None, ...)`.
        state_specs: list of `tf.TensorSpec`, the flat state, batch unknown.
        zero_state: callable `batch_size -> flat state`, the state to start
            from without `initial_state`; called inside the graph.
        num_covariates: the covariates' width, or None without covariates.
        jit_compile: True, False or "auto", as the layer's argument.
        cell_name: names the cell in messages.
    """

    def __init__(
        self, step, seed_generator, seed_spec, state_specs, zero_state,
        num_covariates, jit_compile, cell_name,
    ):  # fmt: skip
        self.step = step
        self.seed_generator = seed_generator
        self.seed_spec = seed_spec
        self.state_specs = state_specs
        self.zero_state = zero_state
        self.num_covariates = num_covariates
        self.jit_compile = jit_compile
        self.cell_name = cell_name
        self.functions = {}
        # (bytes of one element, of one row's state), for `max_bytes`.
        self.byte_sizes = None
        # The concrete function of each traced one: calling it skips the
        # binding of arguments to a signature, half the cost of a short call.
        self._concrete = {}
        self._lock = threading.Lock()
        self._reserve_lock = threading.Lock()
        self._in_flight = 0  # eager calls with a reservation, running
        self._started = 0  # reservations since none was in flight
        self._reservations = {}  # reservation -> its tensor, the first ones

    def reserve_stream(self):
        """A random stream of its own for one call: a `(2,)` int64 seed state.

        In a graph (a symbolic caller), one draw of the layer's generator in
        that graph. Eager calls never get here: they pass a `reservation`
        (see `reserve`) and the traced function derives the stream itself.
        """
        stream = keras.random.randint(
            (2,), 0, 2**31 - 1, dtype="int32", seed=self.seed_generator
        )
        return tf.cast(stream, tf.int64)

    @contextlib.contextmanager
    def reserve(self):
        """Yields an eager call's `reservation`: an int64 scalar tensor.

        No read or write of the generator's variable here: the traced
        function reads the generator's state, adds one to its counter, and
        mixes the state it read with the reservation into the call's stream.
        Calls that overlap in time may read the same state; among them the
        reservation differs (it counts the calls started since none was in
        flight), and calls that do not overlap read different states. So no
        two calls share a stream, and a call with none in flight (the
        reservation 0) draws what the generator's state alone decides: a
        reloaded layer goes on as the original would.
        """
        with self._reserve_lock:
            if not self._in_flight:
                self._started = 0
            reservation = self._started
            self._started += 1
            self._in_flight += 1
        try:
            tensor = self._reservations.get(reservation)
            if tensor is None:
                tensor = tf.constant(reservation, tf.int64)
                if reservation < 64:
                    self._reservations[reservation] = tensor
            yield tensor
        finally:
            with self._reserve_lock:
                self._in_flight -= 1

    def __call__(self, key, args):
        """Runs the function for `key`; its first run may fall back from XLA.

        Concurrent first runs of a key wait for each other, so that a
        fallback replaces the function once.
        """
        concrete = self._concrete.get(key)
        if concrete is not None:
            return concrete(*args)
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
                if self.jit_compile is True:
                    raise ValueError(
                        "XLA could not compile the generation loop of this cell, "
                        "and `jit_compile=True` asks for it. Pass "
                        '`jit_compile="auto"` to fall back with a warning, or '
                        f"`jit_compile=False`. Received: cell={self.cell_name!r}. "
                        f"XLA said: {reason}"
                    ) from e
                warnings.warn(
                    "XLA could not compile the generation loop of cell "
                    f"{self.cell_name!r}, so `generate` runs without XLA, several "
                    "times slower per step. Pass `jit_compile=False` to the layer "
                    f"to silence this warning. XLA said: {reason}",
                    stacklevel=4,
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
        """Traces generation for `key`, the names of the optional arguments given.

        A call's own sampler ends the key as `(class, config)`.
        """
        graph = self._graph(key[-1] if key and isinstance(key[-1], tuple) else None)
        key = tuple(name for name in key if isinstance(name, str))
        specs = {
            "initial_state": self.state_specs,
            "covariates": tf.TensorSpec(
                (None, None, self.num_covariates), self.step.compute_dtype
            ),
            "seed_mask": tf.TensorSpec((None, None), tf.bool),
            "end_token": tf.TensorSpec((), tf.int32),
            "random_seed": tf.TensorSpec((2,), tf.int64),
            "reservation": tf.TensorSpec((), tf.int64),
            "num_samples": tf.TensorSpec((), tf.int32),
        }
        signature = [self.seed_spec, tf.TensorSpec((), tf.int32)]
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

    def _graph(self, sampler_key):
        """The graph for a call's sampler: the step's own, another, or a beam."""
        if sampler_key is None:
            return self.graph
        cls, config = sampler_key
        sampler = cls.from_config(json.loads(config))
        if isinstance(sampler, samplers.BeamSampler):
            return lambda *args, **kwargs: _beam.graph(
                self.step, sampler, *args, zero_state=self.zero_state, **kwargs
            )
        other = copy.copy(self)
        other.step = copy.copy(self.step)
        other.step.readout = _step.Tokens(sampler)
        return other.graph

    def graph(
        self, seed, steps, initial_state=None, covariates=None, seed_mask=None,
        end_token=None, random_seed=None, num_samples=None, reservation=None, *,
        jit_compile,
    ):  # fmt: skip
        """The generation graph: one compiled loop over the seed, then free.

        At loop step `t` the cell reads seed step `t` while `t` is inside the
        seed (a masked step keeps the row's carry), its own last element
        after, and column `t` of the covariates throughout; from the seed's
        last step on, each step draws the next element from its head output.
        With `num_samples`, the seed is read once per row first, the rows are
        repeated, and each path draws its own elements, the first included.
        """
        step, generator = self.step, self.seed_generator
        seed_time = tf.shape(seed)[1]
        mask = step.input_mask(seed, seed_mask)
        seed = tf.cast(seed, step.fed_spec[1])
        covariates = _warm_up.covariates_time_major(covariates, seed_time, steps)
        if initial_state is None:
            initial_state = self.zero_state(tf.shape(seed)[0])

        def draw(carry):
            """The next element, from the last head output; advances the seed."""
            with keras.StatelessScope(
                state_mapping=[(generator.state, carry["seed"])]
            ) as scope:
                value = step.feed(carry["outputs"], generator, carry.get("scale"))
            new = dict(carry, seed=scope.get_current_value(generator.state))
            if new["seed"] is None:  # the readout drew nothing
                new["seed"] = carry["seed"]
            if end_token is not None:
                value = tf.where(carry["done"], end_token, value)
                new["done"] = tf.logical_or(carry["done"], tf.equal(value, end_token))
            return value, dict(new, value=value)

        if num_samples is None:
            # The seed and the free run in one loop; the first draw is at the
            # seed's last step.
            carry = _warm_up.start(step, seed, mask, initial_state)
            inputs = _warm_up.seed_inputs(seed, mask, covariates)
            length, first_draw = seed_time + steps - 1, seed_time - 1
        else:
            carry = _warm_up.run(
                step, seed, mask, initial_state, covariates, jit_compile=jit_compile
            )
            carry = _warm_up.repeat(step, carry, num_samples)
            inputs = None
            if covariates is not None:
                free = covariates[seed_time:]
                inputs = {"covariates": tf.repeat(free, num_samples, 1)}
            length, first_draw = steps - 1, None
        if reservation is not None:
            random_seed = stream(generator.state.value, reservation)
        if random_seed is not None:
            carry["seed"] = tf.cast(random_seed, generator.state.dtype)
        else:
            carry["seed"] = tf.identity(generator.state.value)
        batch = tf.shape(carry["outputs"])[:1]
        if end_token is not None:
            carry["done"] = tf.zeros(batch, tf.bool)
        value_shape, value_dtype = step.fed_spec
        value_shape = tf.concat([batch, tf.constant(value_shape, tf.int32)], 0)
        carry["value"] = tf.zeros(value_shape, value_dtype)
        first = None
        if first_draw is None:
            first, carry = draw(carry)

        def one_step(t, inputs_t, carry):
            carry = _warm_up.read(step, t, inputs_t, carry, seed_time)
            value, drawn = draw(carry)
            if first_draw is None or (
                drawn["seed"] is carry["seed"] and end_token is None
            ):
                # A draw that changes no carry but the value (no randomness,
                # no end token) can run at the seed's steps too: the cell
                # reads the seed there, and the values are dropped.
                return value, drawn
            # Otherwise draw from the seed's last step on only, so that the
            # random stream and the finished rows start there.
            return tf.cond(
                t >= first_draw, lambda: draw(carry), lambda: (carry["value"], carry)
            )

        stop = None
        if end_token is not None:
            stop = lambda carry: tf.reduce_all(carry["done"])  # noqa: E731
        outputs, carry, count = _loop.run(
            one_step, carry, length, inputs, emitted=carry["value"], stop=stop,
            jit_compile=jit_compile,
        )  # fmt: skip
        if first is None:
            outputs, count = outputs[seed_time - 1 :], count - (seed_time - 1)
        else:
            outputs, count = tf.concat([first[None], outputs], 0), count + 1
        if end_token is not None:
            # Rows stopped early leave the tail uncomputed: fill it with end_token.
            padding = tf.fill(
                tf.concat([[steps - count], tf.shape(outputs)[1:]], 0), end_token
            )
            outputs = tf.concat([outputs, padding], 0)
        outputs = _warm_up.time_major(outputs)
        if random_seed is None:
            generator.state.assign(carry["seed"])
        state = _warm_up.final_state(step, carry)
        if num_samples is not None:
            outputs = tf.reshape(
                outputs, tf.concat([[-1, num_samples], tf.shape(outputs)[1:]], 0)
            )
        return outputs, state
