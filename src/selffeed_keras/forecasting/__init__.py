"""Forecasting with `SelfFeedingRNN`: panels of many series and their windows.

`Panel` holds many series of different lengths, with known-ahead
covariates and static features per series; `Panel.windows` samples a
bounded number of training windows per epoch across the series, padded and
masked where a series is shorter than a window, with a validation split
taken from the end of each series. Built on the layer's public methods
only.
"""

from selffeed_keras.forecasting._forecaster import Forecaster, backtest
from selffeed_keras.forecasting._panel import Panel
from selffeed_keras.forecasting._recipe import recipe
from selffeed_keras.forecasting._results import Backtest, Forecast
from selffeed_keras.forecasting._scores import (
    coverage,
    crps,
    mase,
    weighted_quantile_loss,
)
from selffeed_keras.forecasting._windows import Windows

__all__ = [
    "Backtest",
    "Forecast",
    "Forecaster",
    "Panel",
    "Windows",
    "backtest",
    "coverage",
    "crps",
    "mase",
    "recipe",
    "weighted_quantile_loss",
]
