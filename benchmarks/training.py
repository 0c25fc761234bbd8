"""Times a teacher-forced `model.fit` epoch of `SelfFeedingRNN` against Keras.

The same architecture is built twice: once with `SelfFeedingRNN`, once from
plain Keras layers (`LSTM` or `RNN(LSTMCell)`, then `Dense`). Both get the
same weights and data; their predictions must agree before timing. The first
epoch includes tracing and compiling; then the two models take turns for
three rounds of two epochs, and the median epoch is the steady state.

    python -m benchmarks.training          # the full table, about a minute
    python -m benchmarks.training --quick  # a tiny configuration, seconds
"""

import argparse
import statistics
import time

import keras
import numpy as np

from benchmarks.common import environment, print_table
from benchmarks.models import VOCAB
from selffeed_keras import SelfFeedingRNN


def recurrent(kind, units):
    if kind == "LSTM layer":
        return keras.layers.LSTM(units, return_sequences=True)
    return keras.layers.RNN(keras.layers.LSTMCell(units), return_sequences=True)


def models(model, kind, units):
    """The SelfFeedingRNN model and the plain Keras one, same weights."""
    keras.utils.set_random_seed(0)
    if model == "sine":
        inputs = keras.Input((None, 1))
        ours = keras.Sequential(
            [inputs, SelfFeedingRNN(recurrent(kind, units), head=keras.layers.Dense(1))]
        )
        plain = keras.Sequential(
            [inputs, recurrent(kind, units), keras.layers.Dense(1)]
        )
        loss = "mse"
    elif model == "covariates":
        # 3 covariates: ours reads them beside the series; plain Keras gets
        # the two concatenated, the same cell input.
        y_in, x_in = keras.Input((None, 1)), keras.Input((None, 3))
        layer = SelfFeedingRNN(recurrent(kind, units), head=keras.layers.Dense(1))
        ours = keras.Model([y_in, x_in], layer(y_in, covariates=x_in))
        joined = keras.layers.Concatenate()([y_in, x_in])
        plain = keras.Model(
            [y_in, x_in], keras.layers.Dense(1)(recurrent(kind, units)(joined))
        )
        loss = "mse"
    else:
        inputs = keras.Input((None,), dtype="int32")
        ours = keras.Sequential(
            [
                inputs,
                SelfFeedingRNN(
                    recurrent(kind, units),
                    head=keras.layers.Dense(VOCAB),
                    encoder=keras.layers.Embedding(VOCAB, 32),
                    sampler="random",
                ),
            ]
        )
        plain = keras.Sequential(
            [
                inputs,
                keras.layers.Embedding(VOCAB, 32),
                recurrent(kind, units),
                keras.layers.Dense(VOCAB),
            ]
        )
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    weights = {tuple(w.shape): w for w in ours.get_weights()}
    plain.set_weights([weights[tuple(w.shape)] for w in plain.get_weights()])
    for m in (ours, plain):
        m.compile(keras.optimizers.Adam(1e-3), loss)
    return ours, plain


def data(model, num_windows, time_steps):
    rng = np.random.default_rng(0)
    if model in ("sine", "covariates"):
        t = np.arange(time_steps + 1, dtype="float32") * 0.1
        phase = rng.uniform(0, 6.3, (num_windows, 1)).astype("float32")
        windows = np.sin(t + phase)[..., None]
        if model == "covariates":
            covariates = rng.normal(size=(num_windows, time_steps, 3))
            return [windows[:, :-1], covariates.astype("float32")], windows[:, 1:]
    else:
        windows = rng.integers(0, VOCAB, (num_windows, time_steps + 1))
    return windows[:, :-1], windows[:, 1:]


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.start)

    def on_train_begin(self, logs=None):
        self.times = []


def fit_times(model, x, y, epochs, batch_size):
    timer = EpochTimer()
    model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        shuffle=False,
        verbose=0,
        callbacks=[timer],
    )
    return timer.times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny configuration")
    args = parser.parse_args()
    if args.quick:
        configs = [
            ("sine", "LSTM layer", 8, 64, 16, 32),
            ("covariates", "LSTM layer", 8, 64, 16, 32),
        ]
        rounds = 1
    else:
        configs = [
            # (model, recurrent, units, windows, time steps, batch)
            ("sine", "LSTM layer", 32, 2048, 64, 64),
            ("sine", "RNN(LSTMCell)", 32, 2048, 64, 64),
            ("covariates", "LSTM layer", 32, 2048, 64, 64),
            ("chars", "LSTM layer", 256, 512, 64, 64),
        ]
        rounds = 3
    print("# training: a teacher-forced fit epoch\n")
    environment()
    rows = []
    for model, kind, units, num_windows, time_steps, batch_size in configs:
        x, y = data(model, num_windows, time_steps)
        ours, plain = models(model, kind, units)
        head = [a[:64] for a in x] if isinstance(x, list) else x[:64]
        predictions = [m.predict(head, verbose=0) for m in (ours, plain)]
        difference = np.max(np.abs(predictions[0] - predictions[1]))
        if difference > 1e-4:
            raise RuntimeError(f"the two models disagree by {difference}")
        # The first epoch traces and compiles; then the two models take turns,
        # so that a busy spell on a shared machine hits both.
        first = {m: fit_times(m, x, y, 1, batch_size)[0] for m in (ours, plain)}
        times = {ours: [], plain: []}
        for _ in range(rounds):
            for m in (ours, plain):
                times[m] += fit_times(m, x, y, 2, batch_size)
        ratio = statistics.median(times[ours]) / statistics.median(times[plain])
        for name, m in (("SelfFeedingRNN", ours), ("plain Keras", plain)):
            rows.append(
                [
                    f"{model}, {kind}({units}), {num_windows} x {time_steps}, "
                    f"batch {batch_size}",
                    name,
                    f"{m.jit_compile}",
                    f"{first[m]:.2f}",
                    f"{statistics.median(times[m]) * 1e3:.0f}",
                    f"{ratio:.2f}" if m is ours else "1.00",
                    f"{difference:.1e}",
                ]
            )
    header = [
        "data and recurrent layer",
        "model",
        "fit jit_compile",
        "first epoch (s)",
        "median epoch (ms)",
        "x plain Keras",
        "max diff of predictions",
    ]
    print_table(header, rows)


if __name__ == "__main__":
    main()
