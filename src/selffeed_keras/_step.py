"""The one-step transition, shared by training-time feedback and generation.

A `Step` is built from a layer's parts: the encoder, the cell, the head and a
readout. One step encodes the value it reads (a true input or the model's own
last output), appends that step's covariates, advances the cell and applies
the head. The readout is what turns the head's output into the value fed
back: the output itself for continuous values, a sampled id for token
models. The step knows no layer, so that training and generation, which
both use it, depend on it and not on each other.
"""

import tensorflow as tf
from keras import ops, tree


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

    def feed(self, outputs, seed):
        return outputs

    def fed_spec(self, output_size, compute_dtype):
        """The shape of one row of fed-back values, and their dtype."""
        return [output_size], compute_dtype


class Tokens:
    """Feeds back the token id that a sampler picks from the head's logits."""

    def __init__(self, sampler):
        self.sampler = sampler

    def feed(self, logits, seed):
        return self.sampler(logits, seed=seed)

    def fed_spec(self, output_size, compute_dtype):
        """The shape of one row of fed-back values, and their dtype."""
        return [], "int32"


class Step:
    """One transition: `(value, covariates, state) -> (head output, state)`.

    Args:
        encoder: a layer applied to the value read, or None.
        cell: the RNN cell.
        head: a layer from the cell output to the head output, or None.
        readout: `Identity` or `Tokens`: what is fed back.
        output_size: the width of the head output.
        state_template: the cell's state for a batch of 1, in its own
            structure: states travel flat and are packed like it.
        compute_dtype: the dtype of the head output and of continuous values.
    """

    def __init__(
        self, encoder, cell, head, readout, output_size, state_template, compute_dtype
    ):
        self.encoder = encoder
        self.cell = cell
        self.head = head
        self.readout = readout
        self.output_size = output_size
        self.state_template = state_template
        self.compute_dtype = compute_dtype

    @property
    def fed_spec(self):
        """The shape of one row of fed-back values, and their dtype."""
        return self.readout.fed_spec(self.output_size, self.compute_dtype)

    def input_mask(self, inputs, mask):
        """`mask` and the encoder's own mask of `inputs`, either may be None."""
        return input_mask(self.encoder, inputs, mask)

    def encode(self, value, covariates=None, training=False):
        """The cell's input for one step: the encoded value, then covariates.

        A step of its own is never padding; an `Embedding(mask_zero=True)`
        would still attach a mask that the cell cannot take, hence the
        identity.
        """
        if self.encoder is not None:
            value = tf.identity(self.encoder(value, training=training))
        return self.join(value, covariates)

    def join(self, encoded, covariates):
        """Appends covariates (None for none) to encoded inputs."""
        if covariates is None:
            return encoded
        return ops.concatenate([encoded, ops.cast(covariates, encoded.dtype)], -1)

    def advance(self, x, flat_state, training=False):
        """Steps the cell on input `x`; returns `(head output, flat state)`."""
        state = tree.pack_sequence_as(self.state_template, list(flat_state))
        output, state = self.cell(x, state, training=training)
        if self.head is not None:
            output = self.head(output, training=training)
        new_state = [
            ops.cast(new, old.dtype)
            for new, old in zip(tree.flatten(state), flat_state, strict=True)
        ]
        return ops.cast(output, self.compute_dtype), new_state

    def feed(self, outputs, seed):
        """The value fed back after a step with head `outputs`."""
        return self.readout.feed(outputs, seed)
