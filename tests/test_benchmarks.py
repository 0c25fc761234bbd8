"""The benchmark scripts run end to end in their tiny configuration."""

import os
import pathlib
import subprocess
import sys

import pytest

# Each script starts TensorFlow and trains or times something: minutes in all.
pytestmark = pytest.mark.slow

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.parametrize(
    "script, expected",
    [
        (
            "generate.py",
            [
                "| generate | ",
                "| compiled-step loop | ",
                "## Warm-up over the seed",
                "## The cost of one call",
                "## The first call of a fresh process",
                "## Covariates",
                "## Sample paths",
                "## Lags: (1,) against (1, 48, 336)",
                "| traces |",
                "## torch's eager loop against the compiled loops",
                "## Long generation: peak memory",
            ],
        ),
        ("training.py", ["| SelfFeedingRNN | ", "| plain Keras | "]),
        (
            "exposure_bias.py",
            ["| (a) teacher forcing | ", "| (b) scheduled | ", "| (c) free running | "],
        ),
    ],
)
def test_benchmark_runs_quick(script, expected):
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KERAS_BACKEND": "tensorflow"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for text in expected:
        assert text in result.stdout
    assert "TensorFlow" in result.stdout and "cores" in result.stdout


@pytest.mark.slow
def test_forecast_benchmark_runs_quick():
    """A minute or two: statsmodels fits and a training epoch on real data."""
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "forecast.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "KERAS_BACKEND": "tensorflow"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for text in [
        "## taylor: 4,032 values",
        "## co2: 526 values",
        "| seasonal naive + residual blocks | ",
        "| statsmodels ARIMA(2,0,1) on seasonal differences | ",
        "| statsmodels ETS(A,A,A) | ",
        "| SelfFeedingRNN, lags (1, 2, 48, 336), noise scale from 7 held-back "
        "windows, 3 network(s) | ",
        "|   ensembles of 3 of these networks, 1 ensemble(s) | ",
        "| SelfFeedingRNN, lags (1, 12), 3 network(s) | ",
        "The noise scale each training seed measured on the held-back windows",
    ]:
        assert text in result.stdout
    assert "TensorFlow" in result.stdout and "cores" in result.stdout


@pytest.mark.slow
def test_recipe_benchmark_runs_quick():
    """A minute or two: auto ARIMA, eight ETS fits and a tiny training."""
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "recipe.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "KERAS_BACKEND": "tensorflow"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for text in [
        "## airpassengers: 144 monthly values",
        "| auto ARIMA ",
        "| auto ETS ",
    ]:
        assert text in result.stdout
    assert "| recipe: log_normal, lags (1, 12)" in result.stdout
    assert "|   the same, noise scale from the held-back horizon | " in result.stdout
