"""Generation: the traced functions that run a `Step` on its own outputs.

`Generation` holds, for one layer configuration, the programs that generate,
one per combination of optional arguments, each traced once by the backend's
`_backend.Programs` (a `tf.function` with an input signature, a `jax.jit`
program whose arguments are the variables' values, or on torch the graph
run eagerly). The graph here is
`keras.ops` and knows no backend. One program runs the seed's warm-up and
the free-running steps in the same compiled loop: at step `t` the cell reads
seed step `t` while `t` is inside the seed, its own last output after, and
column `t` of the covariates throughout. Sample paths (`num_samples`) read
the seed first, once per row, in a loop of their own, then repeat the rows
for the free run.

Randomness is reentrant: the seed generator's state travels in the loop's
carry and the sampler draws inside a `keras.StatelessScope` that maps the
generator's variable to it. Every call that draws runs on a stream of its
own, a `(2,)` seed state: `[random_seed, 0]` (what `SeedGenerator(random_seed)`
starts from) for a call with one. An eager call without one passes a
`reservation` instead, an int that `Generation.reserve` hands out on the
host (no read or write of the variable there): the traced function reads
the generator's state, adds one to its counter, and mixes the state with
the reservation into the call's stream (`_backend.stream`). Concurrent calls
therefore never share draws; the layer's generator advances by one per
call. A symbolic caller's graph draws its stream from the generator instead
(`reserve_stream`).
"""

import contextlib
import copy
import dataclasses
import json
import threading

import keras
from keras import ops

from selffeed_keras import _backend, _observe, _step, _warm_up


def sampler_key(sampler, layer_sampler):
    """What a call's `sampler` adds to its program's key.

    None for the layer's own per-step sampler, run as it is; for another
    sampler, and for any search (the layer's own included: a search replaces
    the step-by-step loop), `(class, config as JSON)`, so that equal
    samplers share one program.
    """
    sampler = layer_sampler if sampler is None else sampler
    if sampler is layer_sampler and getattr(sampler, "search", None) is None:
        return None
    return (type(sampler), json.dumps(sampler.get_config(), sort_keys=True))


@dataclasses.dataclass(frozen=True)
class CallKey:
    """What a traced generation program is made for.

    Attributes:
        options: the names of the optional arguments the program takes, in
            the order of its arguments after the seed and `steps` (those of
            `Generation.graph`, and `"reservation"` last for a call that
            reserved a stream).
        sampler: None for the step's own readout, else `sampler_key`'s
            `(class, config as JSON)` of the call's sampler or search.
        observe: whether the program reads values and generates nothing
            (`observe`: `Generation.observe_graph`).
    """

    options: tuple = ()
    sampler: tuple | None = None
    observe: bool = False

    @classmethod
    def of(cls, options, reserve, sampler, layer_sampler):
        """The key of a call with these `options` (a dict, None for absent)."""
        names = tuple(name for name, value in options.items() if value is not None)
        names += ("reservation",) * reserve
        return cls(names, sampler_key(sampler, layer_sampler))

    @classmethod
    def observing(cls, options):
        """The key of an `observe` call with these `options` (None for absent)."""
        return cls(tuple(n for n, v in options.items() if v is not None), observe=True)


class Generation:
    """The traced generation functions of one layer configuration.

    A plain object, so that neither Keras nor TensorFlow tracks it as part of
    the layer: a SavedModel export would try to save the functions and fail.

    Args:
        spec: the layer's `_spec.Spec`: the step to run, the state layout.
        seed_generator: the layer's `keras.random.SeedGenerator`.
        jit_compile: True, False or "auto", as the layer's argument.
        cell_name: names the cell in messages.
        variables: the layer's variables, which a backend whose programs
            take them as arguments (JAX) passes in.
    """

    def __init__(self, spec, seed_generator, jit_compile, cell_name, variables=()):
        self.spec = spec
        self.step = spec.step
        self.seed_generator = seed_generator
        self.seed_spec = spec.seed_spec
        self.state_specs = spec.state_specs
        self.zero_state = spec.flat_state
        self.num_covariates = spec.num_covariates
        self.jit_compile = jit_compile
        self.cell_name = cell_name
        self.variables = list(variables)
        self.programs = _backend.Programs(self)
        self._reserve_lock = threading.Lock()
        self._in_flight = 0  # eager calls with a reservation, running
        self._started = 0  # reservations since none was in flight

    @property
    def functions(self):
        """The traced programs by key, as the backend keeps them."""
        return self.programs.functions

    def reserve_stream(self):
        """A random stream of its own for one call: a `(2,)` int64 seed state.

        In a graph (a symbolic caller), one draw of the layer's generator in
        that graph. Eager calls never get here: they pass a `reservation`
        (see `reserve`) and the traced function derives the stream itself.
        """
        stream = keras.random.randint(
            (2,), 0, 2**31 - 1, dtype="int32", seed=self.seed_generator
        )
        return ops.cast(stream, "int64")

    @contextlib.contextmanager
    def reserve(self):
        """Yields an eager call's `reservation`: an int from 0.

        No read or write of the generator's variable here: the traced
        function reads the generator's state, adds one to its counter, and
        mixes the state it read with the reservation into the call's stream
        (`_backend.stream`). Calls that overlap in time may read the same
        state; among them the reservation differs (it counts the calls
        started since none was in flight), and calls that do not overlap
        read different states. So no two calls share a stream, and a call
        with none in flight (the reservation 0) draws what the generator's
        state alone decides: a reloaded layer goes on as the original would.
        """
        with self._reserve_lock:
            if not self._in_flight:
                self._started = 0
            reservation = self._started
            self._started += 1
            self._in_flight += 1
        try:
            yield reservation
        finally:
            with self._reserve_lock:
                self._in_flight -= 1

    def __call__(self, key, args, reservation=None):
        """Runs the program for `key` (traced on its first call) on `args`.

        `args` are the seed, `steps` and the optional arguments named in
        `key`, then `reservation` (an int) for a call that reserved a stream.
        """
        return self.programs(key, self.programs.prepare(args, reservation))

    def graph_for(self, key):
        """The graph for a `CallKey`: the step's own, another sampler, a search.

        A search (beam search) replaces the step-by-step loop: its graph is
        the sampler's `search`, run on the same step. An observe key's is
        `observe_graph`.
        """
        if key.observe:
            return self.observe_graph
        if key.sampler is None:
            return self.graph
        cls, config = key.sampler
        sampler = cls.from_config(json.loads(config))
        if sampler.search is not None:

            def search_graph(*args, **kwargs):
                kwargs.pop("num_samples", None)  # refused before: no paths
                kwargs.pop("noise_scale", None)  # refused before: no draws
                return sampler.search(
                    self.step, *args, zero_state=self.zero_state, **kwargs
                )

            search_graph.sampler = sampler
            return search_graph
        other = copy.copy(self)
        other.step = copy.copy(self.step)
        other.step.readout = _step.Tokens(sampler)
        return other.graph

    def observe_graph(
        self, seed, steps, initial_state=None, covariates=None, seed_mask=None,
        *, jit_compile, capacity=None, num_samples=None,
    ):  # fmt: skip
        """`observe`'s graph: `(None, the state after reading seed)`.

        It takes generation's arguments, so that each backend's programs
        trace and run it as they do generation's (on JAX, padded to the
        seed's bucket): `steps` (1) and the loop's `capacity` are not used.
        """
        del steps, capacity, num_samples
        state = _observe.graph(
            self.step, self.zero_state, seed, initial_state, covariates,
            seed_mask, jit_compile=jit_compile,
        )  # fmt: skip
        return None, state

    def graph(
        self, seed, steps, initial_state=None, covariates=None, seed_mask=None,
        end_token=None, random_seed=None, num_samples=None, noise_scale=None,
        reservation=None, *, jit_compile, capacity=None,
    ):  # fmt: skip
        """The generation graph: the seed, then the free run, compiled.

        Where `_backend.SEED_IN_THE_FREE_LOOP` (TensorFlow), one loop: at loop
        step `t` the cell reads seed step `t` while `t` is inside the seed (a
        masked step keeps the row's carry), its own last element after, and
        column `t` of the covariates throughout; from the seed's last step
        on, each step draws the next element from its head output. Elsewhere
        the seed is read in a loop of its own, the first element drawn after
        it, and the free run reads its own elements only; the draws are the
        same. With `num_samples`, the seed is read once per row first, the
        rows are repeated, and each path draws its own elements, the first
        included.
        `capacity` is None, or (on backends whose buffers have a fixed size)
        the number of steps the outputs hold, at least `steps`. A
        `noise_scale` (a float32 scalar, an argument of the program: one
        trace serves every value) multiplies the spread of every draw.
        """
        step, generator = self.step, self.seed_generator
        if noise_scale is not None:
            step = copy.copy(step)
            step.readout = copy.copy(step.readout)
            step.readout.noise_scale = ops.cast(noise_scale, "float32")
        seed_time = ops.shape(seed)[1]
        mask = step.input_mask(seed, seed_mask)
        seed = ops.cast(seed, step.fed_spec[1])
        covariates = _warm_up.covariates_time_major(covariates, seed_time, steps)
        if initial_state is None:
            initial_state = self.zero_state(ops.shape(seed)[0])

        drew = []  # True once a traced draw advanced the seed state

        def draw(carry):
            """The next element, from the last head output; advances the seed."""
            with keras.StatelessScope(
                state_mapping=[(generator.state, carry["seed"])]
            ) as scope:
                value = step.feed(carry["outputs"], generator, carry.get("scale"))
            new = dict(carry, seed=scope.get_current_value(generator.state))
            if new["seed"] is None:  # the readout drew nothing
                new["seed"] = carry["seed"]
            if new["seed"] is not carry["seed"] and not drew:
                drew.append(True)
            if end_token is not None:
                value = ops.where(carry["done"], end_token, value)
                new["done"] = ops.logical_or(carry["done"], ops.equal(value, end_token))
            return value, dict(new, value=value)

        if num_samples is None and _backend.SEED_IN_THE_FREE_LOOP:
            # The seed and the free run in one loop; the first draw is at the
            # seed's last step.
            carry = _warm_up.start(step, seed, mask, initial_state)
            inputs = _warm_up.seed_inputs(seed, mask, covariates)
            length, first_draw = seed_time + steps - 1, seed_time - 1
            kept = capacity
        else:
            # The seed in a loop of its own (with paths, read once per row),
            # then the free run from the first draw.
            carry = _warm_up.run(
                step, seed, mask, initial_state, covariates, jit_compile=jit_compile
            )
            free = None if covariates is None else covariates[seed_time:]
            if num_samples is not None:
                carry = _warm_up.repeat(step, carry, num_samples)
                if free is not None:
                    free = ops.repeat(free, num_samples, axis=1)
            inputs = None if free is None else {"covariates": free}
            length, first_draw = steps - 1, None
            kept = None if capacity is None else capacity - 1
        if reservation is not None:
            random_seed = _backend.stream(generator.state, reservation)
        if random_seed is not None:
            carry["seed"] = ops.cast(random_seed, generator.state.dtype)
        else:
            carry["seed"] = ops.copy(generator.state.value)
        batch = ops.shape(carry["outputs"])[0]
        if end_token is not None:
            carry["done"] = ops.zeros((batch,), "bool")
        value_shape, value_dtype = step.fed_spec
        carry["value"] = ops.zeros((batch, *value_shape), value_dtype)
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
            return ops.cond(
                t >= first_draw, lambda: draw(carry), lambda: (carry["value"], carry)
            )

        stop = None
        if end_token is not None:
            stop = lambda carry: ops.all(carry["done"])  # noqa: E731
        outputs, carry, count = _backend.run(
            one_step, carry, length, inputs, emitted=carry["value"], stop=stop,
            keep_from=first_draw, capacity=kept, jit_compile=jit_compile,
        )  # fmt: skip
        if first is not None:
            outputs = ops.concatenate([first[None], outputs], 0)
            count = count + 1
        if end_token is not None:
            # Rows stopped early leave the tail uncomputed: fill it with end_token.
            outputs = _backend.fill_after(outputs, count, steps, end_token)
        outputs = _warm_up.time_major(outputs)
        if random_seed is None and drew:
            # A program that draws nothing leaves the generator alone: on JAX
            # it then returns no new state, and the call assigns nothing.
            generator.state.assign(carry["seed"])
        state = _warm_up.final_state(step, carry)
        if num_samples is not None:
            outputs = ops.reshape(outputs, (-1, num_samples, *ops.shape(outputs)[1:]))
        return outputs, state
