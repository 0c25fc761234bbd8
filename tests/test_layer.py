import keras
import numpy as np
import pytest
import tensorflow as tf
from cells import (
    CELLS,
    TwoStateCell,
    assert_stops_at_end_token,
    continuous_layer,
    reference_generate,
    sine_seed,
    token_layer,
)
from keras_harness import KerasTestCase

import selffeed_keras
from selffeed_keras import SelfFeedingRNN


@pytest.mark.parametrize("cell_name", sorted(CELLS))
def test_generate_equals_hand_written_loop_continuous(cell_name):
    layer = continuous_layer(cell_name, features=2)
    seed = sine_seed(batch=3, time=7, features=2)
    outputs = layer.generate(seed, 25)
    assert outputs.shape == (3, 25, 2)
    np.testing.assert_allclose(outputs, reference_generate(layer, seed, 25), atol=1e-5)


@pytest.mark.parametrize("cell_name", sorted(CELLS))
def test_generate_equals_hand_written_loop_greedy_tokens(cell_name):
    layer = token_layer(cell_name, vocab=13)
    seed = np.random.default_rng(0).integers(0, 13, (4, 6))
    outputs = layer.generate(seed, 30)
    assert outputs.dtype == tf.int32 and outputs.shape == (4, 30)
    np.testing.assert_array_equal(outputs, reference_generate(layer, seed, 30))


@pytest.mark.parametrize("cell_name", sorted(CELLS))
def test_call_is_teacher_forced(cell_name):
    layer = continuous_layer(cell_name, features=1)
    seed = sine_seed(batch=2, time=9)
    outputs = layer(seed)
    # Output t is the prediction after reading inputs 0..t: the same as
    # generating one step from the seed prefix.
    for t in (0, 4, 8):
        np.testing.assert_allclose(
            outputs[:, t], layer.generate(seed[:, : t + 1], 1)[:, 0], atol=1e-5
        )


@pytest.mark.parametrize("cell_name", ["lstm_cell", "stacked", "two_state_cell"])
def test_chunked_generation_continues_exactly(cell_name):
    layer = continuous_layer(cell_name)
    seed = sine_seed()
    whole = layer.generate(seed, 100)
    first, state = layer.generate(seed, 50, return_state=True)
    rest, _ = layer.generate(first[:, -1:], 50, initial_state=state, return_state=True)
    np.testing.assert_allclose(first, whole[:, :50], atol=1e-5)
    np.testing.assert_allclose(rest, whole[:, 50:], atol=1e-5)


def test_call_return_state_continues_into_generate():
    layer = continuous_layer("lstm_cell", return_state=True)
    seed = sine_seed(time=10)
    outputs, state = layer(seed)
    assert isinstance(state, list) and len(state) == 2
    np.testing.assert_allclose(
        layer.generate(seed[:, -1:], 5, initial_state=state),
        layer.generate(np.concatenate([seed, seed[:, -1:]], axis=1), 5),
        atol=1e-5,
    )


def traces(layer):
    """How many times the layer's generation programs were traced."""
    if keras.backend.backend() == "jax":
        return sum(layer._generation.programs.traces.values())
    (function,) = layer._generation.functions.values()
    return function.experimental_get_tracing_count()


def test_new_steps_or_seed_length_does_not_retrace():
    layer = continuous_layer("lstm_cell")
    nine = keras.ops.convert_to_tensor(9)
    for steps, time in [(5, 3), (17, 8), (nine, 20), (np.int64(2), 1)]:
        layer.generate(sine_seed(time=time), steps)
    # A JAX program has buffers of fixed size: one program per power of two
    # of `steps` (16, 32) and per bucket of seed lengths (4, 8, 20), so three
    # for these four calls; TensorFlow's loop runs in chunks, traced once.
    assert traces(layer) == (3 if keras.backend.backend() == "jax" else 1)


@pytest.mark.parametrize("kind", ["continuous", "tokens"])
def test_variable_length_seeds_match_each_row_alone(kind):
    rng = np.random.default_rng(1)
    if kind == "continuous":
        layer = continuous_layer("gru_cell")
        seed = sine_seed(batch=3, time=9)
    else:
        layer = token_layer("gru_cell")
        seed = rng.integers(1, 13, (3, 9))
    lengths = [9, 4, 1]
    seed_mask = np.arange(9)[None, :] < np.array(lengths)[:, None]
    padded = np.where(seed_mask if kind == "tokens" else seed_mask[..., None], seed, 0)
    together = layer.generate(padded, 12, seed_mask=seed_mask)
    for row, length in enumerate(lengths):
        alone = layer.generate(seed[row : row + 1, :length], 12)
        np.testing.assert_allclose(together[row : row + 1], alone, atol=1e-5)


def test_end_token_stops_rows_and_fills_the_rest():
    layer = token_layer("lstm_cell", vocab=13, jit_compile=False)
    seed = np.random.default_rng(2).integers(0, 13, (4, 5))
    assert_stops_at_end_token(layer, seed, steps=40, position=3)


class CountingCell(keras.layers.Layer):
    """A SimpleRNNCell that counts the steps it computes.

    In a variable on TensorFlow; on the host on JAX, by a callback from the
    program: a variable assigned inside JAX's loop would leak a tracer (as it
    does in a cell of Keras' own RNN on JAX).
    """

    def __init__(self, units=6, **kwargs):
        super().__init__(**kwargs)
        self.inner = keras.layers.SimpleRNNCell(units)
        self.state_size = units
        self.output_size = units
        self.host_calls = 0

    def build(self, input_shape):
        self.inner.build(input_shape)
        self.calls = self.add_weight(
            shape=(), dtype="int32", initializer="zeros", trainable=False
        )

    def call(self, inputs, states):
        if keras.backend.backend() == "jax":
            import jax

            jax.debug.callback(self._count_on_host)
        else:
            self.calls.assign_add(1)
        return self.inner(inputs, states)

    def _count_on_host(self):
        self.host_calls += 1

    def count(self):
        return self.host_calls + int(np.asarray(self.calls))

    def reset(self):
        self.host_calls = 0
        self.calls.assign(0)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_end_token_exits_the_loop_when_every_row_has_stopped(jit_compile):
    cell = CountingCell()
    layer = SelfFeedingRNN(
        cell,
        head=keras.layers.Dense(13),
        encoder=keras.layers.Embedding(13, 4),
        sampler="greedy",
        jit_compile=jit_compile,
    )
    seed = np.zeros((2, 3), "int32")  # equal rows: equal first tokens
    first = int(layer.generate(seed, 1)[0, 0])  # the warm-up pass alone
    warm_up = cell.count()
    cell.reset()
    outputs = layer.generate(seed, 1_000_000, end_token=first)
    assert outputs.shape == (2, 1_000_000)
    assert (np.asarray(outputs) == first).all()
    assert cell.count() == warm_up  # not one free-running step
    # When the last row stops at step `stop`, the loop stops there too.
    later = int(layer.generate(seed, 12)[0, 10])
    cell.reset()
    tokens = np.asarray(layer.generate(seed, 1_000, end_token=later))
    stop = int(np.flatnonzero(tokens[0] == later)[0])
    assert cell.count() == warm_up + stop


@pytest.mark.parametrize("sampler", ["random", "top_k", "top_p"])
def test_random_seed_makes_sampling_reproducible(sampler):
    layer = token_layer("lstm_cell", sampler=sampler)
    seed = np.random.default_rng(3).integers(0, 13, (3, 4))
    a = layer.generate(seed, 50, random_seed=7)
    b = layer.generate(seed, 50, random_seed=7)
    c = layer.generate(seed, 50, random_seed=8)
    d = layer.generate(seed, 50)  # advances the generator: differs from a
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, d)


def test_sampling_advances_inside_the_loop():
    # Near-uniform logits: a generator that did not advance per step would
    # repeat one draw pattern; 200 draws over 13 tokens cover most of them.
    layer = token_layer("lstm_cell", sampler="random")
    tokens = layer.generate(np.zeros((1, 2), "int32"), 200, random_seed=0)
    assert len(np.unique(tokens)) >= 8


def test_keras_file_round_trip_generates_the_same(tmp_path):
    layer = continuous_layer("stacked", random_seed=3)
    model = keras.Sequential([keras.Input((None, 1)), layer])
    model.compile("adam", "mse")
    model.fit(sine_seed(time=20), sine_seed(time=20, offset=0.3), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    seed = sine_seed(time=6)
    np.testing.assert_allclose(
        loaded.layers[-1].generate(seed, 30), layer.generate(seed, 30), atol=1e-6
    )


@pytest.mark.parametrize("cell_name", ["lstm_layer", "two_state_cell"])
def test_keras_file_round_trip_token_model(tmp_path, cell_name):
    layer = token_layer(cell_name, sampler=selffeed_keras.samplers.TopKSampler(k=3))
    inputs = keras.Input((None,), dtype="int32")
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    seed = np.arange(8).reshape(2, 4)
    np.testing.assert_array_equal(
        loaded.layers[-1].generate(seed, 20, random_seed=1),
        layer.generate(seed, 20, random_seed=1),
    )


def test_trains_with_fit_on_shifted_targets():
    rng = np.random.default_rng(0)
    t = np.arange(400, dtype="float32") * 0.2
    series = np.sin(t)[:, None]
    windows = np.stack([series[i : i + 31] for i in range(0, 360, 3)])
    layer = continuous_layer("lstm_cell")
    model = keras.Sequential([keras.Input((None, 1)), layer])
    model.compile(keras.optimizers.Adam(0.02), "mse")
    history = model.fit(
        windows[:, :-1], windows[:, 1:], epochs=15, batch_size=32, verbose=0
    )
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]
    del rng


@pytest.mark.parametrize("jit_compile", [False, "auto"])
def test_mask_zero_encoder_generates_like_seed_mask_and_silently(jit_compile):
    # Warnings are errors here: the cell must not be handed the Embedding's
    # mask at free-running steps, which are never padding.
    layer = SelfFeedingRNN(
        keras.layers.GRUCell(8),
        head=keras.layers.Dense(13),
        encoder=keras.layers.Embedding(13, 4, mask_zero=True),
        sampler="greedy",
        jit_compile=jit_compile,
    )
    ids = np.array([[3, 4, 5, 0], [0, 6, 7, 8]])  # right and left padding
    by_encoder = layer.generate(ids, 15)
    by_seed_mask = layer.generate(ids, 15, seed_mask=ids != 0)
    np.testing.assert_array_equal(by_encoder, by_seed_mask)
    np.testing.assert_array_equal(by_encoder[:1], layer.generate(ids[:1, :3], 15))
    np.testing.assert_array_equal(by_encoder[1:], layer.generate(ids[1:, 1:], 15))


def test_assigning_a_sampler_retraces_generate_with_it():
    layer = token_layer("lstm_cell", sampler="greedy")
    seed = np.random.default_rng(4).integers(0, 13, (3, 4))
    greedy = layer.generate(seed, 30)
    layer.sampler = selffeed_keras.samplers.RandomSampler(temperature=50.0)
    hot = layer.generate(seed, 30, random_seed=0)
    assert not np.array_equal(greedy, hot)
    layer.sampler = "greedy"
    np.testing.assert_array_equal(layer.generate(seed, 30), greedy)
    with pytest.raises(ValueError, match="cannot switch between continuous"):
        layer.sampler = None


def test_encoder_mask_and_masking_layer_work_in_call():
    layer = SelfFeedingRNN(
        keras.layers.LSTMCell(8),
        head=keras.layers.Dense(13),
        encoder=keras.layers.Embedding(13, 4, mask_zero=True),
        sampler="greedy",
    )
    ids = np.array([[3, 4, 5, 0, 0], [6, 7, 0, 0, 0]])
    outputs = layer(ids)
    assert np.asarray(layer.compute_mask(ids)).tolist() == (ids != 0).tolist()
    np.testing.assert_allclose(outputs[0, :3], layer(ids[:1, :3])[0], atol=1e-5)

    continuous = continuous_layer("gru_cell")
    inputs = keras.Input((None, 1))
    masked = keras.layers.Masking(0.0)(inputs)
    model = keras.Model(inputs, continuous(masked))
    seed = sine_seed(time=6) + 2.0
    padded = np.concatenate([seed, np.zeros((2, 3, 1), "float32")], axis=1)
    np.testing.assert_allclose(model(padded)[:, :6], model(seed), atol=1e-5)


class HarnessTest(KerasTestCase):
    def test_continuous_layer(self):
        self.run_layer_test(
            SelfFeedingRNN,
            init_kwargs={
                "cell": keras.layers.LSTMCell(4),
                "head": keras.layers.Dense(3),
            },
            input_shape=(2, 5, 3),
            expected_output_shape=(2, 5, 3),
            expected_num_trainable_weights=5,
            # The layer's own generator for sampling, and LSTMCell's for dropout.
            expected_num_seed_generators=2,
            supports_masking=True,
        )

    def test_token_layer_with_state(self):
        self.run_layer_test(
            SelfFeedingRNN,
            init_kwargs={
                "cell": TwoStateCell(4),
                "head": keras.layers.Dense(7),
                "encoder": keras.layers.Embedding(7, 3),
                "sampler": "top_p",
                "return_state": True,
            },
            input_data=np.array([[1, 2, 3], [4, 5, 6]]),
            expected_output_shape=((2, 3, 7), [(2, 4), (2, 8)]),
            expected_num_trainable_weights=6,
            supports_masking=True,
            # The harness feeds `fit` through tf.data.Dataset.from_generator,
            # which cannot describe a list (the state) inside the targets;
            # test_continuous_layer covers the training step.
            run_training_check=False,
        )


# Among `make test`'s longest (16 s on a 2-core AMD EPYC): `make test-slow`.
@pytest.mark.slow
@pytest.mark.tensorflow_only(reason="tf.function")
def test_generate_traces_inside_a_tf_function_with_unknown_batch():
    layer = continuous_layer("lstm_cell")
    seed = sine_seed(batch=3)
    graph = tf.function(
        lambda seed, steps: layer.generate(seed, steps),
        input_signature=[
            tf.TensorSpec((None, None, 1), tf.float32),
            tf.TensorSpec((), tf.int32),
        ],
    )
    np.testing.assert_allclose(graph(seed, 9), layer.generate(seed, 9), atol=1e-6)


@pytest.mark.parametrize("kind", ["continuous", "tokens"])
@pytest.mark.tensorflow_only(reason="ExportArchive")
def test_export_archive_serves_generate(tmp_path, kind):
    if kind == "continuous":
        layer = continuous_layer("gru_cell")
        seed, spec = sine_seed(batch=2), tf.TensorSpec((None, None, 1), tf.float32)
    else:
        layer = token_layer("gru_cell", sampler="greedy")
        seed, spec = (
            np.array([[1, 2, 3], [4, 5, 6]], "int32"),
            tf.TensorSpec((None, None), tf.int32),
        )
    expected = layer.generate(seed, 25)
    archive = keras.export.ExportArchive()
    archive.track(layer)
    archive.add_endpoint(
        "generate",
        lambda seed, steps: layer.generate(seed, steps),
        input_signature=[spec, tf.TensorSpec((), tf.int32)],
    )
    archive.write_out(str(tmp_path / "served"), verbose=False)
    served = tf.saved_model.load(str(tmp_path / "served"))
    np.testing.assert_allclose(served.generate(seed, 25), expected, atol=1e-6)
    # A new horizon and seed length run in the same saved graph.
    np.testing.assert_allclose(
        served.generate(seed[:1, :2], 40), layer.generate(seed[:1, :2], 40), atol=1e-6
    )


def test_concurrent_calls_with_a_random_seed_equal_one_call():
    # 8 threads x 5 calls on one layer, first calls included: a random_seed
    # gives each call its own stream, and concurrent first calls trace once.
    import threading

    layer = token_layer("gru_cell", sampler="random")
    prompts = np.random.default_rng(0).integers(0, 13, (8, 2, 4))
    results, errors = {}, []

    def work(thread):
        try:
            for call in range(5):
                tokens = layer.generate(prompts[thread], 30, random_seed=call)
                results[thread, call] = np.asarray(tokens)
        except Exception as error:  # reported below, with the thread
            errors.append((thread, error))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    generator_state = np.asarray(layer.seed_generator.state).copy()
    for (thread, call), tokens in results.items():
        alone = layer.generate(prompts[thread], 30, random_seed=call)
        np.testing.assert_array_equal(tokens, alone, err_msg=f"{thread=} {call=}")
    # random_seed leaves the layer's own generator where it was.
    np.testing.assert_array_equal(
        np.asarray(layer.seed_generator.state), generator_state
    )
    assert traces(layer) == 1


# Among `make test`'s longest (17 s on a 2-core AMD EPYC): `make test-slow`.
@pytest.mark.slow
def test_random_seed_leaves_the_layer_generator_and_calls_without_it_advance():
    layer = token_layer("gru_cell", sampler="random", random_seed=3)
    prompt = np.array([[1, 2, 3]])
    before = np.asarray(layer.seed_generator.state).copy()
    layer.generate(prompt, 20, random_seed=11)
    np.testing.assert_array_equal(np.asarray(layer.seed_generator.state), before)
    a = layer.generate(prompt, 20)
    assert not np.array_equal(np.asarray(layer.seed_generator.state), before)
    b = layer.generate(prompt, 20)
    assert not np.array_equal(a, b)
    # A fresh layer seeded the same way draws the same first sequence.
    twin = token_layer("gru_cell", sampler="random", random_seed=3)
    twin.build((None, None))
    twin.set_weights(layer.get_weights())
    np.testing.assert_array_equal(twin.generate(prompt, 20), a)


def test_random_seed_may_be_a_tensor():
    layer = token_layer("gru_cell", sampler="random")
    prompt = np.array([[1, 2, 3]])
    np.testing.assert_array_equal(
        layer.generate(prompt, 20, random_seed=keras.ops.convert_to_tensor(5)),
        layer.generate(prompt, 20, random_seed=5),
    )
