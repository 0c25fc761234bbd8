"""Panels of series, and the training windows cut from them."""

import numbers

import numpy as np

from selffeed_keras.forecasting._windows import Windows

__all__ = ["Panel"]

_SUBSETS = (None, "training", "validation", "both")


class Panel:
    """Many series of different lengths, with their covariates and static features.

    A panel holds the training part of each series (cut the test part off
    before), the covariates known ahead for each step, and a vector of
    static features per series. `windows` cuts training windows from it for
    `model.fit`. Every array is checked here, before anything is built, and
    the panel keeps one concatenated float32 array of each kind, so that
    cutting a batch of windows is one gather whatever the panel's size.

    Args:
        series: a list (or tuple) of arrays, one per series: `(time,)` for a
            series of one feature, or `(time, features)`; lengths may
            differ, the number of features may not. Finite numbers only.
        covariates: None, or a list of arrays, one per series: `(time,
            num_covariates)` (or `(time,)` for one covariate), aligned with
            the series from its first step: `covariates[i][t]` belongs to
            `series[i][t]`. At least as long as the series; the steps past
            its end are the known future that a forecast reads, and windows
            do not read them. Defaults to None.
        static_features: None, or a `(num_series, num_static_features)`
            array (or a list of vectors): one vector per series, the same
            at every step. Defaults to None.
        ids: None, or a sequence of distinct identifiers, one per series.
            Defaults to None: `0, 1, ...`.

    Attributes:
        ids: the series' identifiers, a tuple.
        lengths: the series' lengths, an int64 array.
        num_features: the features per step of every series.
        num_covariates: the covariates per step, or None.
        num_static_features: the static features per series, or None.

    Raises:
        TypeError: for a `series`, `covariates` or `static_features` that is
            not a list of arrays of numbers (or an array, for
            `static_features`).
        ValueError: for an empty `series`; a series, covariate array or
            static vector of the wrong rank, with no steps, or holding a NaN
            or an infinity (the message names the series and the step); a
            number of features or covariates that differs between series;
            covariates shorter than their series; a `covariates`,
            `static_features` or `ids` whose number of entries is not the
            number of series; repeated `ids`.

    Examples:
        >>> panel = selffeed_keras.forecasting.Panel(
        ...     [np.arange(10.0), np.arange(4.0)], static_features=[[0.0], [1.0]]
        ... )
        >>> len(panel), panel.lengths.tolist(), panel.num_features
        (2, [10, 4], 1)
    """

    def __init__(self, series, covariates=None, static_features=None, ids=None):
        arrays = _arrays(series, "series", "np.arange(24.0)")
        if not arrays:
            raise ValueError(
                "`series` must hold at least one series. Received: series=[]."
            )
        arrays = [_matrix(a, "series", i) for i, a in enumerate(arrays)]
        self.num_features = _same_width(arrays, "series", "features")
        self.lengths = np.array([len(a) for a in arrays], dtype="int64")
        self._values, self._starts = _concatenate(arrays)

        self.num_covariates = None
        self._covariates = self._covariate_starts = None
        if covariates is not None:
            known = _arrays(covariates, "covariates", "np.zeros((24, 2))")
            _count(known, len(arrays), "covariates")
            known = [_matrix(a, "covariates", i) for i, a in enumerate(known)]
            self.num_covariates = _same_width(known, "covariates", "covariates")
            for i, (a, length) in enumerate(zip(known, self.lengths, strict=True)):
                if len(a) < length:
                    raise ValueError(
                        f"`covariates[{i}]` must cover every step of `series[{i}]` "
                        f"(at least {length} steps; the steps past the series "
                        "are its known future). Received: covariates of "
                        f"{len(a)} steps for a series of {length}."
                    )
            self._covariates, self._covariate_starts = _concatenate(known)

        self.num_static_features = None
        self._static = None
        if static_features is not None:
            self._static = _static(static_features, len(arrays))
            self.num_static_features = self._static.shape[1]

        self.ids = _ids(ids, len(arrays))

    def __len__(self):
        return len(self.lengths)

    def __repr__(self):
        return (
            f"Panel({len(self)} series of {self.lengths.min()} to "
            f"{self.lengths.max()} steps, num_features={self.num_features}, "
            f"num_covariates={self.num_covariates}, "
            f"num_static_features={self.num_static_features})"
        )

    @classmethod
    def from_dataframe(
        cls,
        frame,
        *,
        id_column="unique_id",
        time_column="ds",
        target_columns=("y",),
        covariate_columns=(),
        static_columns=(),
    ):
        """A panel from a long DataFrame: one row per series and step.

        Needs pandas (not a dependency of the package). Rows are sorted by
        series, then time; each series' static columns must hold one value.
        The column names default to the long format that NeuralForecast and
        statsforecast read (`unique_id`, `ds`, `y`).

        Args:
            frame: a `pandas.DataFrame`.
            id_column: str. The column naming each row's series.
            time_column: str. The column that orders a series' rows.
            target_columns: sequence of str. The series' features.
            covariate_columns: sequence of str. The covariates, known at
                every row. Defaults to none.
            static_columns: sequence of str. The static features, constant
                within a series. Defaults to none.

        Returns:
            A `Panel` whose `ids` are the series' identifiers, sorted.

        Raises:
            ImportError: without pandas.
            TypeError: for a `frame` that is not a DataFrame.
            ValueError: for a column that the frame lacks, static columns
                that vary within a series, and whatever `Panel` refuses.

        Examples:
            >>> import pandas as pd
            >>> frame = pd.DataFrame(
            ...     {"unique_id": ["a"] * 3 + ["b"] * 2, "ds": [0, 1, 2, 0, 1],
            ...      "y": [1.0, 2.0, 3.0, 4.0, 5.0]}
            ... )
            >>> panel = selffeed_keras.forecasting.Panel.from_dataframe(frame)
            >>> panel.ids, panel.lengths.tolist()
            (('a', 'b'), [3, 2])
        """
        import pandas as pd

        if not isinstance(frame, pd.DataFrame):
            raise TypeError(
                "`frame` must be a pandas DataFrame with one row per series and "
                f"step. Received: frame of type {type(frame).__name__}."
            )
        names = {
            "id_column": [id_column],
            "time_column": [time_column],
            "target_columns": list(target_columns),
            "covariate_columns": list(covariate_columns),
            "static_columns": list(static_columns),
        }
        for argument, columns in names.items():
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise ValueError(
                    f"`{argument}` names columns that the frame lacks: "
                    f"{missing}. Received: columns {list(frame.columns)}."
                )
        frame = frame.sort_values([id_column, time_column], kind="stable")
        groups = frame.groupby(id_column, sort=True)
        ids, series, covariates, static = [], [], [], []
        for key, group in groups:
            ids.append(key)
            series.append(group[names["target_columns"]].to_numpy("float64"))
            if covariate_columns:
                covariates.append(group[names["covariate_columns"]].to_numpy("float64"))
            if static_columns:
                values = group[names["static_columns"]].to_numpy("float64")
                if (values != values[:1]).any():
                    raise ValueError(
                        "`static_columns` must hold one value per series. "
                        f"Received: series {key!r} with several values in "
                        f"{names['static_columns']}."
                    )
                static.append(values[0])
        return cls(
            series,
            covariates=covariates if covariate_columns else None,
            static_features=np.stack(static) if static_columns else None,
            ids=ids,
        )

    def windows(
        self,
        context_length,
        horizon,
        *,
        history_length=0,
        batch_size=32,
        steps_per_epoch=50,
        subset=None,
        seed=None,
        padding_value=0.0,
        **kwargs,
    ):
        """Training windows for `model.fit`, sampled across the series.

        A window is `context_length + horizon` consecutive values of one
        series, cut as the layer reads them: `inputs` are its values but the
        last, the targets its values but the first, and `covariates` those
        of the steps being predicted (the window's covariates but the
        first). A window ends anywhere from the series' value `horizon + 1`
        on, so that its context holds at least one real value (as a
        forecast's seed must), and the part of a window before the series'
        start is padding, on the left: zeros, `False` in the `mask`, and a
        sample weight of 0. So series shorter than a window train too.

        Each epoch draws `steps_per_epoch` batches of `batch_size` windows,
        uniformly among every window of the panel (a series weighs its
        number of windows, as when every window is cut and concatenated),
        so that memory and epoch time depend on the batch, not on the
        panel's size. The draws depend on `seed`, the epoch and the batch's
        index only; `on_epoch_end` moves to the next epoch's draws.

        With `subset="training"` the last `horizon` values of each series
        are left out of every window: they are the validation targets of
        `subset="validation"`, whose windows end at each series' end and
        weigh those `horizon` targets only (one window per series). `"both"`
        returns the two; `None` trains on every value (to train once more
        after early stopping). A series needs `horizon + 1` values for a
        window, and `2 * horizon + 1` for a training window beside its
        validation targets; shorter ones are left out of that subset.

        Feed the batches to a functional model whose inputs are named as
        the batch's keys (`Windows.model_inputs()` makes them): `layer(
        inputs["inputs"], mask=inputs["mask"], covariates=...)`. Build the
        layer with `context_length=context_length` under `scaling="mean"`,
        so that a window's scale comes from its context, as `generate`
        takes it from its seed.

        Args:
            context_length: positive int. The steps a window holds before
                its horizon: the seed that a forecast reads.
            horizon: positive int. The steps a forecast predicts, and the
                validation targets kept at the end of each series.
            history_length: int, 0 or more. The steps before the context
                delivered as `history` (with `history_mask`), for
                `layer.history_state`: the past that lags read and the cell
                does not step over. Defaults to 0: none.
            batch_size: positive int. Windows per batch. Defaults to 32.
            steps_per_epoch: positive int. Batches per epoch, and the bound
                on validation batches (a fixed sample of the series when
                they are more than `steps_per_epoch * batch_size`).
                Defaults to 50.
            subset: None, `"training"`, `"validation"` or `"both"`. Defaults
                to None: every value, no validation.
            seed: None or an int, 0 or more: the draws of windows. Defaults
                to None, a seed drawn once here.
            padding_value: float. What padded steps of `inputs`, `targets`
                and `history` hold (masked and weighed 0, but a loss still
                computes them): 0 by default; a log-normal's loss needs a
                positive value there (1, say), or 0 times an infinite loss
                makes the batch's loss NaN.
            **kwargs: `keras.utils.PyDataset` arguments (`workers`,
                `use_multiprocessing`, `max_queue_size`).

        Returns:
            A `Windows` dataset, or `(training, validation)` for `"both"`.
            Its batches are `(inputs, targets, sample_weight)`: `inputs` a
            dict of `"inputs"` `(batch, time, features)`, `"mask"` boolean
            `(batch, time)`, and, as the panel holds them, `"covariates"`
            `(batch, time, num_covariates)`, `"static_features"` `(batch,
            num_static_features)`, `"history"` `(batch, history_length,
            features)` and `"history_mask"` `(batch, history_length)`;
            `targets` `(batch, time, features)`; `sample_weight` `(batch,
            time)`, with `time = context_length + horizon - 1`.

        Raises:
            ValueError: for a `context_length`, `horizon`, `batch_size` or
                `steps_per_epoch` that is not a positive int, a
                `history_length` or `seed` that is not an int of 0 or more,
                an unknown `subset`, or a subset without any window (every
                series too short).

        Examples:
            >>> panel = selffeed_keras.forecasting.Panel(
            ...     [np.arange(1.0, 30.0), np.arange(1.0, 8.0)]
            ... )
            >>> train, validation = panel.windows(
            ...     6, 3, batch_size=4, steps_per_epoch=2, subset="both", seed=0
            ... )
            >>> inputs, targets, weights = train[0]
            >>> tuple(inputs["inputs"].shape), tuple(targets.shape), len(train)
            ((4, 8, 1), (4, 8, 1), 2)
            >>> inputs, targets, weights = validation[0]
            >>> targets[1, :, 0].tolist()  # 7 values, padded on the left
            [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
            >>> inputs["mask"][1].tolist()
            [False, False, True, True, True, True, True, True]
            >>> weights[1].tolist()  # only the horizon counts
            [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
        """
        context_length = _positive(context_length, "context_length")
        horizon = _positive(horizon, "horizon")
        history_length = _natural(history_length, "history_length")
        batch_size = _positive(batch_size, "batch_size")
        steps_per_epoch = _positive(steps_per_epoch, "steps_per_epoch")
        if subset not in _SUBSETS:
            raise ValueError(
                "`subset` must be None (train on every value), 'training', "
                f"'validation' or 'both'. Received: subset={subset!r}."
            )
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        seed = _natural(seed, "seed")
        if not isinstance(padding_value, numbers.Real) or not np.isfinite(
            padding_value
        ):
            raise ValueError(
                "`padding_value` must be a finite number. Received: "
                f"padding_value={padding_value!r}."
            )
        options = dict(
            context_length=context_length,
            horizon=horizon,
            history_length=history_length,
            batch_size=batch_size,
            steps_per_epoch=steps_per_epoch,
            seed=seed,
            padding_value=float(padding_value),
            **kwargs,
        )
        if subset == "both":
            return (
                Windows(self, subset="training", **options),
                Windows(self, subset="validation", **options),
            )
        return Windows(self, subset=subset, **options)

    # ----------------------------------------------------------------- cutting

    def _series_of(self, i):
        """Series `i`'s values, `(time, features)` float32 (a view)."""
        start = self._starts[i]
        return self._values[start : start + self.lengths[i]]

    def _covariates_of(self, i):
        """Series `i`'s covariates, its known future included (a view)."""
        start = self._covariate_starts[i]
        end = (
            self._covariate_starts[i + 1]
            if i + 1 < len(self)
            else len(self._covariates)
        )
        return self._covariates[start:end]

    def _cut(self, rows, ends, length, history_length, weigh_from, padding_value=0.0):
        """The batch of windows of `length` steps ending before `ends`."""
        steps = np.arange(-history_length - length, 0)
        position = ends[:, None] + steps[None, :]  # (batch, history + length)
        real = position >= 0
        clipped = np.maximum(position, 0)
        values = self._values[self._starts[rows][:, None] + clipped]
        values[~real] = padding_value
        past, window = values[:, :history_length], values[:, history_length:]
        real_past, real = real[:, :history_length], real[:, history_length:]
        weights = real[:, 1:].astype("float32")
        weights[:, : weigh_from - 1] = 0.0
        inputs = {"inputs": window[:, :-1], "mask": real[:, :-1]}
        if self._covariates is not None:
            known = self._covariates[
                self._covariate_starts[rows][:, None] + clipped[:, history_length:]
            ]
            known[~real] = 0.0
            inputs["covariates"] = known[:, 1:]
        if self._static is not None:
            inputs["static_features"] = self._static[rows]
        if history_length:
            inputs["history"] = past
            inputs["history_mask"] = real_past
        return inputs, window[:, 1:], weights


def _arrays(value, argument, example):
    if not isinstance(value, list | tuple):
        raise TypeError(
            f"`{argument}` must be a list of arrays, one per series, such as "
            f"[{example}]. Received: {argument} of type {type(value).__name__}."
        )
    return list(value)


def _matrix(value, argument, index):
    name = f"{argument}[{index}]"
    array = np.asarray(value)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise TypeError(
            f"`{name}` must hold numbers. Received: an array of dtype {array.dtype}."
        )
    if np.iscomplexobj(array):
        raise TypeError(f"`{name}` must hold real numbers. Received: complex values.")
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(
            f"`{name}` must be `(time,)` or `(time, features)`. Received: shape "
            f"{array.shape}."
        )
    if len(array) == 0:
        raise ValueError(f"`{name}` must hold at least one step. Received: 0.")
    array = array.astype("float32")
    bad = ~np.isfinite(array)
    if bad.any():
        step, feature = np.argwhere(bad)[0]
        what = "a NaN" if np.isnan(array[step, feature]) else "an infinity"
        raise ValueError(
            f"`{name}` holds {what} at step {step} (feature {feature}): a panel "
            "holds finite values only; cut the series or fill the gap first."
        )
    return array


def _same_width(arrays, argument, what):
    width = arrays[0].shape[1]
    for i, a in enumerate(arrays):
        if a.shape[1] != width:
            raise ValueError(
                f"Every entry of `{argument}` must have the same number of {what}. "
                f"Received: {width} in {argument}[0] and {a.shape[1]} in "
                f"{argument}[{i}]."
            )
    return width


def _count(values, num_series, argument):
    if len(values) != num_series:
        raise ValueError(
            f"`{argument}` must hold one entry per series ({num_series}). "
            f"Received: {len(values)}."
        )


def _concatenate(arrays):
    starts = np.concatenate([[0], np.cumsum([len(a) for a in arrays])[:-1]])
    return np.concatenate(arrays, 0), starts.astype("int64")


def _static(value, num_series):
    if isinstance(value, list | tuple):
        _count(value, num_series, "static_features")
    array = np.asarray(value)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise TypeError(
            "`static_features` must hold numbers, one vector per series. "
            f"Received: an array of dtype {array.dtype}."
        )
    if array.ndim != 2:
        raise ValueError(
            "`static_features` must be `(num_series, num_static_features)`. "
            f"Received: shape {array.shape}."
        )
    _count(array, num_series, "static_features")
    bad = ~np.isfinite(array)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise ValueError(
            f"`static_features[{row}]` holds a NaN or an infinity at {column}: "
            "static features must be finite."
        )
    return array.astype("float32")


def _ids(ids, num_series):
    if ids is None:
        return tuple(range(num_series))
    ids = tuple(ids)
    _count(ids, num_series, "ids")
    if len(set(ids)) != len(ids):
        raise ValueError(f"`ids` must be distinct. Received: ids={ids!r}.")
    return ids


def _positive(value, argument):
    if not _is_int(value) or value < 1:
        raise ValueError(
            f"`{argument}` must be a positive integer. Received: {argument}={value!r}."
        )
    return int(value)


def _natural(value, argument):
    if not _is_int(value) or value < 0:
        raise ValueError(
            f"`{argument}` must be an integer, 0 or more. Received: "
            f"{argument}={value!r}."
        )
    return int(value)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
