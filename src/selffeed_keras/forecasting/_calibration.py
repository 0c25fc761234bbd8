"""Calibration of sample paths: one factor per horizon step, conformal.

`factors` measures, from a backtest's paths, centre paths and truth, how
far each step's paths must move away from their centre for their central
interval to hold a given share of the truth; `widen` moves paths by those
factors. On the log scale for a log-normal, so that paths stay positive.
"""

import math

import numpy as np

__all__ = ["check", "factors", "widen"]

# The log-normal's range of draws, as `distributions.LogNormal` clips it.
_MIN_LOG, _MAX_LOG = -87.0, 88.0


def factors(paths, centre, truth, log, level):
    """Per-step factors: the conformal quantile of the factors each case needs.

    Args:
        paths: `(cases, num_samples, horizon, features)`.
        centre: `(cases, horizon, features)`.
        truth: `(cases, horizon, features)`.
        log: bool: measure on the log scale (a log-normal's paths).
        level: float in (0, 1): the central interval calibrated.

    Returns:
        A list of `horizon` floats in [1e-3, 1e3]: at each step, the
        `ceil((n + 1) level)`-th smallest of the `n` cases' factors that
        put the truth on the edge of the widened interval.
    """
    if log:
        paths, centre, truth = np.log(paths), np.log(centre), np.log(truth)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(paths - centre[:, None], [tail, 1 - tail], axis=1)
    error = truth - centre
    edge = np.where(error > 0, high, low)
    with np.errstate(divide="ignore", invalid="ignore"):
        needed = np.where(error == 0, 0.0, error / edge)
    needed = np.where(needed < 0, np.inf, needed)  # the edge is on the wrong side
    horizon = needed.shape[1]
    needed = np.moveaxis(needed.reshape(len(needed), horizon, -1), 1, 0)
    needed = needed.reshape(horizon, -1)
    count = needed.shape[1]
    rank = min(math.ceil((count + 1) * level), count) - 1
    return check(np.clip(np.sort(needed, axis=1)[:, rank], 1e-3, 1e3))


def widen(paths, centre, step_factors, log):
    """`paths` `(num_samples, horizon, features)` moved away from `centre`.

    Step `t` moves by `step_factors[t]`, the steps past them by the last.
    """
    step_factors = np.asarray(step_factors, "float32")
    horizon = paths.shape[-2]
    steps = np.minimum(np.arange(horizon), len(step_factors) - 1)
    factor = step_factors[steps][None, :, None]
    if log:
        log_centre = np.log(centre)
        moved = log_centre + factor * (np.log(paths) - log_centre)
        return np.exp(np.clip(moved, _MIN_LOG, _MAX_LOG)).astype("float32")
    return centre + factor * (paths - centre)


def check(values):
    """The factors as a list of floats, or a ValueError naming `calibration`."""
    step_factors = [float(v) for v in values]
    if not step_factors or not all(math.isfinite(f) and f > 0 for f in step_factors):
        raise ValueError(
            "`calibration` must be a non-empty list of positive finite factors, "
            f"one per horizon step. Received: {values!r}."
        )
    return step_factors
