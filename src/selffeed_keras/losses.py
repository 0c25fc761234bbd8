"""Losses: the negative log-likelihood that trains a distribution output.

`NegativeLogLikelihood(distribution)` is a registered `keras.losses.Loss`:
a model compiled with it saves to and loads from a `.keras` file, in safe
mode. `Distribution.loss` hands one out.
"""

import keras
from keras import ops

from selffeed_keras import distributions

__all__ = ["NegativeLogLikelihood"]


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
        resolved = distributions.get(distribution)
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
