"""The one-step transition, shared by training-time feedback and generation.

A `Step` is built from a layer's parts: the encoder, the cell, the head and a
readout. One step encodes the value it reads (a true input or the model's own
last output), appends that step's covariates, advances the cell and applies
the head. The readout is what turns the head's output into the value fed
back: the output itself for continuous values, a sampled id for token
models. The step knows no layer, so that training and generation, which
both use it, depend on it and not on each other.
"""

from keras import ops, tree

from selffeed_keras import _lags, _scaling


def input_mask(encoder, inputs, mask):
    """`mask` and the mask `encoder` computes for `inputs`; either may be None."""
    if encoder is None or not encoder.supports_masking:
        return mask
    own = encoder.compute_mask(inputs, mask)
    if mask is None or own is None:
        return own if mask is None else mask
    return ops.logical_and(mask, own)


class Identity:
    """Feeds the head's output back unchanged: continuous values."""

    def feed(self, outputs, seed, scale=None):
        return outputs

    def emit(self, outputs, scale=None):
        """What the layer's call returns for head `outputs`."""
        return outputs

    def fed_spec(self, output_size, compute_dtype):
        """The shape of one row of fed-back values, and their dtype."""
        return [output_size], compute_dtype


class Tokens:
    """Feeds back the token id that a sampler picks from the head's logits."""

    def __init__(self, sampler):
        self.sampler = sampler

    def feed(self, logits, seed, scale=None):
        return self.sampler(logits, seed=seed)

    def emit(self, logits, scale=None):
        """What the layer's call returns: the logits."""
        return logits

    def fed_spec(self, output_size, compute_dtype):
        """The shape of one row of fed-back values, and their dtype."""
        return [], "int32"


class Sampled:
    """Feeds back a draw from the distribution whose parameters the head gives.

    The head output holds `num_features * distribution.num_parameters` raw
    projections per row. Given a scale, the parameters are scaled back by
    the step's scaler (`_scaling`).

    Args:
        distribution: a `selffeed_keras.distributions.Distribution`.
        num_features: how many features each value has.
        scaler: the step's `_scaling` scaler, which undoes the scale.
    """

    def __init__(self, distribution, num_features, scaler):
        self.distribution = distribution
        self.num_features = num_features
        self.scaler = scaler

    def parameters(self, raw, scale=None):
        """Constrained (and scaled back) parameters, `(..., features, P)`."""
        shape = (self.num_features, self.distribution.num_parameters)
        raw = ops.reshape(raw, (*ops.shape(raw)[:-1], *shape))
        params = self.distribution.constrain(raw)
        if scale is not None:
            params = self.scaler.undo(self.distribution, params, scale)
        return params

    # A call's `noise_scale` (`generate`): the draws' spread times this
    # factor, a float32 scalar. None draws from the parameters as they are.
    noise_scale = None

    def feed(self, raw, seed, scale=None):
        params = self.parameters(raw, scale)
        if self.noise_scale is not None:
            params = self.distribution.scale_noise(params, self.noise_scale)
        return self.distribution.sample(params, seed)

    def emit(self, raw, scale=None):
        """What the layer's call returns: the parameters, float32."""
        return self.parameters(raw, scale)

    def fed_spec(self, output_size, compute_dtype):
        """The shape of one row of fed-back values, and their dtype."""
        return [self.num_features], "float32"


class Step:
    """One transition: `(value, covariates, state) -> (head output, state)`.

    Args:
        encoder: a layer applied to the value read, or None.
        cell: the RNN cell.
        head: a layer from the cell output to the head output, a list of
            layers applied in turn, or None.
        readout: `Identity` or `Tokens`: what is fed back.
        output_size: the width of the head output.
        state_template: the cell's state for a batch of 1, in its own
            structure: states travel flat and are packed like it.
        compute_dtype: the dtype of the head output and of continuous values.
        history: what the step reads from further back: `_lags.NoLags()`
            (the default, `lags=(1,)`) or a `_lags.Lags`.
        scaler: the `_scaling` scaler: `NoScaler()` (the default) or a
            `MeanScaler`.
    """

    def __init__(
        self, encoder, cell, head, readout, output_size, state_template,
        compute_dtype, history=None, scaler=None,
    ):  # fmt: skip
        self.history = _lags.NoLags() if history is None else history
        self.scaler = _scaling.NoScaler() if scaler is None else scaler
        self.encoder = encoder
        self.cell = cell
        self.head = head
        self.readout = readout
        self.output_size = output_size
        self.state_template = state_template
        self.compute_dtype = compute_dtype

    @property
    def scaled(self):
        """Whether values are divided by a per-series scale before the cell."""
        return self.scaler.scaled

    @property
    def fed_spec(self):
        """The shape of one row of fed-back values, and their dtype."""
        return self.readout.fed_spec(self.output_size, self.compute_dtype)

    def input_mask(self, inputs, mask):
        """`mask` and the encoder's own mask of `inputs`, either may be None."""
        return input_mask(self.encoder, inputs, mask)

    def encode(self, value, covariates=None, scale=None, training=False):
        """The cell's input for one step: the encoded value, then covariates.

        With a `scale`, the value is divided by it first. A step of its own
        is never padding; an `Embedding(mask_zero=True)` would still attach a
        mask that the cell cannot take, hence the identity.
        """
        if scale is not None:
            value = self.scaler.apply(value, scale, self.compute_dtype)
        if self.encoder is not None:
            value = ops.copy(self.encoder(value, training=training))
        return self.join(value, covariates)

    def read(self, value, covariates, scale, history, valid=None, gap=None):
        """The cell's input for one step of a loop, and the history after it.

        The one place that builds the cell's input from the history, the
        value and the covariates: the value is encoded (and scaled) as
        `encode` does, written into the loop's `history`, and the lags are
        read from it, then the covariates appended. Without lags this is
        `encode`.

        Args:
            value: the value read at this step.
            covariates: this step's covariates, or None.
            scale: None, or each series' scale.
            history: the loop's history (`self.history.ring(...)`).
            valid: None, or boolean `(batch,)`: rows whose step counts.
            gap: None, or boolean `(batch,)` (with lags): rows whose value
                is missing (`observe`): they read their last element again
                (encoded and scaled as it was), and their step counts.

        Returns:
            `(x, history)`.
        """
        encoded = self.encode(value, scale=scale)
        if gap is not None:
            last = ops.cast(self.history.last(history), encoded.dtype)
            encoded = ops.where(gap[:, None], last, encoded)
        lagged, history = self.history.read(encoded, history, valid)
        return self.join(lagged, covariates), history

    def split_state(self, flat_state):
        """`(cell state, history, scale)` from a flat state.

        The flat state is the cell's states, then the history (no tensor
        without lags), then the scale for a scaled readout (else None).
        """
        flat_state = list(flat_state)
        scale = flat_state.pop() if self.scaled else None
        cut = len(flat_state) - self.history.num_states
        return flat_state[:cut], flat_state[cut:], scale

    def join(self, encoded, covariates):
        """Appends covariates (None for none) to encoded inputs."""
        if covariates is None:
            return encoded
        return ops.concatenate([encoded, ops.cast(covariates, encoded.dtype)], -1)

    def apply_head(self, output, training=False):
        """The head's output for the cell's `output` (any leading axes)."""
        for head in self.head if isinstance(self.head, list) else [self.head]:
            if head is not None:
                output = head(output, training=training)
        return output

    def advance(self, x, flat_state, training=False):
        """Steps the cell on input `x`; returns `(head output, flat state)`."""
        state = tree.pack_sequence_as(self.state_template, list(flat_state))
        output, state = self.cell(x, state, training=training)
        output = self.apply_head(output, training)
        new_state = [
            ops.cast(new, old.dtype)
            for new, old in zip(tree.flatten(state), flat_state, strict=True)
        ]
        return ops.cast(output, self.compute_dtype), new_state

    def feed(self, outputs, seed, scale=None):
        """The value fed back after a step with head `outputs`."""
        return self.readout.feed(outputs, seed, scale)
