import keras
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from selffeed_keras import distributions, losses
from selffeed_keras.losses import NegativeLogLikelihood


def random_case(distribution, seed=0, shape=(4, 5, 3)):
    """Constrained parameters and targets drawn from them."""
    rng = np.random.default_rng(seed)
    raw = rng.normal(size=(*shape, distribution.num_parameters)).astype("float32")
    params = distribution.constrain(raw)
    targets = distribution.sample(params, seed=seed)
    return np.asarray(params), np.asarray(targets)


def scipy_log_density(distribution, params, y):
    if isinstance(distribution, distributions.Normal):
        return scipy.stats.norm.logpdf(y, params[..., 0], params[..., 1])
    if isinstance(distribution, distributions.StudentT):
        df, loc, scale = np.moveaxis(params, -1, 0)
        return scipy.stats.t.logpdf(y, df, loc, scale)
    mean, total_count = np.moveaxis(params.astype("float64"), -1, 0)
    return scipy.stats.nbinom.logpmf(y, total_count, total_count / (total_count + mean))


@pytest.mark.parametrize("name", ["normal", "student_t", "negative_binomial"])
def test_the_loss_is_the_mean_negative_log_likelihood(name):
    distribution = distributions.get(name)
    params, targets = random_case(distribution)
    loss = NegativeLogLikelihood(name)
    expected = -scipy_log_density(distribution, params, targets)
    np.testing.assert_allclose(float(loss(targets, params)), expected.mean(), rtol=1e-5)
    per_step = NegativeLogLikelihood(distribution, reduction=None)(targets, params)
    assert per_step.shape == (4, 5)  # averaged over the features, as MSE does.
    np.testing.assert_allclose(per_step, expected.mean(axis=-1), rtol=1e-5)
    assert type(distribution.loss) is NegativeLogLikelihood


def test_masks_and_sample_weights_weigh_as_for_mean_squared_error():
    # With unit scales the Normal NLL is MSE / 2 + log(2 pi) / 2 per element,
    # so both Keras losses must agree under any mask and sample weight.
    rng = np.random.default_rng(1)
    loc = rng.normal(size=(4, 5, 3)).astype("float32")
    y = rng.normal(size=(4, 5, 3)).astype("float32")
    params = np.stack([loc, np.ones_like(loc)], axis=-1)
    mask = rng.random((4, 5)) > 0.3
    weights = rng.random((4, 5)).astype("float32")
    constant = 0.5 * np.log(2 * np.pi)
    for reduction in ["sum_over_batch_size", "sum", "mean_with_sample_weight"]:
        nll = NegativeLogLikelihood("normal", reduction=reduction)
        mse = keras.losses.MeanSquaredError(reduction=reduction)
        for sample_weight in [None, weights]:
            masked_params = tf.constant(params)
            masked_params._keras_mask = tf.constant(mask)
            masked_loc = tf.constant(loc)
            masked_loc._keras_mask = tf.constant(mask)
            ones = tf.ones_like(masked_loc)
            ones._keras_mask = tf.constant(mask)
            expected = 0.5 * mse(y, masked_loc, sample_weight) + constant * mse(
                tf.zeros_like(ones), ones, sample_weight
            )
            got = nll(y, masked_params, sample_weight)
            np.testing.assert_allclose(got, expected, rtol=1e-5, err_msg=reduction)


def test_float16_predictions_give_a_float32_loss():
    params, targets = random_case(distributions.StudentT())
    loss = NegativeLogLikelihood("student_t")(targets, params.astype("float16"))
    assert loss.dtype == "float32" and np.isfinite(loss)


def test_config_round_trip_in_safe_mode():
    loss = NegativeLogLikelihood("negative_binomial", reduction="sum", name="nll")
    config = keras.saving.serialize_keras_object(loss)
    restored = keras.saving.deserialize_keras_object(config, safe_mode=True)
    assert type(restored) is NegativeLogLikelihood
    assert type(restored.distribution) is distributions.NegativeBinomial
    assert restored.get_config() == loss.get_config()
    assert (restored.reduction, restored.name) == ("sum", "nll")


@keras.saving.register_keras_serializable(package="test_losses")
class Constrain(keras.layers.Layer):
    """Raw projections to constrained parameters (the layer will do this)."""

    def __init__(self, distribution, **kwargs):
        super().__init__(**kwargs)
        self.distribution = distributions.get(distribution)

    def call(self, raw):
        return self.distribution.constrain(raw)

    def get_config(self):
        distribution = keras.saving.serialize_keras_object(self.distribution)
        return {**super().get_config(), "distribution": distribution}


def parameter_model(distribution, features=2):
    size = distribution.num_parameters
    inputs = keras.Input((6, features))
    raw = keras.layers.Dense(features * size)(inputs)
    raw = keras.layers.Reshape((6, features, size))(raw)
    return keras.Model(inputs, Constrain(distribution)(raw))


def test_a_compiled_model_saves_and_loads_with_the_loss(tmp_path):
    distribution = distributions.StudentT()
    model = parameter_model(distribution)
    model.compile(optimizer="adam", loss=distribution.loss)
    x = np.random.default_rng(2).normal(size=(8, 6, 2)).astype("float32")
    model.fit(x, x, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded.loss) is NegativeLogLikelihood
    assert type(loaded.loss.distribution) is distributions.StudentT
    np.testing.assert_allclose(
        loaded.evaluate(x, x, verbose=0), model.evaluate(x, x, verbose=0), rtol=1e-6
    )


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.tensorflow_only(reason="TensorFlow's assertions in fit")
def test_negative_count_targets_in_fit(jit_compile):
    distribution = distributions.NegativeBinomial()
    model = parameter_model(distribution)
    model.compile(optimizer="sgd", loss=distribution.loss, jit_compile=jit_compile)
    x = np.ones((4, 6, 2), "float32")
    y = np.ones((4, 6, 2), "float32")
    y[1, 2, 0] = -1.0
    if not jit_compile:
        with pytest.raises(tf.errors.InvalidArgumentError, match="non-negative"):
            model.fit(x, y, epochs=1, verbose=0)
    else:
        # XLA drops TensorFlow's assertions: the documented outcome is NaN.
        history = model.fit(x, y, epochs=1, verbose=0)
        assert np.isnan(history.history["loss"][0])


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="Unknown distribution name.*'poisson'"):
        NegativeLogLikelihood("poisson")
    with pytest.raises(ValueError, match="`distribution` must be.*None"):
        NegativeLogLikelihood(None)
    with pytest.raises(TypeError, match="`distribution` must be"):
        NegativeLogLikelihood(2.0)
    with pytest.raises(ValueError, match="reduction"):
        NegativeLogLikelihood("normal", reduction="median")
    loss = NegativeLogLikelihood("normal")
    with pytest.raises(ValueError, match="`y_pred` must hold.*Received: y_true"):
        loss(np.zeros((2, 3, 1)), np.zeros((2, 3, 2)))
    with pytest.raises(ValueError, match="`params` must have 2 entries"):
        loss(np.zeros((2, 3, 1)), np.zeros((2, 3, 1, 3)))
    # Targets of other features (or rows) than the parameters broadcast
    # against them into a loss of the wrong pairs.
    for y_true in (np.zeros((2, 3, 2)), np.zeros((1, 3, 1))):
        with pytest.raises(ValueError, match=r"`y_true` must have the shape of"):
            loss(y_true, np.zeros((2, 3, 1, 2)))


def test_losses_module_exports():
    assert losses.__all__ == ["NegativeLogLikelihood"]
