"""The probabilistic how-to's recipe: train, draw sample paths, draw the fan chart.

docs/how-to/probabilistic.md shows its sections; `make figures` runs it and
writes docs/figures/fan_chart.png; tests/test_figures.py runs it too.
"""

import pathlib
import sys

import matplotlib

matplotlib.use("Agg")

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import figures  # noqa: E402


def main(figure_path=figures.FIGURES / "fan_chart.png"):
    # --8<-- [start:recipe]
    import keras
    import numpy as np

    from selffeed_keras import SelfFeedingRNN

    rng = np.random.default_rng(0)
    t = np.arange(24 * 40, dtype="float32")
    demand = 500 + 200 * np.sin(2 * np.pi * t / 24) + 30 * rng.standard_normal(t.size)
    windows = np.lib.stride_tricks.sliding_window_view(demand, 97)[::4, :, None]

    keras.utils.set_random_seed(0)
    layer = SelfFeedingRNN(
        keras.layers.LSTMCell(32), distribution="student_t", scaling="mean"
    )
    model = keras.Sequential([keras.Input((None, 1)), layer])
    model.compile(keras.optimizers.Adam(0.01), loss=layer.distribution.loss)
    model.fit(windows[:, :-1], windows[:, 1:], epochs=20, verbose=0)

    seed = demand[None, -96:, None]  # the last four days
    paths = layer.generate(seed, 24, num_samples=200, random_seed=0)
    print(paths.shape)  # (1, 200, 24, 1): batch, paths, steps, features
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
