"""Distributions: what turns a head's raw output into a forecast distribution.

A distribution is a small stateless object, as a sampler is. It reads raw
projections with `num_parameters` entries on the last axis and maps them to
constrained parameters (`constrain`); from the parameters it gives the
log-likelihood of targets (`log_prob`), random draws (`sample`) and the mean
(`mean`), and the parameters of the distribution scaled by a positive factor
(`rescale`), as DeepAR's mean scaling needs; `scale_noise` gives the
parameters with their spread multiplied by a factor, for `generate`'s
`noise_scale`. `loss` hands out the matching
`selffeed_keras.losses.NegativeLogLikelihood`.

Parameters are stacked on the last axis: `params[..., i]` is the parameter
named `parameter_names[i]`. All math runs in float32 whatever the dtype that
comes in. Randomness comes from the `seed` passed in: an int, or a
`keras.random.SeedGenerator`, as `keras.random` takes it; each call of
`sample` draws from the seed once, a key for a stateless generator that is
fast under XLA: TensorFlow's Philox (Keras' default algorithm is not fast on
a CPU), JAX's default generator. The same seed draws other numbers on each
backend.

Sampling compiles under XLA, on CPU as well: `keras.random.gamma` and
TensorFlow's stateless gamma and Poisson ops do not, so every draw is built
from uniform or normal draws:

- `LogNormal`: the exponential of a normal draw, for positive series.
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
from keras import ops

from selffeed_keras import _backend, _draws
from selffeed_keras._config import Configurable, resolve

__all__ = [
    "Distribution",
    "LogNormal",
    "NegativeBinomial",
    "Normal",
    "StudentT",
    "get",
]

_register = keras.saving.register_keras_serializable(package="selffeed_keras")

# The floor added to every positive parameter after softplus, so that a scale
# never reaches 0 (softplus underflows to 0 for raw values below about -100).
_MIN_SCALE = 1e-6

# The range of a log-normal's exponent: exp(88) is about 1.65e38, below
# float32's largest number (3.4e38), and exp(-87) about 1.6e-38, above its
# smallest normal number (1.2e-38): draws stay finite and positive.
_MIN_LOG, _MAX_LOG = -87.0, 88.0


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
    - optionally `scale_noise(params, factor)`: the parameters with their
      spread multiplied by `factor`, used by `generate(..., noise_scale=...)`;
    - `get_config()` if the constructor takes arguments.

    A distribution of positive or non-negative values sets the class
    attribute `support` to `"positive"` or `"non_negative"` (the default is
    `"real"`): `generate`, `score` and `history_state` then refuse seeds,
    continuations and histories outside it, naming the first bad position.

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
        >>> np.asarray(laplace.mean(laplace.constrain(np.array([[2.0, 0.0]]))))
        array([2.], dtype=float32)
    """

    num_parameters = None
    parameter_names = ()
    # The values the distribution describes: "real", "positive" (above 0)
    # or "non_negative" (0 and above). `generate`, `score` and
    # `history_state` refuse values outside it at real steps.
    support = "real"

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

    def scale_noise(self, params, factor):
        """Returns the parameters with their spread multiplied by `factor`.

        What `generate(..., noise_scale=factor)` draws from: the same centre,
        a spread `factor` times as wide (below 1, narrower). A distribution
        that does not override it cannot take a `noise_scale`.

        Args:
            params: constrained parameters, shape `(..., num_parameters)`.
            factor: a positive float32 scalar (a tensor: one traced program
                serves every factor).

        Returns:
            Parameters of the same shape as `params`, float32.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not define `scale_noise`, so its draws "
            "cannot be widened or narrowed."
        )

    @property
    def scales_noise(self):
        """Whether the class defines `scale_noise`, so `generate` takes a `noise_scale`.

        Examples:
            >>> selffeed_keras.distributions.get("normal").scales_noise
            True
            >>> selffeed_keras.distributions.get("negative_binomial").scales_noise
            False
        """
        return type(self).scale_noise is not Distribution.scale_noise

    @property
    def loss(self):
        """A `selffeed_keras.losses.NegativeLogLikelihood` of this distribution."""
        return NegativeLogLikelihood(self)

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


@_register
class Normal(Distribution):
    """The normal distribution, parameters `(loc, scale)`.

    `constrain` keeps `loc` as it is and maps the scale through softplus plus
    a floor of `1e-6`. For real-valued series with light tails.

    Examples:
        >>> normal = selffeed_keras.distributions.Normal()
        >>> params = normal.constrain(np.array([[1.0, 0.0]]))
        >>> np.asarray(params).round(4)
        array([[1.    , 0.6931]], dtype=float32)
        >>> np.asarray(normal.log_prob(params, np.array([1.0]))).round(4)
        array([-0.5524], dtype=float32)
        >>> tuple(normal.sample(params, seed=0).shape)
        (1,)
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
        key = _draws.philox_key(seed)
        z = _backend.normal(ops.shape(loc), key)
        return loc + scale * z

    def mean(self, params):
        """Returns `loc`."""
        return self._unstack(params)[0]

    def rescale(self, params, scale):
        """Returns `(loc * scale, scale * scale)`: the law of `scale * y`."""
        loc, sigma = self._unstack(params)
        factor = _scale_factor(scale, params)
        return ops.stack([loc * factor, sigma * factor], axis=-1)

    def scale_noise(self, params, factor):
        """Returns `(loc, scale * factor)`: the same mean, a scaled spread."""
        loc, sigma = self._unstack(params)
        return ops.stack([loc, sigma * factor], axis=-1)


@_register
class LogNormal(Distribution):
    """The log-normal distribution for positive series, parameters `(loc, scale)`.

    `y` is log-normal when `log(y)` is normal with mean `loc` and standard
    deviation `scale`: every draw is positive, so forecasts of a positive
    series (sales, demand, passengers) stay positive, and the spread grows
    with the level. `constrain` keeps `loc` and maps the scale through
    softplus plus a floor of `1e-6`.

    Targets must be positive: `log_prob` is `-inf` at `y <= 0` (a loss of
    `inf`), with a zero gradient there. Pad masked steps with a positive
    value (1, say), not 0.

    `sample` returns `exp(loc + scale * z)` with `z` a standard normal draw
    (reparameterized: differentiable in both parameters). The exponent is
    clipped to [-87, 88], so a draw is never 0 nor overflows float32
    (`exp(88)` is about 1.65e38); `mean`, `exp(loc + scale^2 / 2)`, is capped
    at `exp(88)` too.

    `rescale` adds `log(scale)` to `loc` and keeps `scale`: the law of
    `scale * y`, so `scaling="mean"` works as for the normal.

    Examples:
        >>> log_normal = selffeed_keras.distributions.LogNormal()
        >>> params = np.array([[0.0, 0.5]], "float32")  # median 1
        >>> np.asarray(log_normal.log_prob(params, np.array([1.0]))).round(4)
        array([-0.2258], dtype=float32)
        >>> draws = log_normal.sample(np.tile(params, (1000, 1)), seed=0)
        >>> bool(np.all(np.asarray(draws) > 0))
        True
    """

    support = "positive"
    num_parameters = 2
    parameter_names = ("loc", "scale")
    # The parameters of the logarithm's normal, constrained as Normal's.
    constrain = Normal.constrain

    def log_prob(self, params, y):
        """Returns the log-normal log-density of `y`, float32; `-inf` at `y <= 0`."""
        loc, scale = self._unstack(params)
        y = ops.cast(y, "float32")
        positive = y > 0.0
        # A safe log: where y <= 0 the branch not taken must not give NaN
        # gradients.
        log_y = ops.log(ops.where(positive, y, 1.0))
        z = (log_y - loc) / scale
        log_prob = (
            -0.5 * ops.square(z)
            - ops.log(scale)
            - log_y
            - 0.5 * math.log(2.0 * math.pi)
        )
        return ops.where(positive, log_prob, -math.inf)

    def sample(self, params, seed=None):
        """Returns `exp(loc + scale * z)`, `z` standard normal, exponent clipped."""
        loc, scale = self._unstack(params)
        key = _draws.philox_key(seed)
        z = _backend.normal(ops.shape(loc), key)
        return ops.exp(ops.clip(loc + scale * z, _MIN_LOG, _MAX_LOG))

    def mean(self, params):
        """Returns `exp(loc + scale^2 / 2)`, the exponent capped at 88."""
        loc, scale = self._unstack(params)
        return ops.exp(ops.minimum(loc + 0.5 * ops.square(scale), _MAX_LOG))

    def rescale(self, params, scale):
        """Returns `(loc + log(scale), scale)`: the law of `scale * y`."""
        loc, sigma = self._unstack(params)
        factor = _scale_factor(scale, params)
        loc = loc + ops.log(factor)
        sigma = ops.broadcast_to(sigma, ops.shape(loc))
        return ops.stack([loc, sigma], axis=-1)

    def scale_noise(self, params, factor):
        """Returns `(loc, scale * factor)`: the same median; the log's spread scaled."""
        loc, sigma = self._unstack(params)
        return ops.stack([loc, sigma * factor], axis=-1)


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
        >>> np.asarray(params).round(4)
        array([[2.6931, 1.    , 0.6931]], dtype=float32)
        >>> np.asarray(student_t.mean(params))
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
            _backend.lgamma(half)
            - _backend.lgamma(0.5 * df)
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
        u_radius, u_angle = ops.unstack(_draws.uniforms(2, ops.shape(loc), seed), 2)
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

    def scale_noise(self, params, factor):
        """Returns `(df, loc, scale * factor)`: the same centre, a scaled spread."""
        df, loc, sigma = self._unstack(params)
        return ops.stack([df, loc, sigma * factor], axis=-1)


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
    On JAX and torch an eager call raises `ValueError` instead; a call traced
    by `jax.jit` (`model.fit` on JAX) gives the NaN only.
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
        >>> np.asarray(negative_binomial.log_prob(params, np.array([0.0]))).round(4)
        array([-1.8326], dtype=float32)
        >>> draws = negative_binomial.sample(np.tile(params, (1000, 1)), seed=0)
        >>> bool(np.all(np.asarray(draws) == np.round(np.asarray(draws))))
        True
    """

    support = "non_negative"
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
        y = _backend.assert_non_negative(
            y,
            (
                "NegativeBinomial: the targets `y` must be non-negative counts, "
                "but a target is negative. Check the data (and pad masked "
                "positions with 0, not -1), or use a `Normal` or `StudentT` "
                "distribution for real values."
            ),
        )
        log_prob = _draws.negative_binomial_log_pmf(y, mean, total_count)
        return ops.where(y < 0.0, math.nan, log_prob)

    def sample(self, params, seed=None):
        """Returns one count per element, float32, by a gamma-Poisson mixture.

        Counts are not differentiable: the gradient through a draw is None.
        """
        mean, total_count = self._unstack(params)
        g, p = _draws.GAMMA_TRIES, _draws.POISSON_TRIES
        u = _draws.uniforms(2 * g + 2 + 2 * p, ops.shape(mean), seed)
        normals = _draws.box_muller(u[: g // 2], u[g // 2 : g])
        gamma = _draws.standard_gamma(total_count, normals, u[g : 2 * g], u[2 * g])
        rate = gamma * (mean / total_count)
        return _draws.poisson(rate, u[2 * g + 1], u[2 * g + 2 :])

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
    "log_normal": LogNormal,
    "student_t": StudentT,
    "negative_binomial": NegativeBinomial,
}


def get(identifier):
    """Resolves a distribution from a name, a config or a distribution object.

    Args:
        identifier: None, a `Distribution`, a lowercase name (`"normal"`,
            `"log_normal"`, `"student_t"`, `"negative_binomial"`), or a
            dict from
            `keras.saving.serialize_keras_object`.

    Returns:
        A `Distribution`, or None for None.

    Examples:
        >>> selffeed_keras.distributions.get("student_t")
        StudentT()
    """
    return resolve(identifier, Distribution, _ALIASES, "distribution", "distributions")


@keras.saving.register_keras_serializable(package="selffeed_keras")
class NegativeLogLikelihood(keras.losses.Loss):
    """The mean negative log-likelihood of the targets under a distribution.

    `y_pred` holds the constrained parameters of the distribution (the
    output of `distribution.constrain`), shape `(batch, time, features,
    num_parameters)`, and `y_true` the targets, shape `(batch, time,
    features)`. As `keras.losses.MeanSquaredError` does, the loss averages
    over the last axis of the targets (the features) and returns one value
    per `(batch, time)`; Keras' `reduction` then reduces those, and a mask
    of shape `(batch, time)` (Keras attaches the output's mask to `y_pred`)
    and sample weights of shape `(batch, time)` weigh them as they weigh
    `MeanSquaredError` on the same targets. The math runs in float32
    whatever the dtype policy.

    For `NegativeBinomial`, negative targets raise
    `tf.errors.InvalidArgumentError` where the loss is not compiled by XLA
    (eagerly, and in `model.fit` with `jit_compile=False`, Keras' default on
    a CPU). XLA drops TensorFlow's assertions, so under `jit_compile=True`
    (Keras' default on a GPU) a negative target makes the loss NaN instead,
    with no error: check the data first, or stop on it with
    `keras.callbacks.TerminateOnNaN`. Masked positions count too.

    Args:
        distribution: a `selffeed_keras.distributions.Distribution` or its
            name (`"normal"`, `"log_normal"`, `"student_t"`,
            `"negative_binomial"`).
        reduction: as for every Keras loss. Defaults to
            `"sum_over_batch_size"`.
        name: the loss' name. Defaults to `"negative_log_likelihood"`.

    Examples:
        >>> loss = selffeed_keras.losses.NegativeLogLikelihood("normal")
        >>> params = np.array([[[[0.0, 1.0]]]], "float32")  # loc 0, scale 1
        >>> float(loss(np.array([[[0.0]]]), params))  # log(2 pi) / 2
        0.918938...
    """

    def __init__(
        self,
        distribution,
        reduction="sum_over_batch_size",
        name="negative_log_likelihood",
    ):
        super().__init__(name=name, reduction=reduction, dtype="float32")
        resolved = get(distribution)
        if resolved is None:
            raise ValueError(
                "`distribution` must be a `selffeed_keras.distributions."
                "Distribution` or its name, such as 'student_t'. Received: "
                "distribution=None."
            )
        self.distribution = resolved

    def call(self, y_true, y_pred):
        """Returns the negative log-likelihood averaged over the last target axis.

        Args:
            y_true: targets, shape `(batch, time, features)`.
            y_pred: constrained parameters, shape `(batch, time, features,
                num_parameters)`.

        Returns:
            A float32 tensor of shape `(batch, time)`.
        """
        expected = tuple(y_pred.shape[:-1])
        if len(y_pred.shape) == len(y_true.shape) + 1 and any(
            e is not None and r is not None and e != r
            for e, r in zip(expected, y_true.shape, strict=True)
        ):
            # log_prob would broadcast them: a loss of the wrong pairs.
            raise ValueError(
                "`y_true` must have the shape of `y_pred` without its last "
                f"axis (the parameters): {expected}. Received: "
                f"y_true.shape={tuple(y_true.shape)}, "
                f"y_pred.shape={tuple(y_pred.shape)}."
            )
        if len(y_pred.shape) != len(y_true.shape) + 1:
            raise ValueError(
                "`y_pred` must hold the distribution's parameters on one more "
                "axis than the targets: `y_true` of shape (batch, time, "
                "features) and `y_pred` of shape (batch, time, features, "
                f"{self.distribution.num_parameters}). Received: "
                f"y_true.shape={tuple(y_true.shape)}, "
                f"y_pred.shape={tuple(y_pred.shape)}."
            )
        log_prob = self.distribution.log_prob(y_pred, y_true)
        return -ops.mean(log_prob, axis=-1)

    def get_config(self):
        """Returns the constructor arguments, for `keras.saving`."""
        return {
            "distribution": keras.saving.serialize_keras_object(self.distribution),
            "reduction": self.reduction,
            "name": self.name,
        }
