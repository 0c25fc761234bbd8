"""Beam search: the generation graph that keeps several hypotheses per row.

Built on the same `Step` and `_backend.run` as sampling, in the same two loops.
The warm-up reads the seed once per row; its state is then repeated
`num_beams` times, row `b`'s beams at rows `b * num_beams + k`, and the
search runs on `batch * num_beams` rows.

At each step every beam is extended by every token; the `num_beams` best
extensions of each row are kept, ranked by `score / length **
length_penalty`, and the state, history (with lags), scores, lengths and
finished flags of the kept beams are gathered from their parents. Each step
emits only `(token, parent)`, so no shape grows with the number of steps,
and the sequences are traced back from the last step's beams at the end. At
the first generated step all beams but the first of each row start at -inf,
so that no hypothesis is kept twice.
"""

from keras import ops

from selffeed_keras import _backend, _warm_up


def call_sampler(sampler, layer_sampler):
    """Resolves `generate`'s `sampler` argument, or raises before any graph.

    Args:
        sampler: the argument: None, a `Sampler` or a name.
        layer_sampler: the layer's own sampler, None for continuous models.

    Returns:
        The `Sampler`, or None for the layer's own.
    """
    if sampler is not None and layer_sampler is None:
        searches = getattr(sampler, "search", None) is not None
        kind = "search such as beam search" if searches else "sampler"
        raise ValueError(
            f"A {kind} picks token ids from logits: it needs a token model, a "
            "layer with a `sampler` and an `encoder`. This layer feeds back "
            "continuous values or draws from a distribution (sampler=None). "
            f"Received: sampler={sampler!r}."
        )
    return sampler


def check_num_samples(sampler, num_samples):
    """Raises for `num_samples` with a search: it returns ranked sequences."""
    if num_samples is not None and getattr(sampler, "search", None) is not None:
        raise ValueError(
            "`num_samples` draws several random paths per row; a beam search "
            "draws nothing, and returns several ranked sequences with "
            "`BeamSampler(num_beams, return_all_beams=True)`. Received: "
            f"num_samples={num_samples!r} with sampler={sampler!r}."
        )


def check_training(sampler, feedback_in_training):
    """Raises for a search (`BeamSampler`) on a layer that trains on its outputs."""
    if feedback_in_training and getattr(sampler, "search", None) is not None:
        raise ValueError(
            "A `BeamSampler` searches over whole sequences in `generate`; it "
            "cannot pick the single token that training with "
            "`sampling_probability` above 0 (or a schedule) feeds back. Give the "
            "layer a per-step sampler (such as 'greedy') and pass the beam "
            "search per call: `generate(..., sampler=BeamSampler(4))`. "
            f"Received: sampler={sampler!r} with feedback in training."
        )


def _ranking(scores, lengths, length_penalty):
    """What beams are sorted by: the score, divided by length ** penalty."""
    if length_penalty == 0:
        return scores
    return scores / ops.cast(lengths, scores.dtype) ** length_penalty


def graph(
    step, sampler, seed, steps, initial_state=None, covariates=None,
    seed_mask=None, end_token=None, random_seed=None, *, zero_state, jit_compile,
    capacity=None,
):  # fmt: skip
    """The beam search graph: a warm-up loop per row, then the search loop.

    Args:
        step: the `_step.Step` to run; its readout is not used.
        sampler: the `samplers.BeamSampler`.
        seed: `(batch, seed_time)` int32 token ids.
        steps: scalar int32, at least 1.
        initial_state: None, or the flat initial state, batch first.
        covariates: None or `(batch, seed_time + steps - 1, num_covariates)`.
        seed_mask: None or boolean `(batch, seed_time)`.
        end_token: None or scalar int32.
        random_seed: ignored: beam search draws nothing.
        zero_state: callable `batch_size -> flat state`, the state to start
            from without `initial_state`.
        jit_compile: whether XLA compiles the loops' chunks.
        capacity: None, or (on backends whose buffers have a fixed size) the
            number of steps the sequences hold, at least `steps`.

    Returns:
        `(outputs, state)`: `outputs` the best sequence per row, `(batch,
        steps)`, or with `sampler.return_all_beams` the pair `(sequences,
        scores)`, `(batch, num_beams, steps)` best first and `(batch,
        num_beams)`; `state` the best beam's final state.
    """
    num_beams, penalty = sampler.num_beams, sampler.length_penalty
    vocab_size = step.output_size
    batch_size, seed_time = ops.shape(seed)[0], ops.shape(seed)[1]
    rows = batch_size * num_beams
    mask = step.input_mask(seed, seed_mask)
    covariates = _warm_up.covariates_time_major(covariates, seed_time, steps)

    # Warm-up, once per row: the seed's steps; masked steps keep the carry.
    state = zero_state(batch_size) if initial_state is None else initial_state
    carry = _warm_up.run(step, seed, mask, state, covariates, jit_compile=jit_compile)

    # The search: row b's beams at rows b * num_beams ... b * num_beams + k.
    def repeat(x, axis=0):
        return ops.repeat(x, num_beams, axis=axis)

    offsets = repeat(ops.arange(batch_size) * num_beams)

    def search(beams, outputs):
        """One step: each beam's tokens scored, the best kept per row."""
        log_probs = ops.log_softmax(ops.cast(outputs, "float32"), axis=-1)
        done = beams["done"]
        candidates = beams["scores"][:, None] + log_probs
        if end_token is not None:
            # A finished beam extends only by end_token, at no cost.
            only_end = ops.where(
                ops.arange(vocab_size) == end_token,
                beams["scores"][:, None],
                -float("inf"),
            )
            candidates = ops.where(done[:, None], only_end, candidates)
        lengths = ops.where(done, beams["lengths"], beams["lengths"] + 1)
        ranking = _ranking(candidates, lengths[:, None], penalty)
        ranking = ops.reshape(ranking, (batch_size, num_beams * vocab_size))
        _, chosen = ops.top_k(ranking, k=num_beams)
        chosen = ops.reshape(ops.cast(chosen, "int32"), (rows,))
        parent, token = chosen // vocab_size, chosen % vocab_size
        source = offsets + parent
        new = {
            "scores": ops.take(
                ops.reshape(candidates, (rows * vocab_size,)),
                offsets * vocab_size + chosen,
                axis=0,
            ),
            "lengths": ops.take(lengths, source, axis=0),
            "done": ops.take(done, source, axis=0),
            "state": [ops.take(s, source, axis=0) for s in beams["state"]],
            "history": step.history.gather(beams["history"], source),
            "token": token,
        }
        if end_token is not None:
            new["done"] = ops.logical_or(new["done"], ops.equal(token, end_token))
        return {"token": token, "parent": parent}, new

    # All beams of a row start equal; all but the first at -inf, so that the
    # first step keeps num_beams different tokens.
    first_beam = ops.tile(ops.arange(num_beams) < 1, [batch_size])
    beams = {
        "scores": ops.where(first_beam, 0.0, -float("inf")),
        "lengths": ops.zeros((rows,), "int32"),
        "done": ops.zeros((rows,), "bool"),
        "state": [repeat(s) for s in carry["state"]],
        "history": step.history.repeat(carry["history"], num_beams),
    }
    first, beams = search(beams, repeat(carry["outputs"]))

    free_inputs = None
    if covariates is not None:
        free_inputs = {"covariates": repeat(covariates[seed_time:], axis=1)}

    def free_run(t, inputs_t, beams):
        covariates_t = None if inputs_t is None else inputs_t["covariates"]
        x, history = step.read(beams["token"], covariates_t, None, beams["history"])
        outputs, state = step.advance(x, beams["state"])
        return search(dict(beams, state=state, history=history), outputs)

    stop = None
    if end_token is not None:
        stop = lambda beams: ops.all(beams["done"])  # noqa: E731
    history, beams, count = _backend.run(
        free_run, beams, steps - 1, free_inputs, emitted=first, stop=stop,
        capacity=None if capacity is None else capacity - 1,
        jit_compile=jit_compile,
    )  # fmt: skip
    tokens, parents = (
        ops.reshape(
            ops.concatenate([first[name][None], history[name]], 0),
            (-1, batch_size, num_beams),
        )
        for name in ("token", "parent")
    )
    # (1 + count, ...), or (capacity, ...) of which as many are valid.
    sequences = _trace_back(tokens, parents, count + 1, capacity, jit_compile)
    if end_token is not None:
        # Every beam finished before the horizon: the rest is end_token.
        sequences = _backend.fill_after(sequences, count + 1, steps, end_token)
    sequences = ops.transpose(sequences, [1, 2, 0])
    # top_k left the beams sorted best first at the last step.
    scores = ops.reshape(beams["scores"], (batch_size, num_beams))
    best = ops.arange(batch_size) * num_beams
    state = [ops.take(s, best, axis=0) for s in beams["state"]]
    state += step.history.state(step.history.gather(beams["history"], best))
    if sampler.return_all_beams:
        return (sequences, scores), state
    return sequences[:, 0], state


def _trace_back(tokens, parents, count, capacity, jit_compile):
    """Follows each final beam back through its parents.

    The walk back runs in `_backend.run`'s chunks too, so that with XLA a new
    horizon reuses the compiled chunk; a plain `tf.scan` costs tens of
    microseconds per step without XLA.

    Args:
        tokens: int32 `(time, batch, num_beams)`: the token each beam took.
        parents: int32, same shape: the beam of the step before it came from.
        count: scalar int32, the steps taken: all of `time`, or (with a
            `capacity`) its first `count` steps.
        capacity: None, or the fixed length of `time`.
        jit_compile: whether XLA compiles the chunks.

    Returns:
        int32, shaped like `tokens`: the sequence of each final beam, its
        first `count` steps valid.
    """
    shape = ops.shape(tokens)
    beam = ops.broadcast_to(ops.arange(shape[2], dtype="int32"), shape[1:])

    def reverse(x):
        if capacity is None:
            return ops.flip(x, 0)
        # The first `count` rows in reverse order (the rest: the first row).
        backwards = ops.maximum(count - 1 - ops.arange(capacity, dtype="int32"), 0)
        return ops.take(x, backwards, axis=0)

    def back(t, step, beam):
        taken = ops.take_along_axis(step["token"], beam, axis=1)
        return taken, ops.take_along_axis(step["parent"], beam, axis=1)

    backwards = {"token": reverse(tokens), "parent": reverse(parents)}
    sequences, _, _ = _backend.run(
        back, beam, count, backwards, emitted=beam, capacity=capacity,
        jit_compile=jit_compile,
    )  # fmt: skip
    return reverse(sequences)
