"""Distribution outputs in the layer: parameters, sample paths, scaling."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from cells import sine_seed, token_layer

from selffeed_keras import SelfFeedingRNN, distributions, losses
from selffeed_keras._generate import CallKey

DISTRIBUTIONS = ["normal", "log_normal", "student_t", "negative_binomial"]


def positive_series(batch=3, time=24, features=1, counts=False):
    t = np.arange(time, dtype="float32")[None, :, None]
    phase = np.arange(batch, dtype="float32")[:, None, None]
    values = 50.0 + 40.0 * np.sin(0.3 * t + phase + np.arange(features))
    return np.round(values) if counts else values.astype("float32")


def prob_layer(distribution="student_t", **kwargs):
    return SelfFeedingRNN(keras.layers.LSTMCell(8), distribution=distribution, **kwargs)


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("scaling", [None, "mean"])
def test_call_returns_float32_parameters_and_trains(distribution, scaling):
    layer = prob_layer(distribution, scaling=scaling)
    y = positive_series(features=2, counts=distribution == "negative_binomial")
    params = layer(y)
    num_parameters = layer.distribution.num_parameters
    assert params.shape == (3, 24, 2, num_parameters) and params.dtype == "float32"
    model = keras.Sequential([keras.Input((None, 2)), layer])
    model.compile("adam", layer.distribution.loss)
    history = model.fit(y[:, :-1], y[:, 1:], epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_sample_paths_shape_reproducibility_and_spread(distribution):
    layer = prob_layer(distribution, scaling="mean")
    y = positive_series(counts=distribution == "negative_binomial")
    paths = layer.generate(y, 12, num_samples=20, random_seed=4)
    assert paths.shape == (3, 20, 12, 1) and paths.dtype == "float32"
    np.testing.assert_array_equal(
        paths, layer.generate(y, 12, num_samples=20, random_seed=4)
    )
    assert not np.array_equal(
        paths, layer.generate(y, 12, num_samples=20, random_seed=5)
    )
    # Each path draws its own first element.
    assert np.unique(np.asarray(paths)[0, :, 0, 0]).size > 5
    if distribution == "negative_binomial":
        assert (np.asarray(paths) >= 0).all()
        np.testing.assert_array_equal(paths, np.round(paths))


# Among `make test`'s longest (33 s on a 2-core AMD EPYC): `make test-slow`.
@pytest.mark.slow
def test_a_positive_series_keeps_positive_paths_with_a_log_normal():
    # A series of at least 1 whose normal paths go below 0 half the time at
    # this level and spread; the log-normal's never do.
    y = 1.0 + positive_series() / 40.0
    for distribution, positive in [("normal", False), ("log_normal", True)]:
        layer = prob_layer(distribution, scaling="mean")
        paths = np.asarray(layer.generate(y, 24, num_samples=200, random_seed=0))
        assert np.all(np.isfinite(paths))
        assert bool((paths > 0).all()) is positive, distribution


# Among `make test`'s longest (37 s on a 2-core AMD EPYC): `make test-slow`.
@pytest.mark.slow
def test_one_path_without_num_samples_and_no_retrace_for_a_new_n():
    layer = prob_layer("normal")
    y = positive_series()
    assert layer.generate(y, 7, random_seed=0).shape == (3, 7, 1)
    for n in (1, 4, 9):
        assert layer.generate(y, 7, num_samples=n).shape == (3, n, 7, 1)
    # Calls without `random_seed` pass their reservation.
    key = CallKey(("num_samples", "reservation"))
    function = layer._generation.functions[key]
    assert function.experimental_get_tracing_count() == 1


def test_generate_equals_a_hand_written_loop_of_draws():
    # With one path and a fixed seed, the path is the draws a hand-written
    # loop makes from the same parameters: checked through a distribution
    # whose draws are deterministic (its mean).
    class MeanOnly(distributions.Normal):
        def sample(self, params, seed=None):
            return self.mean(params)

    layer = SelfFeedingRNN(keras.layers.GRUCell(6), distribution=MeanOnly())
    y = positive_series(batch=2) / 50.0
    outputs = layer.generate(y, 9)
    cell, state = layer.rnn.cell, layer.rnn.get_initial_state(2)
    for t in range(y.shape[1]):
        h, state = cell(y[:, t], state)
    expected = []
    for _ in range(9):
        raw = tf.reshape(layer.projection(h), (2, 1, 2))
        mean = np.asarray(layer.distribution.mean(layer.distribution.constrain(raw)))
        expected.append(mean)
        h, state = cell(mean, state)
    np.testing.assert_allclose(outputs, np.stack(expected, 1), atol=1e-5)


# Among `make test`'s longest (47 s for three cases, 2-core AMD EPYC): `make test-slow`.
@pytest.mark.slow
@pytest.mark.parametrize("distribution", ["normal", "log_normal", "student_t"])
def test_mean_scaling_is_equivariant(distribution):
    layer = prob_layer(distribution, scaling="mean")
    y = positive_series()
    base = np.asarray(layer.generate(y, 10, num_samples=3, random_seed=2))
    scaled = np.asarray(layer.generate(7.5 * y, 10, num_samples=3, random_seed=2))
    np.testing.assert_allclose(scaled, 7.5 * base, rtol=1e-4, atol=1e-4)
    params = np.asarray(layer(y))
    # The law of 7.5 * y: what `rescale` by 7.5 gives (for the log-normal,
    # log(7.5) added to `loc`; for the others, `loc` and `scale` times 7.5).
    np.testing.assert_allclose(
        np.asarray(layer(7.5 * y)),
        np.asarray(layer.distribution.rescale(params, 7.5)),
        rtol=1e-4,
        atol=1e-4,
    )


# Among `make test`'s longest (31 s on a 2-core AMD EPYC): `make test-slow`.
@pytest.mark.slow
def test_the_scale_is_in_the_state_and_a_continued_call_keeps_it():
    layer = prob_layer("normal", scaling="mean")
    y = positive_series(batch=2)
    paths, state = layer.generate(y, 6, num_samples=4, random_seed=1, return_state=True)
    assert [tuple(s.shape) for s in state] == [(8, 8), (8, 8), (8, 1)]
    np.testing.assert_allclose(
        np.asarray(state[-1])[::4, 0], np.abs(y).mean(axis=(1, 2)), rtol=1e-5
    )
    # Every path continues from its own last element with its own state.
    last = tf.reshape(paths[:, :, -1:], (8, 1, 1))
    more = layer.generate(last, 5, initial_state=state, random_seed=3)
    assert more.shape == (8, 5, 1)
    _, call_state = prob_layer("normal", scaling="mean", return_state=True)(y)
    assert call_state[-1].shape == (2, 1)


def test_a_random_sampler_draws_token_paths():
    layer = token_layer("gru_cell", sampler="random")
    prompt = np.array([[1, 2, 3], [4, 5, 6]])
    paths = layer.generate(prompt, 15, num_samples=6, random_seed=0)
    assert paths.shape == (2, 6, 15) and paths.dtype == "int32"
    assert len({tuple(p) for p in np.asarray(paths)[0]}) > 1


@pytest.mark.slow  # trains or exports: seconds, run by CI
@pytest.mark.tensorflow_only(reason="ExportArchive")
def test_export_serves_sample_paths_with_num_samples_and_random_seed(tmp_path):
    layer = prob_layer("student_t", scaling="mean")
    y = positive_series(batch=2)
    expected = layer.generate(y, 8, num_samples=5, random_seed=9)
    archive = keras.export.ExportArchive()
    archive.track(layer)
    archive.add_endpoint(
        "paths",
        lambda seed, steps, n, random_seed: layer.generate(
            seed, steps, num_samples=n, random_seed=random_seed
        ),
        input_signature=[
            tf.TensorSpec((None, None, 1), tf.float32),
            tf.TensorSpec((), tf.int32),
            tf.TensorSpec((), tf.int32),
            tf.TensorSpec((), tf.int64),
        ],
    )
    archive.write_out(str(tmp_path / "paths"), verbose=False)
    served = tf.saved_model.load(str(tmp_path / "paths"))
    np.testing.assert_allclose(served.paths(y, 8, 5, 9), expected, atol=1e-5)
    assert served.paths(y, 8, 50, 1).shape == (2, 50, 8, 1)


@pytest.mark.slow  # trains or exports: seconds, run by CI
def test_a_compiled_model_saves_and_loads_with_its_loss(tmp_path):
    layer = prob_layer("negative_binomial", scaling="mean")
    model = keras.Sequential([keras.Input((None, 1)), layer])
    model.compile("adam", losses.NegativeLogLikelihood("negative_binomial"))
    y = positive_series(counts=True)
    model.fit(y[:, :-1], y[:, 1:], epochs=1, verbose=0)
    model.save(tmp_path / "counts.keras")
    loaded = keras.saving.load_model(tmp_path / "counts.keras", safe_mode=True)
    np.testing.assert_allclose(
        loaded.predict(y, verbose=0), model.predict(y, verbose=0)
    )
    np.testing.assert_allclose(
        loaded.evaluate(y[:, :-1], y[:, 1:], verbose=0),
        model.evaluate(y[:, :-1], y[:, 1:], verbose=0),
        rtol=1e-5,
    )
    np.testing.assert_array_equal(
        loaded.layers[0].generate(y, 5, num_samples=3, random_seed=0),
        layer.generate(y, 5, num_samples=3, random_seed=0),
    )


@pytest.mark.slow  # trains or exports: seconds, run by CI
def test_training_on_own_draws_with_covariates_and_mixed_precision():
    layer = prob_layer("student_t", scaling="mean", sampling_probability=0.5)
    y_in, x_in = keras.Input((None, 1)), keras.Input((None, 2))
    model = keras.Model([y_in, x_in], layer(y_in, covariates=x_in))
    model.compile("adam", layer.distribution.loss)
    y = positive_series()
    x = np.random.default_rng(0).normal(size=(3, 30, 2)).astype("float32")
    history = model.fit([y[:, :-1], x[:, 1:24]], y[:, 1:], epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    paths = layer.generate(y, 6, covariates=x[:, : 24 + 5], num_samples=2)
    assert paths.shape == (3, 2, 6, 1)
    mixed = prob_layer("normal", dtype="mixed_float16")
    assert mixed(y).dtype == "float32"
    assert mixed.generate(y, 4).dtype == "float32"


@pytest.mark.slow
def test_an_ar1_model_recovers_the_noise_scale():
    # x[t] = 0.8 x[t-1] + 0.5 e[t]: the one-step scale is 0.5.
    rng = np.random.default_rng(0)
    noise = 0.5 * rng.normal(size=(64, 101)).astype("float32")
    x = np.zeros_like(noise)
    for t in range(1, 101):
        x[:, t] = 0.8 * x[:, t - 1] + noise[:, t]
    x = x[..., None]
    keras.utils.set_random_seed(0)
    layer = SelfFeedingRNN(keras.layers.GRUCell(8), distribution="normal")
    model = keras.Sequential([keras.Input((None, 1)), layer])
    model.compile(keras.optimizers.Adam(0.02), layer.distribution.loss)
    model.fit(x[:, :-1], x[:, 1:], epochs=60, batch_size=16, verbose=0)
    scale = np.asarray(layer(x[:, :-1]))[:, 10:, 0, 1]  # after a short warm-up
    assert abs(np.median(scale) - 0.5) < 0.15 * 0.5


# ------------------------------------------------------------------ errors


def test_an_unknown_distribution_name():
    with pytest.raises(ValueError, match="Unknown distribution"):
        prob_layer("gaussian")


def test_a_distribution_with_a_sampler():
    with pytest.raises(ValueError, match="not both"):
        SelfFeedingRNN(
            keras.layers.GRUCell(4),
            encoder=keras.layers.Embedding(5, 2),
            sampler="random",
            distribution="normal",
        )


@pytest.mark.parametrize("scaling", ["max", "MEAN", True, 1])
def test_scaling_must_be_none_or_mean(scaling):
    with pytest.raises(ValueError, match='`scaling` must be None or "mean"'):
        prob_layer("normal", scaling=scaling)


def test_scaling_needs_a_distribution():
    with pytest.raises(ValueError, match="distribution=None"):
        SelfFeedingRNN(keras.layers.GRUCell(4), scaling="mean")


@pytest.mark.parametrize(
    "value, error",
    [(0, ValueError), (-2, ValueError), (2.0, TypeError), (True, TypeError)],
)
def test_num_samples_must_be_a_positive_int(value, error):
    layer = prob_layer("normal")
    with pytest.raises(error, match="`num_samples` must be a positive integer"):
        layer.generate(positive_series(), 3, num_samples=value)


@pytest.mark.parametrize("kind", ["continuous", "greedy"])
def test_num_samples_is_refused_for_deterministic_feedback(kind):
    if kind == "continuous":
        layer = SelfFeedingRNN(keras.layers.GRUCell(4), head=keras.layers.Dense(1))
        seed = sine_seed()
    else:
        layer, seed = token_layer("gru_cell"), np.array([[1, 2]])
    with pytest.raises(ValueError, match="deterministic"):
        layer.generate(seed, 3, num_samples=4)


@pytest.mark.parametrize("scaling", [None, "mean"])
def test_score_sums_log_prob_of_a_continuation(scaling):
    layer = prob_layer("student_t", scaling=scaling)
    y = positive_series(batch=2, time=20)
    seed, continuation = y[:, :12], y[:, 12:]
    scores = np.asarray(layer.score(seed, continuation))
    # By hand: the parameters of a teacher-forced call over the whole
    # series predict each continuation element; the scale is the seed's.
    if scaling is None:
        params = layer(y[:, :-1])[:, 11:]
    else:
        scale = np.abs(seed).mean(axis=1)  # (batch, features)
        params = _params_with_scale(layer, y[:, :-1], scale)[:, 11:]
    expected = np.asarray(layer.distribution.log_prob(params, continuation)).sum((1, 2))
    np.testing.assert_allclose(scores, expected, rtol=1e-4)


def test_context_length_scales_a_window_as_score_scales_its_seed():
    # A training window: the first `context` inputs play the seed. With
    # context_length, a call takes the scale from them alone, so its
    # log-likelihood of the rest is `score` from that seed.
    context = 12
    layer = prob_layer("student_t", scaling="mean", context_length=context)
    y = positive_series(batch=2, time=20)
    y[:, context:] *= 3.0  # a jump after the seed: all inputs would scale it
    seed, continuation = y[:, :context], y[:, context:]
    scores = layer.score(seed, continuation)
    params = layer(y[:, :-1])[:, context - 1 :]
    expected = np.asarray(layer.distribution.log_prob(params, continuation)).sum((1, 2))
    np.testing.assert_allclose(scores, expected, rtol=1e-4)
    layer.return_state = True
    _, state = layer(y[:, :-1])
    np.testing.assert_allclose(
        np.asarray(state[-1])[:, 0], np.abs(seed).mean(axis=(1, 2)), rtol=1e-5
    )
    # The default takes every input, the jump included.
    _, state = prob_layer("student_t", scaling="mean", return_state=True)(y[:, :-1])
    np.testing.assert_allclose(
        np.asarray(state[-1])[:, 0], np.abs(y[:, :-1]).mean(axis=(1, 2)), rtol=1e-5
    )


def test_context_length_with_a_mask_counts_valid_steps_of_the_context():
    layer = prob_layer("normal", scaling="mean", context_length=4, return_state=True)
    y = np.array([[[0.0], [0.0], [2.0], [4.0], [100.0], [100.0]]], "float32")
    mask = np.array([[False, False, True, True, True, True]])
    _, state = layer(y, mask=mask)
    np.testing.assert_allclose(np.asarray(state[-1]), [[3.0]])


def test_context_length_round_trips_and_old_configs_load_without_it():
    layer = prob_layer("normal", scaling="mean", context_length=5)
    config = layer.get_config()
    assert config["context_length"] == 5
    assert SelfFeedingRNN.from_config(config).context_length == 5
    del config["context_length"]
    assert SelfFeedingRNN.from_config(config).context_length is None


@pytest.mark.parametrize(
    "value, error", [(0, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_context_length_must_be_a_positive_int(value, error):
    with pytest.raises(error, match="`context_length` must be a positive integer"):
        prob_layer("normal", scaling="mean", context_length=value)


def test_context_length_needs_mean_scaling():
    with pytest.raises(ValueError, match='`context_length` says.*scaling="mean"'):
        prob_layer("normal", context_length=5)


def _params_with_scale(layer, inputs, scale):
    """A call's parameters with a given scale: through `initial_state`."""
    zeros = [np.zeros((inputs.shape[0], 8), "float32")] * 2
    layer.return_state = True
    try:
        params, _ = layer(inputs, initial_state=[*zeros, scale.astype("float32")])
    finally:
        layer.return_state = False
    return params
