"""The benchmark scripts run end to end in their tiny configuration."""

import os
import pathlib
import subprocess
import sys

import pytest

# Each script starts TensorFlow and trains or times something: minutes in all.
pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_quick(module, timeout):
    """The standard output of `python -m benchmarks.<module> --quick`."""
    result = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", "--quick"],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "KERAS_BACKEND": "tensorflow"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "TensorFlow" in result.stdout and "cores" in result.stdout
    return result.stdout


# (module, timeout in seconds, what its output must hold)
CASES = [
    (
        "generate",
        300,
        [
            "| generate | ",
            "| compiled-step loop | ",
            "## Warm-up over the seed",
            "## Covariates",
            "## Sample paths",
            "## Lags: (1,) against (1, 48, 336)",
        ],
    ),
    (
        "overhead",
        300,
        [
            "## The cost of one call",
            "## The first call of a fresh process",
            "| traces |",
            "## Long generation: peak memory",
        ],
    ),
    ("backends", 300, ["## torch's eager loop against the compiled loops"]),
    (
        "online",
        300,
        [
            "## The per-call floor, side by side",
            "- tensorflow, observe, 1 value, 1 series: ",
            "- jax, generate, 50-step seed, 100 steps: ",
            "| jax | forecast, 1 series, 48 steps, 100 paths | ",
        ],
    ),
    ("training", 300, ["| SelfFeedingRNN | ", "| plain Keras | "]),
    (
        "exposure_bias",
        300,
        ["| (a) teacher forcing | ", "| (b) scheduled | ", "| (c) free running | "],
    ),
    # A minute or two: statsmodels fits and a training epoch on real data.
    (
        "forecast",
        900,
        [
            "## taylor: 4,032 values",
            "## co2: 526 values",
            "| seasonal naive + residual blocks | ",
            "| statsmodels ARIMA(2,0,1) on seasonal differences | ",
            "| statsmodels ETS(A,A,A) | ",
            "| SelfFeedingRNN, lags (1, 2, 48, 336), noise scale from 7 held-back "
            "windows, 3 network(s) | ",
            "|   ensembles of 3 of these networks, 1 ensemble(s) | ",
            "| forecasting.Forecaster(48, season_length=48), the recipe's "
            "defaults, calibrated on the held-back week | ",
            "|   the same forecasters, uncalibrated | ",
            "- Forecaster seed 0: coverage80 ",
            "| SelfFeedingRNN, lags (1, 12), 3 network(s) | ",
            "The noise scale each training seed measured on the held-back windows",
        ],
    ),
    # A minute or two: auto ARIMA, eight ETS fits and a tiny training.
    (
        "recipe",
        900,
        [
            "## airpassengers: 144 monthly values",
            "| auto ARIMA ",
            "| auto ETS ",
            "| forecasting.Forecaster (the recipe's defaults, uncalibrated) | ",
            "| recipe: log_normal, lags (1, 12)",
            "|   the same, noise scale from the held-back horizon | ",
        ],
    ),
    # M1 yearly from aeon's wheel (make test-slow downloads it): 30 series,
    # statsmodels' ETS and Theta, a tiny Forecaster.
    (
        "panel",
        600,
        [
            "## M1 yearly, the test set (the Monash protocol)",
            "| ETS (Monash) | 3.771 |",
            "| ETS (statsmodels, here) | ",
            "| Theta (statsmodels, here) | ",
            "| Forecaster(6), the recipe | ",
        ],
    ),
    # Four fresh processes, each a panel and one short epoch: about a minute.
    (
        "scale",
        300,
        [
            "| 100 | ",
            "| 2,000 | ",
            "peak - panel, 2,000 series / 100: ",
            "growth in fit, 2,000 series / 100: ",
        ],
    ),
]


@pytest.mark.parametrize("module, timeout, expected", CASES)
def test_benchmark_runs_quick(module, timeout, expected):
    stdout = run_quick(module, timeout)
    for text in expected:
        assert text in stdout
