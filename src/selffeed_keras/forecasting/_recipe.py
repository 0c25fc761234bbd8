"""The recipe's defaults: rules of the horizon and the season length only."""

from selffeed_keras.forecasting import _panel

__all__ = ["recipe"]


def recipe(horizon, season_length=1):
    """The defaults of `Forecaster` for a horizon and a season length.

    They depend on these two only, never on a dataset's scores; the many
    series how-to gives the validation runs that chose them.

    Args:
        horizon: positive int: the steps forecast.
        season_length: positive int: the steps of one season (1 for none:
            yearly data, say; 12 for monthly, 48 for half-hourly with a
            daily cycle).

    Returns:
        A dict of `Forecaster` arguments: `context_length`, `lags`,
        `units`, `num_members`, `learning_rate`, `patience`, `max_epochs`,
        `refit`.

    Examples:
        >>> recipe(6)["context_length"], recipe(12, 12)["context_length"]
        (6, 24)
        >>> recipe(12, 12)["lags"]
        (1, 12)
    """
    horizon = _panel._positive(horizon, "horizon")
    season_length = _panel._positive(season_length, "season_length")
    return {
        # Chosen on validation origins before the test periods of M1 yearly
        # (6 against 12 and 24) and two monthly series (24 against 12): see
        # the many series how-to.
        "context_length": max(horizon, 2 * season_length),
        "lags": (1,) if season_length == 1 else (1, season_length),
        "units": 32,
        "num_members": 3,
        "learning_rate": 1e-3,
        "patience": 10,
        "max_epochs": 100,
        "refit": False,
    }
