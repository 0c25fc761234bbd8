"""What `build` resolved, frozen: the step, the state layout, the sizes.

`SelfFeedingRNN.build` makes one `Spec`; the call, `generate`, `score` and
`history_state` read it instead of the layer's private members. A new
sampler makes a new `Spec` (`with_sampler`): nothing in one changes.

The flat state, in `call`, `generate` and `score` alike: the cell's states
(flattened in the cell's own order), then the lag history (with lags), then
the scale (with `scaling="mean"`), which stays last.
"""

import dataclasses
import functools

import keras
from keras import ops, tree

from selffeed_keras import _checks, _lags, _scaling, _step


def readout(distribution, sampler, num_features, scaler):
    """What the step makes of the head's output."""
    if distribution is not None:
        return _step.Sampled(distribution, num_features, scaler)
    if sampler is not None:
        return _step.Tokens(sampler)
    return _step.Identity()


def cell_state(rnn, batch_size):
    """The cell's zero state for `batch_size` rows, in its own structure."""
    return rnn.get_initial_state(batch_size)


def num_states(rnn, lags, scaler):
    """How many tensors the flat state holds."""
    histories = 0 if tuple(lags) == (1,) else 1
    return len(tree.flatten(cell_state(rnn, 1))) + histories + int(scaler.scaled)


def cast_cell_state(rnn, state):
    """The cell's states, flat, cast to the dtypes of its zero state."""
    template = tree.flatten(cell_state(rnn, 1))
    return [
        ops.cast(s, t.dtype) for s, t in zip(tree.flatten(state), template, strict=True)
    ]


@dataclasses.dataclass(frozen=True, eq=False)
class Spec:
    """What a built layer is: read by every call, changed by none.

    Attributes:
        step: the `_step.Step` (encoder, cell, head, readout, history,
            scaler).
        rnn: the `keras.layers.RNN` that runs whole sequences.
        input_shape: the inputs' shape the layer was built for.
        num_covariates: the covariates' width, None without covariates.
        output_size: the width of the head's output (after the projection).
        token_model: whether the layer reads and generates token ids.
        vocabulary_size: for token models, how many ids the encoder reads
            (its `input_dim`, or the head's width); else None.
        input_dtype: the dtype of float inputs (float32 with scaling).
        compute_dtype: the layer's compute dtype.
    """

    step: _step.Step
    rnn: object
    input_shape: tuple
    num_covariates: int | None
    output_size: int
    token_model: bool
    vocabulary_size: int | None
    input_dtype: str
    compute_dtype: str

    @property
    def scaler(self):
        return self.step.scaler

    @property
    def history(self):
        return self.step.history

    def with_sampler(self, sampler):
        """The spec of the same layer with another (per-step) sampler."""
        step = _step.Step(
            self.step.encoder, self.step.cell, self.step.head,
            _step.Tokens(sampler), self.output_size, self.step.state_template,
            self.compute_dtype, self.history, self.scaler,
        )  # fmt: skip
        return dataclasses.replace(self, step=step)

    def cell_state(self, batch_size):
        return cell_state(self.rnn, batch_size)

    def flat_state(self, batch_size):
        """The zero state as a flat list, with a scale of 0 ("from the seed")."""
        template = tree.flatten(self.cell_state(batch_size))
        template += self.history.template(batch_size, self.compute_dtype)
        if self.scaler.scaled:
            template.append(ops.zeros((batch_size, self.input_shape[-1]), "float32"))
        return template

    @functools.cached_property
    def state_specs(self):
        """`keras.KerasTensor`s of the flat state, batch size unknown."""
        # From a batch of 0: a long history allocates nothing here.
        return [
            keras.KerasTensor((None, *s.shape[1:]), s.dtype) for s in self.flat_state(0)
        ]

    @functools.cached_property
    def seed_spec(self):
        """A `keras.KerasTensor` of a seed, `(None, None, ...)`."""
        dtype = "int32" if self.token_model else self.input_dtype
        return keras.KerasTensor((None, None, *self.input_shape[2:]), dtype)

    def sequence(self, x, covariates, state, history, mask, training=None):
        """The teacher-forced pass over encoded inputs `x`, in one RNN call.

        Args:
            x: `(batch, time, width)` encoded (and scaled) inputs.
            covariates: None or `(batch, time, num_covariates)`.
            state: the cell's states, in its own structure.
            history: the flat history to start from (`[]` without lags).
            mask: None or boolean `(batch, time)`.
            training: passed to the cell.

        Returns:
            `(cell outputs, cell states (flat), history after)`.
        """
        x, history = self.history.sequence(x, history, mask)
        outputs, *state = self.rnn(
            self.step.join(x, covariates),
            initial_state=state,
            mask=mask,
            training=training,
        )
        return outputs, state, history

    def cast_state(self, state):
        return cast_cell_state(self.rnn, state)

    def pack_state(self, flat_state, batch_size):
        """Flat cell states in the cell's own structure."""
        return tree.pack_sequence_as(
            self.cell_state(batch_size), tree.flatten(flat_state)
        )


def build(layer, inputs_shape, num_covariates):
    """The `Spec` of `layer` built for these shapes; builds its sublayers.

    Sublayers that are built already (shared, or built by the user) are left
    as they are. The distribution's projection is made here and set on the
    layer, which tracks it.
    """
    token_model = layer.is_token_model
    x = keras.KerasTensor(
        inputs_shape, dtype="int32" if token_model else layer.compute_dtype
    )
    if layer.encoder is not None:
        if not layer.encoder.built:
            layer.encoder.build(inputs_shape)
        x = layer.encoder.compute_output_spec(x)
    width = x.shape[-1] * len(layer.lags) + (num_covariates or 0)
    x_shape = (*x.shape[:-1], width)
    if not layer.rnn.built:
        layer.rnn.build(x_shape)
    y = layer.rnn.compute_output_spec(keras.KerasTensor(x_shape, x.dtype))[0]
    if layer.head is not None:
        if not layer.head.built:
            layer.head.build(y.shape)
        y = layer.head.compute_output_spec(y)
    if layer.distribution is not None:
        if layer.projection is None:
            layer.projection = keras.layers.Dense(
                inputs_shape[-1] * layer.distribution.num_parameters,
                dtype=layer.dtype_policy,
                name="projection",
            )
        if not layer.projection.built:
            layer.projection.build(y.shape)
        y = layer.projection.compute_output_spec(y)
    if layer.distribution is None and not token_model:
        _checks.feedback_width(inputs_shape, y.shape)
    elif token_model:
        _checks.token_head_width(y.shape[-1], layer.encoder)
    scaler = _scaling.get(layer.scaling, layer.context_length)
    history = _lags.get(layer.lags, x.shape[-1])
    output_size = y.shape[-1]
    step = _step.Step(
        layer.encoder,
        layer.rnn.cell,
        [layer.head, layer.projection],
        readout(layer.distribution, layer.sampler, inputs_shape[-1], scaler),
        output_size,
        cell_state(layer.rnn, 1),
        layer.compute_dtype,
        history,
        scaler,
    )
    vocabulary_size = None
    if token_model:
        vocabulary_size = getattr(layer.encoder, "input_dim", None) or output_size
    return Spec(
        step=step,
        rnn=layer.rnn,
        input_shape=tuple(inputs_shape),
        num_covariates=num_covariates,
        output_size=output_size,
        token_model=token_model,
        vocabulary_size=vocabulary_size,
        input_dtype=layer.input_dtype,
        compute_dtype=layer.compute_dtype,
    )
