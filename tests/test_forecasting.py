"""Panels and their training windows, on every backend."""

import importlib.util

import keras
import numpy as np
import pytest

from selffeed_keras import SelfFeedingRNN
from selffeed_keras.forecasting import Panel

CONTEXT, HORIZON, HISTORY = 4, 2, 3
LENGTH = CONTEXT + HORIZON


def _panel(lengths=(12, 5, 9)):
    """Series whose values name their series and step: 100 * i + t + 1."""
    series = [100.0 * i + np.arange(n) + 1 for i, n in enumerate(lengths)]
    covariates = [
        np.stack([-s, s / 10], -1)[:, :] for s in series
    ]  # aligned with the series
    covariates = [np.concatenate([c, np.ones((HORIZON, 2))]) for c in covariates]
    static = np.arange(len(lengths) * 2, dtype="float64").reshape(-1, 2)
    return Panel(series, covariates=covariates, static_features=static), series


def _hand_cut(series, covariates, static, end, history_length):
    """One window ending before `end`, cut and padded by hand."""
    span = LENGTH + history_length
    start = end - span
    values = np.zeros(span, "float32")
    known = np.zeros((span, 2), "float32")
    real = np.zeros(span, bool)
    for k in range(span):
        if start + k >= 0:
            values[k] = series[start + k]
            known[k] = covariates[start + k]
            real[k] = True
    window, past = values[history_length:], values[:history_length]
    real_window = real[history_length:]
    return {
        "inputs": window[:-1, None],
        "mask": real_window[:-1],
        "covariates": known[history_length:][1:],
        "static_features": static.astype("float32"),
        "history": past[:, None],
        "history_mask": real[:history_length],
        "targets": window[1:, None],
        "weights": real_window[1:].astype("float32"),
    }


def _rows(batch):
    """The batch's windows, one dict of NumPy arrays per row."""
    inputs, targets, weights = batch
    arrays = {k: keras.ops.convert_to_numpy(v) for k, v in inputs.items()}
    arrays["targets"] = keras.ops.convert_to_numpy(targets)
    arrays["weights"] = keras.ops.convert_to_numpy(weights)
    return [{k: v[r] for k, v in arrays.items()} for r in range(len(targets))]


def _key(row):
    return tuple((k, row[k].tobytes()) for k in sorted(row))


def test_training_windows_equal_a_hand_written_cutting():
    panel, series = _panel()
    windows = panel.windows(
        CONTEXT,
        HORIZON,
        history_length=HISTORY,
        batch_size=16,
        steps_per_epoch=10,
        subset="training",
        seed=3,
    )
    static = np.arange(6.0).reshape(3, 2)
    expected = set()
    for i, s in enumerate(series):
        known = np.stack([-s, s / 10], -1)
        for end in range(HORIZON + 1, len(s) - HORIZON + 1):
            row = _hand_cut(s, known, static[i], end, HISTORY)
            expected.add(_key(row))
    assert windows.num_windows == len(expected) == 8 + 1 + 5
    drawn = set()
    for index in range(len(windows)):
        drawn.update(_key(row) for row in _rows(windows[index]))
    # 160 draws among 14 windows: each drawn window is one of the hand-cut
    # ones, and every one of them is drawn.
    assert drawn == expected


def test_validation_windows_end_at_each_series_end_and_weigh_the_horizon():
    panel, series = _panel()
    validation = panel.windows(
        CONTEXT, HORIZON, history_length=HISTORY, subset="validation", seed=0
    )
    (batch,) = [validation[i] for i in range(len(validation))]
    static = np.arange(6.0).reshape(3, 2)
    for i, row in enumerate(_rows(batch)):
        known = np.stack([-series[i], series[i] / 10], -1)
        expected = _hand_cut(series[i], known, static[i], len(series[i]), HISTORY)
        expected["weights"][: CONTEXT - 1] = 0.0
        for name, value in expected.items():
            np.testing.assert_array_equal(row[name], value, err_msg=name)
        assert row["weights"].sum() == HORIZON


def test_short_series_are_padded_on_the_left_and_masked():
    panel = Panel([np.arange(1.0, 5.0)])  # 4 values, windows of 6
    windows = panel.windows(CONTEXT, HORIZON, batch_size=8, seed=0)
    rows = _rows(windows[0])
    ends = set()
    for row in rows:
        real = int(row["mask"].sum()) + 1  # the window's real values
        ends.add(real)
        padding = LENGTH - real
        np.testing.assert_array_equal(row["mask"], np.arange(LENGTH - 1) >= padding)
        np.testing.assert_array_equal(row["weights"], np.arange(1, LENGTH) >= padding)
        np.testing.assert_array_equal(row["inputs"][:padding, 0], 0.0)
        np.testing.assert_array_equal(
            row["targets"][padding - 1 :, 0], np.arange(1.0, real + 1)
        )
    assert ends == {3, 4}  # the windows ending after the 3rd and 4th value


def test_validation_values_never_reach_a_training_window():
    lengths = (30, 7, 3, 12)
    panel, series = _panel(lengths)
    windows = panel.windows(
        CONTEXT,
        HORIZON,
        history_length=HISTORY,
        batch_size=32,
        steps_per_epoch=5,
        subset="training",
        seed=1,
    )
    held = {v for s in series for v in s[-HORIZON:]}
    seen = set()
    for _ in range(3):
        for index in range(len(windows)):
            inputs, targets, _ = windows[index]
            for array in (inputs["inputs"], targets, inputs["history"]):
                seen.update(np.asarray(array).ravel().tolist())
        windows.on_epoch_end()
    seen.discard(0.0)  # padding
    assert not seen & held
    # every other value was read (the series of 3 values is too short for
    # a training window beside its validation targets)
    trained = {v for s in series if len(s) > 2 * HORIZON for v in s[:-HORIZON]}
    assert seen == trained


def test_windows_per_epoch_are_bounded_and_reproducible():
    rng = np.random.default_rng(0)
    series = [rng.normal(size=rng.integers(5, 40)) for _ in range(1000)]
    panel = Panel(series)
    train, validation = panel.windows(
        8, 3, batch_size=4, steps_per_epoch=3, subset="both", seed=7
    )
    assert len(train) == 3 and len(validation) == 3
    for dataset in (train, validation):
        for index in range(len(dataset)):
            inputs, targets, weights = dataset[index]
            assert inputs["inputs"].shape == (4, 10, 1)
    with pytest.raises(IndexError, match="index"):
        train[3]
    again = panel.windows(
        8, 3, batch_size=4, steps_per_epoch=3, subset="training", seed=7
    )
    first = [train[i][1] for i in range(3)]
    np.testing.assert_array_equal(first, [again[i][1] for i in range(3)])
    other = panel.windows(
        8, 3, batch_size=4, steps_per_epoch=3, subset="training", seed=8
    )
    assert not np.array_equal(first, [other[i][1] for i in range(3)])
    train.on_epoch_end()
    second = [train[i][1] for i in range(3)]
    assert not np.array_equal(first, second)
    again.on_epoch_end()
    np.testing.assert_array_equal(second, [again[i][1] for i in range(3)])
    # the validation windows stay the same from epoch to epoch
    before = validation[0][1]
    validation.on_epoch_end()
    np.testing.assert_array_equal(before, validation[0][1])


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        (dict(series=np.zeros((3, 10))), TypeError, "`series` must be a list"),
        (dict(series=[]), ValueError, "`series` must hold at least one"),
        (
            dict(series=[np.ones(20)] * 3 + [np.r_[np.ones(12), np.nan]]),
            ValueError,
            r"`series\[3\]` holds a NaN at step 12",
        ),
        (
            dict(series=[np.ones(5), np.r_[1.0, np.inf]]),
            ValueError,
            r"series\[1\]` holds an infinity at step 1",
        ),
        (dict(series=[np.ones((5, 2, 1))]), ValueError, r"`series\[0\]` must be"),
        (
            dict(series=[np.array(["a", "b"])]),
            TypeError,
            r"`series\[0\]` must hold numbers",
        ),
        (
            dict(series=[np.ones((5, 2)), np.ones((5, 1))]),
            ValueError,
            "same number of features",
        ),
        (
            dict(series=[np.ones(5), np.ones(6)], covariates=[np.ones(5), np.ones(5)]),
            ValueError,
            r"`covariates\[1\]` must cover every step of `series\[1\]`"
            r".*Received: covariates of 5 steps for a series of 6",
        ),
        (
            dict(series=[np.ones(5)], covariates=[np.ones(5)] * 2),
            ValueError,
            "`covariates` must hold one entry per series",
        ),
        (
            dict(series=[np.ones(5)], covariates=np.ones((1, 5))),
            TypeError,
            "`covariates` must be a list",
        ),
        (
            dict(series=[np.ones(5)] * 2, static_features=np.ones(2)),
            ValueError,
            "`static_features` must be",
        ),
        (
            dict(series=[np.ones(5)] * 2, static_features=np.ones((3, 1))),
            ValueError,
            "`static_features` must hold one entry",
        ),
        (
            dict(series=[np.ones(5)] * 2, static_features=[[1.0], [np.nan]]),
            ValueError,
            r"`static_features\[1\]`",
        ),
        (
            dict(series=[np.ones(5)] * 2, ids=["a", "a"]),
            ValueError,
            "`ids` must be distinct",
        ),
    ],
)
def test_panel_errors_name_the_argument(arguments, error, match):
    with pytest.raises(error, match=match):
        Panel(**arguments)


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        (dict(context_length=0, horizon=2), "`context_length` must be a positive"),
        (dict(context_length=4, horizon=2.0), "`horizon` must be a positive"),
        (dict(context_length=4, horizon=2, history_length=-1), "`history_length`"),
        (dict(context_length=4, horizon=2, batch_size=True), "`batch_size`"),
        (dict(context_length=4, horizon=2, steps_per_epoch=0), "`steps_per_epoch`"),
        (dict(context_length=4, horizon=2, subset="test"), "`subset` must be"),
        (dict(context_length=4, horizon=2, seed=-1), "`seed`"),
        (
            dict(context_length=4, horizon=5, subset="training"),
            "needs at least 11 values",
        ),
    ],
)
def test_windows_errors_name_the_argument(arguments, match):
    panel = Panel([np.ones(6), np.ones(3)])
    with pytest.raises(ValueError, match=match):
        panel.windows(**arguments)


def test_history_feeds_history_state():
    panel, _ = _panel()
    windows = panel.windows(
        CONTEXT, HORIZON, history_length=HISTORY, batch_size=8, seed=0
    )
    inputs, _, _ = windows[0]
    layer = SelfFeedingRNN(
        keras.layers.GRUCell(4), distribution="normal", scaling="mean", lags=(1, 4)
    )
    state = layer.history_state(
        inputs["history"],
        history_mask=inputs["history_mask"],
        context=inputs["inputs"][:, :CONTEXT],
        context_mask=inputs["mask"][:, :CONTEXT],
    )
    history, scale = (keras.ops.convert_to_numpy(s) for s in state[1:])
    # the scale: the mean absolute value of each context's real steps
    context = np.where(inputs["mask"][:, :CONTEXT], inputs["inputs"][:, :CONTEXT, 0], 0)
    expected = np.abs(context).sum(1) / inputs["mask"][:, :CONTEXT].sum(1)
    np.testing.assert_allclose(scale[:, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(
        history[..., 0], inputs["history"][..., 0] / expected[:, None], rtol=1e-6
    )


def test_a_model_trains_on_the_windows():
    rng = np.random.default_rng(0)
    series = [10 + rng.normal(size=n) for n in (40, 9, 25, 3)]
    covariates = [rng.normal(size=(len(s), 2)) for s in series]
    panel = Panel(series, covariates=covariates, static_features=np.eye(4)[:, :3])
    train, validation = panel.windows(
        6, 3, batch_size=8, steps_per_epoch=2, subset="both", seed=0
    )
    layer = SelfFeedingRNN(
        keras.layers.GRUCell(4),
        distribution="normal",
        scaling="mean",
        context_length=6,
    )
    inputs = train.model_inputs()
    known = inputs["covariates"]
    static = keras.ops.ones_like(known[..., :1]) * inputs["static_features"][:, None]
    outputs = layer(
        inputs["inputs"],
        covariates=keras.layers.Concatenate()([known, static]),
        mask=inputs["mask"],
    )
    model = keras.Model(inputs, outputs)
    model.compile("adam", loss=layer.distribution.loss)
    history = model.fit(train, validation_data=validation, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert np.isfinite(history.history["val_loss"][0])
    assert train.epoch >= 1  # fit drew new windows


@pytest.mark.skipif(
    importlib.util.find_spec("pandas") is None, reason="pandas is optional"
)
def test_a_long_dataframe_makes_the_same_panel():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "unique_id": ["b", "a", "b", "a", "a"],
            "ds": [1, 2, 0, 0, 1],
            "y": [5.0, 3.0, 4.0, 1.0, 2.0],
            "price": [0.5, 0.3, 0.4, 0.1, 0.2],
            "region": [2.0, 1.0, 2.0, 1.0, 1.0],
        }
    )
    panel = Panel.from_dataframe(
        frame, covariate_columns=["price"], static_columns=["region"]
    )
    assert panel.ids == ("a", "b")
    windows = panel.windows(1, 1, subset="validation", seed=0)
    inputs, targets, _ = windows[0]
    np.testing.assert_array_equal(np.asarray(targets)[:, 0, 0], [3.0, 5.0])
    np.testing.assert_allclose(np.asarray(inputs["covariates"])[:, 0, 0], [0.3, 0.5])
    np.testing.assert_array_equal(
        np.asarray(inputs["static_features"])[:, 0], [1.0, 2.0]
    )
    frame.loc[0, "region"] = 3.0
    with pytest.raises(ValueError, match="`static_columns` must hold one value"):
        Panel.from_dataframe(frame, static_columns=["region"])
    with pytest.raises(ValueError, match="`target_columns`"):
        Panel.from_dataframe(frame, target_columns=["sales"])
    with pytest.raises(TypeError, match="`frame`"):
        Panel.from_dataframe({"y": [1.0]})
