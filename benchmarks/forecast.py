"""Probabilistic forecasts on real data: `SelfFeedingRNN` against its peers.

Two series that ship in packages, no one here made them:

- `taylor`: half-hourly electricity demand in England and Wales, Monday 5 June
  to Sunday 27 August 2000 (`pmdarima.datasets.load_taylor`, 4,032 values, in
  megawatts). Held out: the last 14 days, one forecast origin per day at
  midnight, a horizon of 48 steps (one day) from a context of 336 (one week).
- `co2`: the Mauna Loa CO2 record (`statsmodels.datasets.co2`, weekly, 1958 to
  2001), averaged by month (526 values, ppm). Held out: the last 5 years, an
  origin every 4 months, a horizon of 12 from a context of 48.

Every method forecasts the same windows from the values before each origin,
as 100 sample paths; the models are fitted once on the part before the first
origin (the training part) and never see a held-out value but through the
context of a later origin. The metrics, averaged over all windows and steps:

- CRPS of the 100 paths (`scoringrules.crps_ensemble`), in the series' units;
- MASE of the paths' median, scaled by the mean absolute seasonal difference
  (lag `period`: 336 for taylor, 12 for co2) over the training part;
- coverage80: the share of held-out values between the paths' 10% and 90%
  quantiles (`numpy.quantile`); a calibrated forecast gives 0.80.

The methods: a seasonal-naive forecast whose paths add blocks of its own
training residuals; statsmodels' ARIMA on seasonal differences (an
ARIMA(2,0,1) on `y[t] - y[t - period]`, fitted once, re-filtered at each
origin and simulated); statsmodels' ETS (co2 only: not tried with a seasonal
period of 336, whose initial states it would estimate as 336 parameters);
GluonTS' DeepAR (torch, when installed: the
`bench` extra), with the same context and horizon and
`num_parallel_samples=100`, trained on 100 batches (its default is 5,000:
see `BUDGETS`); and `SelfFeedingRNN(LSTMCell(40),
distribution="student_t", scaling="mean")` with calendar covariates, trained
teacher-forced on windows of the training part (`BUDGETS`: 8 epochs of 94
batches on taylor, a few minutes here).

    python benchmarks/forecast.py          # the full tables, several minutes
    python benchmarks/forecast.py --quick  # tiny budgets, 3 windows: a smoke test
"""

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time
import warnings

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scoringrules  # noqa: E402
import statsmodels  # noqa: E402
from pmdarima.datasets import load_taylor  # noqa: E402
from statsmodels.datasets import co2 as co2_dataset  # noqa: E402
from statsmodels.tsa.arima.model import ARIMA  # noqa: E402
from statsmodels.tsa.exponential_smoothing.ets import ETSModel  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from generate import environment, print_table  # noqa: E402

from selffeed_keras import SelfFeedingRNN  # noqa: E402

try:
    import gluonts
    import torch
    from gluonts.dataset.common import ListDataset
    from gluonts.torch import DeepAREstimator
except ImportError:  # the optional `bench` extra
    gluonts = None

NUM_SAMPLES = 100


# ------------------------------------------------------------------- the data


@dataclasses.dataclass
class Series:
    """One series and its rolling-origin evaluation."""

    name: str
    values: np.ndarray  # float64, (time,)
    index: pd.DatetimeIndex
    freq: str  # a pandas period frequency, for GluonTS
    period: int  # seasonal lag of the naive forecast and of MASE's scale
    context: int
    horizon: int
    origins: list  # indices of the first forecast step of each window

    @property
    def train_end(self):
        return self.origins[0]

    def covariates(self):
        """Calendar covariates for every time step, float32 (time, features)."""
        if self.freq == "30min":
            hour = self.index.hour + self.index.minute / 60
            day = self.index.dayofweek
            angles = [2 * np.pi * hour / 24, 2 * np.pi * day / 7]
        else:
            angles = [2 * np.pi * (self.index.month - 1) / 12]
        columns = [f(a) for a in angles for f in (np.sin, np.cos)]
        return np.stack(columns, axis=-1).astype("float32")

    def actuals(self):
        return np.stack([self.values[o : o + self.horizon] for o in self.origins])


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


# ---------------------------------------------------------------- the metrics


def score(series, paths):
    """CRPS, MASE of the median and coverage80 of `(windows, samples, steps)`."""
    actual = series.actuals()
    crps = scoringrules.crps_ensemble(actual, paths, m_axis=1)
    train = series.values[: series.train_end]
    scale = np.mean(np.abs(train[series.period :] - train[: -series.period]))
    median = np.median(paths, axis=1)
    mase = np.mean(np.abs(median - actual)) / scale
    low, high = np.quantile(paths, [0.1, 0.9], axis=1)
    coverage = np.mean((actual >= low) & (actual <= high))
    return float(np.mean(crps)), float(mase), float(coverage)


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


def deepar(series, rng, batches):
    """GluonTS' DeepAR (torch): its defaults but context, horizon, samples, budget.

    GluonTS trains 100 epochs of 50 batches by default; here 4 epochs of
    `batches // 4`, as far as a shared 2-core machine allows (about 5 s a
    batch on taylor). It keeps the epoch of lowest training loss.
    """
    torch.manual_seed(0)
    checkpoints = tempfile.mkdtemp(prefix="deepar-")
    start_period = pd.Period(series.index[0], freq=series.freq)
    train = ListDataset(
        [{"start": start_period, "target": series.values[: series.train_end]}],
        freq=series.freq,
    )
    estimator = DeepAREstimator(
        freq=series.freq,
        prediction_length=series.horizon,
        context_length=series.context,
        num_parallel_samples=NUM_SAMPLES,
        num_batches_per_epoch=batches // 4,
        trainer_kwargs={
            "max_epochs": 4,
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
        predictor = estimator.train(train)
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


def deepar_prediction_seconds(repeats=5):
    """Median seconds of DeepAR's 100 paths of 48 steps for one series.

    For `benchmarks/generate.py`: prediction time does not depend on how well
    the model was trained, so it trains for 4 batches only (Taylor's training
    part, context 336). None when GluonTS is not installed.
    """
    if gluonts is None:
        return None
    series = taylor()
    series.origins = series.origins[:1] * repeats
    _, _, predict_s = deepar(series, np.random.default_rng(0), 4)
    return predict_s


def selffeeding(
    series, rng, epochs, sampling_probability=0.0, lags=(1,), context_length=None
):
    """SelfFeedingRNN(LSTMCell(40)), Student-t, mean scaling, covariates.

    With a `sampling_probability`, scheduled sampling feeds back a draw of the
    model's own distribution in training, without backpropagating through it:
    with `backprop_through_feedback=True` the loss turned NaN in the third
    epoch on taylor (sampling probability 0.3).
    """
    keras.utils.set_random_seed(0)
    covariates = series.covariates()
    length = series.context + series.horizon
    end = series.train_end
    # Windows of the training part: inputs y[:-1] with the covariates of the
    # steps they predict, x[1:]; targets y[1:].
    values = series.values[:end, None].astype("float32")
    features = np.concatenate([values, covariates[:end]], axis=-1)
    windows = keras.utils.timeseries_dataset_from_array(
        features, None, length, batch_size=32, shuffle=True, seed=0
    )
    windows = windows.map(
        lambda w: ((w[:, :-1, :1], w[:, 1:, 1:]), w[:, 1:, :1])
    ).cache()

    layer = SelfFeedingRNN(
        keras.layers.LSTMCell(40),
        distribution="student_t",
        scaling="mean",
        sampling_probability=sampling_probability,
        backprop_through_feedback=False,
        lags=lags,
        context_length=context_length,
    )
    inputs = keras.Input((None, 1))
    calendar = keras.Input((None, covariates.shape[-1]))
    model = keras.Model([inputs, calendar], layer(inputs, covariates=calendar))
    # Adam with a cosine decay: at a constant rate the free-running forecasts'
    # level swung by several hundred MW from one epoch to the next on taylor.
    rate = keras.optimizers.schedules.CosineDecay(
        5e-3, epochs * int(windows.cardinality())
    )
    model.compile(keras.optimizers.Adam(rate), loss=layer.distribution.loss)
    start = time.perf_counter()
    model.fit(windows, epochs=epochs, verbose=0)
    fit_s = time.perf_counter() - start

    steps = series.horizon
    seeds = np.stack([values_at(series, o - series.context, o) for o in series.origins])
    known = np.stack(
        [covariates[o - series.context + 1 : o + steps] for o in series.origins]
    )
    # The first call traces and compiles; time the steady state per window.
    layer.generate(seeds[:1], steps, num_samples=NUM_SAMPLES, covariates=known[:1])
    times = []
    for i in range(len(series.origins)):
        start = time.perf_counter()
        paths = layer.generate(
            seeds[i : i + 1],
            steps,
            num_samples=NUM_SAMPLES,
            random_seed=i,
            covariates=known[i : i + 1],
        )
        np.asarray(paths)
        times.append(time.perf_counter() - start)
    paths = layer.generate(
        seeds, steps, num_samples=NUM_SAMPLES, random_seed=0, covariates=known
    )
    return np.asarray(paths)[..., 0], fit_s, float(np.median(times))


def values_at(series, start, stop):
    return series.values[start:stop, None].astype("float32")


# ------------------------------------------------------------------ the table

BUDGETS = {
    # (series, quick): (DeepAR batches of 32, SelfFeedingRNN epochs)
    ("taylor", False): (100, 8),
    ("co2", False): (100, 30),
    ("taylor", True): (4, 1),
    ("co2", True): (4, 1),
}


def bench(series, quick):
    deepar_batches, our_epochs = BUDGETS[series.name, quick]
    methods = {
        "seasonal naive + residual blocks": seasonal_naive,
        "statsmodels ARIMA(2,0,1) on seasonal differences": arima,
    }
    if series.period <= 52:
        methods["statsmodels ETS(A,A,A)"] = ets
    if gluonts is not None:
        methods["GluonTS DeepAR (torch)"] = lambda s, r: deepar(s, r, deepar_batches)
    methods["SelfFeedingRNN LSTMCell(40), Student-t"] = lambda s, r: selffeeding(
        s, r, our_epochs
    )
    methods["the same, scheduled sampling 0.3"] = lambda s, r: selffeeding(
        s, r, our_epochs, sampling_probability=0.3
    )
    rows = []
    for name, method in methods.items():
        paths, fit_s, predict_s = method(series, np.random.default_rng(0))
        crps, mase, coverage = score(series, paths)
        rows.append(
            [
                name,
                f"{crps:.4g}",
                f"{mase:.3f}",
                f"{coverage:.3f}",
                f"{fit_s:.1f}",
                f"{predict_s * 1e3:.1f}",
            ]
        )
        print(f"  {name}: done", file=sys.stderr, flush=True)
    header = [
        "method",
        "CRPS",
        "MASE",
        "coverage80",
        "fit (s)",
        "predict one window (ms)",
    ]
    print_table(header, rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny budgets, 3 windows a series"
    )
    args = parser.parse_args()
    print("# forecast: probabilistic forecasts on real data\n")
    environment()
    print(
        f"- peers: statsmodels {statsmodels.__version__}, "
        + (
            f"GluonTS {gluonts.__version__}, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads)"
            if gluonts
            else "GluonTS not installed (the `bench` extra)"
        )
        + f", scoringrules {scoringrules.__version__}\n"
    )
    for load in (taylor, co2):
        series = load()
        if args.quick:
            series.origins = series.origins[:3]
        print(
            f"## {series.name}: {len(series.values):,} values, "
            f"{len(series.origins)} windows of {series.horizon} steps from a "
            f"context of {series.context}, {NUM_SAMPLES} paths\n"
        )
        bench(series, args.quick)


if __name__ == "__main__":
    main()
