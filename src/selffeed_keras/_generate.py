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

import threading
import warnings

import keras
import tensorflow as tf

from selffeed_keras import _loop


def _xla_failure(error):
    """The line of a TensorFlow error saying what XLA could not compile, or None."""
    for line in error.message.splitlines():
        if "XLA" in line or "tf2xla" in line:
            return line.strip()[:300]
    return None


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
        """Traces generation for `key`, the names of the optional arguments given."""
        specs = {
            "covariates": tf.TensorSpec(
                (None, None, self.num_covariates), self.step.compute_dtype
            ),
            "seed_mask": tf.TensorSpec((None, None), tf.bool),
            "end_token": tf.TensorSpec((), tf.int32),
            "random_seed": tf.TensorSpec((), tf.int64),
            "num_samples": tf.TensorSpec((), tf.int32),
        }
        signature = [self.seed_spec, self.state_specs, tf.TensorSpec((), tf.int32)]
        signature += [specs[name] for name in key]

        def generate(seed, state, steps, *optional):
            options = dict(zip(key, optional, strict=True))
            return self.graph(seed, state, steps, **options, jit_compile=jit_compile)

        return tf.function(generate, input_signature=signature, autograph=False)

    def graph(
        self, seed, state, steps, covariates=None, seed_mask=None, end_token=None,
        random_seed=None, num_samples=None, *, jit_compile,
    ):  # fmt: skip
        """The generation graph: a warm-up loop, then the free-running loop.

        The warm-up reads the seed's steps and emits nothing; element 0 is
        drawn from its last head output. Each free-running step reads the
        last element and draws the next. With `num_samples`, the rows are
        repeated after the warm-up, so that the seed is read once per row and
        each path draws its own elements, the first included.
        """
        step, generator = self.step, self.seed_generator
        seed_time = tf.shape(seed)[1]
        mask = step.input_mask(seed, seed_mask)
        seed = tf.cast(seed, step.fed_spec[1])
        if covariates is not None:
            with tf.control_dependencies(
                [_check_covariates(covariates, seed_time, steps)]
            ):
                covariates = _time_major(covariates)

        # Warm-up: the seed's steps.
        carry = {"outputs": _zeros_like_outputs(seed, step), "state": list(state)}
        if step.scaled:
            carry["state"], given_scale = carry["state"][:-1], carry["state"][-1]
            carry["scale"] = step.readout.series_scale(seed, mask, given_scale)
        inputs = {"given": _time_major(seed)}
        if mask is not None:
            inputs["valid"] = _time_major(mask)
        if covariates is not None:
            inputs["covariates"] = covariates[:seed_time]

        def warm_up(t, inputs_t, carry):
            x = step.encode(
                inputs_t["given"], inputs_t.get("covariates"), carry.get("scale")
            )
            outputs, state = step.advance(x, carry["state"])
            new = dict(carry, outputs=outputs, state=state)
            if mask is not None:
                new = _where(inputs_t["valid"], new, carry)
            return None, new

        _, carry, _ = _loop.run(
            warm_up, carry, seed_time, inputs, emitted=None, jit_compile=jit_compile
        )

        # Free running: each step reads the element drawn from the last one.
        free_inputs = None
        if covariates is not None:
            free_inputs = {"covariates": covariates[seed_time:]}
        if num_samples is not None:
            carry = tf.nest.map_structure(lambda x: tf.repeat(x, num_samples, 0), carry)
            if free_inputs is not None:
                free_inputs = tf.nest.map_structure(
                    lambda x: tf.repeat(x, num_samples, 1), free_inputs
                )
        if random_seed is not None:
            seed_state = tf.stack([random_seed, tf.zeros((), tf.int64)])
            carry["seed"] = tf.cast(seed_state, generator.state.dtype)
        else:
            carry["seed"] = tf.identity(generator.state.value)
        if end_token is not None:
            carry["done"] = tf.zeros(tf.shape(carry["outputs"])[:1], tf.bool)

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
            return value, new

        def free_run(t, inputs_t, carry):
            covariates_t = None if inputs_t is None else inputs_t["covariates"]
            x = step.encode(carry["value"], covariates_t, carry.get("scale"))
            outputs, state = step.advance(x, carry["state"])
            value, carry = draw(dict(carry, outputs=outputs, state=state))
            return value, dict(carry, value=value)

        stop = None
        if end_token is not None:
            stop = lambda carry: tf.reduce_all(carry["done"])  # noqa: E731
        first, carry = draw(carry)
        carry["value"] = first
        outputs, carry, count = _loop.run(
            free_run, carry, steps - 1, free_inputs, emitted=first, stop=stop,
            jit_compile=jit_compile,
        )  # fmt: skip
        outputs = tf.concat([first[None], outputs], 0)
        if end_token is not None:
            # Rows stopped early leave the tail uncomputed: fill it with end_token.
            padding = tf.fill(
                tf.concat([[steps - 1 - count], tf.shape(first)], 0), end_token
            )
            outputs = tf.concat([outputs, padding], 0)
        outputs = _time_major(outputs)
        if random_seed is None:
            generator.state.assign(carry["seed"])
        state = carry["state"] + ([carry["scale"]] if step.scaled else [])
        if num_samples is not None:
            outputs = tf.reshape(
                outputs, tf.concat([[-1, num_samples], tf.shape(outputs)[1:]], 0)
            )
        return outputs, state


def _check_covariates(covariates, seed_time, steps):
    """An assertion, in the graph, that covariates cover every step read."""
    return tf.debugging.assert_equal(
        tf.shape(covariates)[1],
        seed_time + steps - 1,
        message="`covariates` must cover every step the layer reads: "
        "seed_time + steps - 1 (the seed's steps, then each fed-back step but "
        "the last).",
    )


def _zeros_like_outputs(seed, step):
    batch_size = tf.shape(seed)[0]
    return tf.zeros([batch_size, step.output_size], step.compute_dtype)


def _where(keep, new, old):
    """Per row, the structure `new` where `keep` holds, else `old`."""
    return tf.nest.map_structure(lambda n, o: _select(keep, n, o), new, old)
