"""What forecasts return: `Forecast` (paths per series) and `Backtest`."""

import numpy as np

from selffeed_keras.forecasting import _scores

__all__ = ["Backtest", "Forecast"]


class Forecast:
    """Sample paths per series, from `Forecaster.forecast`.

    Attributes:
        ids: the series' identifiers, in the panel's order.
        paths: float32 array `(num_series, num_samples, horizon,
            features)`.
        centre: array `(num_series, horizon, features)`: the members'
            centre paths (drawn with the spread scaled to nothing),
            averaged.
    """

    def __init__(self, ids, paths, centre):
        self.ids = tuple(ids)
        self.paths = paths
        self.centre = centre

    def quantiles(self, levels):
        """The paths' quantiles per series and step.

        Args:
            levels: a float or a sequence of floats in [0, 1].

        Returns:
            An array `(len(levels), num_series, horizon, features)`, or
            without the first axis for one level.
        """
        return np.quantile(self.paths, levels, axis=1)


class Backtest(Forecast):
    """Paths and truth of forecasts from rolling origins, from `backtest`.

    Attributes:
        ids: each case's series identifier.
        series: int array: each case's series index in the panel.
        origins: int array: each case's origin (the values read before it).
        paths: float32 array `(cases, num_samples, horizon, features)`.
        centre: array `(cases, horizon, features)`.
        truth: array `(cases, horizon, features)`: the values after each
            origin.
        calibrated: whether the paths were widened by the calibration.
        season_length: the lag of the naive forecast whose in-sample error
            scales each case's MASE.
    """

    def __init__(
        self,
        ids,
        series,
        origins,
        paths,
        centre,
        truth,
        calibrated,
        season_length=1,
    ):
        super().__init__(ids, paths, centre)
        self.series = np.asarray(series)
        self.origins = np.asarray(origins)
        self.truth = truth
        self.calibrated = calibrated
        self.season_length = season_length

    def scores(self, panel, level=0.8):
        """Mean scores over the cases: MASE of the median, CRPS, WQL, coverage.

        Args:
            panel: the `Panel` backtested (each case's MASE scale is the
                mean absolute difference of its series' values before the
                origin, at the forecaster's season length; cases of
                `season_length` values or fewer before their origin have
                none, and are left out of the MASE).
            level: the central interval whose coverage is reported.

        Returns:
            A dict of floats: `mase`, `crps`, `wql`, `coverage`.
        """
        median = np.median(self.paths, axis=1)
        season = self.season_length
        mase = [
            _scores.mase(
                median[c, :, 0],
                self.truth[c, :, 0],
                panel._series_of(int(i))[: int(o), 0],
                season,
            )
            for c, (i, o) in enumerate(zip(self.series, self.origins, strict=True))
            if o > season
        ]
        levels = _scores.WQL_LEVELS
        return {
            "mase": float(np.mean(mase)) if mase else float("nan"),
            "crps": float(_scores.crps(self.paths, self.truth).mean()),
            "wql": _scores.weighted_quantile_loss(
                np.quantile(self.paths, levels, axis=1), self.truth, levels
            ),
            "coverage": _scores.coverage(self.paths, self.truth, level),
        }
