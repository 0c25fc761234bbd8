"""Keras callbacks for training on own outputs."""

import keras

from selffeed_keras import _checks, _keras_private, schedules
from selffeed_keras.layer import SelfFeedingRNN

__all__ = ["ScheduledSampling"]


class ScheduledSampling(keras.callbacks.Callback):
    """Sets `sampling_probability` of every `SelfFeedingRNN` from a schedule.

    During `model.fit`, sets the probability of feeding back the model's own
    outputs to `schedule(i)`, with `i` the epoch (from 0) or the training
    step (the optimizer's `iterations`, counted across epochs and saved with
    the model, so that a resumed `fit` continues the schedule), and logs it
    as `sampling_probability` so that it appears in the `History`. The value
    lives in a non-trainable variable: changing it never retraces the
    training step. A layer created
    with `sampling_probability=0.0` trains teacher-forced on the recurrent
    layer's fast path; this callback switches it to the feedback path at the
    start of training, tracing the training step once more.

    Args:
        schedule: a `selffeed_keras.schedules.Schedule`, or a float in [0, 1]
            for a constant.
        per: `"epoch"` (the default) or `"batch"`: what `i` counts. With
            `"batch"`, `i` is `model.optimizer.iterations` when each batch
            (each execution, with `steps_per_execution > 1`) begins.

    Examples:
        >>> layer = selffeed_keras.SelfFeedingRNN(
        ...     keras.layers.GRUCell(4), head=keras.layers.Dense(1)
        ... )
        >>> model = keras.Sequential([keras.Input((None, 1)), layer])
        >>> model.compile("adam", "mse")
        >>> x = np.zeros((4, 10, 1), "float32")
        >>> callback = selffeed_keras.callbacks.ScheduledSampling(
        ...     selffeed_keras.schedules.Linear(0.0, 1.0, steps=2)
        ... )
        >>> history = model.fit(x, x, epochs=3, callbacks=[callback], verbose=0)
        >>> history.history["sampling_probability"]
        [0.0, 0.5, 1.0]
    """

    def __init__(self, schedule, per="epoch"):
        super().__init__()
        self.schedule = schedules.get(
            _checks.probability_or_schedule(schedule, "schedule", schedules.Schedule)
        )
        if per not in ("epoch", "batch"):
            raise ValueError(
                f"`per` must be 'epoch' or 'batch'. Received: per={per!r}."
            )
        self.per = per
        self._layers = []

    def on_train_begin(self, logs=None):
        """Finds the layers to drive, and traces training on own outputs."""
        self._layers = [
            layer
            for layer in _keras_private.flatten_layers(self.model)
            if isinstance(layer, SelfFeedingRNN)
        ]
        if not self._layers:
            raise ValueError(
                "ScheduledSampling needs a model that contains a SelfFeedingRNN "
                f"layer. Received: a model {self.model.name!r} with none."
            )
        retrace = False
        for layer in self._layers:
            if isinstance(layer.sampling_probability, schedules.Schedule):
                raise ValueError(
                    f"Layer {layer.name!r} has its own schedule "
                    f"(sampling_probability={layer.sampling_probability!r}); use "
                    "either that or this callback, not both."
                )
            retrace |= layer._switch.enable()
        self._set(self._training_steps() if self.per == "batch" else 0)
        if retrace:
            self.model.make_train_function(force=True)

    def on_epoch_begin(self, epoch, logs=None):
        """Sets the value for this epoch, when `per="epoch"`."""
        if self.per == "epoch":
            self._set(epoch)

    def on_train_batch_begin(self, batch, logs=None):
        """Sets the value for this batch, when `per="batch"`."""
        if self.per == "batch":
            self._set(self._training_steps())

    def _training_steps(self):
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def on_epoch_end(self, epoch, logs=None):
        """Logs the value in use, so that it appears in `History`."""
        if logs is not None:
            logs["sampling_probability"] = self._value

    def _set(self, i):
        self._value = float(self.schedule(i))
        for layer in self._layers:
            layer.set_sampling_probability(self._value)
