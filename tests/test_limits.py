"""The limits of the arguments and values that `generate` and `score` read.

Integers past int32, seeds past what every backend holds, non-finite
values and token ids out of the vocabulary are refused with a message that
names the argument: in eager calls before any graph, and in graph calls (a
`tf.function`, an export endpoint) by assertions outside the compiled loop.
"""

import logging
import threading

import keras
import numpy as np
import pytest
import tensorflow as tf
from cells import continuous_layer, sine_seed, token_layer

from selffeed_keras import SelfFeedingRNN


@pytest.fixture(scope="module")
def paths():
    layer = SelfFeedingRNN(keras.layers.GRUCell(4), distribution="normal")
    layer.generate(sine_seed(), 2, num_samples=2)
    return layer


@pytest.fixture(scope="module")
def tokens():
    layer = token_layer("gru_cell", vocab=6, sampler="random")
    layer.generate(np.ones((2, 3), "int32"), 2)
    return layer


# ------------------------------------------------------------------ integers

TOO_LARGE = [2**31, 2**32, 2**32 + 3, np.int64(2**32 + 2)]


def int64_tensor(value):
    """A TensorFlow int64 tensor: JAX holds no int64 unless x64 is enabled."""
    return pytest.param(
        tf.constant(value, tf.int64),
        marks=pytest.mark.tensorflow_only(reason="a tf.Tensor of int64"),
    )


@pytest.mark.parametrize("steps", TOO_LARGE + [int64_tensor(2**32 + 3)])
def test_steps_past_int32_are_refused(paths, steps):
    with pytest.raises(ValueError, match=r"`steps` must be .*2\*\*31 - 1"):
        paths.generate(sine_seed(), steps)


@pytest.mark.parametrize("n", TOO_LARGE + [int64_tensor(2**32)])
def test_num_samples_past_int32_are_refused(paths, n):
    with pytest.raises(ValueError, match=r"`num_samples` must be .*2\*\*31 - 1"):
        paths.generate(sine_seed(), 3, num_samples=n)


@pytest.mark.parametrize("value", [-1, 2**32, 2**63, 2**64 + 1, int64_tensor(2**40)])
def test_random_seed_past_uint32_is_refused(paths, value):
    with pytest.raises(ValueError, match=r"`random_seed` must be .*2\*\*32 - 1"):
        paths.generate(sine_seed(), 3, random_seed=value)


def test_the_largest_random_seed_is_accepted(paths):
    a = paths.generate(sine_seed(), 3, random_seed=2**32 - 1)
    # A tensor of the seed state's dtype: int64 on TensorFlow, uint32 on JAX.
    seed = keras.ops.convert_to_tensor(2**32 - 1, paths.seed_generator.state.dtype)
    b = paths.generate(sine_seed(), 3, random_seed=seed)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("value", [-1, 2**32, 2**63])
def test_the_layer_random_seed_past_uint32_is_refused(value):
    with pytest.raises(ValueError, match=r"`random_seed` must be .*2\*\*32 - 1"):
        SelfFeedingRNN(keras.layers.GRUCell(4), random_seed=value)


# -------------------------------------------------------------- graph calls


def _in_graph(layer, *specs, **fixed):
    """`layer.generate` in a `tf.function` whose arguments are graph tensors."""
    names = list(fixed.pop("names"))

    @tf.function(input_signature=list(specs), autograph=False)
    def generate(seed, *values):
        return layer.generate(seed, **dict(zip(names, values, strict=True)), **fixed)

    return generate


SEED_SPEC = tf.TensorSpec((None, None, 1), tf.float32)
INT32 = tf.TensorSpec((), tf.int32)


@pytest.mark.parametrize(
    "names, values, argument",
    [
        (["steps"], [0], "steps"),
        (["steps"], [-2], "steps"),
        (["steps", "num_samples"], [0, 3], "steps"),
        (["steps", "num_samples"], [3, 0], "num_samples"),
        (["steps", "num_samples"], [3, -1], "num_samples"),
    ],
)
@pytest.mark.tensorflow_only(reason="TensorFlow's graph-side assertions")
def test_graph_calls_check_steps_and_num_samples(paths, names, values, argument):
    generate = _in_graph(paths, SEED_SPEC, *[INT32] * len(names), names=names)
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"`{argument}` must be"):
        generate(sine_seed(), *values)


@pytest.mark.tensorflow_only(reason="TensorFlow's graph-side assertions")
def test_graph_calls_check_int64_steps_before_the_cast(paths):
    generate = _in_graph(paths, SEED_SPEC, tf.TensorSpec((), tf.int64), names=["steps"])
    with pytest.raises(tf.errors.InvalidArgumentError, match="`steps` must be"):
        generate(sine_seed(), 2**32 + 3)
    assert generate(sine_seed(), 3).shape == (2, 3, 1)


@pytest.mark.tensorflow_only(reason="TensorFlow's graph-side assertions")
def test_graph_calls_check_random_seed(paths):
    generate = _in_graph(
        paths,
        SEED_SPEC,
        tf.TensorSpec((), tf.int64),
        names=["random_seed"],
        steps=3,
        num_samples=2,
    )
    for bad in (-1, 2**32):
        with pytest.raises(
            tf.errors.InvalidArgumentError, match="`random_seed` must be"
        ):
            generate(sine_seed(), bad)
    np.testing.assert_array_equal(
        generate(sine_seed(), 5),
        paths.generate(sine_seed(), 3, num_samples=2, random_seed=5),
    )


@pytest.mark.tensorflow_only(reason="TensorFlow's graph-side assertions")
def test_graph_calls_check_token_ids(tokens):
    @tf.function(input_signature=[tf.TensorSpec((None, None), tf.int32)])
    def generate(seed):
        return tokens.generate(seed, 3, random_seed=1)

    for bad in ([[1, 6]], [[-1, 2]], [[2**31 - 1, 1]]):
        with pytest.raises(tf.errors.InvalidArgumentError, match="`seed` must hold"):
            generate(np.array(bad, "int32"))
    assert generate(np.array([[1, 5]], "int32")).shape == (1, 3)


# ------------------------------------------------------------ token ids


@pytest.mark.parametrize("bad", [6, 2**31 - 1, -1])
def test_seed_token_ids_out_of_the_vocabulary_are_refused(tokens, bad):
    seed = np.array([[1, 2, 3], [4, 5, bad]], "int64")
    with pytest.raises(ValueError, match=r"`seed` must hold token ids in \[0, 6\)"):
        tokens.generate(seed, 3)
    with pytest.raises(ValueError, match=r"seed\[1, 2\] = "):
        tokens.generate(seed, 3, random_seed=1)


def test_score_refuses_a_continuation_out_of_the_vocabulary(tokens):
    with pytest.raises(
        ValueError, match=r"`continuation` must hold token ids.*continuation\[0, 1\]"
    ):
        tokens.score(np.array([[1, 2]]), np.array([[3, 6]]))


def test_score_refuses_a_seed_of_other_features_than_the_layer_was_built_for(paths):
    # The continuation has the seed's features, so only the built layer can
    # tell: it failed inside the traced function's input signature.
    with pytest.raises(ValueError, match=r"`seed` must have the feature size.*\(1,\)"):
        paths.score(np.ones((2, 5, 2), "float32"), np.ones((2, 3, 2), "float32"))


def test_score_names_itself_in_covariates_errors(tokens):
    with pytest.raises(ValueError, match="so `score` cannot read them"):
        tokens.score(
            np.array([[1, 2]]), np.array([[3, 4]]), covariates=np.zeros((1, 3, 1))
        )


def test_a_prompt_of_padding_only_is_refused_under_mask_zero():
    layer = SelfFeedingRNN(
        keras.layers.GRUCell(4),
        head=keras.layers.Dense(6),
        encoder=keras.layers.Embedding(6, 3, mask_zero=True),
        sampler="greedy",
    )
    seed = np.array([[0, 3, 2], [0, 0, 0]])
    with pytest.raises(ValueError, match=r"`seed`.*rows \[1\].*only padding"):
        layer.generate(seed, 3)
    # The real token of row 0 is masked by `seed_mask`: padding is all left.
    mask = np.array([[False, True, True], [True, True, True]])
    with pytest.raises(ValueError, match=r"rows \[0\]"):
        layer.generate(np.array([[3, 0, 0], [1, 2, 3]]), 3, seed_mask=mask)
    assert layer.generate(seed[:1], 3).shape == (1, 3)


# ------------------------------------------------------------ non-finite


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_seed_is_refused_with_its_position(paths, bad):
    seed = sine_seed()
    seed[1, 7, 0] = bad
    with pytest.raises(ValueError, match=r"`seed` must hold finite.*seed\[1, 7\]"):
        paths.generate(seed, 3)
    with pytest.raises(ValueError, match=r"`seed` must hold finite.*seed\[1, 7\]"):
        paths.score(seed, np.ones((2, 3, 1), "float32"))


def test_a_masked_seed_step_may_hold_nan(paths):
    seed = sine_seed()
    seed[0, :2] = np.nan
    mask = np.ones(seed.shape[:2], bool)
    mask[0, :2] = False
    out = paths.generate(seed, 3, seed_mask=mask, random_seed=1)
    assert np.isfinite(np.asarray(out)).all()


def test_a_non_finite_continuation_is_refused(paths):
    continuation = np.ones((2, 3, 1), "float32")
    continuation[0, 2] = np.nan
    with pytest.raises(ValueError, match=r"`continuation`.*continuation\[0, 2\]"):
        paths.score(sine_seed(), continuation)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_or_boolean_initial_state_is_refused(paths, bad):
    # It spread into every output silently; a bool was cast to 0 and 1.
    state = np.zeros((2, 4), "float32")  # a GRUCell(4)'s, for 2 rows
    state[1, 3] = bad
    with pytest.raises(ValueError, match=r"`initial_state\[0\]` must hold fin.*row 1"):
        paths.generate(sine_seed(), 3, initial_state=[state])
    with pytest.raises(ValueError, match=r"`initial_state\[0\]` must hold finite"):
        paths.score(sine_seed(), np.ones((2, 3, 1), "float32"), initial_state=[state])
    with pytest.raises(TypeError, match=r"`initial_state\[0\]` must hold real"):
        paths.generate(sine_seed(), 3, initial_state=[np.ones((2, 4), bool)])


def test_non_finite_covariates_are_refused_with_their_position():
    layer = continuous_layer("gru_cell")
    seed = sine_seed()
    covariates = np.zeros((2, 12 + 4 - 1, 1), "float32")
    layer.generate(seed, 4, covariates=covariates)
    covariates[0, 13] = np.nan
    with pytest.raises(
        ValueError, match=r"`covariates` must hold finite.*covariates\[0, 13\]"
    ):
        layer.generate(seed, 4, covariates=covariates)


# --------------------------------------------------------- random streams


def test_concurrent_calls_without_random_seed_draw_distinct_paths(paths):
    seed = sine_seed()
    paths.generate(seed, 24, num_samples=5)  # traced before the threads
    results, errors = [], []

    def work():
        try:
            results.append(np.asarray(paths.generate(seed, 24, num_samples=5)))
        except Exception as error:  # reported below
            errors.append(error)

    start = np.asarray(paths.seed_generator.state).copy()
    for _ in range(10):
        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors, errors
    assert len(results) == 80
    assert len({r.tobytes() for r in results}) == 80
    # Each call reserves its stream with one draw of the layer's generator.
    advanced = np.asarray(paths.seed_generator.state) - start
    assert advanced.tolist() == [0, 80]


def test_a_reservation_is_unique_among_the_calls_in_flight(paths):
    paths.generate(sine_seed(), 2)
    generation = paths._generation
    with generation.reserve() as first:
        with generation.reserve() as second:
            assert (int(first), int(second)) == (0, 1)
        with generation.reserve() as third:  # `second` ended, `first` runs
            assert int(third) == 2
    with generation.reserve() as alone:  # none in flight: starts again
        assert int(alone) == 0


def test_successive_calls_of_a_seeded_layer_are_reproducible():
    def draws():
        layer = SelfFeedingRNN(
            keras.layers.GRUCell(4),
            distribution="normal",
            random_seed=3,
            jit_compile=False,
        )
        layer.build((None, None, 1))
        layer.set_weights([np.full(w.shape, 0.1, "float32") for w in layer.weights])
        return [np.asarray(layer.generate(sine_seed(), 4)) for _ in range(2)]

    first, second = draws(), draws()
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], first[1])


# -------------------------------------------------------------- retracing


@pytest.mark.slow  # six layers traced: half a minute on 2 cores
def test_a_fresh_layer_per_origin_warns_of_no_retracing():
    messages = []

    class Collect(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())

    handler = Collect()
    logger = logging.getLogger("tensorflow")
    logger.addHandler(handler)
    try:
        for origin in range(6):  # the warning came after 5 traces
            keras.backend.clear_session()
            layer = token_layer("simple_rnn_cell", vocab=6, jit_compile=False)
            layer.generate(np.ones((1, 2 + origin), "int32"), 3)
            layer.score(np.ones((1, 2), "int32"), np.ones((1, 3), "int32"))
    finally:
        logger.removeHandler(handler)
    assert not [m for m in messages if "retracing" in m]


# ------------------------------------------------------------------- sizes


def test_a_call_past_max_bytes_is_refused_before_it_allocates(paths):
    with pytest.raises(ValueError, match=r"about .* GiB.*past `max_bytes`=4294967296"):
        paths.generate(sine_seed(), 10, num_samples=10**9)
    with pytest.raises(ValueError, match="`max_bytes`=1000"):
        paths.generate(sine_seed(), 10, num_samples=100, max_bytes=1000)
    out = paths.generate(sine_seed(), 10, num_samples=100, max_bytes=None)
    assert out.shape == (2, 100, 10, 1)


@pytest.mark.parametrize("value", [0, -5, 1.5, "big"])
def test_max_bytes_must_be_a_positive_integer_or_none(paths, value):
    with pytest.raises((ValueError, TypeError), match="`max_bytes` must be"):
        paths.generate(sine_seed(), 3, max_bytes=value)


# -------------------------------------------------------- mixed precision


@pytest.fixture
def mixed_float16():
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.slow  # trains: half a minute on 2 shared cores
def test_mean_scaling_reads_values_past_float16_under_mixed_float16(mixed_float16):
    y = 1e5 + 3e4 * np.sin(0.3 * np.arange(20, dtype="float32"))[None, :, None]
    y = np.repeat(y, 2, 0).astype("float32")
    layer = SelfFeedingRNN(
        keras.layers.GRUCell(4),
        distribution="normal",
        scaling="mean",
        jit_compile=False,
    )
    assert np.isfinite(np.asarray(layer.generate(y, 4, num_samples=3))).all()
    assert np.isfinite(np.asarray(layer.score(y[:, :-4], y[:, -4:]))).all()
    model = keras.Sequential([keras.Input((None, 1)), layer])
    model.compile("adam", layer.distribution.loss)
    history = model.fit(y[:, :-1], y[:, 1:], epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_values_past_float16_are_refused_without_scaling(mixed_float16):
    layer = continuous_layer("gru_cell")
    seed = sine_seed() * 1e5
    with pytest.raises(ValueError, match=r"`seed` holds values past the largest"):
        layer.generate(seed, 3)
