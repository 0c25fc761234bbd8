"""Cells and builders shared by the tests."""

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="selffeed_keras_tests")
class TwoStateCell(keras.layers.Layer):
    """A user's own cell whose state is two tensors of different sizes."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, 2 * units]
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight((input_shape[-1], self.units), name="kernel")
        self.recurrent = self.add_weight((3 * self.units, self.units), name="rec")
        self.grow = self.add_weight((self.units, 2 * self.units), name="grow")

    def call(self, inputs, states):
        a, b = states
        h = ops.tanh(
            ops.matmul(inputs, self.kernel)
            + ops.matmul(ops.concatenate([a, b], axis=-1), self.recurrent)
        )
        return h, [h, 0.5 * b + ops.tanh(ops.matmul(h, self.grow))]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


CELLS = {
    "lstm_cell": lambda: keras.layers.LSTMCell(8),
    "gru_cell": lambda: keras.layers.GRUCell(8),
    "simple_rnn_cell": lambda: keras.layers.SimpleRNNCell(8),
    "stacked": lambda: [keras.layers.LSTMCell(8), keras.layers.GRUCell(6)],
    "lstm_layer": lambda: keras.layers.LSTM(8),
    "gru_layer": lambda: keras.layers.GRU(8, return_sequences=True, return_state=True),
    "two_state_cell": lambda: TwoStateCell(8),
}


def sine_seed(batch=2, time=12, features=1, offset=0.0):
    t = np.arange(time, dtype="float32")[None, :, None] * 0.3
    phase = np.arange(batch, dtype="float32")[:, None, None] + offset
    return np.sin(t + phase + np.arange(features, dtype="float32")).astype("float32")


def continuous_layer(cell_name, features=1, **kwargs):
    from selffeed_keras import SelfFeedingRNN

    return SelfFeedingRNN(
        CELLS[cell_name](), head=keras.layers.Dense(features), **kwargs
    )


def token_layer(cell_name="lstm_cell", vocab=13, sampler="greedy", **kwargs):
    from selffeed_keras import SelfFeedingRNN

    return SelfFeedingRNN(
        CELLS[cell_name](),
        head=keras.layers.Dense(vocab),
        encoder=keras.layers.Embedding(vocab, 5),
        sampler=sampler,
        **kwargs,
    )


def reference_generate(layer, seed, steps, covariates=None):
    """A hand-written eager loop: the cell stepped in Python, same weights.

    With covariates, the cell reads `covariates[:, t]` after the encoded
    input at step t: the seed's steps, then each fed-back element but the
    last.
    """
    cell = layer.rnn.cell
    seed = np.asarray(seed)
    state = layer.rnn.get_initial_state(seed.shape[0])

    def read(x, t):
        x = x if layer.encoder is None else layer.encoder(x)
        if covariates is None:
            return x
        return ops.concatenate([x, ops.cast(covariates[:, t], x.dtype)], axis=-1)

    def predict(output):
        y = output if layer.head is None else layer.head(output)
        return ops.argmax(y, axis=-1) if layer.sampler is not None else y

    for t in range(seed.shape[1]):
        output, state = cell(read(seed[:, t], t), state)
    outputs = []
    value = predict(output)
    for k in range(steps):
        outputs.append(ops.convert_to_numpy(value))
        if k == steps - 1:
            break
        output, state = cell(read(value, seed.shape[1] + k), state)
        value = predict(output)
    return np.stack(outputs, axis=1)


def assert_stops_at_end_token(layer, seed, steps, position):
    """Picks the token at `position` of row 0 as end token and checks each row.

    A row that emits the end token keeps what it generated up to it and holds
    the end token afterwards; a row that never emits it is unchanged.
    """
    free = np.asarray(layer.generate(seed, steps))
    end_token = int(free[0, position])
    stopped = np.asarray(layer.generate(seed, steps, end_token=end_token))
    for row in range(len(seed)):
        hits = np.flatnonzero(free[row] == end_token)
        stop = hits[0] if hits.size else steps
        np.testing.assert_array_equal(stopped[row, : stop + 1], free[row, : stop + 1])
        assert (stopped[row, stop:] == end_token).all()
