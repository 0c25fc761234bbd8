"""The online forecasting how-to's figure and measurement, on Taylor's series.

A small model of half-hourly electricity demand (pmdarima's `load_taylor`)
forecasts the next day every half hour of a held-out fortnight, in two
ways: from a state that `observe` carries forward one value at a time
(read afresh once, at the start of the fortnight), and from a context read
afresh at each origin. It prints both CRPS and draws
docs/figures/online_forecast.png: the fan moving forward as values arrive,
and the CRPS of each origin against the time since the last fresh read.
`make figures` runs it; tests/test_figures.py runs it too.
"""

import matplotlib

from examples import figures

matplotlib.use("Agg")

CONTEXT, HORIZON, PATHS = 96, 48, 100


def main(figure_path=figures.FIGURES / "online_forecast.png", epochs=8):
    import keras
    import numpy as np
    from pmdarima.datasets import load_taylor

    from selffeed_keras import SelfFeedingRNN, forecasting

    demand = np.asarray(load_taylor(), "float32")
    held = len(demand) - 14 * 48  # the held-out fortnight starts here
    series = demand[:, None]
    cut = np.lib.stride_tricks.sliding_window_view(
        series[:held], CONTEXT + HORIZON, axis=0
    )
    cut = np.moveaxis(cut, -1, 1)  # (windows, 144, 1)

    keras.utils.set_random_seed(0)
    layer = SelfFeedingRNN(
        keras.layers.GRUCell(32),
        distribution="student_t",
        scaling="mean",
        context_length=CONTEXT,
        lags=(1, 48),
    )
    model = keras.Sequential([keras.Input((None, 1)), layer])
    model.compile(keras.optimizers.Adam(3e-3), loss=layer.distribution.loss)
    model.fit(cut[:, :-1], cut[:, 1:], batch_size=64, epochs=epochs, verbose=0)

    # Every half hour of the fortnight whose next day is known.
    origins = np.arange(held, len(demand) - HORIZON + 1)
    truth = np.stack([demand[o : o + HORIZON] for o in origins])

    # Fresh: each origin reads its last two days again.
    seeds = np.stack([series[o - CONTEXT : o] for o in origins])
    fresh = layer.generate(seeds, HORIZON, num_samples=PATHS, random_seed=0)
    fresh = np.asarray(fresh)[..., 0]  # (origins, paths, steps)

    # Online: two days read once, then one value at a time; each forecast
    # reads the last value as its one-step seed, from the state before it.
    state = layer.observe(series[None, held - CONTEXT : held - 1])
    states = []
    for o in origins:
        states.append([np.asarray(s) for s in state])
        state = layer.observe(series[None, o - 1 : o], state)
    stacked = [np.concatenate(parts) for parts in zip(*states, strict=True)]
    last = np.stack([series[o - 1 : o] for o in origins])
    online = layer.generate(
        last, HORIZON, initial_state=stacked, num_samples=PATHS, random_seed=0
    )
    online = np.asarray(online)[..., 0]

    crps_fresh = forecasting.crps(fresh, truth).mean(-1)  # per origin
    crps_online = forecasting.crps(online, truth).mean(-1)
    ratio = crps_online.mean() / crps_fresh.mean()
    print(
        f"CRPS over {len(origins)} origins: online {crps_online.mean():.1f}, "
        f"fresh {crps_fresh.mean():.1f}, ratio {ratio:.4f}"
    )

    import matplotlib.pyplot as plt

    fig, (fan, cost) = plt.subplots(
        1, 2, figsize=(11, 3.2), layout="constrained", width_ratios=[3, 2]
    )
    start = held + 24
    fan.plot(
        np.arange(start - 48, start + 60) - start,
        demand[start - 48 : start + 60],
        color="black",
        linewidth=1,
        label="demand",
    )
    for shift, color in [(0, "C0"), (6, "C1"), (12, "C2")]:
        index = start + shift - held
        steps = np.arange(shift, shift + HORIZON)
        low, mid, high = np.quantile(online[index], [0.1, 0.5, 0.9], axis=0)
        fan.fill_between(steps, low, high, color=color, alpha=0.25, lw=0)
        fan.plot(steps, mid, color=color, label=f"forecast at +{shift // 2} h")
    fan.set_xlabel("half hours from the first forecast")
    fan.set_ylabel("demand (MW)")
    fan.legend(loc="upper left", fontsize=8)
    fan.set_title("80% of the paths, as values arrive", fontsize=9)
    days = len(origins) // 48  # a mean per day of origins
    hours = 24 * np.arange(days) + 12
    for crps, style, label in [
        (crps_online, "o-", "from the observed state"),
        (crps_fresh, "s--", "from a fresh read"),
    ]:
        daily = crps[: days * 48].reshape(days, 48).mean(1)
        cost.plot(hours, daily, style, label=label)
    cost.set_xlabel("hours since the last fresh read")
    cost.set_ylabel("CRPS, mean of each day")
    cost.legend(fontsize=8)
    cost.set_title(f"online / fresh, the fortnight: {ratio:.3f}", fontsize=9)
    figures.save(fig, figure_path, figures.digest(__file__))
    return ratio


if __name__ == "__main__":
    print(main())
