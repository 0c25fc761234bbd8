"""The covariates how-to's forecast: train on the calendar, forecast, compare.

docs/how-to/covariates.md shows its sections; `make figures` runs it and
writes docs/figures/covariates_forecast.png; tests/test_figures.py runs it too.
"""

import matplotlib

from examples import figures

matplotlib.use("Agg")


def main(figure_path=figures.FIGURES / "covariates_forecast.png", epochs=30):
    # --8<-- [start:recipe]
    import keras
    import numpy as np

    from selffeed_keras import SelfFeedingRNN

    # An hourly series: a daily cycle, lower at weekends, plus noise.
    hours = np.arange(24 * 7 * 8)
    weekend = (hours // 24) % 7 >= 5
    calendar = np.stack(  # known for any future hour: (time, 3)
        [
            np.sin(2 * np.pi * hours / 24),
            np.cos(2 * np.pi * hours / 24),
            weekend.astype(float),
        ],
        axis=-1,
    ).astype("float32")
    noise = 0.1 * np.random.default_rng(0).standard_normal(hours.size)
    y = (np.sin(2 * np.pi * hours / 24) - 0.8 * weekend + noise)[:, None]
    y = y.astype("float32")

    origin, seed_time, steps = len(hours) - 72, 48, 72  # the last three days
    # training windows, all before the origin
    starts = np.arange(0, origin - 97, 6)
    y_windows = np.stack([y[s : s + 97] for s in starts])
    x_windows = np.stack([calendar[s : s + 97] for s in starts])

    keras.utils.set_random_seed(0)
    layer = SelfFeedingRNN(
        keras.layers.GRUCell(32), head=keras.layers.Dense(1)
    )
    y_in, x_in = keras.Input((None, 1)), keras.Input((None, 3))
    model = keras.Model([y_in, x_in], layer(y_in, covariates=x_in))
    model.compile(keras.optimizers.Adam(0.01), "mse")
    model.fit(
        [
            y_windows[:, :-1],
            x_windows[:, 1:],
        ],  # inputs y(t), covariates x(t + 1)
        y_windows[:, 1:],  # targets y(t + 1)
        epochs=epochs,
        verbose=0,
    )

    forecast = layer.generate(
        y[None, origin - seed_time : origin],  # y(o - 48), ..., y(o - 1)
        steps,
        covariates=calendar[None, origin - seed_time + 1 : origin + steps],
    )
    actual = y[origin : origin + steps]
    rmse = float(np.sqrt(np.mean((np.asarray(forecast)[0] - actual) ** 2)))
    print(f"RMSE over {steps} hours: {rmse:.3f}")
    # --8<-- [end:recipe]

    # --8<-- [start:plot]
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3), layout="constrained")
    past = np.arange(-seed_time, 0)
    ax.plot(
        past, y[origin - seed_time : origin, 0], color="black", label="seed"
    )
    ax.plot(np.arange(steps), actual[:, 0], "k--", linewidth=1, label="actual")
    ax.plot(
        np.arange(steps),
        np.asarray(forecast)[0, :, 0],
        color="C1",
        label="forecast",
    )
    ax.axvspan(24, steps, color="0.92", label="weekend")
    ax.set_xlabel("hours from the origin")
    ax.legend(loc="lower left", fontsize=8, ncol=2)
    # --8<-- [end:plot]
    figures.save(fig, figure_path, figures.digest(__file__))
    return rmse


if __name__ == "__main__":
    print(main())
