"""`generate(..., noise_scale=...)`: draws of a wider or narrower spread.

Runs on every backend (no TensorFlow import): TensorFlow and JAX in their
suites, torch in `make test-torch`.
"""

import keras
import numpy as np
import pytest
from cells import continuous_layer, token_layer

from selffeed_keras import SelfFeedingRNN, distributions

SCALABLE = ["normal", "student_t", "log_normal"]


def positive_seed(batch=2, time=20):
    t = np.linspace(0.0, 3.0, time, dtype="float32")
    return (2.0 + np.sin(t + np.arange(batch)[:, None]))[..., None]


def prob_layer(distribution, **kwargs):
    # Without XLA: each factor traces a function, which XLA would compile.
    return SelfFeedingRNN(
        keras.layers.GRUCell(6),
        distribution=distribution,
        scaling="mean",
        jit_compile=False,
        **kwargs,
    )


@pytest.mark.parametrize("distribution", SCALABLE)
def test_scale_noise_keeps_the_centre_and_scales_the_spread(distribution):
    # The same draws z: centre + factor * spread * z (the logarithm's, for a
    # log-normal) is linear in the factor.
    dist = distributions.get(distribution)
    raw = np.array([[0.3, -0.2, 0.4], [1.0, 0.5, -1.0]], "float32")
    params = dist.constrain(raw[:, : dist.num_parameters])

    def draws(factor):
        scaled = params if factor is None else dist.scale_noise(params, factor)
        values = np.asarray(dist.sample(scaled, seed=7))
        return np.log(values) if distribution == "log_normal" else values

    plain, one, two, three = (draws(k) for k in (None, 1.0, 2.0, 3.0))
    np.testing.assert_array_equal(one, plain)
    step = two - one
    assert np.abs(step).min() > 0
    np.testing.assert_allclose(three - two, step, rtol=1e-5, atol=1e-6)

    def centre(p):  # the mean; the median for a log-normal, whose mean moves
        return np.asarray(p)[:, 0] if distribution == "log_normal" else dist.mean(p)

    np.testing.assert_allclose(centre(dist.scale_noise(params, 2.0)), centre(params))


def test_each_draw_of_generate_comes_from_the_scaled_distribution():
    layer = prob_layer("student_t")
    seed = positive_seed()

    def first_draws(noise_scale):
        paths = layer.generate(
            seed, 1, num_samples=8, random_seed=5, noise_scale=noise_scale
        )
        return np.asarray(paths)

    plain, one, two, three = (first_draws(k) for k in (None, 1.0, 2.0, 3.0))
    np.testing.assert_array_equal(one, plain)
    step = two - one
    assert np.abs(step).min() > 0
    np.testing.assert_allclose(three - two, step, rtol=1e-4, atol=1e-5)


def test_wider_draws_fed_back_widen_the_paths():
    layer = prob_layer("student_t")
    seed = positive_seed(batch=1)
    spread = {}
    for noise_scale in (0.5, 1.0, 2.0):
        paths = np.asarray(
            layer.generate(
                seed, 24, num_samples=200, random_seed=1, noise_scale=noise_scale
            )
        )
        low, high = np.quantile(paths[0, :, :, 0], [0.1, 0.9], axis=0)
        spread[noise_scale] = float(np.mean(high - low))
    assert spread[0.5] < spread[1.0] < spread[2.0]


def test_every_noise_scale_shares_one_traced_program():
    # The factor is an argument of the program: a calibration sweep over many
    # values traces once (each value kept a traced program of its own).
    layer = prob_layer("student_t")
    seed = positive_seed()
    layer.generate(seed, 3, num_samples=2, noise_scale=1.5)
    programs = layer._generation_functions().programs
    functions = dict(programs.functions)
    traces = dict(getattr(programs, "traces", {}))  # JAX counts its traces
    for value in (np.float32(1.5), np.array(2.0), 3, 0.25):
        layer.generate(seed, 3, num_samples=2, noise_scale=value)
    assert dict(programs.functions).keys() == functions.keys()
    assert dict(getattr(programs, "traces", {})) == traces


def test_a_noise_scale_of_one_runs_the_plain_function():
    layer = prob_layer("student_t")
    seed = positive_seed()
    layer.generate(seed, 3, num_samples=2)
    functions = dict(layer._generation_functions().functions)
    layer.generate(seed, 3, num_samples=2, noise_scale=1.0)
    assert dict(layer._generation_functions().functions).keys() == functions.keys()


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf")])
def test_noise_scale_must_be_above_zero_and_finite(value):
    with pytest.raises(ValueError, match=r"`noise_scale` must be a number above 0"):
        prob_layer("normal").generate(positive_seed(), 2, noise_scale=value)


@pytest.mark.parametrize("value", ["2", True, [2.0]])
def test_noise_scale_must_be_a_number(value):
    with pytest.raises(TypeError, match="`noise_scale` must be a number above 0"):
        prob_layer("normal").generate(positive_seed(), 2, noise_scale=value)


def test_noise_scale_needs_a_distribution():
    continuous = continuous_layer("gru_cell")
    with pytest.raises(ValueError, match="needs a layer built with a `distribution`"):
        continuous.generate(positive_seed(), 2, noise_scale=2.0)
    tokens = token_layer(sampler="random")
    with pytest.raises(ValueError, match="needs a layer built with a `distribution`"):
        tokens.generate(np.array([[1, 2, 3]]), 2, noise_scale=2.0)


def test_a_distribution_without_scale_noise_is_refused():
    layer = prob_layer("negative_binomial")
    counts = np.round(10 * positive_seed())
    with pytest.raises(ValueError, match="NegativeBinomial does not"):
        layer.generate(counts, 2, noise_scale=2.0)
