import keras
import numpy as np
import pytest
from cells import continuous_layer, sine_seed

from selffeed_keras import callbacks, schedules


def fit(layer, callback, epochs=3, batch_size=4):
    x = sine_seed(batch=8, time=7)
    model = keras.Sequential([keras.Input((None, 1)), layer])
    model.compile("adam", "mse")
    return model.fit(
        x[:, :-1],
        x[:, 1:],
        epochs=epochs,
        batch_size=batch_size,
        callbacks=[callback],
        verbose=0,
    )


def test_per_epoch_moves_the_value_and_logs_it():
    layer = continuous_layer("gru_cell")  # teacher-forced until the callback
    seen = []
    spy = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(layer.current_sampling_probability)
    )
    callback = callbacks.ScheduledSampling(schedules.Linear(0.0, 1.0, steps=2))
    x = sine_seed(batch=8, time=7)
    model = keras.Sequential([keras.Input((None, 1)), layer])
    model.compile("adam", "mse")
    history = model.fit(
        x[:, :-1], x[:, 1:], epochs=3, callbacks=[callback, spy], verbose=0
    )
    assert history.history["sampling_probability"] == [0.0, 0.5, 1.0]
    assert seen == [0.0, 0.5, 1.0]
    # The callback switched the layer to the feedback path: at p=1 training
    # output equals free running from the first input.
    np.testing.assert_allclose(
        layer(x, training=True), layer.generate(x[:, :1], 7), atol=1e-5
    )


def test_per_batch_counts_batches_across_epochs():
    layer = continuous_layer("gru_cell")
    callback = callbacks.ScheduledSampling(schedules.Exponential(0.5), per="batch")
    history = fit(layer, callback, epochs=2, batch_size=4)  # 2 batches an epoch
    # Batches 0..3: the last epoch ends on batch 3, p = 1 - 0.5**3.
    assert history.history["sampling_probability"] == [0.5, 0.875]


def test_a_float_is_a_constant_schedule():
    layer = continuous_layer("gru_cell")
    history = fit(layer, callbacks.ScheduledSampling(0.25), epochs=2)
    assert history.history["sampling_probability"] == [0.25, 0.25]


def test_retraces_once_after_teacher_forced_fit():
    layer = continuous_layer("gru_cell")
    x = sine_seed(batch=8, time=7)
    model = keras.Sequential([keras.Input((None, 1)), layer])
    model.compile("adam", "mse")
    model.fit(x[:, :-1], x[:, 1:], epochs=1, verbose=0)  # traced teacher-forced
    callback = callbacks.ScheduledSampling(1.0)
    model.fit(x[:, :-1], x[:, 1:], epochs=1, callbacks=[callback], verbose=0)
    assert layer._switch.feedback_in_training


def test_errors():
    with pytest.raises(ValueError, match="`per` must be 'epoch' or 'batch'"):
        callbacks.ScheduledSampling(0.5, per="step")
    with pytest.raises(
        TypeError, match=r"`schedule` must be a number in \[0, 1\] or a"
    ):
        callbacks.ScheduledSampling("linear")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="needs a model that contains a SelfFeeding"):
        model.fit(
            np.zeros((4, 3)),
            np.zeros((4, 1)),
            callbacks=[callbacks.ScheduledSampling(0.5)],
            verbose=0,
        )
    layer = continuous_layer("gru_cell", sampling_probability=schedules.Constant(0.2))
    with pytest.raises(ValueError, match="has its own schedule"):
        fit(layer, callbacks.ScheduledSampling(0.5))


# -------------------------------------------------------------- resuming

X = sine_seed(batch=16, time=7)


def _model():
    keras.utils.set_random_seed(0)
    layer = continuous_layer("gru_cell", random_seed=5, jit_compile=False)
    model = keras.Sequential([keras.Input((None, 1)), layer])
    model.compile("adam", "mse")
    return model


def _fit(model, epochs, initial_epoch=0, more=()):
    schedule = schedules.Linear(0.1, 0.9, steps=8)
    model.fit(
        X[:, :-1],
        X[:, 1:],
        epochs=epochs,
        initial_epoch=initial_epoch,
        batch_size=8,  # 2 batches an epoch, in a fixed order
        shuffle=False,
        callbacks=[callbacks.ScheduledSampling(schedule, per="batch"), *more],
        verbose=0,
    )
    return model


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:
            raise RuntimeError("interrupted")


@pytest.mark.slow  # trains three times: over half a minute
def test_a_run_resumed_by_backup_and_restore_equals_an_uninterrupted_one(tmp_path):
    whole = _fit(_model(), 4)
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    with pytest.raises(RuntimeError, match="interrupted"):
        _fit(_model(), 4, more=[backup, _Interrupt()])
    resumed = _fit(_model(), 4, more=[backup])
    for a, b in zip(whole.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    layers = whole.layers[0], resumed.layers[0]
    assert layers[0].current_sampling_probability == pytest.approx(
        layers[1].current_sampling_probability
    )


@pytest.mark.slow  # trains three times: over half a minute
def test_a_run_resumed_from_a_keras_file_equals_an_uninterrupted_one(tmp_path):
    whole = _fit(_model(), 4)
    path = str(tmp_path / "half.keras")
    _fit(_model(), 2).save(path)
    resumed = _fit(keras.models.load_model(path), 4, initial_epoch=2)
    for a, b in zip(whole.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
