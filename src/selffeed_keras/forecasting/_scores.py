"""Scores of forecasts against the truth: MASE, CRPS, WQL and coverage.

Plain NumPy, so that a backtest's paths (`Backtest.paths`) are scored the
way the forecasting literature scores them, without a dependency:

- `mase`: the mean absolute error of a point forecast over the in-sample
  mean absolute error of the seasonal naive forecast (Hyndman and Koehler,
  2006), as the Monash archive computes it;
- `crps`: the continuous ranked probability score of sample paths, the
  ensemble estimator `E|X - y| - E|X - X'| / 2` (as `scoringrules.
  crps_ensemble` computes it);
- `weighted_quantile_loss`: the mean over quantile levels of the quantile
  loss summed over series and steps, over the sum of absolute values, as
  GluonTS' `mean_weighted_sum_quantile_loss` and Chronos' WQL;
- `coverage`: the share of the truth inside the central interval of the
  paths.
"""

import numpy as np

__all__ = ["coverage", "crps", "mase", "weighted_quantile_loss"]

# The levels of Chronos' and GluonTS' WQL: 0.1, 0.2, ..., 0.9.
WQL_LEVELS = tuple(round(0.1 * k, 1) for k in range(1, 10))


def mase(forecast, truth, insample, season_length=1):
    """Mean absolute scaled error of one series' point forecast.

    Args:
        forecast: array `(horizon,)`: the point forecast (a median, say).
        truth: array `(horizon,)`.
        insample: array: the series before the forecast, at least
            `season_length + 1` values.
        season_length: positive int: the lag of the naive forecast whose
            in-sample error is the scale. Defaults to 1.

    Returns:
        A float: the forecast's mean absolute error over the mean absolute
        difference between `insample[t]` and `insample[t - season_length]`.

    Raises:
        ValueError: for forecasts and truth of different shapes, or an
            in-sample part of `season_length` values or fewer.

    Examples:
        >>> mase([3.0, 4.0], [4.0, 4.0], [1.0, 2.0, 3.0])
        0.5
    """
    forecast, truth = np.asarray(forecast, "float64"), np.asarray(truth, "float64")
    insample = np.asarray(insample, "float64")
    if forecast.shape != truth.shape:
        raise ValueError(
            "`forecast` and `truth` must have the same shape. Received: "
            f"{forecast.shape} and {truth.shape}."
        )
    if len(insample) <= season_length:
        raise ValueError(
            f"`insample` needs more than season_length={season_length} values "
            f"for its naive error. Received: {len(insample)}."
        )
    scale = np.mean(np.abs(insample[season_length:] - insample[:-season_length]))
    return float(np.mean(np.abs(forecast - truth)) / scale)


def crps(paths, truth, axis=1):
    """The CRPS of sample paths, per element of the truth.

    Args:
        paths: array with the samples on `axis`: `(series, num_samples,
            steps)` for a truth `(series, steps)`, as a `Forecast` holds
            them.
        truth: array, the shape of `paths` without the samples' axis.
        axis: int: the samples' axis of `paths`. Defaults to 1.

    Returns:
        An array of the truth's shape: `E|X - y| - E|X - X'| / 2` over the
        samples `X` (the ensemble estimator, not the "fair" one).

    Examples:
        >>> round(float(crps(np.array([1.0, 2.0, 3.0]), np.array(2.0), axis=0)), 4)
        0.2222
    """
    truth = np.asarray(truth, "float64")
    x = np.sort(np.asarray(paths, "float64"), axis=axis)
    x = np.moveaxis(x, axis, -1)
    n = x.shape[-1]
    spread = np.abs(x - truth[..., None]).mean(-1)
    # E|X - X'| from the sorted samples: sum_i (2 i - n - 1) x_(i) * 2 / n^2.
    weights = 2.0 * np.arange(1, n + 1) - n - 1
    pairs = 2.0 * (x * weights).sum(-1) / n**2
    return spread - 0.5 * pairs


def weighted_quantile_loss(quantiles, truth, levels=WQL_LEVELS):
    """The mean weighted quantile loss over `levels`, as GluonTS and Chronos.

    Args:
        quantiles: array `(len(levels), ...)`: the forecast's quantile at
            each level, for every element of `truth`.
        truth: array: the values forecast (every series and step).
        levels: the quantile levels. Defaults to 0.1, 0.2, ..., 0.9.

    Returns:
        A float: `mean over levels of 2 sum |(y - q)(1{y < q} - level)| /
        sum |y|`.

    Examples:
        >>> truth = np.array([1.0, 3.0])
        >>> weighted_quantile_loss(np.stack([truth] * 9), truth)
        0.0
    """
    quantiles = np.asarray(quantiles, "float64")
    truth = np.asarray(truth, "float64")
    levels = np.asarray(levels, "float64").reshape((-1,) + (1,) * truth.ndim)
    loss = 2.0 * np.abs((truth - quantiles) * ((truth < quantiles) - levels))
    per_level = loss.reshape(len(levels), -1).sum(1) / np.abs(truth).sum()
    return float(per_level.mean())


def coverage(paths, truth, level=0.8, axis=1):
    """The share of `truth` inside the paths' central `level` interval.

    Args:
        paths: as for `crps`.
        truth: as for `crps`.
        level: float in (0, 1). Defaults to 0.8: the 10% and 90% quantiles.
        axis: int: the samples' axis of `paths`. Defaults to 1.

    Returns:
        A float in [0, 1].

    Examples:
        >>> paths = np.arange(101.0)  # 101 samples: quantiles 10 and 90
        >>> coverage(paths, 50.0, axis=0), coverage(paths, 95.0, axis=0)
        (1.0, 0.0)
    """
    truth = np.asarray(truth, "float64")
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(np.asarray(paths, "float64"), [tail, 1 - tail], axis=axis)
    return float(np.mean((truth >= low) & (truth <= high)))
