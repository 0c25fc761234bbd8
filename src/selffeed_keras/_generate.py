"""Generation: the traced functions that run a `Step` on its own outputs.

`Generation` holds, for one layer configuration, the `tf.function`s that
generate, one per combination of optional arguments, each traced once with
an input signature: a new `steps`, seed length or batch size reuses it. One
function runs the seed's warm-up and the free-running steps in the same
compiled loop: at step `t` the cell reads seed step `t` while `t` is inside
the seed, its own last output after, and column `t` of the covariates
throughout.

Randomness is reentrant: the seed generator's state travels in the loop's
carry and the sampler draws inside a `keras.StatelessScope` that maps the
generator's variable to it. A call with `random_seed` starts its own stream
at `[random_seed, 0]` (what `SeedGenerator(random_seed)` starts from) and
leaves the layer's generator alone, so concurrent calls do not interleave;
a call without one starts from the layer's generator and writes the
advanced state back.
"""

import copy
import json
import threading
import warnings

import keras
import tensorflow as tf

from selffeed_keras import _beam, _loop, _step, samplers


def _xla_failure(error):
    """The line of a TensorFlow error saying what XLA could not compile, or None."""
    for line in error.message.splitlines():
        if "XLA" in line or "tf2xla" in line:
            return line.strip()[:300]
    return None


def sampler_key(sampler, layer_sampler):
    """The part of a function's key that a per-call `sampler` decides.

    None runs the layer's own sampler as it is; any other sampler, and any
    `BeamSampler` (the layer's own included, which is no per-step sampler),
    keys by `(class, config as JSON)`: equal samplers share one function.
    """
    sampler = layer_sampler if sampler is None else sampler
    if sampler is layer_sampler and not isinstance(sampler, samplers.BeamSampler):
        return None
    return type(sampler), json.dumps(sampler.get_config(), sort_keys=True)


def _select(keep, new, old):
    """Per row, `new` where `keep` holds, else `old`."""
    keep = tf.reshape(
        keep, tf.concat([tf.shape(keep), tf.ones([new.shape.rank - 1], tf.int32)], 0)
    )
    return tf.where(keep, new, old)


def _time_major(x):
    return tf.transpose(x, [1, 0] + list(range(2, x.shape.rank)))


class Generation:
    """The traced generation functions of one layer configuration.

    A plain object, so that neither Keras nor TensorFlow tracks it as part of
    the layer: a SavedModel export would try to save the functions and fail.

    Args:
        step: the `_step.Step` to run.
        seed_generator: the layer's `keras.random.SeedGenerator`.
        seed_spec: `tf.TensorSpec` of the seed, `(None, None, ...)`.
        state_specs: list of `tf.TensorSpec`, the flat state, batch unknown.
        num_covariates: the covariates' width, or None without covariates.
        jit_compile: True, False or "auto", as the layer's argument.
        cell_name: names the cell in messages.
    """

    def __init__(
        self, step, seed_generator, seed_spec, state_specs, num_covariates,
        jit_compile, cell_name,
    ):  # fmt: skip
        self.step = step
        self.seed_generator = seed_generator
        self.seed_spec = seed_spec
        self.state_specs = state_specs
        self.num_covariates = num_covariates
        self.jit_compile = jit_compile
        self.cell_name = cell_name
        self.functions = {}
        self._lock = threading.Lock()

    def __call__(self, key, args):
        """Runs the function for `key`; its first run may fall back from XLA.

        Concurrent first runs of a key wait for each other, so that a
        fallback replaces the function once.
        """
        function = self.functions.get(key)
        if function is not None:
            return function(*args)
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
        return result

    def _trace(self, key, jit_compile):
        has_mask, has_end_token, has_random_seed, sampler = key
        graph = self._graph(sampler)
        signature = [self.seed_spec, self.state_specs, tf.TensorSpec((), tf.int32)]
        if self.num_covariates is not None:
            signature.append(
                tf.TensorSpec(
                    (None, None, self.num_covariates), self.step.compute_dtype
                )
            )
        if has_mask:
            signature.append(tf.TensorSpec((None, None), tf.bool))
        if has_end_token:
            signature.append(tf.TensorSpec((), tf.int32))
        if has_random_seed:
            signature.append(tf.TensorSpec((), tf.int64))

        def generate(seed, state, steps, *optional):
            optional = list(optional)
            covariates = optional.pop(0) if self.num_covariates is not None else None
            seed_mask = optional.pop(0) if has_mask else None
            end_token = optional.pop(0) if has_end_token else None
            random_seed = optional.pop(0) if has_random_seed else None
            return graph(
                seed, state, steps, covariates, seed_mask, end_token, random_seed,
                jit_compile=jit_compile,
            )  # fmt: skip

        return tf.function(generate, input_signature=signature, autograph=False)

    def _graph(self, sampler_key):
        """The graph for a `sampler_key`: the step's own, another, or a beam."""
        if sampler_key is None:
            return self.graph
        cls, config = sampler_key
        sampler = cls.from_config(json.loads(config))
        if isinstance(sampler, samplers.BeamSampler):

            def beam(seed, state, steps, covariates, seed_mask, end_token, _, **kw):
                return _beam.graph(
                    self.step, sampler, seed, state, steps, covariates, seed_mask,
                    end_token, **kw,
                )  # fmt: skip

            return beam
        other = copy.copy(self)
        other.step = copy.copy(self.step)
        other.step.readout = _step.Tokens(sampler)
        return other.graph

    def graph(
        self, seed, state, steps, covariates, seed_mask, end_token, random_seed,
        *, jit_compile,
    ):  # fmt: skip
        """The generation graph: warm-up and free run in one loop."""
        step, generator = self.step, self.seed_generator
        batch_size, seed_time = tf.shape(seed)[0], tf.shape(seed)[1]
        length = seed_time + steps - 1
        mask = step.input_mask(seed, seed_mask)
        fed_shape, fed_dtype = step.fed_spec
        previous = tf.zeros(
            tf.concat([[batch_size], tf.constant(fed_shape, tf.int32)], 0), fed_dtype
        )
        seed = tf.cast(seed, fed_dtype)

        inputs = {"given": _time_major(seed)}
        if mask is not None:
            inputs["valid"] = tf.pad(
                _time_major(mask),
                [[0, length - seed_time], [0, 0]],
                constant_values=True,
            )
        inputs["given"] = tf.pad(
            inputs["given"],
            [[0, length - seed_time]] + [[0, 0]] * (seed.shape.rank - 1),
        )
        if covariates is not None:
            with tf.control_dependencies(
                [
                    tf.debugging.assert_equal(
                        tf.shape(covariates)[1],
                        length,
                        message="`covariates` must cover every step the layer reads: "
                        "seed_time + steps - 1 (the seed's steps, then each fed-back "
                        "step but the last).",
                    )
                ]
            ):
                inputs["covariates"] = _time_major(covariates)

        if random_seed is not None:
            seed_state = tf.stack([random_seed, tf.zeros((), tf.int64)])
            seed_state = tf.cast(seed_state, generator.state.dtype)
        else:
            seed_state = tf.identity(generator.state.value)
        carry = {"previous": previous, "state": list(state), "seed": seed_state}
        if end_token is not None:
            carry["done"] = tf.zeros([batch_size], tf.bool)

        def one_step(t, inputs_t, carry):
            reading_seed = t < seed_time
            value = tf.where(reading_seed, inputs_t["given"], carry["previous"])
            x = step.encode(value, inputs_t.get("covariates"))
            outputs, state = step.advance(x, carry["state"])
            with keras.StatelessScope(
                state_mapping=[(generator.state, carry["seed"])]
            ) as scope:
                value = step.feed(outputs, generator)
            new = {"seed": scope.get_current_value(generator.state)}
            if new["seed"] is None:  # the readout drew nothing
                new["seed"] = carry["seed"]
            if mask is not None:
                keep = tf.logical_or(inputs_t["valid"], tf.logical_not(reading_seed))
                state = [
                    _select(keep, s, c)
                    for s, c in zip(state, carry["state"], strict=True)
                ]
                value = _select(keep, value, carry["previous"])
            if end_token is not None:
                done = carry["done"]
                value = tf.where(done, end_token, value)
                emitting = t >= seed_time - 1
                new["done"] = tf.logical_or(
                    done, tf.logical_and(emitting, tf.equal(value, end_token))
                )
            new.update(previous=value, state=state)
            return value, new

        stop = None
        if end_token is not None:
            stop = lambda carry: tf.reduce_all(carry["done"])  # noqa: E731
        outputs, carry, count = _loop.run(
            one_step, carry, length, inputs, emitted=previous, stop=stop,
            jit_compile=jit_compile,
        )  # fmt: skip
        outputs = outputs[seed_time - 1 :]
        if end_token is not None:
            # Rows stopped early leave the tail uncomputed: fill it with end_token.
            padding = tf.fill(
                tf.concat([[length - count], tf.shape(previous)], 0), end_token
            )
            outputs = tf.concat([outputs, padding], 0)
        if random_seed is None:
            generator.state.assign(carry["seed"])
        return _time_major(outputs), carry["state"]
