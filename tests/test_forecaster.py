"""`forecasting.Forecaster`, `backtest` and the scores, on every backend."""

import keras
import numpy as np
import pytest

from selffeed_keras import forecasting
from selffeed_keras.forecasting import _paths

HORIZON = 3
TINY = dict(units=4, max_epochs=1, context_length=5)


def _series(count=6, seed=0, low=4, high=14):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(low, high, count)
    return [10.0 + np.cumsum(rng.uniform(0.1, 1.0, n)) for n in lengths]


def _covariates(series, extra=HORIZON):
    return [
        np.stack([np.sin(np.arange(len(s) + extra)), np.arange(len(s) + extra) % 2], -1)
        for s in series
    ]


@pytest.fixture(scope="module")
def trained():
    """A forecaster of two members on a panel with covariates and statics."""
    series = _series()
    panel = forecasting.Panel(
        series,
        covariates=_covariates(series, 0),
        static_features=np.arange(12.0).reshape(6, 2),
        ids=[f"s{i}" for i in range(6)],
    )
    forecaster = forecasting.Forecaster(HORIZON, num_members=2, **TINY)
    forecaster.train(panel, steps_per_epoch=2)
    return forecaster, series


def _future_panel(series, rows=None, ids=None):
    rows = range(len(series)) if rows is None else rows
    return forecasting.Panel(
        [series[i] for i in rows],
        covariates=[_covariates(series)[i] for i in rows],
        static_features=np.arange(12.0).reshape(6, 2)[list(rows)],
        ids=[f"s{i}" for i in rows] if ids is None else ids,
    )


def test_forecast_equals_generate_on_each_series_alone(trained):
    """Padding, masks, covariates and statics as a hand-written call reads them."""
    forecaster, series = trained
    forecast = forecaster.forecast(_future_panel(series), num_samples=5, random_seed=7)
    assert forecast.paths.shape == (6, 5, HORIZON, 1)
    context = forecaster.context_length
    for i, values in enumerate(series):
        seed = values[-context:].astype("float32")[None, :, None]  # no padding
        steps = np.arange(len(values) - len(seed[0]) + 1, len(values) + HORIZON)
        static = np.tile([[2.0 * i, 2.0 * i + 1]], (len(steps), 1))
        known = np.concatenate([_covariates(series)[i][steps], static], -1)
        known = known[None].astype("float32")
        start = 0
        for m, member in enumerate(forecaster.members):
            share = [3, 2][m]
            expected = member.generate(
                seed,
                HORIZON,
                covariates=known,
                num_samples=share,
                random_seed=_paths.stream(7, f"s{i}", m),
            )
            np.testing.assert_allclose(
                forecast.paths[i, start : start + share],
                keras.ops.convert_to_numpy(expected)[0],
                rtol=1e-5,
                err_msg=f"series {i} (length {len(values)}), member {m}",
            )
            start += share
    assert min(len(s) for s in series) < context  # some were padded


def test_a_series_paths_do_not_depend_on_the_other_series(trained):
    forecaster, series = trained
    whole = forecaster.forecast(_future_panel(series), num_samples=4, random_seed=1)
    some = forecaster.forecast(
        _future_panel(series, rows=[4, 1]), num_samples=4, random_seed=1
    )
    np.testing.assert_array_equal(some.paths[0], whole.paths[4])
    np.testing.assert_array_equal(some.paths[1], whole.paths[1])
    other = forecaster.forecast(_future_panel(series), num_samples=4, random_seed=2)
    assert not np.allclose(other.paths, whole.paths)


def test_short_series_train_with_padding_and_masks():
    """Every series shorter than a window: the log-normal's loss stays finite."""
    series = _series(count=8, low=7, high=8)  # windows of 5 + 3 steps
    forecaster = forecasting.Forecaster(HORIZON, num_members=1, **TINY)
    forecaster.train(forecasting.Panel(series), steps_per_epoch=3)
    assert forecaster.distribution == "log_normal"
    history = forecaster.histories[0].history
    assert np.isfinite(history["loss"]).all() and np.isfinite(history["val_loss"]).all()
    paths = forecaster.forecast(forecasting.Panel(series), num_samples=3).paths
    assert np.isfinite(paths).all() and (paths > 0).all()


def test_calibration_reaches_its_coverage_on_a_known_distribution():
    """Paths too narrow by 2.5 (normal), truth N(centre, 1): factors near 2.5."""
    rng = np.random.default_rng(0)
    forecaster = forecasting.Forecaster(HORIZON, distribution="normal")

    def cases(count):
        centre = rng.normal(0.0, 5.0, (count, HORIZON, 1))
        paths = centre[:, None] + 0.4 * rng.standard_normal((count, 200, HORIZON, 1))
        truth = centre + rng.standard_normal((count, HORIZON, 1))
        return forecasting.Backtest(
            range(count), range(count), [1] * count, paths, centre, truth, False
        )

    before = cases(2000)
    assert forecasting.coverage(before.paths, before.truth) < 0.5
    factors = forecaster.calibrate(before)
    np.testing.assert_allclose(factors, 2.5, rtol=0.1)
    fresh = cases(2000)
    widened = forecaster._widen(fresh.paths, fresh.centre[:, None])
    for step in range(HORIZON):
        covered = forecasting.coverage(widened[:, :, step], fresh.truth[:, step])
        assert 0.77 <= covered <= 0.83, (step, covered)


def test_calibration_widens_log_normal_paths_on_the_log_scale():
    forecaster = forecasting.Forecaster(1, distribution="log_normal", calibration=[2.0])
    centre = np.full((1, 1, 1), 10.0)
    paths = np.array([5.0, 10.0, 20.0]).reshape(1, 3, 1, 1)
    widened = forecaster._widen(paths[0], centre)
    np.testing.assert_allclose(widened[:, 0, 0], [2.5, 10.0, 40.0], rtol=1e-6)


def test_backtest_and_a_calibrated_model_save_and_reload(trained, tmp_path):
    forecaster, series = trained
    panel = _future_panel(series)
    result = forecasting.backtest(
        forecaster, panel, num_origins=2, stride=1, num_samples=6, calibrated=False
    )
    # Origins of at least one value: a series of 4 has one origin, not two.
    count = sum(min(2, len(s) - HORIZON) for s in series)
    assert result.paths.shape == (count, 6, HORIZON, 1)
    first = len(series[0]) - HORIZON
    np.testing.assert_array_equal(result.origins[:2], [first - 1, first])
    np.testing.assert_allclose(result.truth[1], series[0][-HORIZON:, None], rtol=1e-6)
    forecaster.calibrate(result)
    scores = forecasting.backtest(forecaster, panel, num_samples=6).scores(panel)
    assert set(scores) == {"mase", "crps", "wql", "coverage"}
    assert all(np.isfinite(v) for v in scores.values())

    path = tmp_path / "forecaster.keras"
    forecaster.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.calibration == forecaster.calibration
    assert loaded.context_length == forecaster.context_length
    before = forecaster.forecast(panel, num_samples=5, random_seed=3)
    after = loaded.forecast(panel, num_samples=5, random_seed=3)
    np.testing.assert_allclose(after.paths, before.paths, rtol=1e-6)
    quantiles = after.quantiles([0.1, 0.9])
    assert quantiles.shape == (2, 6, HORIZON, 1)


def test_the_recipe_depends_on_horizon_and_season_only():
    assert forecasting.recipe(6) == forecasting.recipe(6, 1)
    assert forecasting.recipe(12, 12)["lags"] == (1, 12)
    forecaster = forecasting.Forecaster(12, season_length=12)
    assert forecaster.context_length == forecasting.recipe(12, 12)["context_length"]


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: forecasting.Forecaster(0), ValueError, "`horizon`"),
        (
            lambda: forecasting.Forecaster(3, distribution="negative_binomial"),
            ValueError,
            "`distribution`",
        ),
        (
            lambda: forecasting.Forecaster(3, calibration=[1.0, -1.0]),
            ValueError,
            "`calibration`",
        ),
        (
            lambda: forecasting.Forecaster(3).forecast(forecasting.Panel([np.ones(9)])),
            ValueError,
            "train",
        ),
        (
            lambda: forecasting.Forecaster(3).train([np.ones(9)]),
            TypeError,
            "`panel`",
        ),
        (
            lambda: forecasting.Forecaster(3).calibrate("backtest"),
            TypeError,
            "`backtest`",
        ),
    ],
)
def test_errors_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_a_calibration_set_by_hand_is_checked():
    forecaster = forecasting.Forecaster(3, distribution="normal")
    forecaster.calibration = [1.5, 2]
    assert forecaster.calibration == (1.5, 2.0)
    with pytest.raises(ValueError, match="`calibration`"):
        forecaster.calibration = [1.0, float("nan")]


def test_forecast_needs_covariates_over_the_horizon(trained):
    forecaster, series = trained
    past_only = forecasting.Panel(
        series,
        covariates=_covariates(series, 0),
        static_features=np.arange(12.0).reshape(6, 2),
    )
    with pytest.raises(ValueError, match="must cover"):
        forecaster.forecast(past_only)
    with pytest.raises(ValueError, match="features and covariates"):
        forecaster.forecast(forecasting.Panel(series))


def test_scores_match_their_definitions():
    rng = np.random.default_rng(0)
    paths = rng.normal(size=(4, 50, 3))
    truth = rng.normal(size=(4, 3))
    # CRPS: the mean absolute error minus half the mean pairwise distance.
    pairs = np.abs(paths[:, :, None] - paths[:, None]).mean((1, 2))
    expected = np.abs(paths - truth[:, None]).mean(1) - 0.5 * pairs
    np.testing.assert_allclose(forecasting.crps(paths, truth), expected, rtol=1e-10)
    scoringrules = pytest.importorskip("scoringrules")
    np.testing.assert_allclose(
        forecasting.crps(paths, truth),
        scoringrules.crps_ensemble(truth, np.moveaxis(paths, 1, -1)),
        rtol=1e-6,
    )
    assert forecasting.mase([2.0, 2.0], [3.0, 1.0], [0.0, 2.0, 0.0]) == 0.5
