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

from selffeed_keras import _backend, _calls, _checks, _inputs


def values(value, seed, dtype):
    """Returns a continuation of values `(batch, steps, features)`, or raises."""
    value = _inputs.as_tensor(value, "continuation")
    expected = (seed.shape[0], None, *seed.shape[2:])
    if (
        _checks.rank_of(value) != 3
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
    if _checks.rank_of(value) != 2 or value.shape[1] == 0:
        raise ValueError(
            "`continuation` must be integer token ids of shape (batch, steps), "
            "with at least one step. Received: continuation.shape="
            f"{tuple(value.shape)}."
        )
    if not _checks.is_integer(value.dtype):
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
    tokens = layer.is_token_model
    if not tokens and layer.distribution is None:
        raise ValueError(
            "`score` sums log-probabilities, so it needs a model that predicts "
            "them: a token model (a `sampler` and an `encoder`) or a "
            "`distribution`. This layer feeds back continuous values. "
            "Received: a layer with sampler=None and distribution=None."
        )
    seed = _calls.read_seed(layer, seed, "score")
    if tokens:
        continuation_ = continuation(continuation_, seed)
    else:
        continuation_ = values(continuation_, seed, layer.input_dtype)
    call = _calls.prepare(
        layer, seed, continuation_.shape[1], covariates=covariates,
        seed_mask=seed_mask, initial_state=initial_state, where="score",
    )  # fmt: skip
    spec = call.spec
    if tokens:
        vocab_size = min(spec.vocabulary_size, spec.output_size)
        continuation_ = _inputs.token_ids(continuation_, "continuation", vocab_size)
    else:
        _inputs.finite(continuation_, "continuation", mask_name=None)
        _inputs.in_support(
            continuation_, "continuation", layer.distribution, mask_name=None
        )
    state = call.initial_state
    if state is None:
        state = spec.flat_state(call.seed.shape[0])
    end_token = _checks.end_token(end_token, tokens, spec.output_size)
    key = (call.seed_mask is not None, end_token is not None)
    args = [call.seed, continuation_, state]
    for optional in (call.covariates, call.seed_mask, end_token):
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
    spec = layer._spec
    signature = [spec.seed_spec, spec.seed_spec, spec.state_specs]
    if spec.num_covariates is not None:
        signature.append(
            keras.KerasTensor((None, None, spec.num_covariates), spec.compute_dtype)
        )
    if has_mask:
        signature.append(keras.KerasTensor((None, None), "bool"))
    if has_end_token:
        signature.append(keras.KerasTensor((), "int32"))

    def score(seed, continuation, state, *optional):
        optional = list(optional)
        covariates = optional.pop(0) if spec.num_covariates is not None else None
        seed_mask = optional.pop(0) if has_mask else None
        end_token = optional.pop(0) if has_end_token else None
        return _log_likelihood(
            spec, seed, continuation, covariates, seed_mask, end_token, state
        )

    # The function holds the spec (the sublayers), not the layer: the layer
    # can go, and with it its entry in `_FUNCTIONS`.
    return _backend.function(score, signature, layer.variables)


def _log_likelihood(spec, seed, continuation, covariates, seed_mask, end_token, state):
    step = spec.step
    batch_size, seed_time = ops.shape(seed)[0], ops.shape(seed)[1]
    steps = ops.shape(continuation)[1]
    inputs = ops.concatenate([seed, continuation[:, :-1]], 1)
    # The seed's own mask and the encoder's (padding ids) apply to the seed
    # only: a token the model would feed back is never padding.
    mask = step.input_mask(seed, seed_mask)
    state, history, given = step.split_state(state)
    scale = spec.scaler.compute(seed, mask, given)
    if scale is not None:
        inputs = spec.scaler.apply(inputs, scale, inputs.dtype)
    if mask is None:
        mask = ops.ones((batch_size, seed_time), "bool")
    mask = ops.concatenate([mask, ops.ones((batch_size, steps - 1), "bool")], 1)
    x = inputs
    if step.encoder is not None:
        x = ops.copy(step.encoder(inputs))  # a copy: drops the Embedding's mask
    sequence, _, _ = spec.sequence(
        x, covariates, spec.pack_state(state, batch_size), history, mask
    )
    # The prediction of the first token follows the seed's last valid step.
    seed_valid = ops.cast(ops.flip(mask[:, :seed_time], 1), "int32")
    last_valid = seed_time - 1 - ops.cast(ops.argmax(seed_valid, axis=1), "int32")
    later = ops.arange(steps - 1, dtype="int32") + seed_time
    positions = ops.concatenate(
        [last_valid[:, None], ops.tile(later[None], [batch_size, 1])], 1
    )
    picked = ops.take_along_axis(sequence, positions[:, :, None], axis=1)
    outputs = step.apply_head(picked)
    distribution = getattr(step.readout, "distribution", None)
    if distribution is not None:
        params = step.readout.emit(
            ops.cast(outputs, spec.compute_dtype),
            None if scale is None else scale[:, None],
        )
        log_prob = distribution.log_prob(params, continuation)
        return ops.sum(log_prob, axis=[1, 2])
    log_probs = ops.log_softmax(ops.cast(outputs, "float32"), axis=-1)
    chosen = ops.take_along_axis(log_probs, continuation[:, :, None], axis=2)[..., 0]
    if end_token is not None:
        ended = ops.cast(ops.equal(continuation, end_token), "int32")
        counted = ops.equal(ops.cumsum(ended, axis=1) - ended, 0)
        chosen = ops.where(counted, chosen, 0.0)
    return ops.sum(chosen, axis=1)
