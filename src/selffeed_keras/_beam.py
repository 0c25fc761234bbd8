"""Beam search: the generation graph that keeps several hypotheses per row.

Built on the same `Step` and `_loop.run` as sampling. The loop runs on
`batch * num_beams` rows, row `b`'s beams at rows `b * num_beams + k`: the
seed's warm-up runs on the repeated rows (all beams of a row are equal until
the first generated step), which keeps one loop for warm-up and search, at
the cost of `num_beams` times the work on the seed's steps.

At each step from the seed's last one on, every beam is extended by every
token; the `num_beams` best extensions of each row are kept, ranked by
`score / length ** length_penalty`, and the state, scores, lengths and
finished flags of the kept beams are gathered from their parents. Each step
emits only `(token, parent)`, so no shape grows with the number of steps,
and the sequences are traced back from the last step's beams at the end.
At the first generated step all beams but the first of each row start at
-inf, so that no hypothesis is kept twice.
"""

import tensorflow as tf

from selffeed_keras import _loop, samplers


def call_sampler(sampler, layer_sampler):
    """Resolves `generate`'s `sampler` argument, or raises before any graph.

    Args:
        sampler: the argument: None, a `Sampler` or a name.
        layer_sampler: the layer's own sampler, None for continuous models.

    Returns:
        The `Sampler`, or None for the layer's own.
    """
    sampler = samplers.get(sampler)
    if sampler is not None and layer_sampler is None:
        kind = "beam search" if isinstance(sampler, samplers.BeamSampler) else "sampler"
        raise ValueError(
            f"A {kind} picks token ids from logits: it needs a token model, a "
            "layer with a `sampler` and an `encoder`. This layer feeds back "
            f"continuous values (sampler=None). Received: sampler={sampler!r}."
        )
    return sampler


def check_training(sampler, feedback_in_training):
    """Raises for a `BeamSampler` on a layer that trains on its own outputs."""
    if feedback_in_training and isinstance(sampler, samplers.BeamSampler):
        raise ValueError(
            "A `BeamSampler` searches over whole sequences in `generate`; it "
            "cannot pick the single token that training with "
            "`sampling_probability` above 0 (or a schedule) feeds back. Give the "
            "layer a per-step sampler (such as 'greedy') and pass the beam "
            "search per call: `generate(..., sampler=BeamSampler(4))`. "
            f"Received: sampler={sampler!r} with feedback in training."
        )


def _time_major(x):
    return tf.transpose(x, [1, 0] + list(range(2, x.shape.rank)))


def _select(keep, new, old):
    """Per row, `new` where `keep` holds, else `old`."""
    keep = tf.reshape(
        keep, tf.concat([tf.shape(keep), tf.ones([new.shape.rank - 1], tf.int32)], 0)
    )
    return tf.where(keep, new, old)


def _ranking(scores, lengths, length_penalty):
    """What beams are sorted by: the score, divided by length ** penalty."""
    if length_penalty == 0:
        return scores
    return scores / tf.cast(lengths, scores.dtype) ** length_penalty


def graph(
    step, sampler, seed, state, steps, covariates, seed_mask, end_token,
    *, jit_compile,
):  # fmt: skip
    """The beam search graph, warm-up on the seed included.

    Args:
        step: the `_step.Step` to run; its readout is not used.
        sampler: the `samplers.BeamSampler`.
        seed: `(batch, seed_time)` int32 token ids.
        state: the flat initial state, batch first.
        steps: scalar int32, at least 1.
        covariates: None or `(batch, seed_time + steps - 1, num_covariates)`.
        seed_mask: None or boolean `(batch, seed_time)`.
        end_token: None or scalar int32.
        jit_compile: whether XLA compiles the loop's chunks.

    Returns:
        `(outputs, state)`: `outputs` the best sequence per row, `(batch,
        steps)`, or with `sampler.return_all_beams` the pair `(sequences,
        scores)`, `(batch, num_beams, steps)` best first and `(batch,
        num_beams)`; `state` the best beam's final state.
    """
    num_beams, penalty = sampler.num_beams, sampler.length_penalty
    batch_size, seed_time = tf.shape(seed)[0], tf.shape(seed)[1]
    rows = batch_size * num_beams
    length = seed_time + steps - 1
    mask = step.input_mask(seed, seed_mask)

    def repeat(x):  # row b -> rows b * num_beams ... b * num_beams + num_beams - 1
        return tf.repeat(x, num_beams, axis=0)

    inputs = {"given": tf.pad(_time_major(repeat(seed)), [[0, steps - 1], [0, 0]])}
    if mask is not None:
        inputs["valid"] = tf.pad(
            _time_major(repeat(mask)), [[0, steps - 1], [0, 0]], constant_values=True
        )
    if covariates is not None:
        with tf.control_dependencies(
            [
                tf.debugging.assert_equal(
                    tf.shape(covariates)[1],
                    length,
                    message="`covariates` must cover every step the layer reads: "
                    "seed_time + steps - 1 (the seed's steps, then each fed-back "
                    "step but the last).",
                )
            ]
        ):
            inputs["covariates"] = _time_major(repeat(covariates))

    vocab_size = step.output_size
    first_beam = tf.tile(tf.range(num_beams) < 1, [batch_size])
    carry = {
        "previous": tf.zeros([rows], tf.int32),
        "state": [repeat(s) for s in state],
        # The log-probabilities of the next token after the last valid step.
        "log_probs": tf.zeros([rows, vocab_size], tf.float32),
        "scores": tf.where(first_beam, 0.0, -float("inf")),
        "lengths": tf.zeros([rows], tf.int32),
        "done": tf.zeros([rows], tf.bool),
    }
    # Row b's beams start at b * num_beams in the flat rows.
    offsets = tf.repeat(tf.range(batch_size) * num_beams, num_beams)
    beam_index = tf.tile(tf.range(num_beams), [batch_size])

    def search(carry, log_probs):
        """One beam step: `(token, parent, new carry fields)`."""
        done = carry["done"]
        candidates = carry["scores"][:, None] + log_probs
        if end_token is not None:
            # A finished beam extends only by end_token, at no cost.
            only_end = tf.where(
                tf.range(vocab_size) == end_token,
                carry["scores"][:, None],
                -float("inf"),
            )
            candidates = tf.where(done[:, None], only_end, candidates)
        lengths = tf.where(done, carry["lengths"], carry["lengths"] + 1)
        ranking = _ranking(candidates, lengths[:, None], penalty)
        ranking = tf.reshape(ranking, [batch_size, num_beams * vocab_size])
        _, chosen = tf.math.top_k(ranking, k=num_beams)
        chosen = tf.reshape(chosen, [rows])
        parent, token = chosen // vocab_size, chosen % vocab_size
        source = offsets + parent
        new = {
            "scores": tf.gather(
                tf.reshape(candidates, [batch_size * num_beams * vocab_size]),
                offsets * vocab_size + chosen,
            ),
            "lengths": tf.gather(lengths, source),
            "done": tf.gather(done, source),
        }
        if end_token is not None:
            new["done"] = tf.logical_or(new["done"], tf.equal(token, end_token))
        return token, parent, source, new

    def one_step(t, inputs_t, carry):
        reading_seed = t < seed_time
        value = tf.where(reading_seed, inputs_t["given"], carry["previous"])
        x = step.encode(value, inputs_t.get("covariates"))
        outputs, state = step.advance(x, carry["state"])
        log_probs = tf.nn.log_softmax(tf.cast(outputs, tf.float32), axis=-1)
        if mask is not None:
            keep = tf.logical_or(inputs_t["valid"], tf.logical_not(reading_seed))
            state = [
                _select(keep, s, c) for s, c in zip(state, carry["state"], strict=True)
            ]
            log_probs = _select(keep, log_probs, carry["log_probs"])
        token, parent, source, new = search(carry, log_probs)
        searching = t >= seed_time - 1
        new = {k: tf.where(searching, v, carry[k]) for k, v in new.items()}
        token = tf.where(searching, token, carry["previous"])
        parent = tf.where(searching, parent, beam_index)
        source = tf.where(searching, source, tf.range(rows))
        new["previous"] = token
        new["state"] = [tf.gather(s, source) for s in state]
        new["log_probs"] = log_probs
        return {"token": token, "parent": parent}, new

    emitted = {"token": carry["previous"], "parent": carry["previous"]}
    stop = None
    if end_token is not None:
        stop = lambda carry: tf.reduce_all(carry["done"])  # noqa: E731
    history, carry, count = _loop.run(
        one_step, carry, length, inputs, emitted=emitted, stop=stop,
        jit_compile=jit_compile,
    )  # fmt: skip
    tokens = tf.reshape(history["token"][seed_time - 1 :], [-1, batch_size, num_beams])
    parents = tf.reshape(
        history["parent"][seed_time - 1 :], [-1, batch_size, num_beams]
    )
    sequences = _trace_back(
        tokens, parents, jit_compile
    )  # (computed, batch, num_beams)
    if end_token is not None:
        # Every beam finished before the horizon: the rest is end_token.
        padding = tf.fill([length - count, batch_size, num_beams], end_token)
        sequences = tf.concat([sequences, padding], 0)
    sequences = tf.transpose(sequences, [1, 2, 0])
    # top_k left the beams sorted best first at the last step.
    scores = tf.reshape(carry["scores"], [batch_size, num_beams])
    best = tf.range(batch_size) * num_beams
    state = [tf.gather(s, best) for s in carry["state"]]
    if sampler.return_all_beams:
        return (sequences, scores), state
    return sequences[:, 0], state


def _trace_back(tokens, parents, jit_compile):
    """Follows each final beam back through its parents.

    The walk back runs in `_loop.run`'s chunks too, so that with XLA a new
    horizon reuses the compiled chunk; a plain `tf.scan` costs tens of
    microseconds per step without XLA.

    Args:
        tokens: int32 `(time, batch, num_beams)`: the token each beam took.
        parents: int32, same shape: the beam of the step before it came from.
        jit_compile: whether XLA compiles the chunks.

    Returns:
        int32 `(time, batch, num_beams)`: the sequence of each final beam.
    """
    shape = tf.shape(tokens)
    beam = tf.broadcast_to(tf.range(shape[2]), shape[1:])

    def back(t, step, beam):
        taken = tf.gather(step["token"], beam, batch_dims=1)
        return taken, tf.gather(step["parent"], beam, batch_dims=1)

    backwards = {"token": tf.reverse(tokens, [0]), "parent": tf.reverse(parents, [0])}
    sequences, _, _ = _loop.run(
        back, beam, shape[0], backwards, emitted=beam, jit_compile=jit_compile
    )
    return tf.reverse(sequences, [0])
