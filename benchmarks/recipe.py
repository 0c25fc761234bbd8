"""The forecasting recipe of the docs on series it was not tuned on.

The probabilistic how-to gives a recipe for a new series: windows of
`context + horizon` steps cut from the training part, `lags=(1, period)`,
`scaling="mean"` over each window's inputs, a log-normal for a positive
series, a Student-t otherwise, calendar covariates, and a training budget
chosen by `keras.callbacks.EarlyStopping(restore_best_weights=True)`
on the windows whose last step falls in the last `horizon` steps of the
training part. This script follows it as written (`fit_recipe`) on two
monthly series from pmdarima, which it was not tuned on:

- `wineind`: Australian wine sales, January 1980 to August 1994 (176 values,
  bottles);
- `airpassengers`: international airline passengers, 1949 to 1960 (144
  values, thousands; positive, growing, with a growing seasonal swing).

Rolling origins: one every 6 months over the last 3 years, a horizon of 12
from a context of 24 (two seasons). Every method is fitted once on the part before the
first origin and forecasts each origin from the values before it, as 100
sample paths. The peers: pmdarima's `auto_arima` (seasonal, m=12, the
stepwise search with p, q up to 3 and P, Q up to 1; its
statsmodels fit re-filtered at each origin and simulated) and statsmodels'
ETS, the best of eight forms (additive or multiplicative error and season,
with or without a damped trend) by AIC on the training part. The scores:
CRPS (`scoringrules.crps_ensemble`), MAPE of the paths' median, coverage of
the 10-90% interval.

The network (`lags=(1, 12)`: the value a season back) rows are the mean
over `--seeds` training seeds (`--variant-seeds` for the variants), with
the spread (min-max) in brackets. The variants after the recipe change one
thing each, to show what it does.

The first network row is `forecasting.Forecaster(12, season_length=12)`
with its defaults (`forecasting.recipe`), trained on the same part with the
calendar covariates and forecast from the same origins by
`forecasting.backtest`; one series is too few for its calibration, so its
paths are as its members draw them.

    python -m benchmarks.recipe           # both series, 3 seeds, a few minutes
    python -m benchmarks.recipe --forecaster-only  # the peers and Forecaster
    python -m benchmarks.recipe --quick   # airpassengers, 1 seed, tiny budget
"""

import argparse
import itertools
import sys
import time
import warnings

import keras
import numpy as np
import pandas as pd
import pmdarima
import scoringrules
from pmdarima.datasets import load_airpassengers, load_wineind
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

from benchmarks import common
from selffeed_keras import SelfFeedingRNN, forecasting

NUM_SAMPLES = 100


def monthly(name, values, start):
    """A monthly series from `start`: origins every 6 months over the last 3 years.

    Each origin forecasts 12 months from a context of 24 (two seasons).
    """
    n, horizon = len(values), 12
    index = pd.date_range(start, periods=n, freq="MS")
    origins = list(range(n - 36, n - horizon + 1, 6))
    return common.Series(
        name, values, index, "M", 12, 24, horizon, origins, positive=True
    )


def wineind():
    return monthly("wineind", load_wineind().astype("float64"), "1980-01")


def airpassengers():
    return monthly("airpassengers", load_airpassengers().astype("float64"), "1949-01")


# ------------------------------------------------------------------ the recipe


def windows(values, covariates, length):
    """Every window of `length` steps: ((inputs, covariates), targets) arrays.

    Inputs are `y[:-1]`, covariates those of the steps predicted, `x[1:]`,
    targets `y[1:]`.
    """
    features = np.concatenate([values[:, None], covariates], -1).astype("float32")
    cut = np.lib.stride_tricks.sliding_window_view(features, length, axis=0)
    cut = np.moveaxis(cut, -1, 1)  # (windows, length, 1 + covariates)
    return (cut[:, :-1, :1], cut[:, 1:, 1:]), cut[:, 1:, :1]


def fit_recipe(
    values,
    covariates,
    context,
    horizon,
    distribution,
    *,
    seed=0,
    lags=(1, 12),
    context_length=False,
    max_epochs=500,
    patience=30,
    units=32,
):
    """The how-to's recipe: returns the trained layer and the epochs it kept.

    The last `horizon` steps of `values` are held back: the windows that end
    in them are the validation split, the windows before them train.
    `context_length=True` is the variant that takes the scale from the
    context alone, and `max_epochs` with `patience=None` trains a fixed
    budget.
    """
    keras.utils.set_random_seed(seed)
    length = context + horizon
    cut = len(values) - horizon
    train = windows(values[:cut], covariates[:cut], length)
    first_held = cut - length + 1  # the first window that ends after `cut`
    validation = windows(values[first_held:], covariates[first_held:], length)
    layer = SelfFeedingRNN(
        keras.layers.LSTMCell(units),
        distribution=distribution,
        scaling="mean",
        lags=lags,
        context_length=context if context_length else None,
    )
    inputs = keras.Input((None, 1))
    known = keras.Input((None, covariates.shape[-1]))
    model = keras.Model([inputs, known], layer(inputs, covariates=known))
    model.compile(keras.optimizers.Adam(1e-3), loss=layer.distribution.loss)
    callbacks = []
    if patience is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True)
        )
    history = model.fit(
        *train,
        validation_data=validation,
        epochs=max_epochs,
        batch_size=32,
        shuffle=True,
        callbacks=callbacks,
        verbose=0,
    )
    losses = history.history["val_loss"]
    kept = int(np.argmin(losses)) + 1 if patience is not None else len(losses)
    return layer, kept


def recipe_paths(series, distribution, seed, noise_scale=False, **options):
    """Sample paths of the recipe's model at every origin, and its fit time."""
    covariates = series.covariates()
    end = series.origins[0]
    start = time.perf_counter()
    layer, kept = fit_recipe(
        series.values[:end],
        covariates[:end],
        series.context,
        series.horizon,
        distribution,
        seed=seed,
        **options,
    )
    c, h = series.context, series.horizon
    factor = None
    if noise_scale:  # from the last held-back window, read teacher-forced
        (inputs, known), targets = windows(
            series.values[end - c - h : end], covariates[end - c - h : end], c + h
        )
        params = np.asarray(layer(inputs, covariates=known))[0, -h:, 0]
        factor, _ = common.held_back_noise_scale(
            distribution, params, targets[0, -h:, 0]
        )
    fit_s = time.perf_counter() - start
    seeds = np.stack([series.values[o - c : o, None] for o in series.origins])
    known = np.stack([covariates[o - c + 1 : o + h] for o in series.origins])
    paths = layer.generate(
        seeds.astype("float32"),
        h,
        num_samples=NUM_SAMPLES,
        random_seed=seed,
        covariates=known,
        noise_scale=factor,
    )
    return np.asarray(paths)[..., 0], fit_s, kept


def forecaster_paths(series, seed, quick):
    """`forecasting.Forecaster` with the recipe's defaults, at every origin.

    Trained on the values before the first origin (its own validation split
    is their last `horizon`), with the calendar covariates; one series is
    too few to calibrate on, so the paths are as the members draw them.
    """
    covariates = series.covariates()
    end = series.origins[0]
    options = {"max_epochs": 3, "num_members": 1} if quick else {}
    forecaster = forecasting.Forecaster(
        series.horizon, season_length=series.period, random_seed=seed, **options
    )
    start = time.perf_counter()
    forecaster.train(
        forecasting.Panel([series.values[:end]], covariates=[covariates[:end]])
    )
    fit_s = time.perf_counter() - start
    paths = common.backtest_origins(forecaster, series, NUM_SAMPLES, seed)
    kept = min(int(np.argmin(h.history["val_loss"])) + 1 for h in forecaster.histories)
    return paths, fit_s, kept


# -------------------------------------------------------------------- the peers


def auto_arima(series, rng):
    end = series.origins[0]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The stepwise search, with the seasonal orders capped at 1 (the
        # uncapped search took minutes on the shared 2-core machine).
        fitted = pmdarima.auto_arima(
            series.values[:end],
            m=12,
            seasonal=True,
            max_p=3,
            max_q=3,
            max_P=1,
            max_Q=1,
            suppress_warnings=True,
        )
    fit_s = time.perf_counter() - start
    results = fitted.arima_res_
    paths = []
    for origin in series.origins:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            refit = results.apply(series.values[:origin])
        simulated = refit.simulate(
            series.horizon, anchor="end", repetitions=NUM_SAMPLES, rng=rng
        )
        paths.append(np.asarray(simulated).reshape(series.horizon, NUM_SAMPLES).T)
    return np.stack(paths), fit_s, str(fitted.order) + str(fitted.seasonal_order)


def auto_ets(series, rng):
    end = series.origins[0]
    start = time.perf_counter()
    best = None
    forms = itertools.product(("add", "mul"), (False, True), ("add", "mul"))
    for error, damped, seasonal in forms:
        options = dict(
            error=error,
            trend="add",
            damped_trend=damped,
            seasonal=seasonal,
            seasonal_periods=12,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = ETSModel(series.values[:end], **options).fit(disp=False)
        if best is None or fit.aic < best[0].aic:
            best = (fit, options)
    fit_s = time.perf_counter() - start
    fit, options = best
    paths = []
    for origin in series.origins:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = ETSModel(series.values[:origin], **options).smooth(fit.params)
        simulated = result.simulate(
            series.horizon, anchor="end", repetitions=NUM_SAMPLES, rng=rng
        )
        paths.append(np.asarray(simulated).reshape(series.horizon, NUM_SAMPLES).T)
    name = "".join(
        [
            options["error"][0].upper(),
            "Ad" if options["damped_trend"] else "A",
            options["seasonal"][0].upper(),
        ]
    )
    return np.stack(paths), fit_s, f"ETS({name})"


# -------------------------------------------------------------------- the table


def variants(series, quick):
    """The recipe and the variants that change one thing each."""
    default = "log_normal" if series.positive else "student_t"
    budget = {"max_epochs": 3, "patience": 2} if quick else {}
    rows = {
        f"recipe: {default}, lags (1, 12), early stopping": (
            default,
            budget,
        ),
    }
    rows["  the same, noise scale from the held-back horizon"] = (
        default,
        {**budget, "noise_scale": True},
    )
    if quick:
        return rows
    rows["  the same, no lags (lags=(1,))"] = (default, {"lags": (1,)})
    rows["  the same, scale from the context only (context_length)"] = (
        default,
        {"context_length": True},
    )
    rows["  the same, Student-t"] = ("student_t", {})
    rows["  the same, a fixed 30 epochs (no early stopping)"] = (
        default,
        {"max_epochs": 30, "patience": None},
    )
    return rows


def network_row(name, series, runs):
    """A table row from `(paths, fit_s, kept)` runs: mean [min-max] of each."""
    results = []
    for paths, fit_s, kept in runs:
        s = common.score(series, paths)
        scores = (s["CRPS"], s["MAPE"], s["coverage80"])
        results.append((*scores, np.mean(paths <= 0), fit_s, kept))
    crps, mape, coverage, negative, fit_s, kept = zip(*results, strict=True)
    return [
        name,
        common.spread(crps, 1 if max(crps) > 100 else 2),
        common.spread(mape, 2),
        common.spread(coverage, 2),
        f"{100 * np.mean(negative):.2f}",
        f"{np.mean(fit_s):.0f}",
        f"{min(kept)}-{max(kept)}",
    ]


def bench(series, seeds, quick, variant_seeds, peers, recipe_rows=True):
    rows = []
    for name, method in (("auto ARIMA", auto_arima), ("auto ETS", auto_ets))[
        : 2 if peers else 0
    ]:
        paths, fit_s, form = method(series, np.random.default_rng(0))
        s = common.score(series, paths)
        crps, mape, coverage = s["CRPS"], s["MAPE"], s["coverage80"]
        rows.append(
            [f"{name} {form}", f"{crps:.4g}", f"{mape:.2f}", f"{coverage:.2f}"]
            + ["-", f"{fit_s:.1f}", "-"]
        )
        print(f"  {name}: done", file=sys.stderr, flush=True)
    runs = [forecaster_paths(series, seed, quick) for seed in seeds]
    rows.append(
        network_row(
            "forecasting.Forecaster (the recipe's defaults, uncalibrated)",
            series,
            runs,
        )
    )
    print("  Forecaster: done", file=sys.stderr, flush=True)
    for i, (name, (distribution, options)) in enumerate(
        variants(series, quick).items() if recipe_rows else ()
    ):
        runs = [
            recipe_paths(series, distribution, seed, **options)
            for seed in (seeds if i == 0 else seeds[:variant_seeds])
        ]
        rows.append(network_row(name, series, runs))
        print(f"  {name.strip()}: done", file=sys.stderr, flush=True)
    header = [
        "method",
        "CRPS",
        "MAPE %",
        "coverage80",
        "draws <= 0 (%)",
        "fit (s)",
        "epochs kept",
    ]
    common.print_table(header, rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, tiny budget")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds")
    parser.add_argument(
        "--variant-seeds", type=int, default=3, help="seeds of the variant rows"
    )
    parser.add_argument("--no-peers", action="store_true", help="the network only")
    parser.add_argument(
        "--forecaster-only",
        action="store_true",
        help="the peers and forecasting.Forecaster, not the how-to's recipe rows",
    )
    parser.add_argument(
        "--series", nargs="*", default=["wineind", "airpassengers"], help="which"
    )
    args = parser.parse_args()
    seeds = range(1 if args.quick else args.seeds)
    print("# recipe: the how-to's recipe on series it was not tuned on\n")
    common.environment()
    print(
        f"- peers: pmdarima {pmdarima.__version__}, scoringrules "
        f"{scoringrules.__version__}; {len(seeds)} training seed(s)\n"
    )
    loaders = {"wineind": wineind, "airpassengers": airpassengers}
    # --quick: airpassengers only (auto ARIMA's search on wineind took 270 s
    # on the shared 2-core machine).
    for name in ["airpassengers"] if args.quick else args.series:
        series = loaders[name]()
        print(
            f"## {series.name}: {len(series.values)} monthly values, "
            f"{len(series.origins)} origins of {series.horizon} steps from a "
            f"context of {series.context}, {NUM_SAMPLES} paths\n"
        )
        bench(
            series,
            seeds,
            args.quick,
            args.variant_seeds,
            not args.no_peers,
            recipe_rows=not args.forecaster_only,
        )


if __name__ == "__main__":
    main()
