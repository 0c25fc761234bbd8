"""The free-running loop compiled by XLA in chunks, and without XLA."""

import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from cells import (
    CELLS,
    assert_stops_at_end_token,
    continuous_layer,
    reference_generate,
    sine_seed,
    token_layer,
)

from selffeed_keras import SelfFeedingRNN, _backend

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def small_chunks(monkeypatch):
    # Chunks of 6 elements: 25 steps cross several chunk boundaries and end
    # on a partial chunk with an odd count, as long generations do. JAX's
    # loop runs in no chunks: one buffer for the whole call.
    if keras.backend.backend() == "tensorflow":
        monkeypatch.setattr(_backend.tensorflow.loop, "_MAX_CHUNK", 6)


class NumpyCell(keras.layers.Layer):
    """A cell that steps through NumPy: XLA cannot compile `numpy_function`."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.state_size = 4
        self.output_size = 4

    def build(self, input_shape):
        self.kernel = self.add_weight((input_shape[-1], 4), name="kernel")

    def call(self, inputs, states):
        h = tf.numpy_function(
            np.tanh, [inputs @ self.kernel + states[0]], tf.float32, stateful=False
        )
        h = tf.ensure_shape(h, states[0].shape)
        return h, [h]


@pytest.mark.parametrize("cell_name", sorted(CELLS))
def test_xla_equals_no_xla_and_the_hand_written_loop(small_chunks, cell_name):
    xla = continuous_layer(cell_name, features=2, jit_compile=True)
    seed = sine_seed(batch=3, time=7, features=2)
    outputs = xla.generate(seed, 25)
    plain = continuous_layer(cell_name, features=2, jit_compile=False)
    plain.build(seed.shape)
    plain.set_weights(xla.get_weights())
    np.testing.assert_allclose(outputs, plain.generate(seed, 25), atol=1e-5)
    np.testing.assert_allclose(outputs, reference_generate(xla, seed, 25), atol=1e-5)


@pytest.mark.parametrize("cell_name", ["lstm_cell", "stacked", "two_state_cell"])
def test_xla_greedy_tokens_equal_the_hand_written_loop(small_chunks, cell_name):
    layer = token_layer(cell_name, jit_compile=True)
    seed = np.random.default_rng(0).integers(0, 13, (4, 6))
    np.testing.assert_array_equal(
        layer.generate(seed, 25), reference_generate(layer, seed, 25)
    )


def test_xla_chunks_continue_exactly_with_the_state(small_chunks):
    layer = continuous_layer("lstm_cell", jit_compile=True)
    seed = sine_seed()
    whole = layer.generate(seed, 31)
    first, state = layer.generate(seed, 13, return_state=True)
    rest = layer.generate(first[:, -1:], 18, initial_state=state)
    np.testing.assert_allclose(whole, np.concatenate([first, rest], 1), atol=1e-5)


_COUNT_COMPILES = """
import pathlib, sys
from cells import continuous_layer, sine_seed  # run from tests/

def compiles():
    return len(list(pathlib.Path(sys.argv[1]).glob("*before_optimizations.txt")))

layer = continuous_layer("gru_cell", jit_compile=True)
layer.generate(sine_seed(batch=2, time=5), 3)
print("first call", compiles())
for steps, time_steps in [(7, 5), (2000, 9), (1, 2), (33, 1)]:
    layer.generate(sine_seed(batch=2, time=time_steps), steps)
print("new lengths", compiles())
(function,) = layer._generation.functions.values()
print("traces", function.experimental_get_tracing_count())
layer.generate(sine_seed(batch=3, time=5), 3)
print("new batch size", compiles())
"""


@pytest.mark.tensorflow_only(
    reason="one XLA program for every `steps`, by TensorFlow's chunks; JAX "
    "compiles one per power of two of `steps` (test_jax_generate.py counts them)"
)
def test_new_steps_or_seed_length_neither_retraces_nor_recompiles(tmp_path):
    # XLA writes one set of files per program it compiles when asked to dump
    # them: count those rather than time calls, which busy cores make flaky.
    # XLA reads its flags once per process, hence the subprocess.
    result = subprocess.run(
        [sys.executable, "-c", _COUNT_COMPILES, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT / "tests",
        env={**os.environ, "XLA_FLAGS": f"--xla_dump_to={tmp_path}"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    counts = dict(line.rsplit(" ", 1) for line in result.stdout.splitlines())
    assert counts["traces"] == "1"
    assert int(counts["first call"]) >= 1
    assert counts["new lengths"] == counts["first call"]
    # The count is live: a new batch size is a new shape, so XLA compiles.
    assert int(counts["new batch size"]) > int(counts["first call"])


@pytest.mark.parametrize("sampler", ["random", "top_p"])
def test_sampling_under_xla_is_reproducible_and_advances(sampler):
    layer = token_layer("lstm_cell", sampler=sampler, jit_compile=True)
    seed = np.random.default_rng(3).integers(0, 13, (3, 4))
    a = layer.generate(seed, 200, random_seed=7)
    b = layer.generate(seed, 200, random_seed=7)
    c = layer.generate(seed, 200, random_seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # A generator that did not advance per step would repeat one draw.
    assert len(np.unique(a[0])) >= 8


def test_end_token_under_xla_stops_rows_across_chunks(small_chunks):
    layer = token_layer("lstm_cell", vocab=13, jit_compile=True)
    seed = np.random.default_rng(2).integers(0, 13, (4, 5))
    assert_stops_at_end_token(layer, seed, steps=40, position=9)


@pytest.mark.slow
def test_a_million_steps_at_batch_one():
    layer = continuous_layer("lstm_cell")  # jit_compile="auto"
    outputs = layer.generate(sine_seed(batch=1), 1_000_000)
    assert outputs.shape == (1, 1_000_000, 1)
    assert np.isfinite(outputs.numpy()).all()


@pytest.mark.tensorflow_only(reason="tf.numpy_function and the XLA fallback")
def test_auto_falls_back_with_a_warning_for_a_cell_xla_cannot_compile():
    layer = SelfFeedingRNN(NumpyCell(), head=keras.layers.Dense(1))
    seed = sine_seed()
    with pytest.warns(UserWarning, match="XLA could not compile.*PyFunc"):
        outputs = layer.generate(seed, 12)
    plain = SelfFeedingRNN(NumpyCell(), head=keras.layers.Dense(1), jit_compile=False)
    plain.build(seed.shape)
    plain.set_weights(layer.get_weights())
    np.testing.assert_allclose(outputs, plain.generate(seed, 12), atol=1e-6)
    # Later calls use the fallback quietly (warnings are errors here).
    np.testing.assert_allclose(layer.generate(seed, 12), outputs)


@pytest.mark.tensorflow_only(reason="tf.numpy_function and the XLA fallback")
def test_jit_compile_true_raises_for_a_cell_xla_cannot_compile():
    layer = SelfFeedingRNN(NumpyCell(), head=keras.layers.Dense(1), jit_compile=True)
    with pytest.raises(ValueError, match="XLA could not compile.*jit_compile=True"):
        layer.generate(sine_seed(), 5)


@pytest.mark.parametrize("value", ["yes", "AUTO", 1, 0, None, np.bool_(True)])
def test_jit_compile_must_be_true_false_or_auto(value):
    with pytest.raises(ValueError, match=r'`jit_compile` must be True, False or "auto'):
        SelfFeedingRNN(keras.layers.LSTMCell(4), jit_compile=value)


@pytest.mark.parametrize("value", [True, False, "auto"])
def test_jit_compile_is_in_the_config(value):
    layer = continuous_layer("lstm_cell", jit_compile=value)
    assert layer.get_config()["jit_compile"] == value
    assert SelfFeedingRNN.from_config(layer.get_config()).jit_compile == value


@pytest.mark.parametrize("jit_compile", [False, True])
def test_a_single_step_and_an_immediate_stop(jit_compile):
    # No chunk runs at all: one element in all, or every row's first element
    # is the end token. Without XLA the batch size is unknown to the graph.
    layer = continuous_layer("lstm_cell", jit_compile=jit_compile)
    seed = sine_seed(batch=2)
    np.testing.assert_allclose(
        layer.generate(seed, 1), layer.generate(seed, 5)[:, :1], atol=1e-6
    )
    tokens = token_layer("lstm_cell", jit_compile=jit_compile)
    seed = np.zeros((2, 3), "int32")
    first = np.asarray(tokens.generate(seed, 1))
    assert first.shape == (2, 1) and first[0, 0] == first[1, 0]
    stopped = tokens.generate(seed, 7, end_token=int(first[0, 0]))
    np.testing.assert_array_equal(stopped, np.full((2, 7), first[0, 0]))
