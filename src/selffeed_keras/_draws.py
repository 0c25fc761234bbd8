"""Random draws that compile under XLA, on a CPU as well, for `distributions`.

`keras.random.gamma` and TensorFlow's stateless gamma and Poisson ops do not
compile for XLA on a CPU, so every draw here is built from uniform or normal
draws of a stateless generator (TensorFlow's Philox, JAX's default: see
`_backend`), keyed once per call from a Keras seed (`philox_key`):

- `box_muller`: standard normals from pairs of uniforms;
- `standard_gamma`: Marsaglia and Tsang (2000) with a fixed number of tries;
- `poisson`: inversion over its first 40 values below a rate of 10, and
  Hörmann's transformed rejection (PTRS, as numpy uses) with a fixed number of
  tries above;
- `poisson_log_pmf` and `negative_binomial_log_pmf`: log-probabilities that
  stay accurate in float32 where the textbook forms cancel.

The rejection samplers run all their tries at once, stacked on a leading
axis, then keep the first accepted one: a handful of ops whatever the number
of tries, which keeps XLA's compile time short.
"""

import math

import keras
import numpy as np
from keras import ops

from selffeed_keras import _backend, _checks

# Tries of the rejection samplers, fixed so that they compile as plain tensor
# ops. Acceptance rates per try, measured with numpy over 2e6 tries: at least
# 0.9517 for Marsaglia-Tsang (shape 1 is the worst, more above), at least
# 0.7524 for PTRS (rate 10 is the worst; 0.80 at 20, 0.89 at 1e4). So every
# try fails for fewer than 3e-11 (gamma, 8 tries) and 2e-10 (Poisson, 16
# tries) of draws; see `distributions.NegativeBinomial` for what such a draw returns.
GAMMA_TRIES = 8
POISSON_TRIES = 16
# Below this rate the Poisson is drawn by inversion over _POISSON_TERMS values:
# P(X >= 40) < 1e-12 for a rate below 10.
_POISSON_SMALL_RATE = 10.0
_POISSON_TERMS = 40
_LOG_FACTORIALS = np.array(
    [math.lgamma(k + 1.0) for k in range(_POISSON_TERMS)], "float32"
)


def philox_key(seed):
    """The key of the stateless generator of `_backend`, drawn from `seed`.

    `keras.random` draws the key (two numbers), consuming `seed` once as it
    always does; the bulk draws then use the backend's stateless generator,
    on TensorFlow Philox. Under XLA on a CPU,
    TensorFlow's default algorithm (ThreeFry, what `keras.random` gets) with
    a key read from a `SeedGenerator` took 522 ms for 500,000 uniforms,
    Philox 2.7 ms (2-core Xeon, shared and loaded). XLA's Philox does not
    give the numbers TensorFlow's kernel gives: the same seed draws other
    (equally distributed) values with and without `jit_compile`.
    """
    seed = _checks.keras_seed(seed)
    return keras.random.randint((2,), 0, 2**31 - 1, dtype="int32", seed=seed)


def uniforms(count, shape, seed):
    """`count` independent uniform arrays in [0, 1), stacked: one draw."""
    key = philox_key(seed)
    return _backend.uniform((count, *shape), key)


def box_muller(u1, u2):
    """Standard normals from pairs of uniforms in [0, 1): two per pair."""
    radius = ops.sqrt(-2.0 * ops.log1p(-u1))  # log1p(-u) = log(1 - u), finite.
    angle = (2.0 * math.pi) * u2
    return ops.concatenate([radius * ops.cos(angle), radius * ops.sin(angle)], 0)


def _first_accepted(candidates, accepted, fallback):
    """The first candidate on axis 0 whose try is accepted, else `fallback`."""
    first = accepted & (ops.cumsum(ops.cast(accepted, "int32"), axis=0) == 1)
    chosen = ops.sum(ops.where(first, candidates, 0.0), axis=0)
    return ops.where(ops.any(accepted, axis=0), chosen, fallback)


def standard_gamma(alpha, normals, uniforms, boost_uniform):
    """Gamma(alpha, 1) draws by Marsaglia and Tsang (2000), fixed tries.

    `normals` and `uniforms` hold one try each on their leading axis. Shapes
    below 1 draw Gamma(alpha + 1) and multiply by U^(1/alpha); draws below
    about 1e-38 underflow to 0 (for a shape of 0.01, 42% of them). A draw
    whose tries all fail returns `d = alpha - 1/3`, near the mode.
    """
    boosted = ops.where(alpha < 1.0, alpha + 1.0, alpha)
    d = boosted - 1.0 / 3.0
    c = 1.0 / ops.sqrt(9.0 * d)
    x = c * normals
    valid = x > -1.0
    x = ops.where(valid, x, 0.0)  # keeps log1p finite in rejected tries.
    # v - 1 and log v written so that d * (1 - v + log v) does not cancel for
    # large shapes: v - 1 = x (3 + 3x + x^2), log v = 3 log1p(x).
    v_minus_1 = x * (3.0 + x * (3.0 + x))
    log_v = 3.0 * ops.log1p(x)
    bound = 0.5 * ops.square(normals) + d * (log_v - v_minus_1)
    accepted = valid & (ops.log1p(-uniforms) < bound)
    draw = _first_accepted(d * (1.0 + v_minus_1), accepted, d)
    boost = ops.exp(ops.log1p(-boost_uniform) / alpha)
    return ops.where(alpha < 1.0, draw * boost, draw)


def _stirling_correction(x):
    """lgamma(x) minus Stirling's `(x - 1/2) log x - x + log(2 pi) / 2`, x >= 9."""
    inv = 1.0 / x
    inv2 = ops.square(inv)
    return inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 / 1260.0))


def poisson_log_pmf(k, rate):
    """The log-probability of `k` under Poisson(rate), accurate in float32.

    `k log(rate) - rate - lgamma(k + 1)` cancels badly for large rates (the
    terms are near 1e6 for a rate of 1e5); from k = 10 on, Stirling's series
    for lgamma turns it into `-rate h((k - rate) / rate) - log(2 pi k) / 2 -
    correction(k)` with `h(d) = (1 + d) log1p(d) - d`, which does not.
    """
    direct = k * ops.log(rate) - rate - _backend.lgamma(k + 1.0)
    large_k = ops.maximum(k, 10.0)
    d = (large_k - rate) / rate
    h = (1.0 + d) * ops.log1p(d) - d
    stirling = (
        -rate * h
        - 0.5 * ops.log((2.0 * math.pi) * large_k)
        - _stirling_correction(large_k)
    )
    return ops.where(k >= 10.0, stirling, direct)


def negative_binomial_log_pmf(y, mean, total_count):
    """The negative binomial log-probability of `y`, accurate in float32.

    The textbook `lgamma(y + r) - lgamma(r) - lgamma(y + 1) + r log(r / (r +
    m)) + y log(m / (r + m))` loses whole nats in float32 for large counts or
    a large `r`, where its terms reach 1e5 and more and cancel. Two forms
    whose terms stay near the result, each used where it is accurate:

    - `r >= 10`, `m <= r^2` and `m <= 10 (r + y)`: the Poisson
      log-probability plus `(r + m) h((y - m) / (r + m)) - log1p(y / r) / 2`
      and Stirling corrections, all of which vanish as `r` grows;
    - otherwise, the textbook form with `lgamma(y + r) - lgamma(y + 1)` by
      Stirling's series (for `y >= 9`) and the logarithms through `log1p`.
    """
    near_poisson = (
        (total_count >= 10.0)
        & (mean <= ops.square(total_count))
        & (mean <= 10.0 * (total_count + y))
    )

    r = ops.maximum(total_count, 10.0)
    delta = (y - mean) / (r + mean)
    ratio = (r + y) / (r + mean)  # 1 + delta, exact also where it is tiny.
    log_ratio = ops.where(ops.abs(delta) < 0.5, ops.log1p(delta), ops.log(ratio))
    by_poisson = (
        poisson_log_pmf(y, mean)
        + (r + mean) * (ratio * log_ratio - delta)
        - 0.5 * ops.log1p(y / r)
        + _stirling_correction(r + y)
        - _stirling_correction(r)
    )

    r = ops.where(near_poisson, 1.0, total_count)  # any r > 0 where unused.
    x = ops.maximum(y + 1.0, 10.0)
    a = r - 1.0
    rising = ops.where(
        y + 1.0 >= 10.0,
        (x - 0.5) * ops.log1p(a / x)
        + a * ops.log(x + a)
        - a
        + _stirling_correction(x + a)
        - _stirling_correction(x),
        _backend.lgamma(y + r) - _backend.lgamma(y + 1.0),
    )
    textbook = (
        rising - _backend.lgamma(r) - r * ops.log1p(mean / r) - y * ops.log1p(r / mean)
    )
    return ops.where(near_poisson, by_poisson, textbook)


def poisson(rate, inversion_uniform, ptrs_uniforms):
    """Poisson(rate) draws, float32, from uniforms only (compiles under XLA).

    Rates below 10: inversion over the first `_POISSON_TERMS` values. Rates
    of 10 and above: PTRS, the transformed rejection of Hörmann (1993), as
    numpy's `random_poisson_ptrs`, with `POISSON_TRIES` tries; a draw whose
    tries all fail returns the rate rounded to the nearest integer.
    """
    small = rate < _POISSON_SMALL_RATE
    # Inversion: count the values whose cumulative probability is below u.
    small_rate = ops.maximum(ops.where(small, rate, 0.0), 1e-30)
    shape = (_POISSON_TERMS,) + (1,) * len(rate.shape)
    k = ops.reshape(ops.arange(_POISSON_TERMS, dtype="float32"), shape)
    log_factorial = ops.reshape(_LOG_FACTORIALS, shape)
    log_pmf = k * ops.log(small_rate) - small_rate - log_factorial
    cdf = ops.cumsum(ops.exp(log_pmf), axis=0)
    cdf = cdf / cdf[-1]  # float32 sums may end below u < 1; the tail is < 1e-12.
    by_inversion = ops.sum(ops.cast(cdf <= inversion_uniform, "float32"), axis=0)

    # PTRS, its constants as in Hörmann (1993) and numpy.
    lam = ops.where(small, _POISSON_SMALL_RATE, rate)
    b = 0.931 + 2.53 * ops.sqrt(lam)
    a = -0.059 + 0.02483 * b
    log_inv_alpha = ops.log(1.1239 + 1.1328 / (b - 3.4))
    v_r = 0.9277 - 3.6224 / (b - 2.0)
    u = ptrs_uniforms[:POISSON_TRIES] - 0.5
    v = ptrs_uniforms[POISSON_TRIES:]
    us = ops.maximum(0.5 - ops.abs(u), 1e-12)
    k = ops.floor((2.0 * a / us + b) * u + lam + 0.43)
    quick = (us >= 0.07) & (v <= v_r)
    rejected = (k < 0.0) | ((us < 0.013) & (v > us))
    k = ops.maximum(k, 0.0)
    log_hat = ops.log(v) + log_inv_alpha - ops.log(a / ops.square(us) + b)
    accepted = quick | (~rejected & (log_hat <= poisson_log_pmf(k, lam)))
    by_rejection = _first_accepted(k, accepted, ops.round(lam))
    return ops.where(small, by_inversion, by_rejection)
