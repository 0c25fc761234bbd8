"""`generate` and `score` on torch: an eager loop, checked against hand-written ones.

Run with KERAS_BACKEND=torch (`make test-torch`); skipped on the other
backends, and where torch is not installed. Each test checks the eager loop
against a hand-written loop on the same weights (the cell stepped in
Python), or against another call whose result it must equal.
"""

import os
import subprocess
import sys
import threading

import keras
import numpy as np
import pytest

if keras.backend.backend() != "torch":
    pytest.skip("runs with KERAS_BACKEND=torch", allow_module_level=True)
torch = pytest.importorskip("torch")

from cells import (  # noqa: E402
    assert_stops_at_end_token,
    continuous_layer,
    reference_generate,
    sine_seed,
    token_layer,
)

from selffeed_keras import SelfFeedingRNN, distributions, samplers  # noqa: E402


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def reference(*args, **kwargs):
    """`cells.reference_generate`, without recording gradients."""
    with torch.no_grad():
        return reference_generate(*args, **kwargs)


def tokens(batch=3, time=9, seed=1):
    return np.random.default_rng(seed).integers(1, 13, (batch, time))


def test_end_token_beams_and_scores():
    layer = token_layer("gru_cell")
    seed = tokens()
    assert_stops_at_end_token(layer, seed, 15, 4)
    greedy = numpy(layer.generate(seed, 15))
    one_beam = layer.generate(seed, 15, sampler=samplers.BeamSampler(1))
    np.testing.assert_array_equal(numpy(one_beam), greedy)
    sequences, scores = layer.generate(
        seed, 15, sampler=samplers.BeamSampler(3, return_all_beams=True)
    )
    assert tuple(sequences.shape) == (3, 3, 15)
    # Beam scores are the log-likelihoods that `score` gives the sequences.
    best = numpy(sequences)[:, 0]
    np.testing.assert_allclose(
        numpy(layer.score(seed, best)), numpy(scores)[:, 0], atol=1e-4
    )
    # Every beam of a row stops at the end token and holds it after.
    end_token = int(best[0, 3])
    stopped, _ = layer.generate(
        seed,
        15,
        end_token=end_token,
        sampler=samplers.BeamSampler(2, return_all_beams=True),
    )
    for beam in numpy(stopped).reshape(-1, 15):
        hits = np.flatnonzero(beam == end_token)
        if hits.size:
            assert (beam[hits[0] :] == end_token).all()


def test_score_with_a_seed_mask_and_an_end_token():
    layer = token_layer("gru_cell")
    seed, continuation = tokens(), tokens(time=6, seed=2)
    mask = np.ones(seed.shape, bool)
    mask[1, :4] = False
    masked = numpy(layer.score(seed, continuation, seed_mask=mask))
    alone = numpy(layer.score(seed[1:, 4:], continuation[1:]))
    np.testing.assert_allclose(masked[1], alone[0], atol=1e-5)
    # Nothing after a row's first end token counts.
    end_token = int(continuation[0, 2])
    first = np.flatnonzero(continuation[0] == end_token)[0]
    ended = numpy(layer.score(seed, continuation, end_token=end_token))
    cut = numpy(layer.score(seed[:1], continuation[:1, : first + 1]))
    np.testing.assert_allclose(ended[0], cut[0], atol=1e-5)


def test_beams_read_covariates_as_greedy_does():
    layer = token_layer("lstm_cell")
    seed = tokens()
    covariates = np.random.default_rng(3).normal(size=(3, 9 + 8 - 1, 2))
    covariates = covariates.astype("float32")
    greedy = numpy(layer.generate(seed, 8, covariates=covariates))
    np.testing.assert_array_equal(greedy, reference(layer, seed, 8, covariates))
    one_beam = layer.generate(
        seed, 8, covariates=covariates, sampler=samplers.BeamSampler(1)
    )
    np.testing.assert_array_equal(numpy(one_beam), greedy)


def test_per_call_samplers():
    layer = token_layer("lstm_cell", sampler="random")
    seed = tokens()
    greedy = numpy(layer.generate(seed, 12, sampler="greedy"))
    # The hand-written loop takes the argmax.
    np.testing.assert_array_equal(greedy, reference(layer, seed, 12))
    # Top-k with k = 1 and a random sampler at a tiny temperature are greedy.
    for sampler in [
        samplers.TopKSampler(k=1),
        samplers.RandomSampler(temperature=1e-6),
        samplers.TopPSampler(p=1e-6),
    ]:
        np.testing.assert_array_equal(
            numpy(layer.generate(seed, 12, sampler=sampler)), greedy
        )


def test_random_streams_reentrant_and_reserved_per_call():
    layer = token_layer("gru_cell", sampler="random")
    seed = tokens()
    first = numpy(layer.generate(seed, 10, random_seed=3))
    np.testing.assert_array_equal(first, numpy(layer.generate(seed, 10, random_seed=3)))
    assert not np.array_equal(first, numpy(layer.generate(seed, 10, random_seed=4)))
    before = numpy(layer.seed_generator.state.value).copy()
    a, b = numpy(layer.generate(seed, 10)), numpy(layer.generate(seed, 10))
    assert (a != b).any()
    after = numpy(layer.seed_generator.state.value)
    # The generator advances by one per call, whatever the call draws.
    assert after.tolist() == [before[0], before[1] + 2]
    # A `random_seed` leaves it as it was, and seeds above 2**31 work.
    layer.generate(seed, 10, random_seed=2**32 - 1)
    assert numpy(layer.seed_generator.state.value).tolist() == after.tolist()
    paths = numpy(layer.generate(seed, 10, num_samples=4))
    assert paths.shape == (3, 4, 10)
    assert len({paths[0, k].tobytes() for k in range(4)}) > 1


def test_concurrent_calls_draw_apart():
    layer = token_layer("gru_cell", sampler="random")
    seed = tokens(batch=1, time=4)
    layer.generate(seed, 2)  # builds
    before = numpy(layer.seed_generator.state.value).copy()
    results = []

    def call():
        for _ in range(3):
            results.append(numpy(layer.generate(seed, 30)).tobytes())

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 12
    after = numpy(layer.seed_generator.state.value)
    assert after[1] == before[1] + 12


def test_a_distribution_generates_the_hand_written_loop_of_means():
    # Draws made certain: a distribution whose sample is its mean.
    class MeanOnly(distributions.Normal):
        def sample(self, params, seed=None):
            return self.mean(params)

    layer = SelfFeedingRNN(keras.layers.GRUCell(6), distribution=MeanOnly())
    y = 1.0 + sine_seed(batch=2, time=10)
    outputs = numpy(layer.generate(y, 9))
    with torch.no_grad():
        cell, state = layer.rnn.cell, layer.rnn.get_initial_state(2)
        for t in range(y.shape[1]):
            h, state = cell(y[:, t], state)
        expected = []
        for _ in range(9):
            raw = keras.ops.reshape(layer.projection(h), (2, 1, 2))
            mean = layer.distribution.mean(layer.distribution.constrain(raw))
            expected.append(numpy(mean))
            h, state = cell(mean, state)
    np.testing.assert_allclose(outputs, np.stack(expected, 1), atol=1e-5)


@pytest.mark.parametrize("distribution", ["normal", "negative_binomial"])
def test_sample_paths_repeat_with_a_seed_and_spread(distribution):
    layer = SelfFeedingRNN(
        keras.layers.LSTMCell(8), distribution=distribution, scaling="mean"
    )
    y = np.round(50.0 + 40.0 * sine_seed(batch=3, time=16))
    paths = numpy(layer.generate(y, 12, num_samples=20, random_seed=4))
    assert paths.shape == (3, 20, 12, 1) and paths.dtype == np.float32
    again = numpy(layer.generate(y, 12, num_samples=20, random_seed=4))
    np.testing.assert_array_equal(paths, again)
    other = numpy(layer.generate(y, 12, num_samples=20, random_seed=5))
    assert not np.array_equal(paths, other)
    assert np.unique(paths[0, :, 0, 0]).size > 5  # each path draws its own
    if distribution == "negative_binomial":
        assert (paths >= 0).all()
        np.testing.assert_array_equal(paths, np.round(paths))


def test_score_of_a_distribution_sums_the_log_prob_of_a_teacher_forced_call():
    layer = SelfFeedingRNN(keras.layers.LSTMCell(8), distribution="student_t")
    y = 1.0 + sine_seed(batch=2, time=20)
    seed, continuation = y[:, :12], y[:, 12:]
    scores = numpy(layer.score(seed, continuation))
    with torch.no_grad():
        params = layer(y[:, :-1])[:, 11:]
        log_prob = layer.distribution.log_prob(params, continuation)
    np.testing.assert_allclose(scores, numpy(log_prob).sum((1, 2)), rtol=1e-4)


def test_lags_generate_the_hand_written_loop():
    from test_lags import certain_normal, lagged_layer
    from test_lags import reference as lags_reference

    layer = lagged_layer()
    seed = sine_seed(batch=2, time=8)
    mask = np.ones((2, 8), bool)
    mask[0, :3] = False
    with torch.no_grad():
        _, expected, _ = lags_reference(layer, seed, steps=7, seed_mask=mask)
    outputs = layer.generate(seed, 7, seed_mask=mask)
    np.testing.assert_allclose(numpy(outputs), expected, atol=1e-5)
    # Sample paths each read their own history.
    layer = lagged_layer(distribution="normal", scaling="mean")
    seed = 3.0 + seed
    layer.build(seed.shape)
    certain_normal(layer)
    with torch.no_grad():
        _, expected, _ = lags_reference(layer, seed, steps=6)
    paths = numpy(layer.generate(seed, 6, num_samples=3, random_seed=1))
    for k in range(3):
        np.testing.assert_allclose(paths[:, k], expected, atol=1e-4)


def test_generation_records_no_gradient_and_fit_changes_what_it_generates():
    layer = continuous_layer("lstm_cell")
    seed = sine_seed(time=9)
    before = numpy(layer.generate(seed, 20))
    model = keras.Sequential([keras.Input((None, 1)), layer])
    model.compile("adam", "mse")
    model.fit(seed[:, :-1], seed[:, 1:], epochs=1, verbose=0)
    after = layer.generate(seed, 20)
    assert not after.requires_grad
    assert not np.allclose(numpy(after), before)
    np.testing.assert_allclose(numpy(after), reference(layer, seed, 20), atol=1e-5)


def test_a_file_saved_on_tensorflow_generates_the_same_on_torch(tmp_path):
    # Trains, saves and generates on TensorFlow (its "save" role); torch's
    # side runs here.
    from test_backends import CROSS_BACKEND

    result = subprocess.run(
        [sys.executable, "-c", CROSS_BACKEND, str(tmp_path), "save"],
        env={**os.environ, "KERAS_BACKEND": "tensorflow"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    on_tensorflow = np.load(tmp_path / "tensorflow.npz")
    values = keras.saving.load_model(tmp_path / "values.keras").layers[0]
    tokens_model = keras.saving.load_model(tmp_path / "tokens.keras").layers[0]
    series = np.sin(0.3 * np.arange(300, dtype="float32"))
    ids = np.random.default_rng(0).integers(1, 11, (2, 8))
    generated = numpy(values.generate(series[None, :30, None], 50))
    assert generated.shape == (1, 50, 1)
    np.testing.assert_allclose(generated, on_tensorflow["values"], atol=1e-5)
    greedy = numpy(tokens_model.generate(ids, 20))
    np.testing.assert_array_equal(greedy, on_tensorflow["greedy"])
    beams, scores = tokens_model.generate(
        ids, 6, sampler=samplers.BeamSampler(3, return_all_beams=True)
    )
    np.testing.assert_array_equal(numpy(beams), on_tensorflow["beams"])
    np.testing.assert_allclose(numpy(scores), on_tensorflow["scores"], atol=1e-4)
