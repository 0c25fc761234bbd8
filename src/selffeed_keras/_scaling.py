"""Scaling: one object that computes each series' scale, applies it and undoes it.

`scaling="mean"` is a `MeanScaler` (DeepAR's mean scaler): each series is
divided by the mean absolute value of its real steps before the cell reads
it, and the distribution's parameters are scaled back. `scaling=None` is a
`NoScaler`, whose every method leaves values as they are. The step holds
the scaler, so the call, generation, scores and history states all compute
the scale here, apply it here and undo it here.

Where the scale comes from is the scaler's `policy`:

- `"whole"`: a call's scale comes from all its valid inputs
  (`context_length=None`);
- `"prefix"`: from the first `context_length` steps of a call's inputs, the
  part of a training window that plays the seed, so that training scales a
  window as `generate` scales a seed of that length.

In `generate`, `score` and `history_state` the scale comes from the whole
seed (or context) whatever the policy, and a scale carried in a state (the
last tensor of the flat state, above 0) is kept: a continued call reads its
series in the units it started in. `observe` sets a row's scale once, at
the first call that reads a value of the row (`first_values`): from its
first `context_length` values (all of that call's with None), as training
scales a window; a state carries it unchanged from then on, and 0 in a
state means "not set yet".
"""

from keras import ops

# The floor of a series' scale, and the scale of a series of zeros is 1: a
# mean below this is taken as no signal, not as a unit.
MINIMUM_SCALE = 1e-6


class NoScaler:
    """Reads values as they are: `scaling=None`."""

    scaled = False
    policy = None

    def compute(self, values, mask=None, given=None):
        return None

    def from_inputs(self, inputs, mask=None, given=None):
        return None

    def first_values(self, values, real=None, given=None):
        return None

    def apply(self, values, scale, dtype):
        return values

    def undo(self, distribution, params, scale):
        return params


class MeanScaler:
    """Divides each series by the mean absolute value of its real steps.

    Args:
        context_length: None (policy `"whole"`) or a positive int (policy
            `"prefix"`): how many steps of a call's inputs give the scale.
        minimum: the floor of every scale; a series of zeros gets 1.
    """

    scaled = True

    def __init__(self, context_length=None, minimum=MINIMUM_SCALE):
        self.context_length = context_length
        self.minimum = minimum

    @property
    def policy(self):
        """`"whole"` or `"prefix"`: where a call's scale comes from."""
        return "whole" if self.context_length is None else "prefix"

    def compute(self, values, mask=None, given=None):
        """Per row and feature, the mean absolute value over valid steps.

        Padding (False in `mask`) is never read, NaN included. Each value is
        divided by the count before the sum: a float32 sum of finite values
        near float32's largest would overflow to infinity.

        Args:
            values: `(batch, time, features)`.
            mask: None or boolean `(batch, time)`.
            given: None, or `(batch, features)` scales to keep where they
                are above 0 (a continued call's scale).

        Returns:
            `(batch, features)` float32 scales, at least `minimum`.
        """
        values = ops.abs(ops.cast(values, "float32"))
        if mask is None:
            weights = ops.ones_like(values[..., :1])
        else:
            weights = ops.cast(mask, "float32")[..., None]
            values = ops.where(mask[..., None], values, 0.0)
        count = ops.maximum(ops.sum(weights, axis=1, keepdims=True), 1.0)
        mean = ops.sum(values * (weights / count), axis=1)
        scale = ops.maximum(mean, self.minimum)
        scale = ops.where(mean > 0, scale, ops.maximum(1.0, self.minimum))
        if given is not None:
            scale = ops.where(given > 0, ops.cast(given, "float32"), scale)
        return scale

    def from_inputs(self, inputs, mask=None, given=None):
        """A call's scale: from its first `context_length` steps, or all."""
        seed = slice(None, self.context_length)
        return self.compute(
            inputs[:, seed], None if mask is None else mask[:, seed], given
        )

    def first_values(self, values, real=None, given=None):
        """`observe`'s scale: set at a row's first values read, then carried.

        Args:
            values: `(batch, time, features)`, finite (gaps filled).
            real: None, or boolean `(batch, time)`: the steps that hold a
                value (not masked, not a gap).
            given: None, or the state's `(batch, features)` scales: kept
                where above 0 (set by an earlier call).

        Returns:
            `(batch, features)` float32: `given` where it is above 0; else,
            for a row with a real value, the scale of its first
            `context_length` real values (all of them with None), as
            `compute` takes it; else 0, "not set yet".
        """
        if real is None:
            real = ops.ones(ops.shape(values)[:2], "bool")
        first = real
        if self.context_length is not None:
            count = ops.cumsum(ops.cast(real, "int32"), axis=1)
            first = ops.logical_and(real, count <= self.context_length)
        scale = self.compute(values, first)
        scale = ops.where(ops.any(real, axis=1)[:, None], scale, 0.0)
        if given is not None:
            scale = ops.where(given > 0, ops.cast(given, "float32"), scale)
        return scale

    def apply(self, values, scale, dtype):
        """`values` (`(batch, features)` or `(batch, time, features)`) divided
        by `scale`, in float32, then cast to `dtype`."""
        if len(values.shape) == 3:
            scale = scale[:, None]
        return ops.cast(ops.cast(values, "float32") / scale, dtype)

    def undo(self, distribution, params, scale):
        """The parameters of the scaled series' distribution, in its own units."""
        return distribution.rescale(params, scale)


def get(scaling, context_length):
    """The scaler of a layer's `scaling` and `context_length` (checked before)."""
    if scaling == "mean":
        return MeanScaler(context_length)
    return NoScaler()
