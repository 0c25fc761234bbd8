"""Exposure bias, measured: teacher forcing against training on own outputs.

Trains one architecture three ways on the same noisy sine wave with the same
budget, then lets each run free from 50-step seeds and reports the error
against the clean continuation over a long horizon:

- (a) teacher forcing: `sampling_probability=0`;
- (b) scheduled sampling: `callbacks.ScheduledSampling(Linear(0, end, epochs))`;
- (c) free-running training: `sampling_probability=1`.

Run with `make bench`, or `python -m benchmarks.exposure_bias --quick`.
"""

import argparse
import time

import keras
import numpy as np

from benchmarks.common import environment, print_table
from selffeed_keras import SelfFeedingRNN, callbacks, schedules

STEP, NOISE = 0.1, 0.1


def noisy_sine(n, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype="float32") * STEP
    return (np.sin(t) + NOISE * rng.standard_normal(n)).astype("float32")[:, None]


def train(mode, epochs, window, units, seed=0, scheduled_end=0.5):
    """Trains the model in one `mode` and returns its layer and fit time."""
    keras.utils.set_random_seed(seed)
    series = noisy_sine(3_000, seed)
    windows = keras.utils.timeseries_dataset_from_array(
        series,
        None,
        sequence_length=window + 1,
        sequence_stride=4,
        batch_size=32,
        shuffle=True,
        seed=seed,
    ).map(lambda w: (w[:, :-1], w[:, 1:]))
    probability = {"teacher forcing": 0.0, "scheduled": 0.0, "free running": 1.0}
    layer = SelfFeedingRNN(
        keras.layers.LSTMCell(units),
        head=keras.layers.Dense(1),
        sampling_probability=probability[mode],
        random_seed=seed,
    )
    model = keras.Sequential([keras.Input((None, 1)), layer])
    decay = keras.optimizers.schedules.CosineDecay(0.01, epochs * len(windows))
    model.compile(keras.optimizers.Adam(decay, clipnorm=1.0), "mse")
    extra = []
    if mode == "scheduled":
        ramp = schedules.Linear(0.0, scheduled_end, steps=max(epochs - 1, 1))
        extra = [callbacks.ScheduledSampling(ramp)]
    began = time.perf_counter()
    # The windows are already shuffled; shuffle=False keeps Keras from warning.
    model.fit(windows, epochs=epochs, callbacks=extra, shuffle=False, verbose=0)
    return layer, time.perf_counter() - began


def free_running_error(layer, horizon, num_seeds=16, seed_steps=50):
    """RMSE of generation from clean seeds against the clean continuation."""
    starts = np.linspace(0, 2 * np.pi / STEP, num_seeds, endpoint=False)
    t = (starts[:, None] + np.arange(seed_steps + horizon)[None, :]) * STEP
    clean = np.sin(t).astype("float32")[..., None]
    generated = layer.generate(clean[:, :seed_steps], horizon).numpy()
    error = (generated - clean[:, seed_steps:]) ** 2
    return float(np.sqrt(error.mean())), np.sqrt(error.mean(axis=(0, 2)))


def compare(epochs=8, window=48, units=24, horizon=400, seed=0):
    """Returns {mode: (rmse over the horizon, rmse per step, fit seconds)}."""
    results = {}
    for mode in ("teacher forcing", "scheduled", "free running"):
        layer, seconds = train(mode, epochs, window, units, seed)
        rmse, per_step = free_running_error(layer, horizon)
        results[mode] = (rmse, per_step, seconds)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny run")
    args = parser.parse_args()
    settings = (
        dict(epochs=2, window=16, units=8, horizon=50)
        if args.quick
        else dict(epochs=8, window=48, units=24, horizon=400)
    )
    print(
        f"Exposure bias on a noisy sine (sin(0.1 t) + {NOISE} N(0, 1)), "
        f"LSTMCell({settings['units']}) + Dense(1), {settings['epochs']} epochs "
        f"on windows of {settings['window']}, free-running error from 50-step "
        f"clean seeds over {settings['horizon']} steps (16 phases)."
    )
    print()
    environment()
    results = compare(**settings)
    base = results["teacher forcing"][0]
    marks = [h for h in (50, 100, 200) if h < settings["horizon"]]
    marks.append(settings["horizon"])
    rows = []
    for label, mode in zip("abc", results, strict=True):
        rmse, per_step, seconds = results[mode]
        at = [f"{np.sqrt(np.mean(per_step[:h] ** 2)):.3f}" for h in marks]
        ratio = f"{rmse / base:.2f}x"
        rows.append([f"({label}) {mode}", *at, ratio, f"{seconds:.1f} s"])
    header = ["training", *(f"RMSE @{h}" for h in marks), "vs (a)"]
    print_table(header + ["fit time (tracing included)"], rows)


if __name__ == "__main__":
    main()
