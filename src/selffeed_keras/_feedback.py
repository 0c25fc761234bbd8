"""Training on the model's own outputs: the cell that mixes truth and feedback.

`FeedbackCell` wraps a layer's cell, encoder, head and sampler into one RNN
cell whose state also carries the previous prediction. At each step it reads
either the true (already encoded) input or its own previous prediction, fed
back through the sampler and the encoder, as a per-row coin says. Run by a
`keras.layers.RNN`, it gets Keras' masking, unrolling and compiled loop.
"""

import keras
from keras import ops, tree


class FeedbackCell(keras.layers.Layer):
    """One step of scheduled sampling; built from a `SelfFeedingRNN`'s parts.

    The input at each step is the encoded true input with one more feature
    appended: 1.0 where the row reads its own previous prediction instead.
    The state is the wrapped cell's flat state followed by that prediction.
    """

    def __init__(self, layer, state_template, prediction_size, **kwargs):
        super().__init__(**kwargs)
        self._layer = layer
        self._template = state_template
        sizes = [int(s.shape[-1]) for s in tree.flatten(state_template)]
        self.state_size = [*sizes, prediction_size]
        self.output_size = prediction_size
        self.built = True

    def call(self, inputs, states, training=False):
        layer = self._layer
        *cell_state, previous = states
        true_input, use_own = inputs[:, :-1], inputs[:, -1:]
        if not layer.backprop_through_feedback:
            previous = ops.stop_gradient(previous)
        fed = layer._encode_step(layer._feedback(previous), training)
        x = ops.where(use_own > 0.5, ops.cast(fed, true_input.dtype), true_input)
        state = tree.pack_sequence_as(self._template, list(cell_state))
        output, state = layer.rnn.cell(x, state, training=training)
        prediction = layer._head(output, training)
        new_state = [
            ops.cast(new, old.dtype)
            for new, old in zip(tree.flatten(state), cell_state, strict=True)
        ]
        prediction = ops.cast(prediction, previous.dtype)
        return prediction, [*new_state, prediction]


def run_with_feedback(layer, x, coins, initial_state, mask, training):
    """Runs `layer`'s cell over encoded inputs `x`, mixing in its own outputs.

    Args:
        layer: the `SelfFeedingRNN`.
        x: encoded true inputs, `(batch, time, features)`.
        coins: boolean `(batch, time)`: where a row reads its own output.
        initial_state: the wrapped cell's state, in its own structure.
        mask: None or boolean `(batch, time)`.
        training: passed to the cell, encoder and head.

    Returns:
        `(predictions, flat_state)`.
    """
    flat_state = tree.flatten(initial_state)
    batch_size = ops.shape(x)[0]
    prediction_size = layer._output_size
    previous = ops.zeros((batch_size, prediction_size), layer.compute_dtype)
    cell = FeedbackCell(layer, initial_state, prediction_size, dtype=layer.dtype_policy)
    rnn = keras.layers.RNN(
        cell, return_sequences=True, return_state=True, dtype=layer.dtype_policy
    )
    inputs = ops.concatenate([x, ops.cast(coins, x.dtype)[..., None]], axis=-1)
    # keras.layers.RNN makes dropout masks once per call, before its loop, for
    # the cells it knows; the wrapped cell is inside ours, so ask the same
    # (private) Keras helpers to make and clear its masks around our loop.
    layer.rnn._maybe_config_dropout_masks(layer.rnn.cell, x[:, 0], initial_state)
    predictions, *state = rnn(
        inputs, initial_state=[*flat_state, previous], mask=mask, training=training
    )
    layer.rnn._maybe_reset_dropout_masks(layer.rnn.cell)
    return predictions, state[:-1]
