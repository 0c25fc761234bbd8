"""Training on own outputs: scheduled sampling and free-running training."""

import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from cells import CELLS, continuous_layer, sine_seed, token_layer

from selffeed_keras import SelfFeedingRNN, schedules

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("cell_name", sorted(CELLS))
def test_probability_one_in_call_equals_generate(cell_name):
    layer = continuous_layer(cell_name, sampling_probability=1.0)
    x = sine_seed(batch=3, time=15)
    free = layer(x, training=True)
    np.testing.assert_allclose(free, layer.generate(x[:, :1], 15), atol=1e-5)


def test_probability_one_for_tokens_equals_greedy_generate():
    layer = token_layer("gru_cell", sampling_probability=1.0)
    ids = np.random.default_rng(0).integers(0, 13, (3, 12))
    logits = layer(ids, training=True)
    np.testing.assert_array_equal(
        np.argmax(logits, axis=-1)[:, :-1], layer.generate(ids[:, :1], 11)
    )


@pytest.mark.parametrize("cell_name", ["lstm_layer", "stacked", "two_state_cell"])
def test_probability_zero_reproduces_teacher_forcing_exactly(cell_name):
    x = sine_seed(batch=2, time=10)
    fast = continuous_layer(cell_name)  # traced teacher-forced
    np.testing.assert_array_equal(fast(x, training=True), fast(x, training=False))
    # A layer on the feedback path with the value set to 0 reads only truth.
    mixed = continuous_layer(cell_name, sampling_probability=0.5)
    mixed.set_sampling_probability(0.0)
    np.testing.assert_allclose(mixed(x, training=True), mixed(x), atol=1e-6)


def test_intermediate_probability_mixes_per_row_and_step():
    layer = continuous_layer("lstm_cell", sampling_probability=0.5, random_seed=1)
    x = sine_seed(batch=64, time=20)
    teacher = np.asarray(layer(x))
    free = np.asarray(layer.generate(x[:, :1], 20))
    mixed = np.asarray(layer(x, training=True))
    # Step 0 always reads the truth; afterwards rows differ from teacher
    # forcing and from free running, some at each step.
    np.testing.assert_allclose(mixed[:, 0], teacher[:, 0], atol=1e-6)
    off_teacher = np.abs(mixed - teacher).max(axis=(1, 2)) > 1e-6
    off_free = np.abs(mixed - free).max(axis=(1, 2)) > 1e-6
    assert 0.7 < off_teacher.mean() <= 1.0 and off_free.mean() > 0.7


def reference_free_running_grads(layer, x, stop):
    cell, head = layer.rnn.cell, layer.head
    weights = layer.trainable_variables
    with tf.GradientTape() as tape:
        state = layer.rnn.get_initial_state(x.shape[0])
        value, outputs = x[:, 0], []
        for _ in range(x.shape[1]):
            output, state = cell(value, state)
            prediction = head(output)
            outputs.append(prediction)
            value = tf.stop_gradient(prediction) if stop else prediction
        loss = tf.reduce_sum(tf.stack(outputs, 1) ** 2)
    return tape.gradient(loss, weights)


@pytest.mark.parametrize("stop", [False, True])
@pytest.mark.tensorflow_only(reason="tf.GradientTape")
def test_gradients_flow_through_fed_back_outputs_unless_stopped(stop):
    layer = continuous_layer(
        "gru_cell", sampling_probability=1.0, backprop_through_feedback=not stop
    )
    x = tf.constant(sine_seed(batch=2, time=8))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x, training=True) ** 2)
    grads = tape.gradient(loss, layer.trainable_variables)
    expected = reference_free_running_grads(layer, x, stop)
    for g, e in zip(grads, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)


@pytest.mark.tensorflow_only(reason="tf.GradientTape")
def test_token_ids_carry_no_gradient_but_training_runs():
    layer = token_layer("lstm_cell", sampler="random", sampling_probability=1.0)
    ids = np.random.default_rng(1).integers(0, 13, (4, 9))
    with tf.GradientTape() as tape:
        logits = layer(ids, training=True)
        loss = keras.losses.sparse_categorical_crossentropy(
            ids[:, 1:], logits[:, :-1], from_logits=True
        )
    grads = tape.gradient(loss, layer.trainable_variables)
    assert all(np.isfinite(tf.convert_to_tensor(g)).all() for g in grads)


def fit_once(layer, x, **compile_kwargs):
    model = keras.Sequential([keras.Input(x.shape[1:], dtype=x.dtype), layer])
    model.compile("adam", "mse", **compile_kwargs)
    history = model.fit(x[:, :-1], x[:, 1:], epochs=2, batch_size=4, verbose=0)
    model.evaluate(x[:, :-1], x[:, 1:], verbose=0)
    return history.history["loss"]


@pytest.mark.parametrize(
    "make",
    [
        lambda: continuous_layer("stacked", sampling_probability=0.5),
        lambda: SelfFeedingRNN(
            keras.layers.LSTMCell(8, dropout=0.2, recurrent_dropout=0.2),
            head=keras.layers.Dense(1),
            sampling_probability=schedules.Linear(0.0, 1.0, steps=3),
        ),
        lambda: SelfFeedingRNN(
            [
                keras.layers.GRUCell(8, dropout=0.2),
                keras.layers.LSTMCell(8, recurrent_dropout=0.2),
            ],
            head=keras.layers.Dense(1),
            sampling_probability=0.5,
        ),
        lambda: continuous_layer("lstm_layer", sampling_probability=0.5),
    ],
    ids=["stacked", "dropout-schedule", "stacked-dropout", "lstm-layer"],
)
@pytest.mark.parametrize(
    # Under XLA each case compiles its training step for seconds: run by CI.
    "jit_compile",
    [False, pytest.param(True, marks=pytest.mark.slow)],
)
def test_fit_and_evaluate_on_own_outputs(make, jit_compile):
    layer = make()
    losses = fit_once(layer, sine_seed(batch=8, time=12), jit_compile=jit_compile)
    assert np.isfinite(losses).all()


def test_dropout_masks_are_made_once_per_call():
    # Variational dropout: the same units are dropped at every step of a call.
    cell = keras.layers.SimpleRNNCell(6, dropout=0.5)
    layer = SelfFeedingRNN(
        cell, head=keras.layers.Dense(1), sampling_probability=1.0, random_seed=0
    )
    x = sine_seed(batch=1, time=5)
    layer(x)  # build
    made = []
    original = cell.get_dropout_mask

    def spy(step_input):
        mask = original(step_input)
        made.append(mask)
        return mask

    cell.get_dropout_mask = spy
    layer(x, training=True)
    assert cell._dropout_mask is None  # cleared after the call
    assert len({id(m) for m in made}) == 1 and len(made) >= 2


def test_schedule_on_the_layer_advances_per_training_step():
    layer = continuous_layer(
        "gru_cell", sampling_probability=schedules.Linear(0.0, 1.0, steps=4)
    )
    x = sine_seed(batch=8, time=6)
    model = keras.Sequential([keras.Input((None, 1)), layer])
    model.compile("sgd", "mse")
    model.fit(x[:, :-1], x[:, 1:], epochs=3, batch_size=4, verbose=0)  # 6 steps
    assert layer.current_sampling_probability == 1.0  # schedule(5), clipped
    assert int(np.asarray(layer._switch.steps)) == 6


@pytest.mark.tensorflow_only(reason="tf.train.Checkpoint")
def test_checkpoint_restores_the_probability_and_the_schedules_step(tmp_path):
    # A run resumed from a `tf.train.Checkpoint` (the multi-worker how-to)
    # goes on with the schedule where it stopped.
    layer = continuous_layer(
        "gru_cell", sampling_probability=schedules.Linear(0.0, 1.0, steps=8)
    )
    x = sine_seed(batch=4, time=6)
    model = keras.Sequential([keras.Input((None, 1)), layer])
    model.compile("sgd", "mse")
    model.fit(x[:, :-1], x[:, 1:], epochs=3, batch_size=4, verbose=0)
    path = tf.train.Checkpoint(layer=layer).write(str(tmp_path / "ckpt"))

    fresh = continuous_layer(
        "gru_cell", sampling_probability=schedules.Linear(0.0, 1.0, steps=8)
    )
    fresh(x[:, :-1])  # built, so that the restore is immediate
    tf.train.Checkpoint(layer=fresh).read(path).assert_consumed()
    assert int(np.asarray(fresh._switch.steps)) == 3
    assert fresh.current_sampling_probability == pytest.approx(2 / 8)


# Among `make test`'s longest (30 s on a 2-core AMD EPYC): `make test-slow`.
@pytest.mark.slow
@pytest.mark.tensorflow_only(reason="tf.train.Checkpoint")
def test_checkpoints_and_keras_files_keep_the_seed_generators_state(tmp_path):
    # After a reload, a call without `random_seed` goes on with the stream
    # instead of repeating the original model's first draws.
    layer = SelfFeedingRNN(keras.layers.GRUCell(4), distribution="normal")
    seed = sine_seed()
    layer.generate(seed, 3)  # advances the generator
    state = np.asarray(layer.seed_generator.state).copy()
    path = tf.train.Checkpoint(layer=layer).write(str(tmp_path / "ckpt"))
    model = keras.Sequential([keras.Input((None, 1)), layer])
    model.save(tmp_path / "model.keras")
    expected = layer.generate(seed, 3)

    fresh = SelfFeedingRNN(keras.layers.GRUCell(4), distribution="normal")
    fresh.build((None, None, 1))
    fresh.set_weights(layer.get_weights())
    tf.train.Checkpoint(layer=fresh).read(path).assert_consumed()
    np.testing.assert_array_equal(np.asarray(fresh.seed_generator.state), state)
    np.testing.assert_array_equal(fresh.generate(seed, 3), expected)

    loaded = keras.models.load_model(tmp_path / "model.keras").layers[0]
    np.testing.assert_array_equal(np.asarray(loaded.seed_generator.state), state)
    np.testing.assert_array_equal(loaded.generate(seed, 3), expected)


def test_files_saved_without_the_seed_generators_state_still_load():
    layer = SelfFeedingRNN(
        keras.layers.GRUCell(4), distribution="normal", random_seed=3
    )
    layer.build((None, None, 1))
    store = {}
    layer.save_own_variables(store)
    assert store["seed_generator_state"].dtype == np.int64
    del store["seed_generator_state"]  # the layout of files saved before it
    layer.seed_generator.state.assign([7, 9])
    layer.load_own_variables(store)
    assert np.asarray(layer.seed_generator.state).tolist() == [7, 9]


def test_token_model_trains_with_scheduled_sampling():
    layer = token_layer("lstm_cell", sampler="top_k", sampling_probability=0.5)
    ids = np.random.default_rng(2).integers(1, 13, (8, 10))
    model = keras.Sequential([keras.Input((None,), dtype="int32"), layer])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(ids[:, :-1], ids[:, 1:], epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_masks_hold_with_feedback():
    encoder = keras.layers.Embedding(13, 4, mask_zero=True)
    layer = SelfFeedingRNN(
        keras.layers.LSTMCell(8),
        head=keras.layers.Dense(13),
        encoder=encoder,
        sampler="greedy",
        sampling_probability=1.0,
    )
    ids = np.array([[3, 4, 5, 6, 0, 0], [7, 8, 9, 0, 0, 0]])
    padded = layer(ids, training=True)
    alone = layer(ids[1:, :3], training=True)
    np.testing.assert_allclose(padded[1, :3], alone[0], atol=1e-5)


def test_mixed_precision_training_on_own_outputs():
    layer = continuous_layer(
        "lstm_cell", sampling_probability=0.5, dtype="mixed_float16"
    )
    x = sine_seed(batch=8, time=10)
    assert layer(x, training=True).dtype == "float16"
    assert np.isfinite(fit_once(layer, x)).all()


def test_config_round_trip_keeps_training_mode(tmp_path):
    layer = continuous_layer(
        "gru_cell",
        sampling_probability=schedules.InverseSigmoid(10.0),
        backprop_through_feedback=False,
    )
    model = keras.Sequential([keras.Input((None, 1)), layer])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras").layers[-1]
    assert loaded.sampling_probability.get_config() == {"k": 10.0}
    assert loaded.backprop_through_feedback is False


def test_bad_training_arguments():
    with pytest.raises(ValueError, match=r"`sampling_probability` must be a number"):
        continuous_layer("gru_cell", sampling_probability=1.5)
    with pytest.raises(
        TypeError, match=r"`sampling_probability` must be a number in \[0, 1\] or a"
    ):
        continuous_layer("gru_cell", sampling_probability="linear")
    with pytest.raises(TypeError, match="`backprop_through_feedback` must be a bool"):
        continuous_layer("gru_cell", backprop_through_feedback=1)
    layer = continuous_layer("gru_cell")
    with pytest.raises(ValueError, match=r"`value` must be a number in \[0, 1\]"):
        layer.set_sampling_probability(-0.5)
    scheduled = continuous_layer(
        "gru_cell", sampling_probability=schedules.Exponential(0.9)
    )
    with pytest.raises(ValueError, match="is a schedule that sets the value"):
        scheduled.set_sampling_probability(0.5)


def test_setting_a_probability_after_teacher_forced_tracing_warns():
    layer = continuous_layer("gru_cell")
    x = sine_seed(batch=4, time=6)
    fit_once(layer, x)
    with pytest.warns(UserWarning, match="make_train_function"):
        layer.set_sampling_probability(0.5)


@pytest.mark.slow  # a subprocess that starts TensorFlow on two logical devices
@pytest.mark.tensorflow_only(reason="tf.distribute.MirroredStrategy")
def test_mirrored_strategy_on_two_logical_cpus():
    script = textwrap.dedent(
        """
        import os
        os.environ["KERAS_BACKEND"] = "tensorflow"
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        import keras, numpy as np
        from cells import sine_seed  # run from tests/
        from selffeed_keras import SelfFeedingRNN, callbacks, schedules
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with strategy.scope():
            layer = SelfFeedingRNN(
                keras.layers.LSTMCell(8), head=keras.layers.Dense(1),
                sampling_probability=schedules.Linear(0.0, 1.0, 4),
            )
            model = keras.Sequential([keras.Input((None, 1)), layer])
            model.compile("adam", "mse")
        x = sine_seed(batch=16, time=10)
        history = model.fit(x[:, :-1], x[:, 1:], epochs=2, batch_size=8, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
        print("replicas", strategy.num_replicas_in_sync)
        print("probability", layer.current_sampling_probability)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT / "tests",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "replicas 2" in result.stdout
    # Four training steps (two epochs of two batches) advance the schedule.
    assert "probability 0.75" in result.stdout


@pytest.mark.slow
def test_training_on_own_outputs_beats_teacher_forcing_on_exposure_bias():
    from benchmarks import exposure_bias

    results = exposure_bias.compare(epochs=8, window=48, units=24, horizon=400)
    teacher = results["teacher forcing"][0]
    best = min(results["scheduled"][0], results["free running"][0])
    assert best < 0.6 * teacher, {k: v[0] for k, v in results.items()}
