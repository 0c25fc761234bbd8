"""Scores: the log-likelihood of a given continuation, in one teacher-forced pass.

The recurrent layer reads the seed, then the continuation but its last
element, as `generate` would have fed them back; the head output after the
seed's last valid step and after each continuation element but the last
gives the log-probability of the next element: the softmax at temperature 1
of token models, the distribution's `log_prob` of distribution models (with
`scaling="mean"`, the scale comes from the seed, as in `generate`).
The pass is traced once per layer and combination of optional arguments by
the backend's `_backend.function`: on TensorFlow with an input signature (a new
length or batch reuses it), on JAX as a `jax.jit` program that takes the
weights as arguments (a new shape compiles anew); on torch it runs eagerly,
without gradients.
"""

import threading
import weakref

import keras
from keras import ops

from selffeed_keras import _backend, _checks, _inputs


def _rank(value):
    return len(value.shape)


def _is_integer(dtype):
    return keras.backend.standardize_dtype(dtype).startswith(("int", "uint"))


def values(value, seed, dtype):
    """Returns a continuation of values `(batch, steps, features)`, or raises."""
    value = _inputs.as_tensor(value, "continuation")
    expected = (seed.shape[0], None, *seed.shape[2:])
    if (
        _rank(value) != 3
        or value.shape[1] == 0
        or value.shape[0] != expected[0]
        or tuple(value.shape[2:]) != tuple(seed.shape[2:])
    ):
        raise ValueError(
            f"`continuation` must have shape {expected}: one row per seed row, "
            "at least one step, the seed's features. Received: "
            f"continuation.shape={tuple(value.shape)}."
        )
    _inputs.real_numbers(value.dtype, "continuation", "real numbers, as the seed does")
    return ops.cast(value, dtype)


def continuation(value, seed):
    """Returns the continuation as int32 ids `(batch, steps)`, or raises."""
    value = _inputs.as_tensor(value, "continuation", ids=True)
    if _rank(value) != 2 or value.shape[1] == 0:
        raise ValueError(
            "`continuation` must be integer token ids of shape (batch, steps), "
            "with at least one step. Received: continuation.shape="
            f"{tuple(value.shape)}."
        )
    if not _is_integer(value.dtype):
        raise TypeError(
            "`continuation` must hold integer token ids, as the seed does "
            f"(seed.dtype={keras.backend.standardize_dtype(seed.dtype)}). "
            "Received: continuation.dtype="
            f"{keras.backend.standardize_dtype(value.dtype)}."
        )
    if value.shape[0] != seed.shape[0]:
        raise ValueError(
            "`continuation` must have one row per seed row: batch "
            f"{seed.shape[0]}. Received: continuation.shape={tuple(value.shape)} "
            f"with seed.shape={tuple(seed.shape)}."
        )
    return ops.cast(value, "int32")


def score(
    layer, seed, continuation_, *, covariates, seed_mask, end_token, initial_state
):
    """`SelfFeedingRNN.score`: see its docstring."""
    _inputs.not_traced("score")
    tokens = layer.is_token_model
    if not tokens and layer.distribution is None:
        raise ValueError(
            "`score` sums log-probabilities, so it needs a model that predicts "
            "them: a token model (a `sampler` and an `encoder`) or a "
            "`distribution`. This layer feeds back continuous values. "
            "Received: a layer with sampler=None and distribution=None."
        )
    seed = _inputs.seed(seed, tokens, layer.input_dtype)
    if tokens:
        continuation_ = continuation(continuation_, seed)
    else:
        continuation_ = values(continuation_, seed, layer.input_dtype)
    steps = continuation_.shape[1]
    covariates = _inputs.generate_covariates(
        covariates,
        seed,
        steps,
        layer._num_covariates if layer.built else None,
        layer.built,
        layer.compute_dtype,
        where="`score`",
    )
    if not layer.built:
        layer.build(
            (None, None, *seed.shape[2:]),
            None if covariates is None else (None, None, covariates.shape[-1]),
        )
    _inputs.seed_features(seed, layer._input_shape)
    seed_mask = _inputs.seed_mask(seed_mask, seed)
    seed = layer._checked_values(seed, seed_mask, covariates)
    if tokens:
        vocab_size = min(layer._vocabulary_size(), layer._output_size)
        continuation_ = _inputs.token_ids(continuation_, "continuation", vocab_size)
    else:
        _inputs.finite(continuation_, "continuation", mask_name=None)
        _inputs.in_support(
            continuation_, "continuation", layer.distribution, mask_name=None
        )
    batch_size = seed.shape[0]
    template = layer._flat_template(batch_size)
    specs = [keras.KerasTensor((None, *t.shape[1:]), t.dtype) for t in template]
    state = _inputs.initial_state(initial_state, specs, batch_size)
    state = template if state is None else state
    end_token = _checks.end_token(end_token, tokens, layer._output_size)
    key = (seed_mask is not None, end_token is not None)
    args = [seed, continuation_, state]
    for optional in (covariates, seed_mask, end_token):
        if optional is not None:
            args.append(optional)
    return _function(layer, key)(*args)


# Per layer (held weakly, so that the layer can go), its traced functions.
_FUNCTIONS = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _function(layer, key):
    """The traced score function of `layer` for `key`, made on first use."""
    with _LOCK:
        functions = _FUNCTIONS.setdefault(layer, {})
        if key not in functions:
            functions[key] = _trace(layer, *key)
        return functions[key]


def _trace(layer, has_mask, has_end_token):
    if layer.is_token_model:
        inputs = keras.KerasTensor((None, None), "int32")
    else:
        inputs = keras.KerasTensor((None, *layer._input_shape[1:]), layer.input_dtype)
    state_specs = [
        keras.KerasTensor((None,) + tuple(s.shape[1:]), s.dtype)
        for s in layer._flat_template(1)
    ]
    signature = [inputs, inputs, state_specs]
    if layer._num_covariates is not None:
        signature.append(
            keras.KerasTensor((None, None, layer._num_covariates), layer.compute_dtype)
        )
    if has_mask:
        signature.append(keras.KerasTensor((None, None), "bool"))
    if has_end_token:
        signature.append(keras.KerasTensor((), "int32"))

    # A weak reference: the function must not keep its layer alive.
    layer_ref = weakref.ref(layer)

    def score(seed, continuation, state, *optional):
        layer = layer_ref()
        optional = list(optional)
        covariates = optional.pop(0) if layer._num_covariates is not None else None
        seed_mask = optional.pop(0) if has_mask else None
        end_token = optional.pop(0) if has_end_token else None
        return _log_likelihood(
            layer, seed, continuation, covariates, seed_mask, end_token, state
        )

    return _backend.function(score, signature, layer.variables)


def _log_likelihood(layer, seed, continuation, covariates, seed_mask, end_token, state):
    batch_size, seed_time = ops.shape(seed)[0], ops.shape(seed)[1]
    steps = ops.shape(continuation)[1]
    inputs = ops.concatenate([seed, continuation[:, :-1]], 1)
    # The seed's own mask and the encoder's (padding ids) apply to the seed
    # only: a token the model would feed back is never padding.
    mask = layer._step.input_mask(seed, seed_mask)
    readout, scale = layer._step.readout, None
    state, history, given = layer._step.split_state(state)
    if readout.scaled:
        scale = readout.series_scale(seed, mask, given)
        inputs = ops.cast(ops.cast(inputs, "float32") / scale[:, None], inputs.dtype)
    if mask is None:
        mask = ops.ones((batch_size, seed_time), "bool")
    mask = ops.concatenate([mask, ops.ones((batch_size, steps - 1), "bool")], 1)
    x = inputs
    if layer.encoder is not None:
        x = ops.copy(layer.encoder(inputs))  # a copy: drops the Embedding's mask
    x, _ = layer._step.history.sequence(x, history, mask)
    x = layer._step.join(x, covariates)
    sequence = layer.rnn(
        x, initial_state=layer._pack_state(state, batch_size), mask=mask
    )[0]
    # The prediction of the first token follows the seed's last valid step.
    seed_valid = ops.cast(ops.flip(mask[:, :seed_time], 1), "int32")
    last_valid = seed_time - 1 - ops.cast(ops.argmax(seed_valid, axis=1), "int32")
    later = ops.arange(steps - 1, dtype="int32") + seed_time
    positions = ops.concatenate(
        [last_valid[:, None], ops.tile(later[None], [batch_size, 1])], 1
    )
    picked = ops.take_along_axis(sequence, positions[:, :, None], axis=1)
    outputs = layer._head(picked)
    if layer.distribution is not None:
        params = readout.emit(
            ops.cast(outputs, layer.compute_dtype),
            None if scale is None else scale[:, None],
        )
        log_prob = layer.distribution.log_prob(params, continuation)
        return ops.sum(log_prob, axis=[1, 2])
    log_probs = ops.log_softmax(ops.cast(outputs, "float32"), axis=-1)
    chosen = ops.take_along_axis(log_probs, continuation[:, :, None], axis=2)[..., 0]
    if end_token is not None:
        ended = ops.cast(ops.equal(continuation, end_token), "int32")
        counted = ops.equal(ops.cumsum(ended, axis=1) - ended, 0)
        chosen = ops.where(counted, chosen, 0.0)
    return ops.sum(chosen, axis=1)
