"""Every bad input gets a clear error naming the argument, before any graph."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from cells import continuous_layer, sine_seed, token_layer

from selffeed_keras import SelfFeedingRNN


@pytest.fixture(scope="module")
def sine():
    layer = continuous_layer("lstm_cell")
    layer.generate(sine_seed(), 2)
    return layer


@pytest.fixture(scope="module")
def tokens():
    return token_layer("lstm_cell", vocab=13)


@pytest.mark.parametrize("steps", [0, -3, 2.0, True, "10", np.array([3, 4])])
def test_steps_must_be_a_positive_integer(sine, steps):
    with pytest.raises((ValueError, TypeError), match="`steps` must be a positive"):
        sine.generate(sine_seed(), steps)


def test_seed_of_wrong_rank(sine, tokens):
    with pytest.raises(ValueError, match=r"`seed` must have shape \(batch, time, f"):
        sine.generate(np.zeros((2, 5), "float32"), 3)
    with pytest.raises(ValueError, match=r"`seed` must have shape \(batch, time\) i"):
        tokens.generate(np.zeros((2, 5, 1), "int32"), 3)


def test_seed_of_wrong_dtype(sine, tokens):
    with pytest.raises(TypeError, match="`seed` must hold integer token ids"):
        tokens.generate(np.zeros((2, 5), "float32"), 3)
    with pytest.raises(TypeError, match="`seed` must hold real numbers"):
        sine.generate(np.zeros((2, 5, 1), bool), 3)
    with pytest.raises(TypeError, match="`seed` must hold numbers"):
        sine.generate([[["a"]]], 3)


def test_seed_feature_size_must_match_the_built_layer(sine):
    with pytest.raises(
        ValueError, match=r"feature size.*\(1,\).*seed.shape=\(2, 5, 3\)"
    ):
        sine.generate(np.zeros((2, 5, 3), "float32"), 3)


def test_empty_seed(sine):
    with pytest.raises(ValueError, match="`seed` must hold at least one"):
        sine.generate(np.zeros((2, 0, 1), "float32"), 3)


def test_head_width_must_match_the_input_width_without_sampler():
    layer = SelfFeedingRNN(keras.layers.LSTMCell(4), head=keras.layers.Dense(2))
    with pytest.raises(ValueError, match="head's output is fed back.*feature size"):
        layer(np.zeros((1, 3, 1), "float32"))
    layer = SelfFeedingRNN(keras.layers.LSTMCell(4))  # cell output width 4
    with pytest.raises(ValueError, match="head's output is fed back"):
        layer.generate(np.zeros((1, 3, 1), "float32"), 2)


def test_token_head_must_not_be_wider_than_the_vocabulary():
    # Its extra ids failed inside the loop's Embedding lookup (clipped
    # silently under XLA).
    layer = SelfFeedingRNN(
        keras.layers.LSTMCell(4),
        head=keras.layers.Dense(12),
        encoder=keras.layers.Embedding(9, 3),
        sampler="greedy",
    )
    with pytest.raises(ValueError, match=r"at most 9.*width 12.*input_dim=9"):
        layer.generate(np.zeros((1, 3), "int32"), 2)


def test_sampler_needs_an_encoder():
    with pytest.raises(ValueError, match="needs an `encoder`.*encoder=None"):
        SelfFeedingRNN(
            keras.layers.LSTMCell(4), head=keras.layers.Dense(9), sampler="greedy"
        )


def test_token_inputs_without_sampler_are_rejected():
    layer = SelfFeedingRNN(
        keras.layers.LSTMCell(4),
        head=keras.layers.Dense(9),
        encoder=keras.layers.Embedding(9, 3),
    )
    with pytest.raises(ValueError, match=r"shape \(batch, time, features\)"):
        layer.generate(np.zeros((1, 3), "int32"), 2)


def test_seed_mask_of_wrong_shape_or_dtype(sine):
    with pytest.raises(ValueError, match=r"`seed_mask` must have shape.*\(2, 12\)"):
        sine.generate(sine_seed(), 3, seed_mask=np.ones((2, 5), bool))
    with pytest.raises(TypeError, match="`seed_mask` must be boolean"):
        sine.generate(sine_seed(), 3, seed_mask=np.ones((2, 12), "float32"))


def test_seed_mask_with_an_empty_row(sine):
    mask = np.ones((2, 12), bool)
    mask[1] = False
    with pytest.raises(ValueError, match=r"`seed_mask`.*rows \[1\]"):
        sine.generate(sine_seed(), 3, seed_mask=mask)


def test_end_token_without_a_token_sampler(sine):
    with pytest.raises(ValueError, match="`end_token` needs a token model"):
        sine.generate(sine_seed(), 3, end_token=0)


def test_end_token_out_of_range(tokens):
    with pytest.raises(ValueError, match=r"`end_token`.*\[0, 13\).*end_token=13"):
        tokens.generate(np.zeros((1, 2), "int32"), 3, end_token=13)


def test_initial_state_that_does_not_match(sine):
    with pytest.raises(ValueError, match=r"`initial_state`.*\[\(2, 8\), \(2, 8\)\]"):
        sine.generate(sine_seed(), 3, initial_state=[np.zeros((2, 8), "float32")])


_STATE = [np.zeros((2, 8), "float32")] * 2  # an LSTMCell(8)'s, for 2 rows


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        # Each failed inside TensorFlow, broadcast a row's state or mask over
        # the batch, or read a lone tensor's rows as the states.
        (
            {"inputs": np.zeros((2, 5), "float32")},
            ValueError,
            r"`inputs` must have shape \(batch, time, f",
        ),
        (
            {"inputs": np.zeros((2, 5, 3), "float32")},
            ValueError,
            r"`inputs` must have the feature size.*\(1,\).*\(2, 5, 3\)",
        ),
        (
            {"mask": np.ones((2, 4), bool)},
            ValueError,
            r"`mask` must have shape \(batch, time\) = \(2, 5\).*\(2, 4\)",
        ),
        (
            {"mask": np.ones((1, 5), bool)},
            ValueError,
            r"`mask` must have shape.*mask.shape=\(1, 5\)",
        ),
        (
            {"initial_state": _STATE[:1]},
            ValueError,
            r"`initial_state` must be a flat list.*\[\(2, 8\), \(2, 8\)\]",
        ),
        (
            {"initial_state": _STATE * 2},
            ValueError,
            r"`initial_state`.*Received shapes: \[\(2, 8\)",
        ),
        (
            {"initial_state": [s[:1] for s in _STATE]},
            ValueError,
            r"`initial_state`.*Received shapes: \[\(1, 8\), \(1, 8\)\]",
        ),
        (
            {"initial_state": [np.zeros((2, 3), "float32")] * 2},
            ValueError,
            r"`initial_state`.*\(2, 3\)",
        ),
        (
            {"initial_state": _STATE[0]},
            ValueError,
            r"`initial_state`.*Received shapes: \[\(2, 8\)\]\.",
        ),
    ],
)
def test_call_names_the_argument_it_refuses(sine, kwargs, error, match):
    kwargs = {"inputs": sine_seed(time=5), **kwargs}
    with pytest.raises(error, match=match):
        sine(**kwargs)


def test_call_of_a_token_model_refuses_inputs_of_the_wrong_rank(tokens):
    tokens(np.zeros((2, 3), "int32"))
    with pytest.raises(ValueError, match=r"`inputs` must have shape \(batch, time\) i"):
        tokens(np.zeros((2, 3, 1), "int32"))


def test_call_refuses_covariates_that_are_not_an_array():
    layer = continuous_layer("gru_cell")
    layer(sine_seed(time=5), covariates=np.zeros((2, 5, 3), "float32"))
    with pytest.raises(TypeError, match="`covariates` must be an array or a tensor"):
        layer(sine_seed(time=5), covariates=np.zeros((2, 5, 3)).tolist())


def test_call_accepts_a_state_of_unknown_batch_in_a_functional_model(sine):
    state = [keras.Input((8,)), keras.Input((8,))]
    inputs = keras.Input((None, 1))
    model = keras.Model([inputs, *state], sine(inputs, initial_state=state))
    assert model([sine_seed(time=5), *_STATE]).shape == (2, 5, 1)


def test_random_seed_and_return_state_types(tokens):
    with pytest.raises(
        ValueError, match="`random_seed` must be None, a non-negative integer"
    ):
        tokens.generate(np.zeros((1, 2), "int32"), 3, random_seed=-1)
    with pytest.raises(TypeError, match="`return_state` must be a bool"):
        tokens.generate(np.zeros((1, 2), "int32"), 3, return_state="yes")


def test_constructor_arguments():
    with pytest.raises(TypeError, match="`cell` must be a Keras RNN cell.*Dense"):
        SelfFeedingRNN(keras.layers.Dense(3))
    with pytest.raises(TypeError, match="`cell` must be a Keras RNN cell"):
        SelfFeedingRNN([])
    with pytest.raises(TypeError, match="`head` must be a Keras layer"):
        SelfFeedingRNN(keras.layers.LSTMCell(3), head="dense")
    with pytest.raises(TypeError, match="`encoder` must be a Keras layer"):
        SelfFeedingRNN(keras.layers.LSTMCell(3), encoder=lambda x: x)
    with pytest.raises(ValueError, match="Unknown sampler name"):
        SelfFeedingRNN(keras.layers.LSTMCell(3), sampler="Greedy")
    with pytest.raises(ValueError, match="go_backwards=True"):
        SelfFeedingRNN(keras.layers.LSTM(3, go_backwards=True))


def test_built_recurrent_layer_must_return_sequences_and_state():
    lstm = keras.layers.LSTM(3)
    lstm.build((None, 4, 1))
    with pytest.raises(ValueError, match="return_sequences=True, return_state=True"):
        SelfFeedingRNN(lstm)


def test_unbuilt_recurrent_layer_is_copied_with_the_flags_it_needs():
    lstm = keras.layers.LSTM(3, name="my_lstm")
    layer = SelfFeedingRNN(lstm)
    assert layer.rnn is not lstm and layer.rnn.return_sequences
    assert layer.rnn.get_config()["units"] == 3


# Among `make test`'s longest (21 s on a 2-core AMD EPYC): `make test-slow`.
@pytest.mark.slow
def test_backend_without_support_is_refused_at_import():
    # Report another backend to the check rather than load one.
    script = (
        "import keras\nkeras.backend.backend = lambda: 'numpy'\nimport selffeed_keras\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "KERAS_BACKEND": "tensorflow"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert (
        "ValueError: selffeed_keras runs on the Keras backends tensorflow, jax "
        "and torch" in result.stderr
    )
    assert "Received: Keras backend 'numpy'" in result.stderr
    assert "KERAS_BACKEND" in result.stderr
