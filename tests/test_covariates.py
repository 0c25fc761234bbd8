"""Covariates: inputs read at every step, in training and generation, never fed back."""

import json

import keras
import numpy as np
import pytest
from cells import CELLS, continuous_layer, reference_generate, sine_seed, token_layer

from selffeed_keras import SelfFeedingRNN

NUM_COVARIATES = 3


def numpy(x):
    """A tensor of any backend as a NumPy array (torch's: without its graph)."""
    return keras.ops.convert_to_numpy(x)


def covariates_for(batch, time, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, time, NUM_COVARIATES)).astype("float32")


def built(layer, seed, time=None):
    """Calls `layer` once with covariates, so that it is built with them."""
    time = seed.shape[1] if time is None else time
    layer(seed, covariates=covariates_for(seed.shape[0], time))
    return layer


@pytest.mark.parametrize("cell_name", sorted(CELLS))
def test_generate_equals_the_hand_written_loop(cell_name):
    seed = sine_seed(batch=3, time=7, features=2)
    layer = built(continuous_layer(cell_name, features=2), seed)
    covariates = covariates_for(3, 7 + 25 - 1, seed=1)
    outputs = layer.generate(seed, 25, covariates=covariates)
    expected = reference_generate(layer, seed, 25, covariates)
    np.testing.assert_allclose(numpy(outputs), expected, atol=1e-5)


def test_generate_without_xla_equals_the_hand_written_loop():
    seed = sine_seed(batch=2, time=5)
    layer = built(continuous_layer("lstm_cell", jit_compile=False), seed)
    covariates = covariates_for(2, 5 + 12 - 1)
    np.testing.assert_allclose(
        numpy(layer.generate(seed, 12, covariates=covariates)),
        reference_generate(layer, seed, 12, covariates),
        atol=1e-5,
    )


def test_greedy_tokens_with_covariates_equal_the_hand_written_loop():
    seed = np.random.default_rng(0).integers(0, 13, (4, 6))
    layer = built(token_layer("gru_cell"), seed)
    covariates = covariates_for(4, 6 + 20 - 1)
    np.testing.assert_array_equal(
        numpy(layer.generate(seed, 20, covariates=covariates)),
        reference_generate(layer, seed, 20, covariates),
    )


def test_covariates_change_what_is_generated():
    seed = sine_seed(batch=1, time=4)
    layer = built(continuous_layer("gru_cell"), seed)
    a = layer.generate(seed, 10, covariates=covariates_for(1, 13, seed=1))
    b = layer.generate(seed, 10, covariates=covariates_for(1, 13, seed=2))
    assert not np.allclose(numpy(a), numpy(b))


@pytest.mark.parametrize("kind", ["continuous", "tokens"])
def test_free_running_call_equals_generate_from_a_one_step_seed(kind):
    # sampling_probability=1: every step after the first reads the layer's
    # own previous output, and the covariates of its own step.
    if kind == "continuous":
        layer = continuous_layer("lstm_cell", sampling_probability=1.0)
        inputs = sine_seed(batch=2, time=15)
    else:
        layer = token_layer("lstm_cell", sampling_probability=1.0)
        inputs = np.random.default_rng(0).integers(0, 13, (2, 15))
    covariates = covariates_for(2, 15)
    outputs = layer(inputs, covariates=covariates, training=True)
    generated = layer.generate(inputs[:, :1], 15, covariates=covariates)
    if kind == "continuous":
        np.testing.assert_allclose(numpy(outputs), numpy(generated), atol=1e-5)
    else:
        np.testing.assert_array_equal(np.argmax(numpy(outputs), -1), numpy(generated))


def test_two_calls_with_the_state_equal_one():
    seed = sine_seed(batch=2, time=6)
    layer = built(continuous_layer("gru_cell"), seed)
    covariates = covariates_for(2, 6 + 30 - 1)
    whole = layer.generate(seed, 30, covariates=covariates)
    first, state = layer.generate(
        seed, 13, covariates=covariates[:, : 6 + 12], return_state=True
    )
    # The continuation's seed is the last element; its covariates start at
    # the column the one call read with that element.
    rest = layer.generate(
        first[:, -1:], 17, initial_state=state, covariates=covariates[:, 6 + 12 :]
    )
    np.testing.assert_allclose(numpy(whole[:, 13:]), numpy(rest), atol=1e-5)


def test_left_padded_rows_with_covariates_match_each_row_alone():
    layer = built(continuous_layer("gru_cell"), sine_seed(batch=3, time=9))
    seed = sine_seed(batch=3, time=9)
    covariates = covariates_for(3, 9 + 12 - 1)
    lengths = [9, 4, 1]
    seed_mask = np.arange(9)[None, :] >= 9 - np.array(lengths)[:, None]
    padded = np.where(seed_mask[..., None], seed, 0.0)
    together = layer.generate(padded, 12, seed_mask=seed_mask, covariates=covariates)
    for row, length in enumerate(lengths):
        alone = layer.generate(
            seed[row : row + 1, 9 - length :],
            12,
            covariates=covariates[row : row + 1, 9 - length :],
        )
        np.testing.assert_allclose(
            numpy(together[row : row + 1]), numpy(alone), atol=1e-5
        )


def test_a_static_covariate_repeated_over_time():
    seed = sine_seed(batch=2, time=5)
    static = np.array([[0.0], [1.0]], "float32")  # one value per series
    layer = continuous_layer("gru_cell")
    layer(seed, covariates=np.repeat(static[:, None], 5, axis=1))
    outputs = layer.generate(seed, 8, covariates=np.repeat(static[:, None], 12, 1))
    assert outputs.shape == (2, 8, 1)


def test_a_functional_model_with_two_inputs_trains_and_saves(tmp_path):
    y_in = keras.Input((None, 1))
    x_in = keras.Input((None, NUM_COVARIATES))
    layer = SelfFeedingRNN(keras.layers.GRUCell(8), head=keras.layers.Dense(1))
    model = keras.Model([y_in, x_in], layer(y_in, covariates=x_in))
    model.compile("adam", "mse")
    y = sine_seed(batch=8, time=21)
    x = covariates_for(8, 21)
    history = model.fit([y[:, :-1], x[:, 1:]], y[:, 1:], epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    (loaded_layer,) = [la for la in loaded.layers if isinstance(la, SelfFeedingRNN)]
    covariates = covariates_for(8, 20 + 10 - 1)
    np.testing.assert_allclose(
        numpy(loaded_layer.generate(y[:, :-1], 10, covariates=covariates)),
        numpy(layer.generate(y[:, :-1], 10, covariates=covariates)),
        atol=1e-6,
    )


@keras.saving.register_keras_serializable(package="selffeed_keras_tests")
class Forecaster(keras.Model):
    """A subclassed model that reads covariates beside the series."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rnn = SelfFeedingRNN(keras.layers.LSTMCell(6), head=keras.layers.Dense(1))

    def call(self, inputs, training=None):
        series, covariates = inputs
        return self.rnn(series, covariates=covariates, training=training)


def test_a_subclassed_model_trains_with_covariates():
    model = Forecaster()
    model.compile("adam", "mse")
    y, x = sine_seed(batch=4, time=11), covariates_for(4, 11)
    model.fit((y[:, :-1], x[:, 1:]), y[:, 1:], epochs=1, verbose=0)
    assert model.rnn.generate(y, 5, covariates=covariates_for(4, 15)).shape == (
        4,
        5,
        1,
    )


def test_a_layer_only_built_keeps_its_covariates_through_saving(tmp_path):
    layer = continuous_layer("lstm_cell")
    layer.build((None, None, 1), (None, None, NUM_COVARIATES))
    config = json.loads(json.dumps(layer.get_build_config()))
    clone = SelfFeedingRNN.from_config(layer.get_config())
    clone.build_from_config(config)
    clone.set_weights(layer.get_weights())
    seed, covariates = sine_seed(batch=1, time=4), covariates_for(1, 4 + 6 - 1)
    np.testing.assert_allclose(
        numpy(clone.generate(seed, 6, covariates=covariates)),
        numpy(layer.generate(seed, 6, covariates=covariates)),
        atol=1e-6,
    )
    # A functional model saved untrained: its layer was only built, by Keras.
    y_in, x_in = keras.Input((None, 1)), keras.Input((None, NUM_COVARIATES))
    fresh = continuous_layer("gru_cell")
    model = keras.Model([y_in, x_in], fresh(y_in, covariates=x_in))
    model.save(tmp_path / "built.keras")
    loaded = keras.saving.load_model(tmp_path / "built.keras", safe_mode=True)
    (loaded_layer,) = [la for la in loaded.layers if isinstance(la, SelfFeedingRNN)]
    np.testing.assert_allclose(
        numpy(loaded_layer.generate(seed, 6, covariates=covariates)),
        numpy(fresh.generate(seed, 6, covariates=covariates)),
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "options",
    [
        {"cell": "stacked", "dropout": True},
        pytest.param(
            {"cell": "lstm_layer", "jit_compile": True},
            marks=pytest.mark.skipif(
                keras.backend.backend() == "torch",
                reason="XLA: jit_compile=True is torch.compile on torch, which "
                "compiles this model for a minute (it trains, with torch's and "
                "Dynamo's warnings ignored)",
            ),
        ),
        {"cell": "gru_cell", "sampling_probability": 0.5, "mask": True},
        {"cell": "two_state_cell", "return_state": True},
    ],
    ids=["stacked-dropout", "recurrent-layer-xla", "scheduled-masked", "state"],
)
def test_training_with_covariates(options):
    cell = CELLS[options["cell"]]()
    if options.get("dropout"):
        cell = [keras.layers.LSTMCell(8, dropout=0.2, recurrent_dropout=0.2)] + cell[1:]
    layer = SelfFeedingRNN(
        cell,
        head=keras.layers.Dense(1),
        sampling_probability=options.get("sampling_probability", 0.0),
        return_state=options.get("return_state", False),
    )
    y_in, x_in = keras.Input((None, 1)), keras.Input((None, NUM_COVARIATES))
    inputs = keras.layers.Masking(0.0)(y_in) if options.get("mask") else y_in
    outputs = layer(inputs, covariates=x_in)
    if options.get("return_state"):
        outputs = outputs[0]
    model = keras.Model([y_in, x_in], outputs)
    model.compile("adam", "mse", jit_compile=options.get("jit_compile", False))
    y, x = sine_seed(batch=8, time=13) + 2.0, covariates_for(8, 13)
    if options.get("mask"):
        y[:2, :3] = 0.0  # padded at the start
    history = model.fit([y[:, :-1], x[:, 1:]], y[:, 1:], epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_initial_state_in_call_with_covariates():
    layer = continuous_layer("gru_cell", return_state=True)
    seed, covariates = sine_seed(batch=2, time=10), covariates_for(2, 10)
    outputs, state = layer(seed[:, :6], covariates=covariates[:, :6])
    rest, _ = layer(seed[:, 6:], covariates=covariates[:, 6:], initial_state=state)
    whole, _ = layer(seed, covariates=covariates)
    np.testing.assert_allclose(numpy(whole[:, 6:]), numpy(rest), atol=1e-5)


def test_mixed_precision_with_covariates():
    layer = continuous_layer("lstm_cell", dtype="mixed_float16")
    seed = sine_seed(batch=2, time=5)
    outputs = layer(seed, covariates=covariates_for(2, 5))
    assert keras.backend.standardize_dtype(outputs.dtype) == "float16"
    outputs = layer.generate(seed, 7, covariates=covariates_for(2, 11))
    assert keras.backend.standardize_dtype(outputs.dtype) == "float16"
    assert np.isfinite(numpy(outputs)).all()


@pytest.mark.tensorflow_only(reason="ExportArchive")
def test_export_archive_serves_generate_with_covariates(tmp_path):
    import tensorflow as tf

    seed = sine_seed(batch=2, time=4)
    layer = built(continuous_layer("gru_cell"), seed)
    archive = keras.export.ExportArchive()
    archive.track(layer)
    archive.add_endpoint(
        "generate",
        lambda seed, steps, covariates: layer.generate(
            seed, steps, covariates=covariates
        ),
        input_signature=[
            tf.TensorSpec((None, None, 1), tf.float32),
            tf.TensorSpec((), tf.int32),
            tf.TensorSpec((None, None, NUM_COVARIATES), tf.float32),
        ],
    )
    archive.write_out(str(tmp_path / "served"), verbose=False)
    served = tf.saved_model.load(str(tmp_path / "served"))
    covariates = covariates_for(2, 4 + 9 - 1)
    np.testing.assert_allclose(
        served.generate(seed, 9, covariates),
        layer.generate(seed, 9, covariates=covariates),
        atol=1e-6,
    )
    # With `steps` a tensor, the covariates' length is checked in the graph.
    with pytest.raises(tf.errors.InvalidArgumentError, match="seed_time \\+ steps"):
        served.generate(seed, 10, covariates)


# ------------------------------------------------------------------ errors


@pytest.fixture(scope="module")
def with_covariates():
    return built(continuous_layer("gru_cell"), sine_seed(batch=2, time=4))


@pytest.fixture(scope="module")
def without_covariates():
    layer = continuous_layer("gru_cell")
    layer(sine_seed(batch=2, time=4))
    return layer


def test_covariates_on_a_layer_built_without_them(without_covariates):
    seed = sine_seed(batch=2, time=4)
    with pytest.raises(ValueError, match="built without covariates"):
        without_covariates(seed, covariates=covariates_for(2, 4))
    with pytest.raises(ValueError, match="built without covariates"):
        without_covariates.generate(seed, 3, covariates=covariates_for(2, 6))


def test_no_covariates_on_a_layer_built_with_them(with_covariates):
    seed = sine_seed(batch=2, time=4)
    with pytest.raises(ValueError, match="built with 3 covariates.*covariates=None"):
        with_covariates(seed)
    with pytest.raises(ValueError, match="built with 3 covariates.*covariates=None"):
        with_covariates.generate(seed, 3)


@pytest.mark.parametrize(
    "covariates, error, match",
    [
        (np.zeros((2, 6), "float32"), ValueError, "covariates.shape=\\(2, 6\\)"),
        (np.zeros((2, 6, 3), bool), TypeError, "covariates.dtype=bool"),
        (np.array([[["a"] * 3] * 6] * 2), TypeError, "must hold numbers"),
        (np.zeros((3, 6, 3), "float32"), ValueError, "seed's batch size, 2"),
        (np.zeros((2, 6, 2), "float32"), ValueError, "the 3 covariates"),
        (
            np.zeros((2, 7, 3), "float32"),
            ValueError,
            "the 4 seed steps, then the 2 fed-back steps .*, 6 in all",
        ),
    ],
    ids=["rank", "bool", "strings", "batch", "features", "length"],
)
def test_bad_covariates_in_generate(with_covariates, covariates, error, match):
    with pytest.raises(error, match=match):
        with_covariates.generate(sine_seed(batch=2, time=4), 3, covariates=covariates)


@pytest.mark.parametrize(
    "covariates, error, match",
    [
        (np.zeros((2, 4), "float32"), ValueError, "covariates.shape=\\(2, 4\\)"),
        (np.zeros((2, 4, 3), bool), TypeError, "covariates.dtype=bool"),
        (np.zeros((2, 4, 5), "float32"), ValueError, "\\(2, 4, 3\\)"),
        (np.zeros((2, 9, 3), "float32"), ValueError, "batch and time sizes"),
    ],
    ids=["rank", "bool", "features", "time"],
)
def test_bad_covariates_in_call(with_covariates, covariates, error, match):
    with pytest.raises(error, match=match):
        with_covariates(sine_seed(batch=2, time=4), covariates=covariates)


def test_covariates_of_the_wrong_rank_when_building():
    with pytest.raises(ValueError, match="num_covariates"):
        continuous_layer("gru_cell")(sine_seed(), covariates=np.zeros((2, 12)))


def test_zero_covariates_are_refused_when_building():
    # A layer built with 0 covariates asked for an empty array at every call.
    empty = np.zeros((2, 12, 0), "float32")
    with pytest.raises(ValueError, match=r"at least 1.*covariates.shape=\(2, 12, 0\)"):
        continuous_layer("gru_cell")(sine_seed(), covariates=empty)
    with pytest.raises(ValueError, match=r"at least 1 \(leave them out"):
        continuous_layer("gru_cell").generate(sine_seed(), 1, covariates=empty)
