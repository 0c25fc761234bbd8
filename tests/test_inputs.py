"""The values a call reads: ids past int32, scales that overflow, supports.

Each test holds a case that used to give a silently wrong answer or a raw
backend error, on every backend (`make test-jax`, `make test-torch`).
"""

import keras
import numpy as np
import pytest
from cells import sine_seed, token_layer

from selffeed_keras import SelfFeedingRNN


def numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.fixture(scope="module")
def tokens():
    layer = token_layer("gru_cell", vocab=6, lags=(1, 2))
    layer.generate(np.ones((1, 3), "int32"), 2)
    return layer


# ----------------------------------------------------- token ids past int32

WIDE_IDS = [
    (np.array([[1, 2**32 + 1]], "int64"), 2**32 + 1),
    (np.array([[1, 2**32 - 1]], "uint32"), 2**32 - 1),
    (np.array([[1, -(2**32) + 1]], "int64"), -(2**32) + 1),
]


@pytest.mark.parametrize("ids, value", WIDE_IDS)
def test_ids_past_int32_are_refused_before_they_wrap(tokens, ids, value):
    # Cast to int32 first, 2**32 + 1 became 1 and generated what [[1, 1]] did.
    match = rf"`seed` must hold token ids in \[0, 2\*\*31 - 1\].*seed\[0, 1\] = {value}"
    with pytest.raises(ValueError, match=match):
        tokens.generate(ids, 2)
    with pytest.raises(ValueError, match=match):
        tokens.score(ids, np.array([[1]]))
    with pytest.raises(ValueError, match=match.replace("seed", "history")):
        tokens.history_state(ids)
    with pytest.raises(ValueError, match=match.replace("seed", "continuation")):
        tokens.score(np.array([[1]]), ids)


def test_ids_of_a_wide_dtype_within_range_are_read(tokens):
    wide = np.array([[1, 2, 3]], "int64")
    np.testing.assert_array_equal(
        numpy(tokens.generate(wide, 4)), numpy(tokens.generate(wide.astype("int32"), 4))
    )


@pytest.mark.tensorflow_only(reason="a tf.function over an int64 tensor")
def test_graph_calls_check_ids_past_int32_before_the_cast(tokens):
    import tensorflow as tf

    generate = tf.function(lambda ids: tokens.generate(ids, 2))
    with pytest.raises(tf.errors.InvalidArgumentError, match="2\\*\\*31 - 1"):
        generate(tf.constant([[1, 2**32 + 1]], tf.int64))


# ----------------------------------------------------- noise_scale, scales


@pytest.mark.parametrize("value", [1e39, 1e-39])
def test_noise_scale_outside_float32_is_refused(value):
    layer = SelfFeedingRNN(keras.layers.GRUCell(4), distribution="normal")
    with pytest.raises(ValueError, match="`noise_scale` must be a number above 0"):
        layer.generate(sine_seed(), 2, noise_scale=value)


def test_the_largest_float32_noise_scale_is_accepted():
    layer = SelfFeedingRNN(keras.layers.GRUCell(4), distribution="normal")
    paths = layer.generate(sine_seed(), 2, noise_scale=1e30, random_seed=0)
    assert numpy(paths).shape == (2, 2, 1)


def test_the_mean_scale_of_finite_values_near_float32s_largest_is_finite():
    # A float32 sum of 1,000 values of 1e36 overflowed: an infinite scale and
    # all-NaN outputs, without an error.
    layer = SelfFeedingRNN(
        keras.layers.GRUCell(4), distribution="normal", scaling="mean"
    )
    seed = np.full((1, 1000, 1), 1e36, "float32")
    outputs, state = layer.generate(seed, 3, return_state=True, random_seed=0)
    np.testing.assert_allclose(numpy(state[-1]), [[1e36]], rtol=1e-5)
    assert np.isfinite(numpy(outputs)).all()


def test_padding_never_counts_in_the_mean_scale_even_as_nan():
    # A masked seed step may hold NaN; multiplied by a zero weight it made
    # the sum NaN, and the row's scale fell to 1.
    layer = SelfFeedingRNN(
        keras.layers.GRUCell(4), distribution="normal", scaling="mean"
    )
    seed = 50 + sine_seed(batch=2, time=6)
    seed[1, :3] = np.nan
    mask = np.ones((2, 6), bool)
    mask[1, :3] = False
    _, state = layer.generate(seed, 2, seed_mask=mask, return_state=True)
    expected = [np.abs(seed[0]).mean(0), np.abs(seed[1, 3:]).mean(0)]
    np.testing.assert_allclose(numpy(state[-1]), expected, rtol=1e-5)


# ------------------------------------------------------ distribution support


@pytest.mark.parametrize(
    "distribution, bad, match",
    [
        ("log_normal", 0.0, r"positive values \(above 0\).*\[0, 2\] = \[0.0\]"),
        ("log_normal", -1.0, r"positive values.*\[0, 2\] = \[-1.0\]"),
        ("negative_binomial", -1.0, r"non-negative values.*\[0, 2\] = \[-1.0\]"),
    ],
)
def test_values_outside_the_distribution_support_are_refused(distribution, bad, match):
    layer = SelfFeedingRNN(
        keras.layers.GRUCell(4), distribution=distribution, lags=(1, 2)
    )
    seed = np.full((1, 4, 1), 3.0, "float32")
    seed[0, 2] = bad
    with pytest.raises(ValueError, match="`seed` must hold " + match):
        layer.generate(seed, 2)
    with pytest.raises(ValueError, match="`seed` must hold " + match):
        layer.score(seed, np.ones((1, 2, 1), "float32"))
    with pytest.raises(ValueError, match="`continuation` must hold " + match):
        layer.score(np.ones((1, 2, 1), "float32"), seed)
    with pytest.raises(ValueError, match="`history` must hold " + match):
        layer.history_state(seed)
    mask = np.ones((1, 4), bool)
    mask[0, 2] = False  # padding: not read, so not checked
    assert numpy(layer.generate(seed, 2, seed_mask=mask)).shape == (1, 2, 1)


def test_counts_of_zero_are_read_by_a_negative_binomial():
    # Intermittent demand is mostly zeros.
    layer = SelfFeedingRNN(keras.layers.GRUCell(4), distribution="negative_binomial")
    seed = np.zeros((1, 5, 1), "float32")
    assert numpy(layer.generate(seed, 3, random_seed=0)).shape == (1, 3, 1)
    assert np.isfinite(numpy(layer.score(seed, seed))).all()


# --------------------------------------------------------------- lags, files


def test_weights_of_other_lags_are_refused(tmp_path):
    def layer(lags):
        model = keras.Sequential(
            [
                keras.Input((None, 1)),
                SelfFeedingRNN(
                    keras.layers.GRUCell(4), head=keras.layers.Dense(1), lags=lags
                ),
            ]
        )
        return model

    path = str(tmp_path / "lags.weights.h5")
    layer((1, 3)).save_weights(path)
    layer((1, 3)).load_weights(path)  # the same lags load
    with pytest.raises(ValueError, match=r"lags=\(1, 3\).*lags=\(1, 5\)"):
        layer((1, 5)).load_weights(path)


# ------------------------------------------------------------ JAX's traces


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="jax.jit")
@pytest.mark.parametrize("method", ["generate", "score", "history_state"])
def test_a_call_traced_by_jax_jit_says_what_to_do(method):
    import jax

    layer = SelfFeedingRNN(keras.layers.GRUCell(4), distribution="normal", lags=(1, 2))
    seed = sine_seed()
    calls = {
        "generate": lambda x: layer.generate(x, 5),
        "score": lambda x: layer.score(x, x),
        "history_state": lambda x: layer.history_state(x),
    }
    with pytest.raises(TypeError, match=f"`{method}` runs its own compiled program"):
        jax.jit(calls[method])(seed)
    with pytest.raises(TypeError, match="cannot be traced by the caller"):
        jax.jit(lambda: calls[method](seed))()  # concrete arguments, traced call
