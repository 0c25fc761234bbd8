"""Schedules for the probability of feeding a model its own outputs in training.

Scheduled sampling (Bengio et al., 2015) starts teacher-forced and feeds the
model more of its own predictions as training goes on. Each schedule here is
written as the probability `p(i)` of feeding back the model's own output at
training step or epoch `i`, rising from 0. A schedule is a small serializable
callable; it works on Python numbers and on tensors, so that
`SelfFeedingRNN(sampling_probability=schedule)` evaluates it inside the
compiled training step, and `callbacks.ScheduledSampling` per epoch or batch.
"""

import math

import keras
from keras import ops

from selffeed_keras import _checks
from selffeed_keras._config import Configurable

__all__ = ["Constant", "Exponential", "InverseSigmoid", "Linear", "Schedule", "get"]

_register = keras.saving.register_keras_serializable(package="selffeed_keras")


@_register
class Schedule(Configurable):
    """Base class: a callable from a step or epoch index `i` to a probability.

    Subclasses implement `__call__(i)` with `keras.ops` (so that it runs on
    tensors inside a compiled step as well as on Python numbers) and
    `get_config()`.

    Examples:
        >>> class Half(selffeed_keras.schedules.Schedule):
        ...     def __call__(self, i):
        ...         return 0.5 + 0.0 * i
        ...     def get_config(self):
        ...         return {}
        >>> float(Half()(3))
        0.5
    """

    def __call__(self, i):
        """Returns the probability at step or epoch `i`."""
        raise NotImplementedError(f"{type(self).__name__} must implement __call__.")


def _as_float(i):
    return ops.cast(i, "float32")


@_register
class Constant(Schedule):
    """The same probability at every step.

    Args:
        value: float in [0, 1]. 0 is teacher forcing, 1 free running.

    Examples:
        >>> float(selffeed_keras.schedules.Constant(0.25)(100))
        0.25
    """

    def __init__(self, value):
        self.value = _checks.probability(value, "value")

    def __call__(self, i):
        """Returns `value`."""
        return ops.convert_to_tensor(self.value, "float32") + 0.0 * _as_float(i)

    def get_config(self):
        """Returns the constructor arguments, for `keras.saving`."""
        return {"value": self.value}


@_register
class Linear(Schedule):
    """From `start` to `end` in a straight line over `steps`, then flat.

    Args:
        start: float in [0, 1]. The probability at `i = 0`.
        end: float in [0, 1]. The probability from `i = steps` on.
        steps: int, at least 1. How many steps or epochs the ramp takes.

    Examples:
        >>> schedule = selffeed_keras.schedules.Linear(0.0, 0.5, steps=10)
        >>> [round(float(schedule(i)), 2) for i in (0, 5, 10, 20)]
        [0.0, 0.25, 0.5, 0.5]
    """

    def __init__(self, start, end, steps):
        self.start = _checks.probability(start, "start")
        self.end = _checks.probability(end, "end")
        self.steps = _checks.positive_int(steps, "steps", ": the length of the ramp")

    def __call__(self, i):
        """Returns `start + (end - start) * min(i / steps, 1)`."""
        fraction = ops.minimum(_as_float(i) / self.steps, 1.0)
        return self.start + (self.end - self.start) * fraction

    def get_config(self):
        """Returns the constructor arguments, for `keras.saving`."""
        return {"start": self.start, "end": self.end, "steps": self.steps}


@_register
class Exponential(Schedule):
    """`p(i) = 1 - k**i`: Bengio et al.'s exponential decay of teacher forcing.

    Args:
        k: float in (0, 1). Closer to 1 rises more slowly.

    Examples:
        >>> schedule = selffeed_keras.schedules.Exponential(0.9)
        >>> [round(float(schedule(i)), 3) for i in (0, 1, 10)]
        [0.0, 0.1, 0.651]
    """

    def __init__(self, k):
        self.k = _checks.number(
            k,
            "k",
            "a number in (0, 1) for p(i) = 1 - k**i to rise from 0 towards 1",
            valid=lambda k: 0 < k < 1,
        )

    def __call__(self, i):
        """Returns `1 - k**i`."""
        return 1.0 - ops.power(self.k, _as_float(i))

    def get_config(self):
        """Returns the constructor arguments, for `keras.saving`."""
        return {"k": self.k}


@_register
class InverseSigmoid(Schedule):
    """`p(i) = 1 - k / (k + exp(i / k))`: Bengio et al.'s inverse sigmoid decay.

    Args:
        k: float, at least 1. Larger `k` stays near teacher forcing longer;
            `p` crosses 0.5 near `i = k * ln(k)`.

    Examples:
        >>> schedule = selffeed_keras.schedules.InverseSigmoid(10.0)
        >>> [round(float(schedule(i)), 4) for i in (0, 23, 100)]
        [0.0909, 0.4994, 0.9995]
    """

    def __init__(self, k):
        self.k = _checks.number(
            k,
            "k",
            "a number of at least 1 for p(i) = 1 - k / (k + exp(i / k)) to rise "
            "towards 1",
            valid=lambda k: math.isfinite(k) and k >= 1,
        )

    def __call__(self, i):
        """Returns `1 - k / (k + exp(i / k))`."""
        return 1.0 - self.k / (self.k + ops.exp(_as_float(i) / self.k))

    def get_config(self):
        """Returns the constructor arguments, for `keras.saving`."""
        return {"k": self.k}


def get(identifier):
    """Resolves a float, a schedule or a serialized schedule to a schedule.

    Args:
        identifier: a float in [0, 1] (a `Constant`), a `Schedule`, or a dict
            from `keras.saving.serialize_keras_object`.

    Returns:
        A `Schedule`.

    Examples:
        >>> selffeed_keras.schedules.get(0.3)
        Constant(value=0.3)
    """
    if isinstance(identifier, Schedule):
        return identifier
    if isinstance(identifier, dict):
        schedule = keras.saving.deserialize_keras_object(identifier)
        if isinstance(schedule, Schedule):
            return schedule
    return Constant(
        _checks.probability_or_schedule(identifier, "sampling_probability", Schedule)
    )
