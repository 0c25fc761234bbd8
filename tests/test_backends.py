"""The package on every Keras backend: imports, the seed state in training loops.

The other tests run on TensorFlow (`make test`), on JAX (`make test-jax`) and,
for generation, on torch (`make test-torch`);
those here check what differs between backends.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from cells import sine_seed

from selffeed_keras import SelfFeedingRNN, _backend, _feedback
from selffeed_keras.distributions import NegativeBinomial

BACKEND = keras.backend.backend()


def _run(script, backend, timeout=300, env=None):
    return subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "KERAS_BACKEND": backend, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.skipif(
    BACKEND == "tensorflow",
    reason="started from `make test-jax` and `make test-torch`, so that "
    "`make test` stays as fast",
)
def test_imports_without_tensorflow():
    script = (
        "import sys\n"
        "sys.modules['tensorflow'] = None  # any import of it fails\n"
        "import keras, selffeed_keras\n"
        f"assert keras.backend.backend() == {BACKEND!r}\n"
        "print('imported', selffeed_keras.__version__)\n"
    )
    result = _run(script, BACKEND)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "imported" in result.stdout


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_seed_state_survives_the_float_states_of_an_rnn(dtype):
    # The largest word the state holds (2**31 - 1 in torch's signed int32).
    largest = min(int(np.iinfo(_backend.SEED_DTYPE).max), 4_294_967_295)
    state = keras.ops.convert_to_tensor(
        np.array([largest, 123_456_789]), _backend.SEED_DTYPE
    )
    floats = _feedback.seed_state_to_floats(state, 3, dtype)
    assert tuple(floats.shape) == (3, 8)
    decoded = _feedback.seed_state_from_floats(floats, _backend.SEED_DTYPE)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(decoded), keras.ops.convert_to_numpy(state)
    )


def test_seed_state_of_a_masked_row_lags_and_the_furthest_row_is_read():
    dtype = _backend.SEED_DTYPE
    ahead = keras.ops.convert_to_tensor(np.array([7, 300]), dtype)
    behind = keras.ops.convert_to_tensor(np.array([7, 299]), dtype)
    floats = keras.ops.concatenate(
        [
            _feedback.seed_state_to_floats(behind, 1, "float32"),
            _feedback.seed_state_to_floats(ahead, 2, "float32"),
        ]
    )
    decoded = _feedback.seed_state_from_floats(floats, dtype)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(decoded), [7, 300])


def test_training_on_own_draws_advances_the_generator_once_per_draw():
    # Every step draws once (the fed-back sample) after one draw of coins,
    # whether the loop assigns the generator in place (TensorFlow) or
    # carries its state through the loop (JAX). TensorFlow's RNN, and
    # torch's port of it, run the first step once more, outside the loop,
    # to learn the output's shape.
    layer = SelfFeedingRNN(
        keras.layers.LSTMCell(8),
        distribution="normal",
        sampling_probability=1.0,
        random_seed=3,
    )
    x = sine_seed(batch=2, time=6)
    layer(x)  # builds
    state = keras.ops.convert_to_numpy(layer.seed_generator.state.value)
    first = keras.ops.convert_to_numpy(layer(x, training=True))
    after = keras.ops.convert_to_numpy(layer.seed_generator.state.value)
    extra = 0 if BACKEND == "jax" else 1
    assert after[0] == state[0] and after[1] == state[1] + 1 + 6 + extra
    # The next call draws other values.
    second = keras.ops.convert_to_numpy(layer(x, training=True))
    np.testing.assert_array_equal(first[:, 0], second[:, 0])  # reads the truth
    assert not np.allclose(first[:, 1:], second[:, 1:])


DATA_PARALLEL = """
import json
import jax
import keras
import numpy as np
from selffeed_keras import SelfFeedingRNN

assert len(jax.devices()) == 2, jax.devices()
series = np.sin(0.3 * np.arange(400, dtype="float32"))
windows = np.lib.stride_tricks.sliding_window_view(series, 17)[::3, :, None]
x, y = windows[:64, :-1], windows[:64, 1:]


def train(distribution):
    keras.distribution.set_distribution(distribution)
    keras.utils.set_random_seed(0)
    layer = SelfFeedingRNN(
        keras.layers.LSTMCell(8), head=keras.layers.Dense(1), sampling_probability=0.3
    )
    model = keras.Sequential([keras.Input((16, 1)), layer])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    weights = [keras.ops.convert_to_numpy(w) for w in model.weights]
    return history.history["loss"], weights


loss_one, weights_one = train(None)
loss_two, weights_two = train(keras.distribution.DataParallel(devices=jax.devices()))
difference = max(
    float(np.max(np.abs(a - b))) for a, b in zip(weights_one, weights_two, strict=True)
)
print(json.dumps({"one": loss_one, "two": loss_two, "weights": difference}))
"""


@pytest.mark.skipif(
    BACKEND != "jax", reason="keras.distribution runs on JAX: `make test-jax`"
)
def test_data_parallel_on_two_devices_matches_one_device():
    # Scheduled sampling included: the coins and the fed-back values are
    # drawn on the global batch, so both runs flip the same coins.
    result = _run(
        DATA_PARALLEL,
        "jax",
        env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    losses = json.loads(result.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(losses["two"], losses["one"], rtol=1e-5)
    assert losses["weights"] < 1e-5


@pytest.mark.skipif(BACKEND != "torch", reason="runs on torch: `make test-torch`")
def test_fit_save_and_load_on_torch(tmp_path):
    from selffeed_keras import callbacks, schedules

    series = np.sin(0.3 * np.arange(200, dtype="float32"))
    windows = np.lib.stride_tricks.sliding_window_view(series, 13)[::2, :, None]
    x, y = windows[:, :-1], windows[:, 1:]
    histories = {}
    for name, options in {
        "teacher_forced": {"head": keras.layers.Dense(1)},
        "free_running": {"head": keras.layers.Dense(1), "sampling_probability": 1.0},
        "normal_scheduled": {"distribution": "normal"},
    }.items():
        layer = SelfFeedingRNN(keras.layers.LSTMCell(8, dropout=0.1), **options)
        model = keras.Sequential([keras.Input((None, 1)), layer])
        loss = layer.distribution.loss if layer.distribution else "mse"
        model.compile(keras.optimizers.Adam(0.01), loss)
        schedule = callbacks.ScheduledSampling(schedules.Linear(0.0, 1.0, steps=2))
        extra = [schedule] if name == "normal_scheduled" else []
        history = model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=extra)
        histories[name] = history.history
        model.save(tmp_path / f"{name}.keras")
        loaded = keras.saving.load_model(tmp_path / f"{name}.keras")
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(loaded(x[:4])),
            keras.ops.convert_to_numpy(model(x[:4])),
            atol=1e-6,
        )
    for name in ["teacher_forced", "free_running"]:
        loss = histories[name]["loss"]
        assert np.all(np.isfinite(loss)) and loss[-1] < loss[0], (name, loss)
    scheduled = histories["normal_scheduled"]
    assert np.all(np.isfinite(scheduled["loss"]))
    assert scheduled["sampling_probability"] == [0.0, 0.5, 1.0]


@pytest.mark.skipif(
    BACKEND == "tensorflow",
    reason="TensorFlow raises its InvalidArgumentError: tests/test_distributions.py",
)
def test_negative_binomial_refuses_negative_targets_in_an_eager_call():
    params = np.tile(np.array([[3.0, 2.0]], "float32"), (3, 1))
    targets = np.array([1.0, -1.0, 2.0], "float32")
    with pytest.raises(ValueError, match="non-negative counts"):
        NegativeBinomial().log_prob(params, targets)


CROSS_BACKEND = """
import sys
import keras
import numpy as np
from selffeed_keras import SelfFeedingRNN
from selffeed_keras.samplers import BeamSampler

directory, role = sys.argv[1], sys.argv[2]
series = np.sin(0.3 * np.arange(300, dtype="float32"))
seed = series[None, :30, None]
ids = np.random.default_rng(0).integers(1, 11, (2, 8))
if role == "save":
    keras.utils.set_random_seed(0)
    windows = np.lib.stride_tricks.sliding_window_view(series, 21)[::2, :, None]
    values = SelfFeedingRNN(keras.layers.LSTMCell(8), head=keras.layers.Dense(1))
    model = keras.Sequential([keras.Input((None, 1)), values])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    model.fit(windows[:, :-1], windows[:, 1:], epochs=2, verbose=0)
    model.save(f"{directory}/values.keras")
    tokens = SelfFeedingRNN(
        keras.layers.GRUCell(8),
        head=keras.layers.Dense(11),
        encoder=keras.layers.Embedding(11, 4),
        sampler="greedy",
    )
    model = keras.Sequential([keras.Input((None,), dtype="int32"), tokens])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(ids[:, :-1], ids[:, 1:], epochs=2, verbose=0)
    model.save(f"{directory}/tokens.keras")
values = keras.saving.load_model(f"{directory}/values.keras").layers[0]
tokens = keras.saving.load_model(f"{directory}/tokens.keras").layers[0]
beams, scores = tokens.generate(
    ids, 6, sampler=BeamSampler(3, return_all_beams=True)
)
np.savez(
    f"{directory}/{keras.backend.backend()}.npz",
    values=keras.ops.convert_to_numpy(values.generate(seed, 50)),
    greedy=keras.ops.convert_to_numpy(tokens.generate(ids, 20)),
    beams=keras.ops.convert_to_numpy(beams),
    scores=keras.ops.convert_to_numpy(scores),
)
"""


@pytest.mark.skipif(
    BACKEND != "jax",
    reason="started from `make test-jax` (torch: tests/test_torch_generate.py)",
)
@pytest.mark.parametrize(
    "saved_on, loaded_on", [("tensorflow", "jax"), ("jax", "tensorflow")]
)
def test_a_file_trained_on_one_backend_generates_the_same_on_the_other(
    tmp_path, saved_on, loaded_on
):
    script = ["-c", CROSS_BACKEND, str(tmp_path)]
    for backend, role in [(saved_on, "save"), (loaded_on, "load")]:
        result = subprocess.run(
            [sys.executable, *script, role],
            env={**os.environ, "KERAS_BACKEND": backend},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    saved, loaded = (
        np.load(tmp_path / f"{saved_on}.npz"),
        np.load(tmp_path / f"{loaded_on}.npz"),
    )
    assert loaded["values"].shape == (1, 50, 1)
    np.testing.assert_allclose(loaded["values"], saved["values"], atol=1e-5)
    np.testing.assert_array_equal(loaded["greedy"], saved["greedy"])
    np.testing.assert_array_equal(loaded["beams"], saved["beams"])
    np.testing.assert_allclose(loaded["scores"], saved["scores"], atol=1e-4)


SERVED_FROM_JAX = """
import sys
import keras
import numpy as np
from selffeed_keras import SelfFeedingRNN

directory, role = sys.argv[1], sys.argv[2]
x = (3 + np.sin(0.3 * np.arange(150, dtype="float32")))[None, :, None]
if role == "save":  # on JAX
    keras.utils.set_random_seed(0)
    layer = SelfFeedingRNN(
        keras.layers.LSTMCell(8), head=keras.layers.Dense(1), lags=(1, 2, 21)
    )
    model = keras.Sequential([keras.Input((None, 1)), layer])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    model.fit(x[:, :-1], x[:, 1:], epochs=2, verbose=0)
    model.save(f"{directory}/model.keras")
    state = layer.observe(x[:, 100:149], layer.observe(x[:, :100]))
    forecast = layer.generate(x[:, 149:], 30, initial_state=state)
else:  # on TensorFlow: the endpoints of docs/how-to/export.md
    import tensorflow as tf

    layer = keras.saving.load_model(f"{directory}/model.keras").layers[0]
    start = layer.observe(x[:, :100])
    specs = [tf.TensorSpec((None, *s.shape[1:]), s.dtype) for s in start]
    archive = keras.export.ExportArchive()
    archive.track(layer)
    archive.add_endpoint(
        "observe",
        lambda values, mask, *state: layer.observe(values, list(state), mask=mask),
        input_signature=[
            tf.TensorSpec((None, None, 1), tf.float32),
            tf.TensorSpec((None, None), tf.bool),
            *specs,
        ],
    )
    archive.add_endpoint(
        "forecast",
        lambda last, steps, *state: layer.generate(
            last, steps, initial_state=list(state)
        ),
        input_signature=[
            tf.TensorSpec((None, 1, 1), tf.float32), tf.TensorSpec((), tf.int32),
            *specs,
        ],
    )
    archive.write_out(f"{directory}/served", verbose=False)
    served = tf.saved_model.load(f"{directory}/served")
    state = served.observe(x[:, 100:149], np.ones((1, 49), bool), *start)
    forecast = served.forecast(x[:, 149:], 30, *state)
np.savez(
    f"{directory}/{role}.npz",
    forecast=keras.ops.convert_to_numpy(forecast),
    *[keras.ops.convert_to_numpy(s) for s in state],
)
"""


@pytest.mark.skipif(
    BACKEND != "jax",
    reason="started from `make test-jax`: a JAX file served on TensorFlow",
)
def test_a_file_trained_on_jax_serves_observe_and_forecast_on_tensorflow(tmp_path):
    for backend, role in [("jax", "save"), ("tensorflow", "load")]:
        result = subprocess.run(
            [sys.executable, "-c", SERVED_FROM_JAX, str(tmp_path), role],
            env={**os.environ, "KERAS_BACKEND": backend},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    saved, served = np.load(tmp_path / "save.npz"), np.load(tmp_path / "load.npz")
    assert sorted(served.files) == sorted(saved.files)
    assert served["forecast"].shape == (1, 30, 1)
    for name in saved.files:
        np.testing.assert_allclose(served[name], saved[name], rtol=1e-5, atol=1e-5)
