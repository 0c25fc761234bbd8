import keras
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf
from scipy.special import digamma

from selffeed_keras import _draws, distributions, losses
from selffeed_keras.distributions import LogNormal, NegativeBinomial, Normal, StudentT

ALL = [Normal(), LogNormal(), StudentT(), NegativeBinomial()]
# Strict lower bounds of the constrained parameters, by name.
LOWER = {"scale": 0.0, "df": 2.0, "mean": 0.0, "total_count": 0.0}


def ids(distribution):
    return type(distribution).__name__


def tiled(params, n):
    return np.tile(np.asarray(params, "float32"), (n, 1))


def scipy_law(distribution, params):
    """The scipy.stats distribution that `params` (one row) describe."""
    if isinstance(distribution, Normal):
        loc, scale = params
        return scipy.stats.norm(loc, scale)
    if isinstance(distribution, StudentT):
        df, loc, scale = params
        return scipy.stats.t(df, loc, scale)
    if isinstance(distribution, LogNormal):
        loc, scale = params
        return scipy.stats.lognorm(scale, scale=np.exp(loc))
    mean, total_count = params
    # scipy's nbinom(n, p): n = total_count, p = n / (n + mean).
    return scipy.stats.nbinom(total_count, total_count / (total_count + mean))


def log_density(law, y):
    return law.logpmf(y) if hasattr(law, "logpmf") else law.logpdf(y)


def randomized_pit(law, draws, seed):
    """Uniform on (0, 1) under the law, for discrete laws as well."""
    if hasattr(law, "pmf"):
        jitter = np.random.default_rng(seed).random(len(draws))
        return law.cdf(draws - 1) + jitter * law.pmf(draws)
    return law.cdf(draws)


# The contract, run over every distribution.


@pytest.mark.parametrize("distribution", ALL, ids=ids)
def test_contract_every_distribution(distribution):
    size = distribution.num_parameters
    assert isinstance(size, int) and size == len(distribution.parameter_names)
    raw = np.random.default_rng(0).normal(size=(3, 4, 5, size)) * 3
    raw[0, 0, 0] = -200.0  # softplus underflows: the floor keeps scales > 0.
    raw[0, 0, 1] = 200.0
    params = distribution.constrain(raw.astype("float16"))
    assert params.dtype == "float32" and params.shape == (3, 4, 5, size)
    assert np.all(np.isfinite(params))
    for i, name in enumerate(distribution.parameter_names):
        if name in LOWER:
            assert np.all(np.asarray(params[..., i]) > LOWER[name]), name

    mean = distribution.mean(params)
    assert mean.dtype == "float32" and mean.shape == (3, 4, 5)
    # A typical target: the rounded mean, or the median of positive laws
    # (whose mean overflows to the cap at the huge scale above).
    typical = np.round(mean)
    if isinstance(distribution, LogNormal):
        typical = np.exp(np.clip(np.asarray(params[..., 0]), -80.0, 80.0))
    log_prob = distribution.log_prob(params, typical)
    assert log_prob.dtype == "float32" and log_prob.shape == (3, 4, 5)
    assert np.all(np.isfinite(log_prob))

    draws = distribution.sample(params, seed=1)
    assert draws.dtype == "float32" and draws.shape == (3, 4, 5)
    assert np.all(np.isfinite(draws))
    np.testing.assert_array_equal(draws, distribution.sample(params, seed=1))
    assert not np.array_equal(draws, distribution.sample(params, seed=2))

    scale = np.linspace(0.5, 4.0, 5).reshape(1, 1, 5).astype("float32")
    rescaled = distribution.rescale(params, scale)
    assert rescaled.dtype == "float32" and rescaled.shape == params.shape
    np.testing.assert_allclose(
        distribution.mean(rescaled),
        mean * scale
        if not isinstance(distribution, LogNormal)
        else np.minimum(mean * scale, np.exp(np.float32(88.0))),
        rtol=1e-5,
    )
    np.testing.assert_allclose(distribution.rescale(params, 1.0), params)

    # Serializable through Keras, by registered name, in safe mode.
    config = keras.saving.serialize_keras_object(distribution)
    restored = keras.saving.deserialize_keras_object(config, safe_mode=True)
    assert type(restored) is type(distribution)
    assert restored.get_config() == distribution.get_config()
    assert type(distributions.get(config)) is type(distribution)
    assert repr(distribution) == f"{type(distribution).__name__}()"

    loss = distribution.loss
    assert isinstance(loss, losses.NegativeLogLikelihood)
    assert type(loss.distribution) is type(distribution)


XLA_CASES = {
    "Normal": (Normal(), (1.0, 2.0)),
    "LogNormal": (LogNormal(), (1.0, 0.5)),
    "StudentT": (StudentT(), (2.5, 1.0, 2.0)),
    "NegativeBinomial": (NegativeBinomial(), (50.0, 5.0)),
}


@pytest.mark.parametrize("case", XLA_CASES.values(), ids=XLA_CASES.keys())
@pytest.mark.tensorflow_only(reason="tf.function(jit_compile=True)")
def test_sample_compiles_under_xla_on_cpu(case):
    distribution, row = case
    signature = [tf.TensorSpec((None, distribution.num_parameters), "float32")]

    @tf.function(jit_compile=True, input_signature=signature)
    def sample_with_int_seed(params):
        return distribution.sample(params, seed=7)

    params = tiled(row, 20_000)
    draws = sample_with_int_seed(params)
    assert draws.shape == (20_000,) and draws.dtype == "float32"
    np.testing.assert_array_equal(draws, sample_with_int_seed(params))
    # TensorFlow's stateless RNG picks another algorithm under XLA, so the
    # draws differ from eager ones: check them against scipy instead.
    law = scipy_law(distribution, row)
    pvalue = scipy.stats.kstest(randomized_pit(law, np.asarray(draws), 0), "uniform")
    assert pvalue.pvalue > 1e-3

    generator = keras.random.SeedGenerator(3)

    @tf.function(jit_compile=True)
    def sample_with_generator(params):
        return distribution.sample(params, seed=generator)

    first, second = sample_with_generator(params), sample_with_generator(params)
    assert np.all(np.isfinite(first)) and not np.array_equal(first, second)


@pytest.mark.parametrize("distribution", ALL, ids=ids)
def test_sample_in_a_stateless_scope_advances_the_mapped_state(distribution):
    params = distribution.constrain(np.zeros((8, distribution.num_parameters)))
    generator = keras.random.SeedGenerator(5)
    start = keras.ops.convert_to_tensor(np.array([5, 11]), generator.state.dtype)

    def draw():
        with keras.StatelessScope(state_mapping=[(generator.state, start)]) as scope:
            draws = distribution.sample(params, seed=generator)
        return draws, scope.get_current_value(generator.state)

    (draws, state), (again, _) = draw(), draw()
    np.testing.assert_array_equal(draws, again)
    assert not np.array_equal(state, start)


@pytest.mark.parametrize("distribution", ALL, ids=ids)
def test_wrong_number_of_parameters_raises(distribution):
    wrong = np.zeros((4, distribution.num_parameters + 1), "float32")
    with pytest.raises(ValueError, match=r"`params` must have \d entries.*Received"):
        distribution.sample(wrong, seed=0)
    with pytest.raises(ValueError, match=r"`raw` must have"):
        distribution.constrain(wrong)
    params = np.ones((4, 3, distribution.num_parameters), "float32")
    with pytest.raises(ValueError, match=r"`scale` must broadcast.*\(4, 3, 1\)"):
        distribution.rescale(params, np.ones((4, 3, 1), "float32"))


@pytest.mark.parametrize("distribution", ALL, ids=ids)
@pytest.mark.tensorflow_only(reason="tf.GradientTape")
def test_draws_are_differentiable_except_counts(distribution):
    raw = np.zeros((5, 3, distribution.num_parameters), "float32")
    params = tf.Variable(distribution.constrain(raw))
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(distribution.sample(params, seed=0))
    gradient = tape.gradient(total, params)
    if isinstance(distribution, NegativeBinomial):
        assert gradient is None
    else:
        assert np.all(np.isfinite(gradient)) and np.any(gradient != 0)


@pytest.mark.tensorflow_only(reason="tf.function")
def test_an_unknown_parameter_axis_is_read_when_the_graph_runs():
    @tf.function(input_signature=[tf.TensorSpec((None, None), "float32")])
    def mean(params):
        return StudentT().mean(params)

    np.testing.assert_array_equal(mean(np.array([[3.0, 1.5, 1.0]], "float32")), [1.5])


# log_prob against scipy.stats.


@pytest.mark.parametrize(
    "distribution, rows",
    [
        (Normal(), [(0.0, 1.0), (3.0, 0.01), (-2.0, 50.0)]),
        (LogNormal(), [(0.0, 1.0), (5.0, 0.05), (-2.0, 2.0), (10.0, 0.3)]),
        (StudentT(), [(2.001, 0.0, 1.0), (3.5, -1.0, 0.2), (40.0, 5.0, 3.0)]),
        (
            NegativeBinomial(),
            # Small and large means and total counts, near-Poisson included.
            [(0.05, 0.3), (3.0, 2.0), (50.0, 5.0), (12.0, 1e4), (3e4, 1e5)]
            + [(3e4, 2.0), (1e3, 10.0), (7.0, 9.99)],
        ),
    ],
    ids=ids,
)
def test_log_prob_matches_scipy(distribution, rows):
    for row in rows:
        law = scipy_law(distribution, row)
        quantiles = law.ppf([0.001, 0.05, 0.3, 0.5, 0.7, 0.95, 0.999])
        y = np.unique(np.concatenate([quantiles, [0.0, 1.0, 10.0]]))
        if isinstance(distribution, NegativeBinomial):
            y = np.round(y)
        if isinstance(distribution, LogNormal):
            y = y[y > 0]
        got = distribution.log_prob(tiled(row, len(y)), y.astype("float32"))
        expected = log_density(law, y)
        np.testing.assert_allclose(
            got, expected, rtol=2e-5, atol=2e-4, err_msg=f"params={row}"
        )


@pytest.mark.tensorflow_only(reason="tf.GradientTape")
def test_negative_binomial_gradients_match_the_analytic_ones():
    # The training signal: d log p / d mean and d log p / d total_count,
    # from the closed forms, over small and large means, counts and shapes.
    grid = np.array(
        [
            (m, r, y)
            for m in [1e-3, 0.5, 3.0, 50.0, 3e4]
            for r in [0.05, 1.0, 9.5, 10.5, 100.0, 1e4, 1e6]
            for y in [0.0, 1.0, 3.0, 12.0, 60.0, 3e4]
        ]
    )
    params = tf.Variable(grid[:, :2].astype("float32"))
    with tf.GradientTape() as tape:
        log_prob = NegativeBinomial().log_prob(params, grid[:, 2].astype("float32"))
    gradient = np.asarray(tape.gradient(log_prob, params))
    m, r, y = grid.T
    by_mean = y / m - (y + r) / (r + m)
    by_count = digamma(y + r) - digamma(r) + np.log(r / (r + m)) + (m - y) / (r + m)
    np.testing.assert_allclose(gradient[:, 0], by_mean, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gradient[:, 1], by_count, rtol=1e-4, atol=1e-4)


def test_rescale_is_the_law_of_the_scaled_variable():
    scale = np.float32(7.5)
    y = np.linspace(-3, 3, 11).astype("float32")
    cases = [
        (Normal(), (1.0, 0.5), y),
        (StudentT(), (3.0, 1.0, 0.5), y),
        (LogNormal(), (1.0, 0.5), np.exp(y)),
    ]
    for distribution, row, y in cases:
        params = tiled(row, len(y))
        rescaled = distribution.rescale(params, scale)
        # The density of scale * z at scale * y is that of z at y, / scale.
        np.testing.assert_allclose(
            distribution.log_prob(rescaled, scale * y),
            distribution.log_prob(params, y) - np.log(scale),
            rtol=1e-5,
            atol=1e-5,
        )
        # And the same uniforms draw scale times the draws.
        np.testing.assert_allclose(
            distribution.sample(rescaled, seed=4),
            scale * distribution.sample(params, seed=4),
            rtol=1e-5,
            atol=1e-5,
        )


def test_negative_binomial_rescale_multiplies_the_mean_and_keeps_total_count():
    rescaled = NegativeBinomial().rescale(np.array([[3.0, 2.0]], "float32"), 10.0)
    np.testing.assert_allclose(rescaled, [[30.0, 2.0]])


@pytest.mark.tensorflow_only(reason="tf.function and TensorFlow's assertions")
def test_negative_binomial_refuses_negative_targets_where_not_compiled():
    params = tiled((3.0, 2.0), 3)
    targets = np.array([1.0, -1.0, 2.0], "float32")
    with pytest.raises(tf.errors.InvalidArgumentError, match="non-negative counts"):
        NegativeBinomial().log_prob(params, targets)
    graph = tf.function(NegativeBinomial().log_prob)
    with pytest.raises(tf.errors.InvalidArgumentError, match="non-negative counts"):
        graph(params, targets)
    # XLA drops the assertion: the documented outcome is NaN, never a number.
    xla = tf.function(NegativeBinomial().log_prob, jit_compile=True)
    log_prob = np.asarray(xla(params, targets))
    assert np.isnan(log_prob[1]) and np.all(np.isfinite(log_prob[[0, 2]]))


# Sampling against scipy.stats: moments and a Kolmogorov-Smirnov test.

FAST_CASES = [
    (Normal(), (1.0, 2.0)),
    (LogNormal(), (0.0, 0.5)),
    (StudentT(), (2.5, 1.0, 2.0)),
    (StudentT(), (30.0, -1.0, 0.5)),
    (NegativeBinomial(), (3.0, 2.0)),  # Poisson rates mostly by inversion.
    (NegativeBinomial(), (50.0, 5.0)),  # Poisson rates by PTRS.
    (NegativeBinomial(), (12.0, 1e7)),  # Near-Poisson, at the PTRS threshold.
]
SLOW_CASES = [
    (Normal(), (-3.0, 0.01)),
    (LogNormal(), (6.0, 0.02)),
    (LogNormal(), (2.0, 1.0)),
    (StudentT(), (2.05, 0.0, 1.0)),
    (StudentT(), (1e4, 2.0, 3.0)),
    (NegativeBinomial(), (0.5, 0.3)),  # Gamma shape below 1.
    (NegativeBinomial(), (5.0, 0.05)),
    (NegativeBinomial(), (9.99, 1e7)),
    (NegativeBinomial(), (10.0, 1e7)),
    (NegativeBinomial(), (3e4, 1e5)),  # Loads of 30,000.
    (NegativeBinomial(), (1e5, 1e8)),
]


def check_draws(distribution, row, n, seed):
    law = scipy_law(distribution, row)
    draws = np.asarray(distribution.sample(tiled(row, n), seed=seed)).astype("float64")
    if isinstance(distribution, NegativeBinomial):
        np.testing.assert_array_equal(draws, np.round(draws))
    # The mean within 5 standard errors; the spread by a robust measure for
    # the heavy tails (a t with df near 2 has no finite fourth moment).
    standard_error = law.std() / np.sqrt(n)
    assert abs(draws.mean() - law.mean()) < 5 * standard_error, draws.mean()
    iqr = np.subtract(*np.percentile(draws, [75, 25]))
    expected_iqr = law.ppf(0.75) - law.ppf(0.25)
    slack = 0.05 * expected_iqr + (1.0 if hasattr(law, "pmf") else 0.0)
    assert abs(iqr - expected_iqr) <= slack, (iqr, expected_iqr)
    # Kolmogorov-Smirnov on the (randomized, for counts) probability transform.
    pvalue = scipy.stats.kstest(randomized_pit(law, draws, seed), "uniform").pvalue
    assert pvalue > 1e-3, f"KS p-value {pvalue:.2g} for {row}"


@pytest.mark.parametrize("distribution, row", FAST_CASES, ids=str)
def test_draws_follow_the_distribution(distribution, row):
    check_draws(distribution, row, n=20_000, seed=11)


@pytest.mark.slow
@pytest.mark.parametrize("distribution, row", FAST_CASES + SLOW_CASES, ids=str)
def test_many_draws_follow_the_distribution(distribution, row):
    check_draws(distribution, row, n=400_000, seed=12)


@pytest.mark.parametrize("shape", [0.1, 0.3, 1.0, 4.5, 1e3, 1e6])
def test_gamma_draws_follow_scipy(shape):
    n = 20_000
    u = _draws.uniforms(17, (n,), seed=3)
    normals = _draws.box_muller(u[:4], u[4:8])
    alpha = keras.ops.full((n,), shape)
    draws = np.asarray(_draws.standard_gamma(alpha, normals, u[8:16], u[16]))
    law = scipy.stats.gamma(shape)
    assert abs(draws.mean() - law.mean()) < 5 * law.std() / np.sqrt(n)
    assert scipy.stats.kstest(draws, law.cdf).pvalue > 1e-3


def test_box_muller_gives_standard_normals():
    u = _draws.uniforms(2, (1, 20_000), seed=8)
    for z in _draws.box_muller(u[0], u[1]):  # the cosine and sine halves
        assert scipy.stats.kstest(np.asarray(z), "norm").pvalue > 1e-3


# get() and errors.


@pytest.mark.parametrize(
    "name, cls",
    [
        ("normal", Normal),
        ("log_normal", LogNormal),
        ("student_t", StudentT),
        ("negative_binomial", NegativeBinomial),
    ],
)
def test_get_resolves_lowercase_names(name, cls):
    assert type(distributions.get(name)) is cls


def test_get_passes_objects_and_none_through():
    distribution = StudentT()
    assert distributions.get(distribution) is distribution
    assert distributions.get(None) is None


def test_get_rejects_unknown_names_and_types():
    with pytest.raises(ValueError, match="Unknown distribution name.*'gaussian'"):
        distributions.get("gaussian")
    with pytest.raises(ValueError, match="Unknown distribution name.*'StudentT'"):
        distributions.get("StudentT")
    with pytest.raises(TypeError, match="`distribution` must be.*Received: .*3"):
        distributions.get(3)
    sampler_config = keras.saving.serialize_keras_object(
        keras.saving.get_registered_object("selffeed_keras>GreedySampler")()
    )
    with pytest.raises(TypeError, match="`distribution` must be"):
        distributions.get(sampler_config)


@pytest.mark.parametrize("distribution", ALL, ids=ids)
def test_seeds_are_ints_numpy_ints_or_generators(distribution):
    params = distribution.constrain(np.zeros((50, distribution.num_parameters)))
    np.testing.assert_array_equal(
        distribution.sample(params, seed=np.int64(4)),
        distribution.sample(params, seed=4),
    )
    with pytest.raises(TypeError, match="`seed` must be None, an integer"):
        distribution.sample(params, seed=1.5)
    with pytest.raises(TypeError, match="`seed` must be None, an integer"):
        distribution.sample(params, seed=True)


def test_the_base_class_methods_say_what_to_override():
    with pytest.raises(NotImplementedError, match="must override `sample`"):
        distributions.Distribution().sample(np.zeros((1, 1)), seed=0)


@pytest.mark.tensorflow_only(reason="tf.GradientTape")
def test_log_normal_keeps_draws_positive_and_refuses_non_positive_targets():
    params = tf.Variable(tiled((0.0, 1.0), 4))
    targets = np.array([1.0, 0.0, -2.0, 3.0], "float32")
    with tf.GradientTape() as tape:
        log_prob = LogNormal().log_prob(params, targets)
    gradient = np.asarray(tape.gradient(log_prob, params))
    assert np.all(np.isneginf(np.asarray(log_prob)[1:3]))
    assert np.all(np.isfinite(np.asarray(log_prob)[[0, 3]]))
    # The safe log: no NaN gradient where the target is not positive.
    np.testing.assert_array_equal(gradient[1:3], 0.0)
    # Huge exponents are capped: draws and means stay finite and positive.
    wide = tiled((80.0, 50.0), 10_000)
    draws = np.asarray(LogNormal().sample(wide, seed=0))
    assert np.all(np.isfinite(draws)) and np.all(draws > 0)
    assert np.isfinite(np.asarray(LogNormal().mean(wide))).all()


def test_log_normal_rescale_adds_the_log_of_the_scale_to_loc():
    rescaled = LogNormal().rescale(np.array([[1.0, 0.5]], "float32"), 10.0)
    np.testing.assert_allclose(rescaled, [[1.0 + np.log(10.0), 0.5]], rtol=1e-6)
