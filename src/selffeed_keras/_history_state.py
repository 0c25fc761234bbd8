"""`SelfFeedingRNN.history_state`: a start state from the elements before a seed.

The lags read the history; the cell never steps over it. The state is the
cell's zero states, the history encoded (and scaled) as the lags read it,
and with `scaling="mean"` the scale, the layout of `_lags.Lags`' state.
"""

from keras import ops

from selffeed_keras import _inputs, _lags, _scaling, _spec, _step


def history_state(layer, history, context, history_mask, context_mask):
    """The flat state that `layer.history_state` documents, or raises."""
    _inputs.not_traced("history_state")
    if layer.lags == (1,):
        raise ValueError(
            "`history_state` fills the history that lags read, and a layer "
            "with lags=(1,) keeps none: pass a longer seed instead, or "
            "create the layer with lags. Received: lags=(1,)."
        )
    # The input dtype, as `generate` reads its seed: float32 for a scaled
    # layer, which divides by the scale before casting to float16.
    history = _inputs.seed(history, layer.is_token_model, layer.input_dtype, "history")
    # An unbuilt layer stays unbuilt: its first call decides its covariates,
    # as it would without this state (only the encoder builds).
    spec = layer._spec
    if spec is not None:
        _inputs.seed_features(history, spec.input_shape, "history")
    if layer.is_token_model:
        vocab_size = getattr(layer.encoder, "input_dim", None)
        if vocab_size is None and spec is not None:
            vocab_size = spec.vocabulary_size
        if vocab_size is not None:
            history = _inputs.token_ids(history, "history", vocab_size)
    history_mask = _inputs.seed_mask(history_mask, history, "history_mask", "history")
    _inputs.finite(history, "history", history_mask, "history_mask")
    _inputs.in_support(
        history, "history", layer.distribution, history_mask, "history_mask"
    )
    mask = _step.input_mask(layer.encoder, history, history_mask)
    if context is not None:
        context, context_mask = _context(layer, context, context_mask, history)
    elif context_mask is not None:
        raise ValueError(
            "`context_mask` marks the real steps of `context`, so it needs a "
            "`context`. Received: context_mask with context=None."
        )
    scaler = _scaling.get(layer.scaling, layer.context_length)
    if context is None:
        scale = scaler.compute(history, mask)
    else:
        scale = scaler.compute(context, context_mask)
    if scale is not None:
        history = scaler.apply(history, scale, layer.compute_dtype)
    encoded = history if layer.encoder is None else layer.encoder(history)
    batch_size = ops.shape(encoded)[0]
    lagged = _lags.get(layer.lags, encoded.shape[-1])
    template = lagged.template(batch_size, encoded.dtype)
    _, filled = lagged.sequence(encoded, template, mask)
    cell_states = _spec.cast_cell_state(
        layer.rnn, _spec.cell_state(layer.rnn, batch_size)
    )
    return cell_states + filled + ([scale] if scale is not None else [])


def _context(layer, context, context_mask, history):
    """`history_state`'s `context` and `context_mask` as tensors, or raises."""
    if layer.scaling != "mean":
        raise ValueError(
            '`context` gives the scale of a layer with scaling="mean"; this '
            "layer reads its values unscaled, so leave `context` out. "
            f"Received: context with scaling={layer.scaling!r}."
        )
    context = _inputs.seed(context, False, layer.input_dtype, "context")
    expected = (history.shape[0],) + tuple(history.shape[2:])
    received = (context.shape[0],) + tuple(context.shape[2:])
    if not _inputs.fits(received, expected):
        raise ValueError(
            "`context` must have a row for each row of `history` and the "
            f"same features: shape (batch, time, features) with (batch, "
            f"features) = {expected}. Received: context.shape="
            f"{tuple(context.shape)}, history.shape={tuple(history.shape)}."
        )
    context_mask = _inputs.seed_mask(context_mask, context, "context_mask", "context")
    _inputs.finite(context, "context", context_mask, "context_mask")
    _inputs.in_support(
        context, "context", layer.distribution, context_mask, "context_mask"
    )
    return context, context_mask
