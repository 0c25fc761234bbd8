"""`Windows`: a panel's training or validation windows, a `keras.utils.PyDataset`.

`Panel.windows` makes them; each batch is cut by the panel (`Panel._cut`),
so this module knows the sampling (which windows an epoch draws) and the
model's inputs, not the series.
"""

import keras
import numpy as np

__all__ = ["Windows"]


class Windows(keras.utils.PyDataset):
    """Training or validation windows of a `Panel`: a `keras.utils.PyDataset`.

    Made by `Panel.windows`, which documents the windows, the batches and
    the arguments. Pass it to `model.fit` as `x` or `validation_data`.

    Attributes:
        panel: the `Panel`.
        subset: None, `"training"` or `"validation"`.
        num_windows: how many distinct windows the subset holds.
        epoch: the epoch whose windows `__getitem__` returns, from 0.
    """

    def __init__(
        self,
        panel,
        *,
        context_length,
        horizon,
        history_length,
        batch_size,
        steps_per_epoch,
        subset,
        seed,
        padding_value=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.padding_value = padding_value
        self.panel = panel
        self.subset = subset
        self.context_length = context_length
        self.horizon = horizon
        self.history_length = history_length
        self.batch_size = batch_size
        self.steps_per_epoch = steps_per_epoch
        self.seed = seed
        self.epoch = 0
        self._length = context_length + horizon
        lengths = panel.lengths
        if subset == "validation":
            # One window per series, ending at its end; a fixed sample of
            # the series when they are more than the epoch's windows.
            rows = np.flatnonzero(lengths > horizon)
            bound = steps_per_epoch * batch_size
            if len(rows) > bound:
                draw = np.random.default_rng([seed, 1]).choice(
                    len(rows), bound, replace=False
                )
                rows = rows[np.sort(draw)]
            self._rows, self._ends = rows, lengths[rows]
            self.num_windows = len(rows)
        else:
            # A window ends at `end` (exclusive) from `horizon + 1` to the
            # end of the training part: its context holds a real value.
            last = lengths - (horizon if subset == "training" else 0)
            self._counts = np.maximum(last - horizon, 0)
            self._cumulative = np.cumsum(self._counts)
            self.num_windows = int(self._cumulative[-1])
        if self.num_windows == 0:
            need = {None: horizon + 1, "validation": horizon + 1}
            need["training"] = 2 * horizon + 1
            raise ValueError(
                f"No series of the panel holds a window for subset={subset!r}: "
                f"a series needs at least {need[subset]} values with "
                f"horizon={horizon}. "
                f"Received: series of at most {int(lengths.max())} values."
            )

    def __len__(self):
        if self.subset == "validation":
            return -(-self.num_windows // self.batch_size)
        return self.steps_per_epoch

    def __getitem__(self, index):
        """The batch `index` of the current epoch.

        Args:
            index: int in `[0, len(self))`.

        Returns:
            `(inputs, targets, sample_weight)`, as `Panel.windows` says.

        Raises:
            IndexError: for an index outside `[0, len(self))`.
        """
        if not 0 <= index < len(self):
            raise IndexError(
                f"`index` must be in [0, {len(self)}). Received: index={index!r}."
            )
        if self.subset == "validation":
            part = slice(index * self.batch_size, (index + 1) * self.batch_size)
            return self.panel._cut(
                self._rows[part],
                self._ends[part],
                self._length,
                self.history_length,
                weigh_from=self.context_length,
                padding_value=self.padding_value,
            )
        rng = np.random.default_rng([self.seed, 0, self.epoch, index])
        draws = rng.integers(0, self.num_windows, self.batch_size)
        # The draw-th window of the panel: of the series whose windows
        # cover it, the one that ends at `end` (exclusive), from
        # `horizon + 1` on.
        rows = np.searchsorted(self._cumulative, draws, side="right")
        first = self._cumulative[rows] - self._counts[rows]
        return self.panel._cut(
            rows,
            draws - first + self.horizon + 1,
            self._length,
            self.history_length,
            weigh_from=1,
            padding_value=self.padding_value,
        )

    def on_epoch_end(self):
        """Moves to the next epoch's windows (training windows only)."""
        self.epoch += 1

    def model_inputs(self):
        """The `keras.Input`s of a functional model that reads these batches.

        Returns:
            A dict of `keras.Input`, named and shaped as the batch's keys,
            with an unknown time axis.

        Examples:
            >>> panel = selffeed_keras.forecasting.Panel([np.arange(20.0)])
            >>> windows = panel.windows(6, 3, seed=0)
            >>> sorted(windows.model_inputs())
            ['inputs', 'mask']
        """
        panel = self.panel
        inputs = {
            "inputs": keras.Input((None, panel.num_features), name="inputs"),
            "mask": keras.Input((None,), dtype="bool", name="mask"),
        }
        if panel.num_covariates is not None:
            inputs["covariates"] = keras.Input(
                (None, panel.num_covariates), name="covariates"
            )
        if panel.num_static_features is not None:
            inputs["static_features"] = keras.Input(
                (panel.num_static_features,), name="static_features"
            )
        if self.history_length:
            inputs["history"] = keras.Input(
                (self.history_length, panel.num_features), name="history"
            )
            inputs["history_mask"] = keras.Input(
                (self.history_length,), dtype="bool", name="history_mask"
            )
        return inputs


# ------------------------------------------------------------------- checks
