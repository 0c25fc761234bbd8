"""`generate` and `score` on JAX: one jitted program, weights as its arguments.

Run with KERAS_BACKEND=jax; skipped on other backends. Each test checks the
program against a hand-written loop on the same weights (the cell stepped in
Python), or against another call whose result it must equal.
"""

import contextlib
import logging
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from cells import (
    assert_stops_at_end_token,
    continuous_layer,
    reference_generate,
    sine_seed,
    token_layer,
)

from selffeed_keras import SelfFeedingRNN
from selffeed_keras._generate import CallKey

jax = pytest.importorskip("jax")

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="runs with KERAS_BACKEND=jax"
)


def tokens(batch=3, time=9, seed=1):
    return np.random.default_rng(seed).integers(1, 13, (batch, time))


def traces(layer):
    return dict(layer._generation.programs.traces)


def test_end_token_and_beams():
    layer = token_layer("gru_cell")
    seed = tokens()
    assert_stops_at_end_token(layer, seed, 15, 4)
    greedy = layer.generate(seed, 15)
    one_beam = layer.generate(seed, 15, sampler=keras_beam(1))
    np.testing.assert_array_equal(one_beam, greedy)
    sequences, scores = layer.generate(
        seed, 15, sampler=keras_beam(3, return_all_beams=True)
    )
    assert np.asarray(sequences).shape == (3, 3, 15)
    # Beam scores are the log-likelihoods that `score` gives the sequences.
    best = np.asarray(sequences)[:, 0]
    np.testing.assert_allclose(
        layer.score(seed, best), np.asarray(scores)[:, 0], atol=1e-4
    )


def keras_beam(num_beams, **kwargs):
    from selffeed_keras import samplers

    return samplers.BeamSampler(num_beams, **kwargs)


def test_random_streams_reentrant_and_reserved_per_call():
    layer = token_layer("gru_cell", sampler="random")
    seed = tokens()
    first = layer.generate(seed, 10, random_seed=3)
    np.testing.assert_array_equal(first, layer.generate(seed, 10, random_seed=3))
    before = np.asarray(layer.seed_generator.state.value).copy()
    a, b = layer.generate(seed, 10), layer.generate(seed, 10)
    assert (np.asarray(a) != np.asarray(b)).any()
    after = np.asarray(layer.seed_generator.state.value)
    # The generator advances by one per call, whatever the call draws.
    assert after.tolist() == [before[0], before[1] + 2]
    paths = np.asarray(layer.generate(seed, 10, num_samples=4))
    assert paths.shape == (3, 4, 10)
    assert len({paths[0, k].tobytes() for k in range(4)}) > 1


def test_new_steps_seed_length_and_weights_compile_nothing_new():
    layer = continuous_layer("lstm_cell")
    seed = sine_seed(time=9)
    layer.generate(seed, 20)
    for steps, time in [(17, 9), (32, 10), (25, 9)]:
        layer.generate(sine_seed(time=time), steps)
    assert traces(layer) == {CallKey(): 1}
    # New weights, set or trained, are arguments: no new trace.
    layer.set_weights([w + 0.1 for w in layer.get_weights()])
    changed = np.asarray(layer.generate(seed, 20))
    np.testing.assert_allclose(changed, reference_generate(layer, seed, 20), atol=1e-5)
    model = keras.Sequential([keras.Input((None, 1)), layer])
    model.compile("adam", "mse")
    model.fit(seed[:, :-1], seed[:, 1:], epochs=1, verbose=0)
    trained = np.asarray(layer.generate(seed, 20))
    assert not np.allclose(trained, changed)
    np.testing.assert_allclose(trained, reference_generate(layer, seed, 20), atol=1e-5)
    assert traces(layer) == {CallKey(): 1}


@contextlib.contextmanager
def compilations():
    """Yields a list that holds the name of every XLA compilation inside."""
    names = []

    class Handler(logging.Handler):
        def emit(self, record):
            message = record.getMessage()
            if message.startswith("Finished XLA compilation of "):
                names.append(message.split()[4])

    handler = Handler(logging.WARNING)
    logger = logging.getLogger("jax._src.dispatch")
    logger.addHandler(handler)
    try:
        with jax.log_compiles(True):
            yield names
    finally:
        logger.removeHandler(handler)


def test_new_steps_and_seed_length_within_their_buckets_compile_nothing():
    layer = continuous_layer("lstm_cell")
    paths = SelfFeedingRNN(
        keras.layers.GRUCell(4), distribution="normal", scaling="mean"
    )
    layer.generate(sine_seed(time=9), 20)
    paths.generate(sine_seed(time=9) + 2, 20, num_samples=3, random_seed=1)
    with compilations() as compiled:
        # Steps 17 to 32 share a capacity of 32; seeds of 9 and 10 a bucket.
        for steps, time in [(17, 9), (25, 10), (31, 9), (32, 10)]:
            outputs = layer.generate(sine_seed(time=time), steps)
            assert outputs.shape == (2, steps, 1)
            assert isinstance(outputs, jax.Array)
            paths.generate(
                sine_seed(time=time) + 2, steps, num_samples=3, random_seed=steps
            )
            layer.observe(sine_seed(time=time))
        layer.generate(sine_seed(time=9), np.int64(30))
    # The observe program compiles once, at its first call; nothing else.
    assert compiled == ["jit(program)"]


def test_generate_beams_and_score_run_without_tensorflow():
    script = """
import sys
sys.modules["tensorflow"] = None  # any import of it fails
import keras, numpy as np
from selffeed_keras import SelfFeedingRNN, samplers
layer = SelfFeedingRNN(
    keras.layers.GRUCell(4), head=keras.layers.Dense(6),
    encoder=keras.layers.Embedding(6, 3), sampler="random",
)
seed = np.array([[1, 2, 3], [2, 3, 4]])
paths = layer.generate(seed, 5, random_seed=1, num_samples=2)
best = layer.generate(seed, 5, sampler=samplers.BeamSampler(2))
scores = layer.score(seed, np.asarray(best))
print(np.asarray(paths).shape, np.asarray(best).shape, np.asarray(scores).shape)
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "KERAS_BACKEND": "jax"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(2, 2, 5) (2, 5) (2,)" in result.stdout
