"""Distributions: what turns a head's raw output into a forecast distribution.

A distribution is a small stateless object, as a sampler is. It reads raw
projections with `num_parameters` entries on the last axis and maps them to
constrained parameters (`constrain`); from the parameters it gives the
log-likelihood of targets (`log_prob`), random draws (`sample`) and the mean
(`mean`), and the parameters of the distribution scaled by a positive factor
(`rescale`), as DeepAR's mean scaling needs. `loss` hands out the matching
`selffeed_keras.losses.NegativeLogLikelihood`.

Parameters are stacked on the last axis: `params[..., i]` is the parameter
named `parameter_names[i]`. All math runs in float32 whatever the dtype that
comes in. Randomness comes from the `seed` passed in: an int, or a
`keras.random.SeedGenerator`, as `keras.random` takes it; each call of
`sample` draws from the seed once, a key for TensorFlow's stateless Philox
generator, which is fast under XLA (Keras' default algorithm is not, on a
CPU).

Sampling compiles under XLA, on CPU as well: `keras.random.gamma` and
TensorFlow's stateless gamma and Poisson ops do not, so every draw is built
from uniform or normal draws:

- `StudentT`: Bailey's polar method, with the point in the unit disc drawn by
  its squared radius and its angle, which needs no rejection: exact.
- `NegativeBinomial`: a gamma-Poisson mixture. The gamma is Marsaglia and
  Tsang's method with a fixed number of tries; the Poisson is an inversion
  over its first 40 values below a rate of 10, and Hörmann's transformed
  rejection (PTRS, as numpy uses) with a fixed number of tries above. Both
  are exact but for the rare draw whose tries all fail (fewer than 1e-9 of
  draws, see `NegativeBinomial`).

Subclass `Distribution` to write your own; register it with
`keras.saving.register_keras_serializable` so that models using it load.
"""

import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from selffeed_keras import _checks
from selffeed_keras._config import Configurable

__all__ = [
    "Distribution",
    "NegativeBinomial",
    "Normal",
    "StudentT",
    "get",
]

_register = keras.saving.register_keras_serializable(package="selffeed_keras")

# The floor added to every positive parameter after softplus, so that a scale
# never reaches 0 (softplus underflows to 0 for raw values below about -100).
_MIN_SCALE = 1e-6

# Tries of the rejection samplers, fixed so that they compile as plain tensor
# ops. Acceptance rates per try, measured with numpy over 2e6 tries: at least
# 0.9517 for Marsaglia-Tsang (shape 1 is the worst, more above), at least
# 0.7524 for PTRS (rate 10 is the worst; 0.80 at 20, 0.89 at 1e4). So every
# try fails for fewer than 3e-11 (gamma, 8 tries) and 2e-10 (Poisson, 16
# tries) of draws; see `NegativeBinomial` for what such a draw returns.
_GAMMA_TRIES = 8
_POISSON_TRIES = 16
# Below this rate the Poisson is drawn by inversion over _POISSON_TERMS values:
# P(X >= 40) < 1e-12 for a rate below 10.
_POISSON_SMALL_RATE = 10.0
_POISSON_TERMS = 40
_LOG_FACTORIALS = np.array(
    [math.lgamma(k + 1.0) for k in range(_POISSON_TERMS)], "float32"
)


@_register
class Distribution(Configurable):
    """Base class of the distributions: raw projections in, forecasts out.

    A distribution describes one scalar per element. Its parameters are
    stacked on the last axis, `num_parameters` of them, in the order of
    `parameter_names`.

    Subclasses set the class attributes `num_parameters` and
    `parameter_names` and override:

    - `constrain(raw)`: raw projections to valid parameters;
    - `log_prob(params, y)`: the log-likelihood of `y`;
    - `sample(params, seed)`: one draw per element; it must draw from `seed`
      once (one call of a `keras.random` function) and compile under XLA
      when the layer generates with `jit_compile=True`;
    - `mean(params)`: the mean;
    - `rescale(params, scale)`: the parameters of the distribution scaled by
      `scale`, used by mean scaling;
    - `get_config()` if the constructor takes arguments.

    Every method reads and returns float32 tensors; `params` has shape
    `(..., num_parameters)` and the other tensors the shape `(...)`.

    Examples:
        >>> class Laplace(selffeed_keras.distributions.Distribution):
        ...     num_parameters = 2
        ...     parameter_names = ("loc", "scale")
        ...     def constrain(self, raw):
        ...         raw = keras.ops.cast(raw, "float32")
        ...         scale = keras.ops.softplus(raw[..., 1]) + 1e-6
        ...         return keras.ops.stack([raw[..., 0], scale], axis=-1)
        ...     def mean(self, params):
        ...         return params[..., 0]
        >>> laplace = Laplace()
        >>> laplace.mean(laplace.constrain(np.array([[2.0, 0.0]]))).numpy()
        array([2.], dtype=float32)
    """

    num_parameters = None
    parameter_names = ()

    def constrain(self, raw):
        """Maps raw projections to constrained parameters.

        Args:
            raw: tensor of shape `(..., num_parameters)`, any float dtype:
                the output of an unconstrained projection.

        Returns:
            The parameters, float32, of the same shape.
        """
        raise NotImplementedError(f"{type(self).__name__} must override `constrain`.")

    def log_prob(self, params, y):
        """Returns the log-likelihood of `y`, float32, shape `(...)`.

        Args:
            params: constrained parameters, shape `(..., num_parameters)`.
            y: targets, shape `(...)` or broadcastable to it.
        """
        raise NotImplementedError(f"{type(self).__name__} must override `log_prob`.")

    def sample(self, params, seed=None):
        """Returns one draw per element, float32, shape `(...)`.

        Args:
            params: constrained parameters, shape `(..., num_parameters)`.
            seed: int, `keras.random.SeedGenerator` or None, as `keras.random`
                takes it.
        """
        raise NotImplementedError(f"{type(self).__name__} must override `sample`.")

    def mean(self, params):
        """Returns the mean, float32, shape `(...)`.

        Args:
            params: constrained parameters, shape `(..., num_parameters)`.
        """
        raise NotImplementedError(f"{type(self).__name__} must override `mean`.")

    def rescale(self, params, scale):
        """Returns the parameters of the distribution scaled by `scale`.

        Args:
            params: constrained parameters, shape `(..., num_parameters)`.
            scale: positive tensor broadcastable to `params.shape[:-1]`, for
                example `(batch, 1, features)`.

        Returns:
            Parameters of the same shape as `params`, float32.
        """
        raise NotImplementedError(f"{type(self).__name__} must override `rescale`.")

    @property
    def loss(self):
        """A `selffeed_keras.losses.NegativeLogLikelihood` of this distribution."""
        from selffeed_keras import losses  # losses imports this module.

        return losses.NegativeLogLikelihood(self)

    def get_config(self):
        """Returns the constructor arguments, for `keras.saving`."""
        return {}

    def _unstack(self, params, name="params"):
        """Casts `params` to float32 and splits its last axis, checking its size."""
        params = ops.cast(params, "float32")
        size = params.shape[-1] if len(params.shape) else 0
        if size is not None and size != self.num_parameters:
            raise ValueError(
                f"`{name}` must have {self.num_parameters} entries on its last "
                f"axis, the parameters {self.parameter_names} of "
                f"{type(self).__name__}. Received: {name}.shape="
                f"{tuple(params.shape)}."
            )
        return [params[..., i] for i in range(self.num_parameters)]


def _positive(raw):
    return ops.softplus(raw) + _MIN_SCALE


def _scale_factor(scale, params):
    """`scale` as float32, checked to broadcast against `params[..., 0]`."""
    scale = ops.cast(scale, "float32")
    if len(scale.shape) >= len(params.shape):
        raise ValueError(
            "`scale` must broadcast to the parameters' shape without their "
            "last axis, for example (batch, 1, features) for parameters of "
            "shape (batch, time, features, num_parameters). Received: "
            f"scale.shape={tuple(scale.shape)}, params.shape="
            f"{tuple(params.shape)}."
        )
    return scale


def _philox_key(seed):
    """The key of TensorFlow's stateless Philox generator, drawn from `seed`.

    `keras.random` draws the key (two numbers), consuming `seed` once as it
    always does; the bulk draws then use Philox. Under XLA on a CPU,
    TensorFlow's default algorithm (ThreeFry, what `keras.random` gets) with
    a key read from a `SeedGenerator` took 522 ms for 500,000 uniforms,
    Philox 2.7 ms (2-core Xeon, shared and loaded). XLA's Philox does not
    give the numbers TensorFlow's kernel gives: the same seed draws other
    (equally distributed) values with and without `jit_compile`.
    """
    if seed is not None and not isinstance(seed, keras.random.SeedGenerator):
        seed = _checks.number(
            seed,
            "seed",
            "None, an integer or a `keras.random.SeedGenerator`",
            integer=True,
        )
    return keras.random.randint((2,), 0, 2**31 - 1, dtype="int32", seed=seed)


def _uniforms(count, shape, seed):
    """`count` independent uniform arrays in [0, 1), stacked: one draw."""
    key = _philox_key(seed)
    return tf.random.stateless_uniform((count, *shape), seed=key, alg="philox")


def _box_muller(u1, u2):
    """Standard normals from pairs of uniforms in [0, 1): two per pair."""
    radius = ops.sqrt(-2.0 * ops.log1p(-u1))  # log1p(-u) = log(1 - u), finite.
    angle = (2.0 * math.pi) * u2
    return ops.concatenate([radius * ops.cos(angle), radius * ops.sin(angle)], 0)


# The rejection samplers run all their tries at once, stacked on a leading
# axis, then keep the first accepted one: a handful of ops whatever the
# number of tries, which keeps XLA's compile time short.


def _first_accepted(candidates, accepted, fallback):
    """The first candidate on axis 0 whose try is accepted, else `fallback`."""
    first = accepted & (ops.cumsum(ops.cast(accepted, "int32"), axis=0) == 1)
    chosen = ops.sum(ops.where(first, candidates, 0.0), axis=0)
    return ops.where(ops.any(accepted, axis=0), chosen, fallback)


def _standard_gamma(alpha, normals, uniforms, boost_uniform):
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


def _poisson_log_pmf(k, rate):
    """The log-probability of `k` under Poisson(rate), accurate in float32.

    `k log(rate) - rate - lgamma(k + 1)` cancels badly for large rates (the
    terms are near 1e6 for a rate of 1e5); from k = 10 on, Stirling's series
    for lgamma turns it into `-rate h((k - rate) / rate) - log(2 pi k) / 2 -
    correction(k)` with `h(d) = (1 + d) log1p(d) - d`, which does not.
    """
    direct = k * ops.log(rate) - rate - tf.math.lgamma(k + 1.0)
    large_k = ops.maximum(k, 10.0)
    d = (large_k - rate) / rate
    h = (1.0 + d) * ops.log1p(d) - d
    stirling = (
        -rate * h
        - 0.5 * ops.log((2.0 * math.pi) * large_k)
        - _stirling_correction(large_k)
    )
    return ops.where(k >= 10.0, stirling, direct)


def _negative_binomial_log_pmf(y, mean, total_count):
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
        _poisson_log_pmf(y, mean)
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
        tf.math.lgamma(y + r) - tf.math.lgamma(y + 1.0),
    )
    textbook = (
        rising - tf.math.lgamma(r) - r * ops.log1p(mean / r) - y * ops.log1p(r / mean)
    )
    return ops.where(near_poisson, by_poisson, textbook)


def _poisson(rate, inversion_uniform, ptrs_uniforms):
    """Poisson(rate) draws, float32, from uniforms only (compiles under XLA).

    Rates below 10: inversion over the first `_POISSON_TERMS` values. Rates
    of 10 and above: PTRS, the transformed rejection of Hörmann (1993), as
    numpy's `random_poisson_ptrs`, with `_POISSON_TRIES` tries; a draw whose
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
    u = ptrs_uniforms[:_POISSON_TRIES] - 0.5
    v = ptrs_uniforms[_POISSON_TRIES:]
    us = ops.maximum(0.5 - ops.abs(u), 1e-12)
    k = ops.floor((2.0 * a / us + b) * u + lam + 0.43)
    quick = (us >= 0.07) & (v <= v_r)
    rejected = (k < 0.0) | ((us < 0.013) & (v > us))
    k = ops.maximum(k, 0.0)
    log_hat = ops.log(v) + log_inv_alpha - ops.log(a / ops.square(us) + b)
    accepted = quick | (~rejected & (log_hat <= _poisson_log_pmf(k, lam)))
    by_rejection = _first_accepted(k, accepted, ops.round(lam))
    return ops.where(small, by_inversion, by_rejection)


@_register
class Normal(Distribution):
    """The normal distribution, parameters `(loc, scale)`.

    `constrain` keeps `loc` as it is and maps the scale through softplus plus
    a floor of `1e-6`. For real-valued series with light tails.

    Examples:
        >>> normal = selffeed_keras.distributions.Normal()
        >>> params = normal.constrain(np.array([[1.0, 0.0]]))
        >>> params.numpy().round(4)
        array([[1.    , 0.6931]], dtype=float32)
        >>> normal.log_prob(params, np.array([1.0])).numpy().round(4)
        array([-0.5524], dtype=float32)
        >>> normal.sample(params, seed=0).shape
        TensorShape([1])
    """

    num_parameters = 2
    parameter_names = ("loc", "scale")

    def constrain(self, raw):
        """Returns `(loc, softplus(raw_scale) + 1e-6)` stacked, float32."""
        loc, scale = self._unstack(raw, "raw")
        return ops.stack([loc, _positive(scale)], axis=-1)

    def log_prob(self, params, y):
        """Returns the normal log-density of `y`, float32."""
        loc, scale = self._unstack(params)
        z = (ops.cast(y, "float32") - loc) / scale
        return -0.5 * ops.square(z) - ops.log(scale) - 0.5 * math.log(2.0 * math.pi)

    def sample(self, params, seed=None):
        """Returns `loc + scale * z` with `z` a standard normal draw.

        Reparameterized: the draw is differentiable in `loc` and `scale`.
        """
        loc, scale = self._unstack(params)
        key = _philox_key(seed)
        z = tf.random.stateless_normal(ops.shape(loc), seed=key, alg="philox")
        return loc + scale * z

    def mean(self, params):
        """Returns `loc`."""
        return self._unstack(params)[0]

    def rescale(self, params, scale):
        """Returns `(loc * scale, scale * scale)`: the law of `scale * y`."""
        loc, sigma = self._unstack(params)
        factor = _scale_factor(scale, params)
        return ops.stack([loc * factor, sigma * factor], axis=-1)


@_register
class StudentT(Distribution):
    """Student's t distribution, parameters `(df, loc, scale)`.

    The default output of DeepAR: heavier tails than the normal make the
    likelihood robust to outliers. `constrain` maps the degrees of freedom
    to `2 + softplus(raw_df) + 1e-6`, above 2 so that the variance is finite,
    keeps `loc` and maps the scale through softplus plus a floor of `1e-6`,
    as GluonTS' `StudentTOutput` does.

    `sample` uses Bailey's polar method (1994), in the form that needs no
    rejection: with `W` and `U` uniform on (0, 1], `sqrt(df (W^(-2/df) - 1))
    cos(2 pi U)` is t-distributed. Float32 uniforms come in steps of 2^-23,
    so draws beyond the quantile `1 - 2^-24` of `|t|` do not occur.

    Examples:
        >>> student_t = selffeed_keras.distributions.StudentT()
        >>> params = student_t.constrain(np.array([[0.0, 1.0, 0.0]]))
        >>> params.numpy().round(4)
        array([[2.6931, 1.    , 0.6931]], dtype=float32)
        >>> student_t.mean(params).numpy()
        array([1.], dtype=float32)
    """

    num_parameters = 3
    parameter_names = ("df", "loc", "scale")

    def constrain(self, raw):
        """Returns `(2 + softplus(raw_df) + 1e-6, loc, softplus(raw_scale) + 1e-6)`."""
        df, loc, scale = self._unstack(raw, "raw")
        return ops.stack([2.0 + _positive(df), loc, _positive(scale)], axis=-1)

    def log_prob(self, params, y):
        """Returns the Student-t log-density of `y`, float32."""
        df, loc, scale = self._unstack(params)
        z = (ops.cast(y, "float32") - loc) / scale
        half = 0.5 * (df + 1.0)
        return (
            tf.math.lgamma(half)
            - tf.math.lgamma(0.5 * df)
            - 0.5 * ops.log(math.pi * df)
            - ops.log(scale)
            - half * ops.log1p(ops.square(z) / df)
        )

    def sample(self, params, seed=None):
        """Returns one t draw per element by Bailey's polar method.

        A fixed transform of two uniforms, so the draw is differentiable in
        all three parameters (reparameterized).
        """
        df, loc, scale = self._unstack(params)
        u_radius, u_angle = ops.unstack(_uniforms(2, ops.shape(loc), seed), 2)
        log_w = ops.log1p(-u_radius)  # W = 1 - u in (0, 1].
        radius = ops.sqrt(df * ops.expm1(-2.0 / df * log_w))
        t = radius * ops.cos((2.0 * math.pi) * u_angle)
        return loc + scale * t

    def mean(self, params):
        """Returns `loc` (defined: the degrees of freedom are above 2)."""
        return self._unstack(params)[1]

    def rescale(self, params, scale):
        """Returns `(df, loc * scale, scale * scale)`: the law of `scale * y`."""
        df, loc, sigma = self._unstack(params)
        factor = _scale_factor(scale, params)
        df = ops.broadcast_to(df, ops.shape(loc * factor))
        return ops.stack([df, loc * factor, sigma * factor], axis=-1)


@_register
class NegativeBinomial(Distribution):
    """The negative binomial for counts, parameters `(mean, total_count)`.

    With mean `m` and `total_count` `r` (the shape, `n` in `scipy.stats.nbinom`
    with `p = r / (r + m)`), the variance is `m + m^2 / r`: over-dispersed
    against a Poisson of the same mean, which it approaches as `r` grows.
    `constrain` maps both through softplus plus a floor of `1e-6`.

    Targets must be non-negative counts. `log_prob` returns NaN for a
    negative target, and, where it is not compiled by XLA (eagerly, or in a
    `tf.function` without `jit_compile=True`), first raises
    `tf.errors.InvalidArgumentError` naming the problem. XLA drops
    TensorFlow's assertions, so under `jit_compile=True` (Keras' default for
    `model.fit` on a GPU) a negative target gives a NaN loss, nothing else:
    check the data first, or stop on it with `keras.callbacks.TerminateOnNaN`.
    Masked positions count too: pad count series with 0, not -1.
    Non-integer targets are not rejected: they get the continuous extension
    through `lgamma`, which is not a probability.

    In float32, `log_prob` loses precision as `r` grows far above the counts
    (about 0.01 nats at `r = 1e4`, 1 nat at `r = 1e6`): `lgamma(y + r) -
    lgamma(r)` cancels. Near-Poisson series train, but their `r` is noisy.

    `sample` draws `Poisson(G)` with `G ~ Gamma(r, m / r)`: Marsaglia and
    Tsang's gamma with 8 tries, then inversion below a rate of 10 or PTRS
    with 16 tries above. All are exact except a draw whose tries all fail,
    which gets the gamma's `r - 1/3` (scaled) or the rate rounded: fewer
    than 3e-11 and 2e-10 of draws, from the acceptance rates measured per
    try. Float32 holds integers exactly up to 2^24, so counts
    stay exact up to about 16 million.

    `rescale` follows GluonTS (`NegativeBinomialOutput.distribution`, which
    adds `log(scale)` to the logits): it multiplies the mean by `scale` and
    keeps `r`. This is the count whose latent gamma rate is multiplied by
    `scale` (a count cannot be multiplied by a real factor and stay a count):
    the mean scales by `scale`, the variance to `scale m + scale^2 m^2 / r`.

    Examples:
        >>> negative_binomial = selffeed_keras.distributions.NegativeBinomial()
        >>> params = np.array([[3.0, 2.0]], "float32")  # mean 3, total_count 2
        >>> negative_binomial.log_prob(params, np.array([0.0])).numpy().round(4)
        array([-1.8326], dtype=float32)
        >>> draws = negative_binomial.sample(np.tile(params, (1000, 1)), seed=0)
        >>> bool(np.all(draws.numpy() == np.round(draws.numpy())))
        True
    """

    num_parameters = 2
    parameter_names = ("mean", "total_count")

    def constrain(self, raw):
        """Returns `(softplus(raw_mean), softplus(raw_count))`, each plus 1e-6."""
        mean, total_count = self._unstack(raw, "raw")
        return ops.stack([_positive(mean), _positive(total_count)], axis=-1)

    def log_prob(self, params, y):
        """Returns the negative binomial log-probability of the counts `y`."""
        mean, total_count = self._unstack(params)
        y = ops.cast(y, "float32")
        check = tf.debugging.assert_non_negative(
            y,
            message=(
                "NegativeBinomial: the targets `y` must be non-negative counts, "
                "but a target is negative. Check the data (and pad masked "
                "positions with 0, not -1), or use a `Normal` or `StudentT` "
                "distribution for real values."
            ),
        )
        with tf.control_dependencies([check]):
            y = tf.identity(y)
        log_prob = _negative_binomial_log_pmf(y, mean, total_count)
        return ops.where(y < 0.0, math.nan, log_prob)

    def sample(self, params, seed=None):
        """Returns one count per element, float32, by a gamma-Poisson mixture.

        Counts are not differentiable: the gradient through a draw is None.
        """
        mean, total_count = self._unstack(params)
        g, p = _GAMMA_TRIES, _POISSON_TRIES
        u = _uniforms(2 * g + 2 + 2 * p, ops.shape(mean), seed)
        normals = _box_muller(u[: g // 2], u[g // 2 : g])
        gamma = _standard_gamma(total_count, normals, u[g : 2 * g], u[2 * g])
        rate = gamma * (mean / total_count)
        return _poisson(rate, u[2 * g + 1], u[2 * g + 2 :])

    def mean(self, params):
        """Returns the `mean` parameter."""
        return self._unstack(params)[0]

    def rescale(self, params, scale):
        """Returns `(mean * scale, total_count)`, as GluonTS scales counts."""
        mean, total_count = self._unstack(params)
        mean = mean * _scale_factor(scale, params)
        total_count = ops.broadcast_to(total_count, ops.shape(mean))
        return ops.stack([mean, total_count], axis=-1)


_ALIASES = {
    "normal": Normal,
    "student_t": StudentT,
    "negative_binomial": NegativeBinomial,
}


def get(identifier):
    """Resolves a distribution from a name, a config or a distribution object.

    Args:
        identifier: None, a `Distribution`, a lowercase name (`"normal"`,
            `"student_t"`, `"negative_binomial"`), or a dict from
            `keras.saving.serialize_keras_object`.

    Returns:
        A `Distribution`, or None for None.

    Examples:
        >>> selffeed_keras.distributions.get("student_t")
        StudentT()
    """
    if identifier is None or isinstance(identifier, Distribution):
        return identifier
    if isinstance(identifier, str):
        if identifier in _ALIASES:
            return _ALIASES[identifier]()
        raise ValueError(
            f"Unknown distribution name. Expected one of {sorted(_ALIASES)}. "
            f"Received: distribution={identifier!r}."
        )
    if isinstance(identifier, dict):
        distribution = keras.saving.deserialize_keras_object(identifier)
        if isinstance(distribution, Distribution):
            return distribution
    raise TypeError(
        "`distribution` must be None, a "
        "`selffeed_keras.distributions.Distribution`, or one of the names "
        f"{sorted(_ALIASES)}. Received: distribution={identifier!r}."
    )
