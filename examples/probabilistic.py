"""The probabilistic how-to's recipe: train, draw paths, draw the fan chart.

docs/how-to/probabilistic.md shows its sections; `make figures` runs it and
writes docs/figures/fan_chart.png; tests/test_figures.py runs it too.
"""

import matplotlib

from examples import figures

matplotlib.use("Agg")


def main(figure_path=figures.FIGURES / "fan_chart.png"):
    # --8<-- [start:recipe]
    import keras
    import numpy as np

    from selffeed_keras import SelfFeedingRNN

    rng = np.random.default_rng(0)
    t = np.arange(24 * 8)
    demand = (
        500
        + 200 * np.sin(2 * np.pi * t / 24)
        + 30 * rng.standard_normal(t.size)
    )
    angle = 2 * np.pi * (t % 24) / 24  # a calendar covariate: the hour
    calendar = np.stack([np.sin(angle), np.cos(angle)], -1).astype("float32")
    context, horizon, period = 48, 24, 24

    def windows(values, covariates, length):
        """((inputs y[:-1], covariates x[1:]), targets y[1:]) per window."""
        rows = np.concatenate([values[:, None], covariates], -1).astype(
            "float32"
        )
        cut = np.lib.stride_tricks.sliding_window_view(rows, length, axis=0)
        cut = np.moveaxis(cut, -1, 1)  # (windows, length, 1 + covariates)
        return (cut[:, :-1, :1], cut[:, 1:, 1:]), cut[:, 1:, :1]

    length = context + horizon
    held = len(demand) - horizon  # the validation windows end after this step
    train = windows(demand[:held], calendar[:held], length)
    validation = windows(
        demand[held - length + 1 :], calendar[held - length + 1 :], length
    )

    keras.utils.set_random_seed(0)
    layer = SelfFeedingRNN(
        keras.layers.LSTMCell(32),
        distribution="log_normal",  # a positive series
        scaling="mean",
        context_length=context,  # the scale from the context, as generate
        lags=(1, period),
    )
    inputs, known = keras.Input((None, 1)), keras.Input((None, 2))
    model = keras.Model([inputs, known], layer(inputs, covariates=known))
    model.compile(keras.optimizers.Adam(1e-3), loss=layer.distribution.loss)
    stop = keras.callbacks.EarlyStopping(
        patience=30, restore_best_weights=True
    )
    model.fit(
        *train,
        validation_data=validation,
        epochs=500,
        callbacks=[stop],
        verbose=0,
    )

    seed = demand[None, -context:, None].astype("float32")
    future = np.arange(len(demand), len(demand) + horizon) % 24
    future = np.stack(
        [np.sin(2 * np.pi * future / 24), np.cos(2 * np.pi * future / 24)], -1
    )
    covariates = np.concatenate([calendar[-context + 1 :], future], 0)[None]
    paths = layer.generate(
        seed, horizon, num_samples=200, covariates=covariates, random_seed=0
    )
    print(paths.shape)  # (1, 200, 24, 1): batch, paths, steps, features
    low = np.quantile(paths[0, :, :, 0], 0.1, axis=0)
    print(bool((low > 0).all()))  # a log-normal's paths stay positive
    # --8<-- [end:recipe]

    # --8<-- [start:fan_chart]
    import matplotlib.pyplot as plt

    paths = np.asarray(paths)[0, :, :, 0]  # (200 paths, 24 steps)
    history, horizon = np.arange(-48, 0), np.arange(24)
    fig, ax = plt.subplots(figsize=(7, 3), layout="constrained")
    ax.plot(history, demand[-48:], color="black", label="history")
    for q, alpha in [(0.1, 0.2), (0.25, 0.35)]:  # the 80% and 50% intervals
        low, high = np.quantile(paths, [q, 1 - q], axis=0)
        ax.fill_between(
            horizon,
            low,
            high,
            color="C0",
            alpha=alpha,
            linewidth=0,
            label=f"{round(100 * (1 - 2 * q))}% of the paths",
        )
    ax.plot(horizon, np.median(paths, axis=0), color="C0", label="median")
    ax.set_xlabel("hours from the origin")
    ax.set_ylabel("demand")
    ax.legend(loc="lower left", fontsize=8)
    # --8<-- [end:fan_chart]
    return figures.save(fig, figure_path, figures.digest(__file__))


if __name__ == "__main__":
    print(main())
