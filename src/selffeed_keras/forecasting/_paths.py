"""The paths a `Forecaster` draws: every case in a call of its own.

A case is a series and an origin: its seed is the `context_length` values
before the origin (padded and masked when fewer), its covariates those of
the seed and the horizon. Each member draws its share of the paths from a
random stream keyed by the call's seed, the series' identifier and the
member, so a series' paths do not depend on the other series; and its
centre path, the median path, drawn with the spread scaled to nothing.
"""

import zlib

import keras
import numpy as np

from selffeed_keras.forecasting import _panel

__all__ = ["CENTRE_NOISE", "draw", "shares_of", "stream"]

# The paths' centre: drawn with the spread scaled to this, the median path.
CENTRE_NOISE = 1e-6


def draw(forecaster, panel, cases, num_samples, random_seed, calibrated):
    """A trained forecaster's paths and centre paths for `(series, origin)` cases.

    Returns `(cases, num_samples, horizon, features)` paths and `(cases,
    horizon, features)` centre paths, averaged over the members; raises a
    ValueError for a `num_samples` or `random_seed` out of range.
    """
    num_samples = _panel._positive(num_samples, "num_samples")
    if not (_panel._is_int(random_seed) and 0 <= random_seed < 2**32):
        raise ValueError(
            "`random_seed` must be an int in [0, 2**32 - 1]. Received: "
            f"random_seed={random_seed!r}."
        )
    shares = shares_of(num_samples, len(forecaster.members))
    context = forecaster.context_length
    features = forecaster.num_features
    paths = np.empty((len(cases), num_samples, forecaster.horizon, features), "float32")
    centre = np.empty(
        (len(forecaster.members), len(cases), forecaster.horizon, features)
    )
    for c, (i, origin) in enumerate(cases):
        values = panel._series_of(i)[:origin]
        seed = np.zeros((1, context, features), "float32")
        mask = np.zeros((1, context), bool)
        real = min(origin, context)
        seed[0, context - real :] = values[origin - real :]
        mask[0, context - real :] = True
        if forecaster.distribution == "log_normal":
            seed[~mask] = 1.0
        known = _known_ahead(forecaster, panel, i, origin)
        start = 0
        for m, member in enumerate(forecaster.members):
            member_seed = stream(random_seed, panel.ids[i], m)
            drawn = member.generate(
                seed,
                forecaster.horizon,
                seed_mask=mask,
                covariates=known,
                num_samples=shares[m],
                random_seed=member_seed,
            )
            middle = member.generate(
                seed,
                forecaster.horizon,
                seed_mask=mask,
                covariates=known,
                random_seed=member_seed,
                noise_scale=CENTRE_NOISE,
            )
            drawn = keras.ops.convert_to_numpy(drawn)[0]
            middle = keras.ops.convert_to_numpy(middle)[0]
            if calibrated and forecaster.calibration is not None:
                drawn = forecaster._widen(drawn, middle)
            paths[c, start : start + shares[m]] = drawn
            centre[m, c] = middle
            start += shares[m]
    return paths, centre.mean(0)


def _known_ahead(forecaster, panel, i, origin):
    """Covariates of the seed's steps after its first, and the horizon's."""
    if not forecaster.num_covariates:
        return None
    context = forecaster.context_length
    steps = np.arange(origin - context + 1, origin + forecaster.horizon)
    known = np.zeros((len(steps), forecaster.num_covariates), "float32")
    real = steps >= 0
    columns = []
    if panel._covariates is not None:
        columns.append(panel._covariates_of(i)[np.maximum(steps, 0)])
    if panel._static is not None:
        columns.append(np.repeat(panel._static[i : i + 1], len(steps), 0))
    known[real] = np.concatenate(columns, -1)[real]
    return known[None]


def shares_of(num_samples, num_members):
    """Paths per member: equal shares, the first ones one more."""
    base, extra = divmod(num_samples, num_members)
    return [base + (m < extra) for m in range(num_members)]


def stream(random_seed, identifier, member):
    """A series' and member's random seed, from the call's and the series' id."""
    key = zlib.crc32(repr(identifier).encode())
    entropy = np.random.SeedSequence([random_seed, key, member])
    return int(entropy.generate_state(1)[0])
