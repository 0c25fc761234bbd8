"""Many series: M1 yearly, the Monash archive's protocol, `forecasting.Forecaster`.

The data: the 181 yearly series of the M1 competition (15 to 58 values),
from the file `aeon/datasets/data/m1_yearly_dataset/m1_yearly_dataset.tsf`
of aeon's wheel (aeon installed, or the wheel that `make bench` downloads
into `.venv/wheels`; nothing is downloaded at run time). The Monash
protocol (Godahewa et al., 2021): the last 6 values of each series are its
test set, MASE with the lag-1 in-sample scale, averaged over series. WQL as
Chronos computes it (GluonTS' mean weighted quantile loss over the levels
0.1, ..., 0.9, summed over every series and step), CRPS of the paths per
value, averaged, and the coverage of the paths' 80% interval.

Rows: the Monash paper's and Chronos' published figures on the same
protocol; statsmodels' ETS (the best of the additive and multiplicative
error, with a trend or a damped trend, by AIC, per series: the auto ETS of
the paper for yearly data has no season) and Theta (a point forecast: MASE
only), and the last value (the seasonal naive of yearly data), run here;
then `Forecaster(horizon=6)` with the recipe's defaults, over training
seeds (mean and spread).

Validation (`--only validation`): the same with the last 12 values cut and
the 6 before them scored, so that every default is chosen on values before
the test period; the variants change one default each.

    python -m benchmarks.panel                   # the test table, 3 seeds
    python -m benchmarks.panel --only validation # the recipe's variants
    python -m benchmarks.panel --quick           # 30 series, tiny budget
"""

import importlib.util
import pathlib
import time
import warnings
import zipfile

import numpy as np

from benchmarks import common
from selffeed_keras import forecasting

HORIZON = 6
NUM_SAMPLES = 100
SEEDS = (0, 1, 2)
TSF = "aeon/datasets/data/m1_yearly_dataset/m1_yearly_dataset.tsf"

# Published mean MASE on M1 yearly (Godahewa et al., NeurIPS 2021 Datasets
# and Benchmarks), and Chronos' evaluation results (MASE, WQL).
PUBLISHED = [
    ("TBATS (Monash)", "3.499", ""),
    ("ETS (Monash)", "3.771", ""),
    ("Theta (Monash)", "4.191", ""),
    ("FFNN (Monash)", "4.355", ""),
    ("N-BEATS (Monash)", "4.384", ""),
    ("CatBoost (Monash)", "4.427", ""),
    ("ARIMA (Monash)", "4.479", ""),
    ("DeepAR (Monash)", "4.603", ""),
    ("seasonal naive (Chronos)", "4.894", "0.209"),
    ("Chronos-Bolt-Base, zero-shot (Chronos)", "4.405", "0.150"),
]


def m1_yearly():
    """The 181 series of M1 yearly, float64 arrays, from aeon's file."""
    spec = importlib.util.find_spec("aeon")
    if spec is not None and spec.submodule_search_locations:
        path = pathlib.Path(spec.submodule_search_locations[0]).parent / TSF
        text = path.read_text()
    else:
        wheels = sorted((common.ROOT / ".venv" / "wheels").glob("aeon-*.whl"))
        if not wheels:
            raise FileNotFoundError(
                "M1 yearly comes from aeon's wheel: install aeon, or run "
                "`make bench`, which downloads the wheel into .venv/wheels."
            )
        with zipfile.ZipFile(wheels[-1]) as wheel:
            text = wheel.read(TSF).decode()
    series = []
    data = False
    for line in text.splitlines():
        if data and line.strip():
            values = line.rsplit(":", 1)[1]
            series.append(np.array([float(v) for v in values.split(",")]))
        data = data or line.strip() == "@data"
    return series


def split(series, cut):
    """The parts before the last `cut` values, and the `HORIZON` after them."""
    train = [s[: len(s) - cut] for s in series]
    truth = [s[len(s) - cut : len(s) - cut + HORIZON] for s in series]
    return train, np.stack(truth)


def scores(train, truth, paths=None, point=None):
    """Mean MASE, and WQL, CRPS and coverage for paths."""
    if point is None:
        point = np.median(paths, axis=1)
    mase = np.mean(
        [forecasting.mase(p, t, s) for p, t, s in zip(point, truth, train, strict=True)]
    )
    if paths is None:
        return {"mase": mase}
    levels = forecasting._scores.WQL_LEVELS
    return {
        "mase": mase,
        "wql": forecasting.weighted_quantile_loss(
            np.quantile(paths, levels, axis=1), truth, levels
        ),
        "crps": float(forecasting.crps(paths, truth).mean()),
        "coverage": forecasting.coverage(paths, truth),
    }


# -------------------------------------------------------------------- peers


def ets(train, rng):
    """statsmodels' ETS, the best form by AIC per series; simulated paths."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    paths = []
    for values in train:
        best = None
        for error in ("add", "mul"):
            for damped in (False, True):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        fit = ETSModel(
                            values, error=error, trend="add", damped_trend=damped
                        ).fit(disp=False)
                    except (ValueError, np.linalg.LinAlgError):
                        continue
                if np.isfinite(fit.aic) and (best is None or fit.aic < best.aic):
                    best = fit
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            simulated = best.simulate(
                HORIZON, anchor="end", repetitions=NUM_SAMPLES, rng=rng
            )
        simulated = np.asarray(simulated).reshape(HORIZON, NUM_SAMPLES).T
        # A multiplicative error can simulate a non-finite path: the last
        # value stands in for it.
        simulated[~np.isfinite(simulated)] = values[-1]
        paths.append(simulated)
    return np.stack(paths)


def theta(train):
    """statsmodels' Theta method (no season for yearly data): point forecasts."""
    from statsmodels.tsa.forecasting.theta import ThetaModel

    point = []
    for values in train:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = ThetaModel(values, period=1, deseasonalize=False).fit()
        point.append(np.asarray(fit.forecast(HORIZON)))
    return np.stack(point)


def ours(train, seed, quick, **options):
    """`Forecaster(HORIZON)` trained on the panel: paths and fit seconds."""
    panel = forecasting.Panel(train)
    if quick:
        options = dict(units=8, num_members=1, max_epochs=3) | options
    forecaster = forecasting.Forecaster(HORIZON, random_seed=seed, **options)
    start = time.perf_counter()
    forecaster.train(panel, steps_per_epoch=5 if quick else 50)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    forecast = forecaster.forecast(panel, num_samples=NUM_SAMPLES, random_seed=seed)
    forecast_s = time.perf_counter() - start
    epochs = [int(np.argmin(h.history["val_loss"])) + 1 for h in forecaster.histories]
    return forecast.paths[..., 0], seconds, epochs, forecast_s


def row(name, runs):
    """A table row: mean [min-max] over the runs' scores."""
    digits = {"mase": 3, "wql": 3, "crps": 0, "coverage": 3}
    cells = [
        common.spread([r[k] for r in runs], n) if k in runs[0] else ""
        for k, n in digits.items()
    ]
    return [name, *cells]


# -------------------------------------------------------------------- tables


def bench(quick, cut, variants):
    series = m1_yearly()
    if quick:
        series = series[:30]
    train, truth = split(series, cut)
    rng = np.random.default_rng(0)
    header = ["method", "mean MASE", "WQL", "CRPS", "80% coverage", "fit s"]
    rows = []
    if cut == HORIZON:
        rows += [[name, mase, wql, "", "", ""] for name, mase, wql in PUBLISHED]
    start = time.perf_counter()
    ets_scores = scores(train, truth, ets(train, rng))
    rows.append(row("ETS (statsmodels, here)", [ets_scores]))
    rows[-1].append(f"{time.perf_counter() - start:.0f}")
    theta_scores = scores(train, truth, point=theta(train))
    rows.append(row("Theta (statsmodels, here)", [theta_scores]) + [""])
    last = np.stack([np.repeat(s[-1], HORIZON) for s in train])
    rows.append(row("last value (here)", [scores(train, truth, point=last)]))
    rows[-1].append("")
    seeds = SEEDS[:1] if quick else SEEDS
    for name, options in variants:
        runs, seconds, epochs = [], [], []
        for seed in seeds:
            paths, fit_s, kept, forecast_s = ours(train, seed, quick, **options)
            runs.append(scores(train, truth, paths))
            seconds.append(fit_s)
            epochs.append(kept)
            figures = ", ".join(f"{k} {v:.3f}" for k, v in runs[-1].items())
            print(
                f"- {name}, seed {seed}: {figures}; trained in {fit_s:.0f} s "
                f"(epochs kept {kept}), forecast in {forecast_s:.1f} s"
            )
        rows.append(row(name, runs) + [f"{np.mean(seconds):.0f}"])
    print()
    common.print_table(header, rows)


RECIPE = [("Forecaster(6), the recipe", {})]
VARIANTS = RECIPE + [
    ("context_length=12", {"context_length": 12}),
    ("context_length=24", {"context_length": 24}),
    ("distribution='student_t'", {"distribution": "student_t"}),
    ("units=64", {"units": 64}),
    ("num_members=1", {"num_members": 1}),
    ("learning_rate=3e-3", {"learning_rate": 3e-3}),
]


def test_table(quick):
    print(
        "The last 6 values of each series are the test set, scored once "
        "with the recipe frozen.\n"
    )
    bench(quick, HORIZON, RECIPE)


def validation_table(quick):
    print(
        "The last 12 values of each series cut; the 6 before them scored "
        "(each model trained on the values before them).\n"
    )
    bench(quick, 2 * HORIZON, VARIANTS[:2] if quick else VARIANTS)


SECTIONS = {
    "test": ("M1 yearly, the test set (the Monash protocol)", test_table),
    "validation": (
        "M1 yearly, validation origins before the test set",
        validation_table,
    ),
}

if __name__ == "__main__":
    common.main(__doc__.split("\n")[0], "Many series: M1 yearly", SECTIONS)
