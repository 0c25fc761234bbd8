"""What the benchmark scripts share: series, scores, tables and timing."""

import argparse
import dataclasses
import datetime
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

import keras
import numpy as np

import selffeed_keras

ROOT = pathlib.Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------- tables


def print_table(header, rows):
    """Prints a Markdown table of strings, then a blank line."""
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(flush=True)


def environment():
    """Prints the date, machine, versions and thread settings as a list."""
    import tensorflow as tf

    try:
        import jax
    except ImportError:  # the optional `bench` extra
        jax = None
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    threads = (
        f"TF intra-op {tf.config.threading.get_intra_op_parallelism_threads()}, "
        f"inter-op {tf.config.threading.get_inter_op_parallelism_threads()} "
        "(0 = one per core)"
    )
    lines = [
        f"date: {datetime.date.today().isoformat()}",
        f"machine: {cpu}, {os.cpu_count()} cores, {platform.system()}",
        f"Python {platform.python_version()}, TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__}, NumPy {np.__version__}, "
        f"JAX {jax.__version__ if jax else 'not installed'}, "
        f"selffeed_keras {selffeed_keras.__version__}",
        f"threads: {threads}; OMP_NUM_THREADS="
        f"{os.environ.get('OMP_NUM_THREADS', 'unset')}, XLA_FLAGS="
        f"{os.environ.get('XLA_FLAGS', 'unset')}",
        "devices: "
        + ", ".join(d.device_type for d in tf.config.list_physical_devices()),
    ]
    for line in lines:
        print(f"- {line}")
    print()


def main(description, title, sections, modes=None):
    """A script's entry point: the report, or a mode of a fresh process.

    The report prints `title`, the environment, then the sections that
    `--only` names (default: all, in order); `sections` maps a name to
    `(heading, function)`, and each function takes `quick` and prints its
    tables under its heading. `modes` maps a name to a function of `quick`
    and the mode's own arguments (strings), which a process started with
    `--mode NAME ARG...` (by a section, through `run_module`) runs instead.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a tiny configuration")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(sections),
        help="run only these sections, in this order (default: all)",
    )
    parser.add_argument("--mode", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        name, *mode_args = args.mode
        modes[name](args.quick, *mode_args)
        return
    print(f"# {title}\n")
    environment()
    for name in args.only or sections:
        heading, bench = sections[name]
        print(f"## {heading}\n")
        bench(args.quick)


def spread(values, digits):
    """`mean [min-max]` of several seeds' figures, or the one figure."""
    values = np.asarray(values)
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return (
        f"{values.mean():.{digits}f} "
        f"[{values.min():.{digits}f}-{values.max():.{digits}f}]"
    )


def met(ratio, target):
    """Whether `ratio` is at most `target`, with both."""
    return f"{'met' if ratio <= target else 'missed'} ({ratio:.2f}x, target {target}x)"


# --------------------------------------------------------- series and scores


@dataclasses.dataclass
class Series:
    """One series and its rolling-origin evaluation."""

    name: str
    values: np.ndarray  # float64, (time,)
    index: object  # a pandas DatetimeIndex, one time stamp per value
    freq: str  # a pandas period frequency, for GluonTS
    period: int  # seasonal lag of the naive forecast and of MASE's scale
    context: int
    horizon: int
    origins: list  # indices of the first forecast step of each window
    positive: bool = False  # whether every value is above 0

    @property
    def train_end(self):
        return self.origins[0]

    def covariates(self):
        """Calendar covariates for every time step, float32 (time, features).

        Half-hourly: the hour of the day and the day of the week; otherwise
        the month of the year; each as a sine and a cosine.
        """
        if self.freq == "30min":
            hour = self.index.hour + self.index.minute / 60
            day = self.index.dayofweek
            angles = [2 * np.pi * hour / 24, 2 * np.pi * day / 7]
        else:
            angles = [2 * np.pi * (self.index.month - 1) / 12]
        columns = [f(a) for a in angles for f in (np.sin, np.cos)]
        return np.stack(columns, axis=-1).astype("float32")

    def actuals(self):
        """The held-out values of every window, `(windows, horizon)`."""
        return np.stack([self.values[o : o + self.horizon] for o in self.origins])


def score(series, paths):
    """CRPS, MAPE (%) and MASE of the median, coverage80: a dict.

    `paths` is `(windows, samples, steps)`. MASE divides by the mean absolute
    seasonal difference (lag `series.period`) over the training part.
    """
    import scoringrules  # the `bench` extra: only the forecasting scripts

    actual = series.actuals()
    crps = scoringrules.crps_ensemble(actual, paths, m_axis=1)
    train = series.values[: series.train_end]
    scale = np.mean(np.abs(train[series.period :] - train[: -series.period]))
    median = np.median(paths, axis=1)
    low, high = np.quantile(paths, [0.1, 0.9], axis=1)
    return {
        "CRPS": float(np.mean(crps)),
        "MAPE": float(100 * np.mean(np.abs(median - actual) / np.abs(actual))),
        "MASE": float(np.mean(np.abs(median - actual)) / scale),
        "coverage80": float(np.mean((actual >= low) & (actual <= high))),
    }


def backtest_origins(forecaster, series, num_samples, seed, calibrated=True):
    """A `forecasting.Forecaster`'s paths at `series.origins`, `(windows,
    samples, steps)`: `forecasting.backtest` of the series up to the last
    window's end, with its calendar covariates."""
    from selffeed_keras import forecasting

    last = series.origins[-1] + series.horizon
    covariates = series.covariates()[:last]
    result = forecasting.backtest(
        forecaster,
        forecasting.Panel([series.values[:last]], covariates=[covariates]),
        num_origins=len(series.origins),
        stride=series.origins[1] - series.origins[0],
        num_samples=num_samples,
        random_seed=seed,
        calibrated=calibrated,
    )
    assert list(result.origins) == list(series.origins), result.origins
    return result.paths[..., 0]


def held_back_noise_scale(distribution, params, actual, coverage=0.8):
    """The `noise_scale` that widens one-step intervals to cover held-back values.

    `params` are the one-step parameters that the network, called
    teacher-forced on data it did not train on, gives for `actual`, shape
    `actual.shape + (num_parameters,)`. Each value needs its central
    `coverage` interval widened by `|y - centre| / half-width` to fall
    inside (for a log-normal, in logarithms); the `coverage` quantile of
    those factors widens just enough for that share of the values.

    Returns:
        `(noise_scale, share)`: the factor, and the share of `actual` inside
        the intervals before widening.
    """
    import scipy.stats  # the `bench` extra: only the forecasting scripts

    params = np.asarray(params, "float64")
    actual = np.asarray(actual, "float64")
    tail = 0.5 + coverage / 2
    if distribution == "student_t":
        df, loc, scale = np.moveaxis(params, -1, 0)
        half_width = scale * scipy.stats.t.ppf(tail, df)
    elif distribution in ("normal", "log_normal"):
        loc, scale = np.moveaxis(params, -1, 0)
        half_width = scale * scipy.stats.norm.ppf(tail)
        if distribution == "log_normal":
            actual = np.log(actual)
    else:
        raise ValueError(f"No noise scale for distribution={distribution!r}.")
    widening = np.abs(actual - loc) / half_width
    return float(np.quantile(widening, coverage)), float(np.mean(widening <= 1))


# --------------------------------------------------------------------- timing


def timed(function):
    """Seconds of one call, its result fetched as NumPy included; and it."""
    start = time.perf_counter()
    result = function()
    if hasattr(result, "numpy"):
        result = result.numpy()
    return time.perf_counter() - start, np.asarray(result)


def measure(function, budget_s, max_runs):
    """First call, then the median of repeated calls within `budget_s`.

    Returns `(first call s, median s, number of repeated calls, result)`.
    """
    first, result = timed(function)
    times = []
    spent = 0.0
    while len(times) < 3 or (spent < budget_s and len(times) < max_runs):
        elapsed, _ = timed(function)
        times.append(elapsed)
        spent += elapsed
    return first, statistics.median(times), len(times), result


def ready(outputs):
    """`outputs` once computed: JAX dispatches asynchronously, TensorFlow not."""
    wait = getattr(outputs, "block_until_ready", None)
    return outputs if wait is None else wait()


def alternate(calls, budget_s, min_rounds, max_rounds, fetch=True):
    """Each of `calls`' times in seconds, measured in alternation: a dict.

    Each is called once first (tracing and compiling), then all are called
    in turn, round after round, so that a shared machine slows each alike:
    at least `min_rounds`, then within `budget_s` up to `max_rounds`. With
    `fetch`, a call's time includes fetching its result as NumPy (`timed`).
    """
    for call in calls.values():
        call()
    times = {name: [] for name in calls}
    spent, rounds = 0.0, 0
    while rounds < min_rounds or (spent < budget_s and rounds < max_rounds):
        for name, call in calls.items():
            if fetch:
                elapsed, _ = timed(call)
            else:
                start = time.perf_counter()
                call()
                elapsed = time.perf_counter() - start
            times[name].append(elapsed)
            spent += elapsed
        rounds += 1
    return times


def run_module(module, *args, env=None):
    """The standard output of `python -m module *args` in a fresh process.

    It runs from the repository root, so that `benchmarks` is importable,
    with `env` (default: this process's environment).
    """
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=env,
    )
    return result.stdout
