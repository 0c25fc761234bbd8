"""`Forecaster`: the recipe, an ensemble of `SelfFeedingRNN`s, calibrated.

A `keras.Model` that holds its members (one `SelfFeedingRNN` each) and its
calibration, so that one `.keras` file restores both. `train` fits every
member on a panel's windows with early stopping on each series' last
`horizon` values; `calibrate` sets the per-step widening of the paths from
a backtest; `forecast` and `backtest` draw paths per series (`_paths`).
"""

import keras
import numpy as np

from selffeed_keras.forecasting import _calibration, _panel, _paths
from selffeed_keras.forecasting._recipe import recipe
from selffeed_keras.forecasting._results import Backtest, Forecast
from selffeed_keras.layer import SelfFeedingRNN

__all__ = ["Forecaster", "backtest"]

_DISTRIBUTIONS = ("normal", "log_normal", "student_t")


@keras.saving.register_keras_serializable(package="selffeed_keras")
class Forecaster(keras.Model):
    """An ensemble of `SelfFeedingRNN`s that forecasts every series of a panel.

    The recipe (`recipe(horizon, season_length)` gives its defaults): each
    member is `SelfFeedingRNN(LSTMCell(units), distribution=...,
    scaling="mean", context_length=context_length, lags=lags)`, reading the
    panel's covariates and static features (repeated at every step) as
    covariates; a log-normal for a panel whose values are all positive, a
    Student-t otherwise. A window's scale comes from its context, as a
    forecast's comes from its seed. Members differ by their initial weights
    and the windows they draw; a forecast's paths come from every member in
    turn (an equal share each).

    Calibration: `calibrate` measures, per horizon step, how much the
    paths' 80% interval must widen (or narrow) around the members' centre
    path (the path drawn with the spread scaled to nothing: the median
    path) to hold 80% of a backtest's truth, the conformal quantile of the
    needed factors; `forecast` and `backtest` then move each path away from
    its member's centre by that factor, on the log scale for a log-normal.
    A path depends on its own draws and its member's centre only, not on
    `num_samples`. Past the calibrated horizon the last step's factor
    holds. The factors are saved with the model.

    Args:
        horizon: positive int: the steps a forecast predicts.
        season_length: positive int: the steps of one season. Defaults to 1.
        context_length: None or positive int: the values a forecast reads
            (its seed) and a training window's context. None takes
            `recipe`'s.
        lags: None or a tuple of lags (see `SelfFeedingRNN`). None takes
            `recipe`'s.
        units: None or positive int: each member's `LSTMCell` units.
        num_members: None or positive int: the members of the ensemble.
        distribution: None (chosen by `train`: `"log_normal"` for a
            positive panel, `"student_t"` otherwise) or a distribution's
            name that defines `scale_noise`.
        learning_rate: None or positive float: `Adam`'s.
        patience: None or positive int: early stopping's patience, in
            epochs.
        max_epochs: None or positive int: the most epochs a member trains.
        refit: None or bool: after early stopping (and the calibration),
            train each member again from new weights on every value, the
            held-back ones included, for the epochs early stopping kept;
            the calibration measured before is kept.
        num_features: None or positive int: the features per step; set by
            `train` from the panel.
        num_covariates: None or int, 0 or more: the covariates per step
            (static features included); set by `train`.
        calibration: None or a list of positive floats, one factor per
            horizon step; set by `calibrate`.
        random_seed: int, 0 or more: member `m` trains from
            `random_seed + m`. Defaults to 0.
        **kwargs: `keras.Model` arguments (`name`).

    Examples:
        >>> panel = selffeed_keras.forecasting.Panel(
        ...     [np.linspace(10.0, 20.0, 30), np.linspace(5.0, 9.0, 20)]
        ... )
        >>> forecaster = selffeed_keras.forecasting.Forecaster(
        ...     3, units=4, num_members=1, max_epochs=1
        ... )
        >>> forecaster.train(panel, steps_per_epoch=2)
        >>> forecast = forecaster.forecast(panel, num_samples=8, random_seed=0)
        >>> forecast.paths.shape  # series, paths, steps, features
        (2, 8, 3, 1)
    """

    def __init__(
        self,
        horizon,
        *,
        season_length=1,
        context_length=None,
        lags=None,
        units=None,
        num_members=None,
        distribution=None,
        learning_rate=None,
        patience=None,
        max_epochs=None,
        refit=None,
        num_features=None,
        num_covariates=None,
        calibration=None,
        random_seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.horizon = _panel._positive(horizon, "horizon")
        self.season_length = _panel._positive(season_length, "season_length")
        defaults = recipe(self.horizon, self.season_length)
        given = {
            "context_length": context_length,
            "lags": None if lags is None else tuple(lags),
            "units": units,
            "num_members": num_members,
            "learning_rate": learning_rate,
            "patience": patience,
            "max_epochs": max_epochs,
            "refit": refit,
        }
        for name, value in given.items():
            setattr(self, name, defaults[name] if value is None else value)
        for name in ("context_length", "units", "num_members", "patience"):
            _panel._positive(getattr(self, name), name)
        _panel._positive(self.max_epochs, "max_epochs")
        if not self.learning_rate > 0:
            raise ValueError(
                "`learning_rate` must be above 0. Received: "
                f"learning_rate={learning_rate!r}."
            )
        if distribution not in (None, *_DISTRIBUTIONS):
            raise ValueError(
                "`distribution` must be None (chosen from the panel) or a "
                f"distribution that defines `scale_noise`: one of {_DISTRIBUTIONS} "
                f"(its paths are calibrated by widening). Received: "
                f"distribution={distribution!r}."
            )
        self.distribution = distribution
        self.num_features = num_features
        self.num_covariates = num_covariates
        self.calibration = calibration
        self.random_seed = _panel._natural(random_seed, "random_seed")
        self.members = []
        if distribution is not None and num_features is not None:
            self._make_members()

    @property
    def calibration(self):
        """None, or the factors per horizon step, a tuple of floats.

        Set by `calibrate`, or by you (a list of positive finite numbers):
        checked on assignment.
        """
        return self._calibration

    @calibration.setter
    def calibration(self, values):
        self._calibration = (
            None if values is None else tuple(_calibration.check(values))
        )

    # ---------------------------------------------------------------- members

    def _make_members(self):
        """New members, built: member `m`'s weights drawn from `random_seed + m`."""
        covariates = (None, None, self.num_covariates) if self.num_covariates else None
        members = []
        for m in range(self.num_members):
            keras.utils.set_random_seed(self.random_seed + m)
            member = SelfFeedingRNN(
                keras.layers.LSTMCell(self.units),
                distribution=self.distribution,
                scaling="mean",
                context_length=self.context_length,
                lags=self.lags,
                random_seed=self.random_seed + m,
                name=f"member_{m}",
            )
            member.build((None, None, self.num_features), covariates)
            members.append(member)
        self.members = members
        self.built = True

    def build(self, input_shape=None):
        """Builds the members (they are built as soon as they exist)."""
        self.built = True

    def call(self, inputs, training=None):
        """The members' teacher-forced parameters for a batch of windows.

        Args:
            inputs: a dict as `Panel.windows` yields (`"inputs"`, `"mask"`,
                and `"covariates"`, `"static_features"` as the panel has).
            training: bool or None, as for every Keras call.

        Returns:
            A list: each member's distribution parameters, `(batch, time,
            features, num_parameters)`.
        """
        covariates = _known(inputs)
        return [
            member(
                inputs["inputs"],
                mask=inputs["mask"],
                covariates=covariates,
                training=training,
            )
            for member in self.members
        ]

    # --------------------------------------------------------------- training

    def train(
        self,
        panel,
        *,
        batch_size=32,
        steps_per_epoch=50,
        verbose=0,
    ):
        """Trains every member on the panel's windows, early-stopped.

        The last `horizon` values of each series are held back from the
        training windows: the validation loss on them chooses each
        member's epoch (`EarlyStopping(patience, restore_best_weights=
        True)`, at most `max_epochs` epochs of `steps_per_epoch` batches).
        With 50 series or more, the forecasts of those held-back values
        then calibrate the paths (`calibrate`); with fewer, there are too
        few to measure a factor per step: calibrate on a backtest of your
        own (see the many series how-to).

        Args:
            panel: a `Panel` (the training part of each series).
            batch_size: positive int: windows per batch. Defaults to 32.
            steps_per_epoch: positive int: batches per epoch. Defaults to
                50.
            verbose: Keras' `verbose` for `fit`. Defaults to 0.

        Returns:
            None. `histories` holds each member's `keras.callbacks.History`.

        Raises:
            TypeError: for a `panel` that is not a `Panel`.
            ValueError: for a panel whose features or covariates differ
                from those the forecaster was built for, and whatever
                `Panel.windows` refuses (a panel whose series are all too
                short for a training window beside their validation part).
        """
        self._check_panel(panel, future=False)
        if self.distribution is None:
            positive = bool((panel._values > 0).all())
            self.distribution = "log_normal" if positive else "student_t"
        if self.num_features is None:
            self.num_features = panel.num_features
            self.num_covariates = _num_known(panel)
        if not self.members:
            self._make_members()
        options = dict(
            batch_size=batch_size,
            steps_per_epoch=steps_per_epoch,
            padding_value=1.0 if self.distribution == "log_normal" else 0.0,
        )
        self.histories = []
        for m, member in enumerate(self.members):
            training, validation = panel.windows(
                self.context_length,
                self.horizon,
                subset="both",
                seed=self.random_seed + m,
                **options,
            )
            stop = keras.callbacks.EarlyStopping(
                patience=self.patience, restore_best_weights=True
            )
            history = self._fit(
                member, m, training, validation, self.max_epochs, [stop], verbose
            )
            self.histories.append(history)
        if len(panel) >= 50:
            self.calibrate(backtest(self, panel, calibrated=False))
        if not self.refit:
            return
        # Every value, for the epochs that early stopping kept.
        epochs = [int(np.argmin(h.history["val_loss"])) + 1 for h in self.histories]
        kept = self.members
        self._make_members()  # fresh weights, trained from the start
        for m, member in enumerate(self.members):
            windows = panel.windows(
                self.context_length, self.horizon, seed=self.random_seed + m, **options
            )
            self._fit(member, m, windows, None, epochs[m], [], verbose)
            kept[m].set_weights(member.get_weights())
        self.members = kept

    def _fit(self, member, m, training, validation, epochs, callbacks, verbose):
        keras.utils.set_random_seed(self.random_seed + m)
        inputs = training.model_inputs()
        outputs = member(
            inputs["inputs"], mask=inputs["mask"], covariates=_known(inputs)
        )
        model = keras.Model(inputs, outputs)
        model.compile(
            keras.optimizers.Adam(self.learning_rate), loss=member.distribution.loss
        )
        return model.fit(
            training,
            validation_data=validation,
            epochs=epochs,
            callbacks=callbacks,
            verbose=verbose,
        )

    def calibrate(self, backtest, level=0.8):
        """Sets the per-step factors that widen the paths, from a backtest.

        For each horizon step and backtest case, the factor that would put
        the truth on the edge of the paths' central `level` interval
        (moved away from the member's centre path by that factor; on the
        log scale for a log-normal), then the conformal quantile of these
        factors over the cases: the `ceil((n + 1) level)`-th smallest of
        `n`. So, on data like the backtest's, the widened interval holds
        the truth with probability `level` at each step.

        Args:
            backtest: a `Backtest` of this forecaster drawn with
                `calibrated=False`, on values that no member trained on.
            level: float in (0, 1): the interval calibrated. Defaults to
                0.8.

        Returns:
            The factors, a list of floats (also in `calibration`).

        Raises:
            TypeError: for a `backtest` that is not a `Backtest`.
            ValueError: for a calibrated backtest, or a `level` outside (0,
                1).
        """
        if not isinstance(backtest, Backtest):
            raise TypeError(
                "`backtest` must be a `Backtest` (from `forecasting.backtest`). "
                f"Received: {type(backtest).__name__}."
            )
        if backtest.calibrated:
            raise ValueError(
                "`backtest` must be drawn with `calibrated=False`: the factors "
                "are measured on the paths as the members draw them."
            )
        if not 0.0 < level < 1.0:
            raise ValueError(f"`level` must be in (0, 1). Received: level={level!r}.")
        self.calibration = _calibration.factors(
            backtest.paths,
            backtest.centre,
            backtest.truth,
            self.distribution == "log_normal",
            level,
        )
        return list(self.calibration)

    # -------------------------------------------------------------- forecasts

    def forecast(self, panel, *, num_samples=100, random_seed=0, calibrated=True):
        """Sample paths from the end of every series of a panel.

        Each series reads its last `context_length` values (fewer for a
        shorter series: its seed is padded and masked), with the panel's
        covariates for those steps and the `horizon` after them (the known
        future, which the panel's covariates must cover). Its paths come
        from a random stream of its own, keyed by `random_seed`, the
        series' identifier and the member: they do not change when other
        series join the panel.

        Args:
            panel: a `Panel`: each series up to the forecast origin.
            num_samples: positive int: paths per series. Defaults to 100.
            random_seed: int in [0, `2**32 - 1`]. Defaults to 0.
            calibrated: bool: widen the paths by `calibration` (when set).
                Defaults to True.

        Returns:
            A `Forecast`.

        Raises:
            TypeError: for a `panel` that is not a `Panel`.
            ValueError: for an untrained forecaster, a panel whose features
                or covariates differ from the forecaster's, covariates that
                do not cover the horizon, or a `num_samples` or
                `random_seed` out of range.
        """
        self._check_panel(panel, future=True)
        cases = [(i, int(n)) for i, n in enumerate(panel.lengths)]
        paths, centre = _paths.draw(
            self, panel, cases, num_samples, random_seed, calibrated
        )
        return Forecast(panel.ids, paths, centre)

    def _check_panel(self, panel, future):
        if not isinstance(panel, _panel.Panel):
            raise TypeError(
                "`panel` must be a `selffeed_keras.forecasting.Panel`. "
                f"Received: {type(panel).__name__}."
            )
        if future and not self.members:
            raise ValueError(
                "The forecaster has no trained members: call `train(panel)` "
                "first (or load a trained one)."
            )
        if self.num_features is not None:
            expected = (self.num_features, self.num_covariates)
            received = (panel.num_features, _num_known(panel))
            if expected != received:
                raise ValueError(
                    "`panel` must have the features and covariates (static "
                    f"features included) the forecaster was trained on: {expected}. "
                    f"Received: {received}."
                )
        if future and panel._covariates is not None:
            for i, n in enumerate(panel.lengths):
                known = panel._covariates_of(i)
                if len(known) < n + self.horizon:
                    raise ValueError(
                        f"The covariates of series {panel.ids[i]!r} must cover "
                        f"the {self.horizon} steps forecast after its "
                        f"{n} values (at least {n + self.horizon} steps). "
                        f"Received: {len(known)}."
                    )

    def _widen(self, paths, centre):
        return _calibration.widen(
            paths, centre, self.calibration, self.distribution == "log_normal"
        )

    # ----------------------------------------------------------------- saving

    def get_config(self):
        """The constructor's arguments, calibration and sizes included."""
        config = super().get_config()
        config.update(
            horizon=self.horizon,
            season_length=self.season_length,
            context_length=self.context_length,
            lags=list(self.lags),
            units=self.units,
            num_members=self.num_members,
            distribution=self.distribution,
            learning_rate=self.learning_rate,
            patience=self.patience,
            max_epochs=self.max_epochs,
            refit=self.refit,
            num_features=self.num_features,
            num_covariates=self.num_covariates,
            calibration=None if self.calibration is None else list(self.calibration),
            random_seed=self.random_seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        """A forecaster from `get_config`'s output, its members built."""
        return cls(**config)


def backtest(
    forecaster,
    panel,
    *,
    num_origins=1,
    stride=None,
    num_samples=100,
    random_seed=0,
    calibrated=True,
):
    """Forecasts from rolling origins over a panel, with the truth after each.

    Series `i` is forecast from the origins `length - horizon - k * stride`
    for `k` in `range(num_origins)`, those of at least one value: the last
    `horizon` values are the truth of the last origin. Each origin reads
    the values before it as `Forecaster.forecast` reads a series' end.

    Args:
        forecaster: a trained `Forecaster`.
        panel: a `Panel`.
        num_origins: positive int: origins per series. Defaults to 1.
        stride: None or positive int: the steps between origins. Defaults
            to None: `horizon`.
        num_samples: positive int: paths per case. Defaults to 100.
        random_seed: int in [0, `2**32 - 1`]. Defaults to 0.
        calibrated: bool: widen the paths by the forecaster's calibration.
            Defaults to True; `Forecaster.calibrate` needs False.

    Returns:
        A `Backtest`.

    Raises:
        TypeError: for a `forecaster` that is not a `Forecaster` or a
            `panel` that is not a `Panel`.
        ValueError: for no origin at all (every series of `horizon` values
            or fewer), and as `Forecaster.forecast`.
    """
    if not isinstance(forecaster, Forecaster):
        raise TypeError(
            "`forecaster` must be a `selffeed_keras.forecasting.Forecaster`. "
            f"Received: {type(forecaster).__name__}."
        )
    forecaster._check_panel(panel, future=False)
    if not forecaster.members:
        forecaster._check_panel(panel, future=True)  # raises: no members
    horizon = forecaster.horizon
    num_origins = _panel._positive(num_origins, "num_origins")
    stride = horizon if stride is None else _panel._positive(stride, "stride")
    cases = [
        (i, int(n) - horizon - k * stride)
        for i, n in enumerate(panel.lengths)
        for k in reversed(range(num_origins))
        if int(n) - horizon - k * stride >= 1
    ]
    if not cases:
        raise ValueError(
            f"No series of the panel has an origin: a backtest needs series of "
            f"more than horizon={horizon} values. Received: at most "
            f"{int(panel.lengths.max())}."
        )
    paths, centre = _paths.draw(
        forecaster, panel, cases, num_samples, random_seed, calibrated
    )
    truth = np.stack([panel._series_of(i)[o : o + horizon] for i, o in cases])
    series = [i for i, _ in cases]
    return Backtest(
        [panel.ids[i] for i in series],
        series,
        [o for _, o in cases],
        paths,
        centre,
        truth,
        calibrated and forecaster.calibration is not None,
        forecaster.season_length,
    )


# ------------------------------------------------------------------ helpers


def _known(inputs):
    """The covariates a member reads: the panel's, then the static features."""
    columns = []
    if "covariates" in inputs:
        columns.append(inputs["covariates"])
    if "static_features" in inputs:
        static = inputs["static_features"]
        steps = keras.ops.zeros_like(inputs["inputs"][..., :1])
        columns.append(steps + keras.ops.expand_dims(static, 1))
    if not columns:
        return None
    return columns[0] if len(columns) == 1 else keras.ops.concatenate(columns, -1)


def _num_known(panel):
    count = (panel.num_covariates or 0) + (panel.num_static_features or 0)
    return count or None
