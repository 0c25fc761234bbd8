"""Probabilistic forecasts on real data: `SelfFeedingRNN` against its peers.

Two series that ship in packages, no one here made them:

- `taylor`: half-hourly electricity demand in England and Wales, Monday 5 June
  to Sunday 27 August 2000 (`pmdarima.datasets.load_taylor`, 4,032 values, in
  megawatts). Held out: the last 14 days, one forecast origin per day at
  midnight, a horizon of 48 steps (one day).
- `co2`: the Mauna Loa CO2 record (`statsmodels.datasets.co2`, weekly, 1958 to
  2001), averaged by month (526 values, ppm). Held out: the last 5 years, an
  origin every 4 months, a horizon of 12.

Every method forecasts the same windows from the values before each origin,
as 100 sample paths; the models are fitted once on the part before the first
origin (the training part) and never see a held-out value but through the
context of a later origin. The metrics, averaged over all windows and steps:

- CRPS of the 100 paths (`scoringrules.crps_ensemble`), in the series' units;
- MAPE of the paths' median, in percent;
- MASE of the paths' median, scaled by the mean absolute seasonal difference
  (lag `period`: 336 for taylor, 12 for co2) over the training part;
- coverage80: the share of held-out values between the paths' 10% and 90%
  quantiles (`numpy.quantile`); a calibrated forecast gives 0.80.

The methods: a seasonal-naive forecast whose paths add blocks of its own
training residuals; statsmodels' ARIMA on seasonal differences (an
ARIMA(2,0,1) on `y[t] - y[t - period]`, fitted once, re-filtered at each
origin and simulated); statsmodels' ETS (co2 only: not tried with a seasonal
period of 336, whose initial states it would estimate as 336 parameters);
`SelfFeedingRNN(LSTMCell(40), distribution="student_t", scaling="mean")`
with lags and calendar covariates (`OURS`; taylor: lags (1, 2, 48, 336),
a context of 96 steps and the 335 values before it as a history that the
lags read and the cell does not step over, 16 epochs, the paths' noise
scale measured on a held-back week; co2: lags (1, 12) on the monthly
differences, 30 epochs). Each of the `--seeds` seeds is an ensemble of 3
networks trained from seeds of their own, which give a third of its paths
each: one row for the single networks (the mean and the range over all
of them), one for the ensembles (the mean and the range over the seeds).
On taylor, `forecasting.Forecaster` with the recipe's defaults for a
declared season of 48 steps (the daily cycle; the calendar covariates
carry the day of the week), calibrated by the library as the many series
how-to does it for one series: trained on the training part less its last
week, calibrated on that week's free-running forecasts
(`forecasting.backtest`, an origin every 3 hours, `Forecaster.calibrate`),
then forecasting the held-out days; one forecaster per `--seeds` seed, a
row calibrated and one not, and coverage80's block bootstrap interval over
the held-out days.
GluonTS' DeepAR (torch, when installed: the `bench` extra) runs with its
defaults (lags, time features, context) and the `--seeds` seeds, stopped
after the mean wall-clock time one of our ensembles took to train.

    python -m benchmarks.forecast             # both series: about 25 minutes
    python -m benchmarks.forecast --variants  # and what each change did, 1 seed
    python -m benchmarks.forecast --series taylor --forecaster-only  # 20 minutes
    python -m benchmarks.forecast --quick     # tiny budgets, 3 windows: a smoke test
"""

import argparse
import datetime
import shutil
import sys
import tempfile
import time
import warnings

import keras
import numpy as np
import pandas as pd
import scoringrules
import statsmodels
from pmdarima.datasets import load_taylor
from statsmodels.datasets import co2 as co2_dataset
from statsmodels.tsa.arima.model import ARIMA
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

from benchmarks.common import (
    Series,
    backtest_origins,
    environment,
    held_back_noise_scale,
    print_table,
    score,
    spread,
)
from selffeed_keras import SelfFeedingRNN, forecasting

try:
    import gluonts
    import lightning
    import torch
    from gluonts.dataset.common import ListDataset
    from gluonts.torch import DeepAREstimator
except ImportError:  # the optional `bench` extra
    gluonts = None

NUM_SAMPLES = 100


# ------------------------------------------------------------------- the data


def taylor():
    values = load_taylor().astype("float64")
    index = pd.date_range("2000-06-05", periods=len(values), freq="30min")
    horizon = 48
    origins = list(range(len(values) - 14 * horizon, len(values), horizon))
    return Series("taylor", values, index, "30min", 336, 336, horizon, origins)


def co2():
    weekly = co2_dataset.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean().interpolate()
    values = monthly.to_numpy(dtype="float64")
    horizon = 12
    origins = list(range(len(values) - 60, len(values) - horizon + 1, 4))
    return Series("co2", values, monthly.index, "M", 12, 48, horizon, origins)


# -------------------------------------------------------------- the methods
# Each method fits on the training part and returns (paths, fit_s, predict_s):
# paths (windows, samples, steps), predict_s the time of one window.


def seasonal_naive(series, rng):
    """y[t - period], plus blocks of the training part's seasonal residuals."""
    start = time.perf_counter()
    train = series.values[: series.train_end]
    residuals = train[series.period :] - train[: -series.period]
    fit_s = time.perf_counter() - start
    steps = np.arange(series.horizon)
    paths = []
    times = []
    for origin in series.origins:
        start = time.perf_counter()
        point = series.values[origin - series.period + steps]
        first = rng.integers(0, len(residuals) - series.horizon, NUM_SAMPLES)
        paths.append(point + residuals[first[:, None] + steps])
        times.append(time.perf_counter() - start)
    return np.stack(paths), fit_s, float(np.median(times))


def arima(series, rng):
    """ARIMA(2,0,1) on seasonal differences, simulated from each origin."""
    lag = series.period
    differences = series.values[lag:] - series.values[:-lag]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter
        fitted = ARIMA(differences[: series.train_end - lag], order=(2, 0, 1)).fit()
    fit_s = time.perf_counter() - start
    paths = []
    times = []
    for origin in series.origins:
        start = time.perf_counter()
        result = fitted.apply(differences[: origin - lag])
        simulated = result.simulate(
            series.horizon,
            anchor="end",
            repetitions=NUM_SAMPLES,
            rng=rng,
        )  # (steps, 1, samples) or (steps, samples)
        simulated = np.asarray(simulated).reshape(series.horizon, NUM_SAMPLES).T
        # Undo the differencing: the horizon is at most one period, so the
        # value one period back is always observed.
        previous = series.values[origin - lag + np.arange(series.horizon)]
        paths.append(previous + simulated)
        times.append(time.perf_counter() - start)
    return np.stack(paths), fit_s, float(np.median(times))


def ets(series, rng):
    """ETS(A,A,A), fitted once, re-smoothed at each origin and simulated."""
    start = time.perf_counter()
    model = ETSModel(
        series.values[: series.train_end],
        error="add",
        trend="add",
        seasonal="add",
        seasonal_periods=series.period,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        params = model.fit(disp=False).params
    fit_s = time.perf_counter() - start
    paths = []
    times = []
    for origin in series.origins:
        start = time.perf_counter()
        model = ETSModel(
            series.values[:origin],
            error="add",
            trend="add",
            seasonal="add",
            seasonal_periods=series.period,
        )
        result = model.smooth(params)
        simulated = result.simulate(
            series.horizon, anchor="end", repetitions=NUM_SAMPLES, rng=rng
        )
        paths.append(np.asarray(simulated).reshape(series.horizon, NUM_SAMPLES).T)
        times.append(time.perf_counter() - start)
    return np.stack(paths), fit_s, float(np.median(times))


def deepar(series, rng, seconds, seed=0, max_epochs=10_000):
    """GluonTS' DeepAR (torch) with its defaults, trained for `seconds`.

    Its defaults: two LSTM layers of 40, a Student-t, mean scaling, the lags
    and time features GluonTS picks for the frequency (half-hourly: 35 lags
    up to 1,009 steps back, and the minute of the hour, hour of the day, day
    of the week, of the month and of the year), a context as long as the
    horizon, 50 batches of 32 an epoch. Lightning stops it after `seconds`
    of wall clock (`max_time`), the budget our own model took to train; it
    keeps the epoch of lowest training loss. `max_epochs` is raised from
    GluonTS' 100 so that the clock, not the epochs, ends training: on an
    idle 2-core machine its 100 epochs took less than our budget. `seed`
    fixes Lightning's and torch's random state.
    """
    lightning.seed_everything(seed, verbose=False)
    checkpoints = tempfile.mkdtemp(prefix="deepar-")
    start_period = pd.Period(series.index[0], freq=series.freq)
    train = ListDataset(
        [{"start": start_period, "target": series.values[: series.train_end]}],
        freq=series.freq,
    )
    estimator = DeepAREstimator(
        freq=series.freq,
        prediction_length=series.horizon,
        num_parallel_samples=NUM_SAMPLES,
        trainer_kwargs={
            "max_epochs": max_epochs,
            "max_time": datetime.timedelta(seconds=seconds),
            "accelerator": "cpu",
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "logger": False,
            "default_root_dir": checkpoints,  # GluonTS keeps the best epoch
        },
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice on workers
        predictor = estimator.train(train, cache_data=True)
    fit_s = time.perf_counter() - start
    paths = []
    times = []
    for origin in series.origins:
        window = ListDataset(
            [{"start": start_period, "target": series.values[:origin]}],
            freq=series.freq,
        )
        start = time.perf_counter()
        (forecast,) = predictor.predict(window)
        samples = forecast.samples
        times.append(time.perf_counter() - start)
        paths.append(samples)
    shutil.rmtree(checkpoints, ignore_errors=True)
    return np.stack(paths), fit_s, float(np.median(times))


def selffeeding(
    series,
    rng,
    epochs,
    *,
    seed=0,
    sampling_probability=0.0,
    lags=(1,),
    context=None,
    distribution="student_t",
    units=40,
    learning_rate=5e-3,
    stride=1,
    dropout=0.0,
    differences=False,
    held_back=0,
    report=None,
):
    """SelfFeedingRNN(LSTMCell(units)), mean scaling, calendar covariates.

    The cell steps over `context` values before each origin (the series'
    context by default). With `lags` other than `(1,)` it also reads, through
    `history_state`, the `max(lags) - 1` values before the context, which it
    never steps over: training windows hold that history, the context and the
    horizon, and each window starts from a state that holds its history, with
    the scale of its context (the scale `generate` takes from a seed). Adam
    with a cosine decay from `learning_rate` over `epochs` epochs of windows
    cut every `stride` steps: at a constant rate the free-running forecasts'
    level swung by several hundred MW from one epoch to the next on taylor.

    With a `sampling_probability`, scheduled sampling feeds back a draw of the
    model's own distribution in training, without backpropagating through it:
    with `backprop_through_feedback=True` the loss turned NaN in the third
    epoch on taylor (sampling probability 0.3).

    With `held_back` windows, the noise scale of the paths is measured on
    data the network was not trained on: a first network trains on the
    training part less its last `held_back * horizon` values, and reads
    them teacher-forced from origins one horizon apart (each with its
    context and history), which gives the distribution of each held-back
    value one step ahead. The noise scale is the factor by which those
    one-step 80% intervals must widen for 80% of the held-back values to
    fall inside (`common.held_back_noise_scale`). The network that
    forecasts then trains on the whole training part, as without
    `held_back`, and draws its paths with that `noise_scale`; `fit_s`
    counts both trainings. `report`, a dict, gets the noise scale and the
    one-step coverage80 of the held-back values before widening.
    """
    context = context or series.context
    past = max(lags) - 1  # the history that lags read before the context
    covariates = series.covariates()
    end = series.train_end
    steps = series.horizon
    values = series.values[:, None].astype("float32")
    if differences:  # y[t] - y[t - 1], 0 at the first step
        values = np.diff(values, axis=0, prepend=values[:1])

    def fit(fit_end):
        """A network trained on the values before `fit_end`, and its fit time."""
        keras.utils.set_random_seed(seed)
        # Windows: the history, then inputs y[:-1] with the covariates of the
        # steps they predict, x[1:]; targets y[1:].
        features = np.concatenate([values[:fit_end], covariates[:fit_end]], axis=-1)
        cut = np.lib.stride_tricks.sliding_window_view(
            features, past + context + steps, axis=0
        )[::stride]
        cut = np.moveaxis(cut, -1, 1)  # (windows, time, 1 + covariates)
        x = [cut[:, past:-1, :1], cut[:, past + 1 :, 1:]]
        targets = cut[:, past + 1 :, :1]
        layer = SelfFeedingRNN(
            keras.layers.LSTMCell(units, dropout=dropout),
            distribution=distribution,
            scaling="mean",
            sampling_probability=sampling_probability,
            backprop_through_feedback=False,
            lags=lags,
            context_length=context if past else None,
        )
        inputs = [keras.Input((None, 1)), keras.Input((None, covariates.shape[-1]))]
        state = None
        if past:  # each window starts from the state a forecast starts from
            starts = layer.history_state(cut[:, :past, :1], context=x[0][:, :context])
            x += [np.asarray(s) for s in starts]
            state = [keras.Input(tuple(s.shape[1:])) for s in starts]
            inputs += state
        outputs = layer(inputs[0], covariates=inputs[1], initial_state=state)
        model = keras.Model(inputs, outputs)
        batches = -(-len(targets) // 32)
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, epochs * batches)
        model.compile(keras.optimizers.Adam(rate), loss=layer.distribution.loss)
        start = time.perf_counter()
        model.fit(x, targets, batch_size=32, epochs=epochs, shuffle=True, verbose=0)
        return layer, time.perf_counter() - start

    def windows(layer, origins, length):
        """Seeds of `context + length` values from each origin's context on,
        the covariates of their steps but the first, and the history state."""
        seeds = np.stack([values[o - context : o + length] for o in origins])
        known = np.stack([covariates[o - context + 1 : o + steps] for o in origins])
        if not past:
            return seeds, known, None
        history = np.stack([values[o - context - past : o - context] for o in origins])
        return seeds, known, layer.history_state(history, context=seeds[:, :context])

    noise_scale = None
    fit_s = 0.0
    if held_back:
        layer, fit_s = fit(end - held_back * steps)
        origins = list(range(end - held_back * steps, end - steps + 1, steps))
        inputs, known, state = windows(layer, origins, steps - 1)
        params = np.asarray(layer(inputs, covariates=known, initial_state=state))
        actual = values[np.asarray(origins)[:, None] + np.arange(steps), 0]
        noise_scale, share = held_back_noise_scale(
            distribution, params[:, -steps:, 0], actual
        )
        if report is not None:
            report.update(noise_scale=noise_scale, coverage=share)

    layer, final_s = fit(end)
    fit_s += final_s
    seeds, known, state = windows(layer, series.origins, 0)

    def forecast(rows, random_seed):
        return layer.generate(
            seeds[rows],
            steps,
            num_samples=NUM_SAMPLES,
            random_seed=random_seed,
            covariates=known[rows],
            initial_state=None if state is None else [s[rows] for s in state],
            noise_scale=noise_scale,
        )

    # The first call traces and compiles; time the steady state per window.
    forecast(slice(0, 1), 0)
    times = []
    for i in range(len(series.origins)):
        start = time.perf_counter()
        np.asarray(forecast(slice(i, i + 1), i))
        times.append(time.perf_counter() - start)
    paths = np.asarray(forecast(slice(None), seed))[..., 0]
    if differences:  # back to levels: the last value plus the steps' sum
        last = series.values[np.asarray(series.origins) - 1]
        paths = last[:, None, None] + np.cumsum(paths, axis=-1)
    return paths, fit_s, float(np.median(times))


def forecaster_paths(series, seed, quick, season_length, held_back, stride):
    """`forecasting.Forecaster` with the recipe's defaults, calibrated.

    The library's calibration on one series, as the many series how-to
    gives it: the forecaster trains (its own early stopping on the last
    `horizon` values) on the training part less its last `held_back *
    horizon` values, with the calendar covariates; `forecasting.backtest`
    forecasts those held-back values free-running from an origin every
    `stride` steps, and `Forecaster.calibrate` sets one factor per horizon
    step from them. The same forecaster then forecasts every held-out
    window (`forecasting.backtest` over the test origins), calibrated.

    Returns `(paths, fit_s, predict_s)` as the other methods, the
    uncalibrated paths and the factors: fit_s counts the training and the
    calibration; predict_s is the mean time of one window.
    """
    covariates = series.covariates()
    end = series.train_end
    cut = end - held_back * series.horizon
    options = {"max_epochs": 2, "num_members": 1} if quick else {}
    forecaster = forecasting.Forecaster(
        series.horizon, season_length=season_length, random_seed=seed, **options
    )
    start = time.perf_counter()
    forecaster.train(
        forecasting.Panel([series.values[:cut]], covariates=[covariates[:cut]])
    )
    checked = forecasting.backtest(
        forecaster,
        forecasting.Panel([series.values[:end]], covariates=[covariates[:end]]),
        num_origins=(end - cut - series.horizon) // stride + 1,
        stride=stride,
        num_samples=NUM_SAMPLES,
        random_seed=seed,
        calibrated=False,
    )
    factors = forecaster.calibrate(checked)
    fit_s = time.perf_counter() - start
    drawn = {}
    for calibrated in (True, False):
        start = time.perf_counter()
        drawn[calibrated] = backtest_origins(
            forecaster, series, NUM_SAMPLES, seed, calibrated
        )
        predict_s = (time.perf_counter() - start) / len(series.origins)
    return (drawn[True], fit_s, predict_s), drawn[False], factors


def bootstrap_coverage(series, paths, rng, resamples=2000, level=0.95):
    """coverage80's block bootstrap interval over the held-out windows.

    Each resample draws as many windows (days on taylor) as there are,
    with replacement, keeping each window's steps together: the interval
    of the share of values inside the paths' 10-90% interval.
    """
    actual = series.actuals()
    low, high = np.quantile(paths, [0.1, 0.9], axis=1)
    inside = ((actual >= low) & (actual <= high)).mean(axis=1)  # per window
    picks = rng.integers(0, len(inside), (resamples, len(inside)))
    shares = inside[picks].mean(axis=1)
    tail = (1 - level) / 2
    return np.quantile(shares, [tail, 1 - tail])


# ------------------------------------------------------------------ the table

# The network's configuration on each series (the arguments of `selffeeding`),
# and in --quick a tiny budget. Why these: the benchmarks page.
OURS = {
    "taylor": dict(
        epochs=16, lags=(1, 2, 48, 336), context=96, stride=1, held_back=7, ensemble=3
    ),
    "co2": dict(epochs=30, lags=(1, 12), context=48, differences=True, ensemble=3),
}
QUICK = {
    "taylor": dict(epochs=1, stride=16),
    "co2": dict(epochs=1),
}
# forecasting.Forecaster's row: the recipe's defaults for a declared season
# (taylor: the daily cycle of 48 steps; the calendar covariates carry the
# day of the week), calibrated on the held-back week's free-running
# forecasts from an origin every 3 hours (49 origins).
FORECASTER = {"taylor": dict(season_length=48, held_back=7, stride=6)}
# --variants: what each change did, one training seed each. On taylor they
# change one thing each from 8 epochs on every other window (`stride=2`).
SHORT = dict(epochs=8, lags=(1, 2, 48, 336), context=96, stride=2)
VARIANTS = {
    "taylor": {
        "8 epochs on every other window": SHORT,
        "  the same, GluonTS-like lags (1-3, 47-49, 335-337)": {
            **SHORT,
            "lags": (1, 2, 3, 47, 48, 49, 335, 336, 337),
        },
        "  the same, context 48": {**SHORT, "context": 48},
        "  the same, log-normal": {**SHORT, "distribution": "log_normal"},
        "  the same, scheduled sampling 0.3": {**SHORT, "sampling_probability": 0.3},
        "  the same, scheduled sampling 0.3, 16 epochs": {
            **SHORT,
            "sampling_probability": 0.3,
            "epochs": 16,
        },
        "  the same, dropout 0.1": {**SHORT, "dropout": 0.1},
    },
    "co2": {
        "levels instead of differences": dict(epochs=30, lags=(1, 12), context=48),
    },
}


def row(series, name, runs):
    """A table row from `(paths, fit_s, predict_s)` of one run per seed."""
    scores = [score(series, paths) for paths, _, _ in runs]
    fit_s, predict_s = runs[0][1:]
    if fit_s is not None:  # the mean over the seeds
        fit_s = np.mean([fit_s for _, fit_s, _ in runs])
        predict_s = np.mean([predict_s for _, _, predict_s in runs])
    crps_digits = 1 if scores[0]["CRPS"] > 100 else 3
    return [
        name,
        spread([s["CRPS"] for s in scores], crps_digits),
        spread([s["MAPE"] for s in scores], 2),
        spread([s["MASE"] for s in scores], 3),
        spread([s["coverage80"] for s in scores], 3),
        "-" if fit_s is None else f"{fit_s:.1f}",
        "-" if predict_s is None else f"{1e3 * predict_s:.1f}",
    ]


def ensemble(runs):
    """One forecaster from several networks' runs: their paths in equal shares.

    Each network gives `NUM_SAMPLES // len(runs)` paths (the first networks
    one more, up to `NUM_SAMPLES` in all); the times add up.
    """
    shares = np.array_split(np.arange(NUM_SAMPLES), len(runs))
    paths = np.concatenate(
        [
            paths[:, : len(share)]
            for (paths, _, _), share in zip(runs, shares, strict=True)
        ],
        axis=1,
    )
    fit_s = sum(fit_s for _, fit_s, _ in runs)
    return paths, fit_s, sum(predict_s for _, _, predict_s in runs)


def bench(series, quick, seeds, variants, forecaster_only=False):
    rng = np.random.default_rng
    rows = [
        row(
            series, "seasonal naive + residual blocks", [seasonal_naive(series, rng(0))]
        ),
        row(
            series,
            "statsmodels ARIMA(2,0,1) on seasonal differences",
            [arima(series, rng(0))],
        ),
    ]
    if series.period <= 52:
        rows.append(row(series, "statsmodels ETS(A,A,A)", [ets(series, rng(0))]))
    print("  peers: done", file=sys.stderr, flush=True)
    notes = []
    if series.name in FORECASTER:
        rows += forecaster_rows(series, quick, seeds, notes)
    if not forecaster_only:
        rows += network_rows(series, quick, seeds, variants)
    header = [
        "method",
        "CRPS",
        "MAPE %",
        "MASE",
        "coverage80",
        "fit (s)",
        "predict one window (ms)",
    ]
    print_table(header, rows)
    for note in notes:
        print(note)
    if notes:
        print()


def forecaster_rows(series, quick, seeds, notes):
    """forecasting.Forecaster's rows, calibrated and not; notes get the factors
    and coverage80's bootstrap interval per seed."""
    config = FORECASTER[series.name]
    runs = [forecaster_paths(series, seed, quick, **config) for seed in seeds]
    name = (
        f"forecasting.Forecaster({series.horizon}, season_length="
        f"{config['season_length']}), the recipe's defaults"
    )
    rows = [
        row(
            series, f"{name}, calibrated on the held-back week", [r for r, _, _ in runs]
        ),
        row(
            series,
            "  the same forecasters, uncalibrated",
            [(raw, None, None) for _, raw, _ in runs],
        ),
    ]
    for seed, ((paths, _, _), _, factors) in zip(seeds, runs, strict=True):
        low, high = bootstrap_coverage(series, paths, np.random.default_rng(seed))
        coverage = score(series, paths)["coverage80"]
        notes.append(
            f"- Forecaster seed {seed}: coverage80 {coverage:.3f}, 95% block "
            f"bootstrap interval over the held-out windows [{low:.3f}, {high:.3f}]; "
            f"factors at steps 1, 12, 24, 36, 48: "
            + ", ".join(f"{factors[i]:.2f}" for i in (0, 11, 23, 35, 47))
        )
    print("  Forecaster: done", file=sys.stderr, flush=True)
    return rows


def network_rows(series, quick, seeds, variants):
    """The hand-tuned networks' rows, DeepAR's and the variants'."""
    rows = []
    config = {**OURS[series.name], **(QUICK[series.name] if quick else {})}
    epochs = config.pop("epochs")
    size = config.pop("ensemble", 1)
    # Seed s of the run is an ensemble of `size` networks, seeds s * size
    # to s * size + size - 1: as many training seeds, none shared.
    members = [s * size + i for s in seeds for i in range(size)]
    reports = [{} for _ in members]
    singles = [
        selffeeding(series, None, epochs, seed=m, report=r, **config)
        for m, r in zip(members, reports, strict=True)
    ]
    name = f"SelfFeedingRNN, lags {config['lags']}"
    if config.get("held_back"):
        name += f", noise scale from {config['held_back']} held-back windows"
    rows.append(row(series, f"{name}, {len(singles)} network(s)", singles))
    if size > 1:
        ours = [ensemble(singles[i : i + size]) for i in range(0, len(singles), size)]
        rows.append(
            row(
                series,
                f"  ensembles of {size} of these networks, {len(ours)} ensemble(s)",
                ours,
            )
        )
    else:
        ours = singles
    if config.get("held_back"):
        print(
            "\nThe noise scale each training seed measured on the held-back "
            "windows, and the share of held-back values inside the one-step 80% "
            "intervals before widening: "
            + ", ".join(
                f"seed {m}: {r['noise_scale']:.3f} ({r['coverage']:.3f})"
                for m, r in zip(members, reports, strict=True)
            )
            + "\n"
        )
    print("  SelfFeedingRNN: done", file=sys.stderr, flush=True)
    if gluonts is not None:
        budget = float(np.mean([fit_s for _, fit_s, _ in ours]))
        theirs = [deepar(series, None, budget, seed=s) for s in seeds]
        rows.append(
            row(series, f"GluonTS DeepAR (torch), {len(seeds)} seed(s)", theirs)
        )
        print("  DeepAR: done", file=sys.stderr, flush=True)
    for name, variant in VARIANTS[series.name].items() if variants else ():
        variant = dict(variant)
        epochs = variant.pop("epochs")
        run = selffeeding(series, None, epochs, seed=seeds[0], **variant)
        rows.append(row(series, f"variant, seed {seeds[0]}: {name}", [run]))
        print(f"  {name}: done", file=sys.stderr, flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny budgets, 3 windows a series"
    )
    parser.add_argument("--seeds", type=int, default=3, help="training seeds")
    parser.add_argument(
        "--series", nargs="*", default=["taylor", "co2"], help="which series"
    )
    parser.add_argument(
        "--variants", action="store_true", help="the variants too, one seed each"
    )
    parser.add_argument(
        "--no-deepar", action="store_true", help="leave GluonTS' DeepAR out"
    )
    parser.add_argument(
        "--forecaster-only",
        action="store_true",
        help="the peers and forecasting.Forecaster, not the hand-tuned networks",
    )
    args = parser.parse_args()
    global gluonts
    if args.no_deepar:
        gluonts = None
    seeds = list(range(1 if args.quick else args.seeds))
    print("# forecast: probabilistic forecasts on real data\n")
    environment()
    print(
        f"- peers: statsmodels {statsmodels.__version__}, "
        + (
            f"GluonTS {gluonts.__version__}, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads)"
            if gluonts
            else "GluonTS not installed (the `bench` extra) or left out"
        )
        + f", scoringrules {scoringrules.__version__}; training seeds {seeds}\n"
    )
    for name in args.series:
        series = {"taylor": taylor, "co2": co2}[name]()
        if args.quick:
            series.origins = series.origins[:3]
        print(
            f"## {series.name}: {len(series.values):,} values, "
            f"{len(series.origins)} windows of {series.horizon} steps, "
            f"{NUM_SAMPLES} paths\n"
        )
        bench(series, args.quick, seeds, args.variants, args.forecaster_only)


if __name__ == "__main__":
    main()
