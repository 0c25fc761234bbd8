"""The home page's ten-line example, and the plot of what it generates.

docs/index.md shows its sections; `make figures` runs it and writes
docs/figures/quick_start.png; tests/test_figures.py runs it too.
"""

import matplotlib

from examples import figures

matplotlib.use("Agg")


def main(figure_path=figures.FIGURES / "quick_start.png"):
    import keras

    keras.utils.set_random_seed(0)  # the same figure from the same code
    # --8<-- [start:example]
    import keras
    import numpy as np

    from selffeed_keras import SelfFeedingRNN

    series = np.sin(0.1 * np.arange(2_000, dtype="float32"))  # a sine wave
    windows = np.lib.stride_tricks.sliding_window_view(series, 65)[..., None]
    x, y = windows[:, :-1], windows[:, 1:]  # targets: inputs shifted by one

    layer = SelfFeedingRNN(keras.layers.LSTM(32), head=keras.layers.Dense(1))
    model = keras.Sequential([keras.Input((None, 1)), layer])
    model.compile("adam", "mse")
    model.fit(x, y, batch_size=64, epochs=3, verbose=0)  # teacher forcing

    seed = series[None, :50, None]  # (batch, time, features)
    future = layer.generate(seed, steps=200)  # (1, 200, 1), on its own outputs
    # --8<-- [end:example]
    # --8<-- [start:plot]
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 2.6), layout="constrained")
    ax.plot(series[:250], color="0.7", linewidth=3, label="sine wave")
    ax.plot(series[:50], color="black", label="seed")
    ax.plot(
        range(50, 250), future[0, :, 0], "--", color="C0", label="generated"
    )
    ax.set_xlabel("step")
    fig.legend(loc="outside upper center", fontsize=8, ncol=3)
    # --8<-- [end:plot]
    return figures.save(fig, figure_path, figures.digest(__file__))


if __name__ == "__main__":
    print(main())
