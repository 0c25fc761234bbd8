"""Training on the model's own outputs: the switch, the coins and the cell.

`Switch` holds what `sampling_probability` sets in training: the value in
use, a schedule's count of training steps, the per-row coins drawn from them,
and whether the training step traces the feedback path at all.

`FeedbackCell` wraps a `Step` into one RNN cell whose state also carries the
previous head output. At each step it reads either the true (already
encoded) input or its own previous output, fed back through the step's
readout and encoder, as a per-row coin says; covariates are read at every
step either way. Run by a `keras.layers.RNN`, it gets Keras' masking,
unrolling and compiled loop.
"""

import warnings

import keras
from keras import ops, tree

from selffeed_keras import _backend, _keras_private, schedules

# The seed generator's state carried through the loop as RNN state: each of
# its two numbers as four bytes, floats from 0 to 255, which every float dtype
# (float16 and bfloat16 too) holds exactly, since Keras' RNN casts its states
# to the compute dtype.
_SEED_BYTES = 4
_SEED_STATE_SIZE = 2 * _SEED_BYTES


def _powers(dtype):
    return ops.cast(256 ** ops.arange(_SEED_BYTES), dtype)


def seed_state_to_floats(state, batch_size, dtype):
    """The `(2,)` seed state as `(batch_size, 8)` floats of `dtype`."""
    powers = _powers(state.dtype)
    digits = (state[:, None] // powers) % ops.cast(256, state.dtype)
    row = ops.reshape(ops.cast(digits, dtype), (1, _SEED_STATE_SIZE))
    return ops.broadcast_to(row, (batch_size, _SEED_STATE_SIZE))


def seed_state_from_floats(floats, dtype):
    """The seed state of `dtype` that `seed_state_to_floats` wrote.

    Keras' RNN keeps a masked row's state as it was, so rows may lag: the
    furthest row holds the state in use.
    """
    digits = ops.reshape(ops.cast(floats, dtype), (-1, 2, _SEED_BYTES))
    return ops.max(ops.sum(digits * _powers(dtype), axis=-1), axis=0)


class Switch:
    """The probability of feeding back own outputs in training, and its path.

    `probability` and `steps` are the layer's non-trainable variables: the
    value in use and the count of training steps that a schedule reads.
    Changing them never retraces. `feedback_in_training` is read when the
    training step is traced: only a layer that may feed back traces the
    feedback path, so that plain teacher forcing keeps the recurrent layer's
    fast kernels. Turning it on after a teacher-forced training step was
    traced needs that step traced again.
    """

    def __init__(self, given, probability, steps, layer_name):
        self.given = given
        self.probability = probability
        self.steps = steps
        self.feedback_in_training = isinstance(given, schedules.Schedule) or given > 0
        self.traced_teacher_forced = False
        self._layer_name = layer_name

    def coins(self, shape, seed_generator):
        """Boolean `(batch, time)`: where a row reads its own previous output.

        Advances a schedule by one training step. The first step never feeds
        back: there is no previous output yet.
        """
        if isinstance(self.given, schedules.Schedule):
            self.probability.assign(self.given(self.steps))
            self.steps.assign_add(1)
        coins = keras.random.uniform(shape, seed=seed_generator)
        coins = coins < ops.cast(self.probability, coins.dtype)
        return ops.logical_and(coins, ops.arange(shape[1])[None, :] > 0)

    def enable(self):
        """Turns the feedback path on; returns whether it was off."""
        was_off = not self.feedback_in_training
        self.feedback_in_training = True
        return was_off

    def set(self, value):
        """Sets the value in use; see `SelfFeedingRNN.set_sampling_probability`."""
        if isinstance(self.given, schedules.Schedule):
            raise ValueError(
                "This layer's `sampling_probability` is a schedule that sets the "
                "value at every training step; set a float `sampling_probability` "
                "to drive it from outside. Received: sampling_probability="
                f"{self.given!r}."
            )
        self.probability.assign(value)
        if value > 0 and self.enable() and self.traced_teacher_forced:
            warnings.warn(
                f"Layer {self._layer_name!r} was traced for teacher-forced "
                f"training; sampling_probability={value} applies once its "
                "training step is traced again: call "
                "`model.make_train_function(force=True)` or `model.compile(...)`. "
                "The `selffeed_keras.callbacks.ScheduledSampling` callback does "
                "it for you.",
                stacklevel=3,
            )


class FeedbackCell(keras.layers.Layer):
    """One step of scheduled sampling, built on a `Step`.

    The input at each step is the encoded true input, then the covariates,
    then the series' scale (for a scaled readout), then one more feature:
    1.0 where the row reads its own previous output instead of the true
    input. The state is the previous head output (first: where a step is
    masked, Keras' RNN on JAX takes the first state for the previous
    output), then the wrapped cell's flat state, then the step's history
    (flattened, with lags: whatever was fed, as each step's coin chose).

    Where Keras runs the loop as a traced function that must not assign a
    variable inside it (JAX's `lax.scan`), the seed generator's state travels
    as one more state (see `seed_state_to_floats`), and the step draws inside
    a `keras.StatelessScope` that maps the generator's state to it; the
    caller assigns the final state to the generator. Elsewhere the step
    draws from the generator directly.
    """

    def __init__(
        self, step, seed_generator, input_size, scale_size, output_size,
        stop_gradient, **kwargs,
    ):  # fmt: skip
        super().__init__(**kwargs)
        self._step = step
        self._seed_generator = seed_generator
        self._input_size = input_size
        self._scale_size = scale_size
        self._stop_gradient = stop_gradient
        sizes = [int(s.shape[-1]) for s in tree.flatten(step.state_template)]
        self._num_cell_states = len(sizes)
        history = list(step.history.cell_state_sizes)
        self._carry_seed = _backend.SEED_IN_LOOP_STATE
        seed = [_SEED_STATE_SIZE] if self._carry_seed else []
        # The previous head output first: on JAX, Keras' RNN takes the first
        # state for the previous output where a step is masked.
        self.state_size = [output_size, *sizes, *history, *seed]
        self.output_size = output_size
        self.built = True

    def call(self, inputs, states, training=False):
        seed_floats = states[-1] if self._carry_seed else None
        states = states[:-1] if self._carry_seed else states
        previous, *states = states
        cell_state = states[: self._num_cell_states]
        history = states[self._num_cell_states :]
        true_input = inputs[:, : self._input_size]
        covariates = inputs[:, self._input_size : -1 - self._scale_size]
        scale = None
        if self._scale_size:
            scale = ops.cast(inputs[:, -1 - self._scale_size : -1], "float32")
        use_own = inputs[:, -1:]
        if self._stop_gradient:
            previous = ops.stop_gradient(previous)
        if self._carry_seed:
            fed, seed_floats = self._feed_carrying_seed(previous, scale, seed_floats)
        else:
            fed = self._step.feed(previous, self._seed_generator, scale)
        fed = self._step.encode(fed, scale=scale, training=training)
        x = ops.where(use_own > 0.5, ops.cast(fed, true_input.dtype), true_input)
        x, history = self._step.history.shift(x, history)
        x = self._step.join(x, covariates if covariates.shape[-1] else None)
        prediction, new_state = self._step.advance(x, cell_state, training)
        prediction = ops.cast(prediction, previous.dtype)
        seed = [] if seed_floats is None else [seed_floats]
        return prediction, [prediction, *new_state, *history, *seed]

    def _feed_carrying_seed(self, previous, scale, seed_floats):
        variable = self._seed_generator.state
        seed_state = seed_state_from_floats(seed_floats, variable.dtype)
        with _keras_private.stateless_scope(variable, seed_state) as scope:
            fed = self._step.feed(previous, self._seed_generator, scale)
        seed_state = scope.get_current_value(variable)
        batch_size = ops.shape(seed_floats)[0]
        return fed, seed_state_to_floats(seed_state, batch_size, seed_floats.dtype)


def run_with_feedback(
    step, rnn, seed_generator, x, covariates, coins, initial_state, history,
    mask, training, *, output_size, stop_gradient, dtype, scale=None,
):  # fmt: skip
    """Runs `step` over encoded inputs `x`, mixing in its own outputs.

    Args:
        step: the `Step` to run.
        rnn: the `keras.layers.RNN` whose cell the step advances: its dropout
            masks are made once, before the loop, as it makes them itself.
        seed_generator: the randomness of a sampling readout.
        x: encoded true inputs, `(batch, time, features)`.
        covariates: None or `(batch, time, num_covariates)`.
        coins: boolean `(batch, time)`: where a row reads its own output.
        initial_state: the wrapped cell's state, in its own structure.
        history: the step's history, in the flat state's form (a list).
        mask: None or boolean `(batch, time)`.
        training: passed to the cell, encoder and head (dropout).
        output_size: the width of the head output.
        stop_gradient: whether gradients stop at fed-back outputs.
        dtype: the dtype policy of the layer.
        scale: None, or `(batch, features)` scales of a scaled readout.

    Returns:
        `(head outputs, flat_state, history)`.
    """
    flat_state = tree.flatten(initial_state)
    batch_size = ops.shape(x)[0]
    previous = ops.zeros((batch_size, output_size), step.compute_dtype)
    scale_size = 0 if scale is None else scale.shape[-1]
    cell = FeedbackCell(
        step, seed_generator, x.shape[-1], scale_size, output_size, stop_gradient,
        dtype=dtype,
    )  # fmt: skip
    feedback_rnn = keras.layers.RNN(
        cell, return_sequences=True, return_state=True, dtype=dtype
    )
    parts = [x] if covariates is None else [x, ops.cast(covariates, x.dtype)]
    if scale is not None:  # the same at every step; float32 survives any policy
        time = ops.shape(x)[1]
        parts.append(ops.cast(ops.repeat(scale[:, None], time, axis=1), x.dtype))
    inputs = ops.concatenate([*parts, ops.cast(coins, x.dtype)[..., None]], axis=-1)
    # keras.layers.RNN makes dropout masks once per call, before its loop, for
    # the cells it knows; the wrapped cell is inside ours, so ask the same
    # (private) Keras helpers to make and clear its masks around our loop.
    first_input, _ = step.history.shift(x[:, 0], step.history.cell_states(history))
    first_input = step.join(
        first_input, None if covariates is None else covariates[:, 0]
    )
    _keras_private.config_dropout_masks(rnn, rnn.cell, first_input, initial_state)
    history_states = step.history.cell_states(history)
    seed = []
    if _backend.SEED_IN_LOOP_STATE:
        state = seed_generator.state.value
        seed = [seed_state_to_floats(state, batch_size, previous.dtype)]
    outputs, *state = feedback_rnn(
        inputs,
        initial_state=[previous, *flat_state, *history_states, *seed],
        mask=mask,
        training=training,
    )
    _keras_private.reset_dropout_masks(rnn, rnn.cell)
    if _backend.SEED_IN_LOOP_STATE:
        *state, seed_floats = state
        dtype = seed_generator.state.dtype
        seed_generator.state.assign(seed_state_from_floats(seed_floats, dtype))
    num_cell_states = len(flat_state)
    state = state[1:]  # without the previous output
    history = step.history.from_cell_states(state[num_cell_states:])
    return outputs, state[:num_cell_states], history
