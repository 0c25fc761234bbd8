"""Beam search (`samplers.BeamSampler` in `generate`) and `layer.score`."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from selffeed_keras import SelfFeedingRNN, samplers, schedules

VOCAB = 3


def token_layer(cell=None, vocab=VOCAB, jit_compile=False, covariates=None, **kw):
    """A small token model with peaked, seeded random weights."""
    keras.utils.set_random_seed(1)
    layer = SelfFeedingRNN(
        cell or keras.layers.GRUCell(6),
        encoder=keras.layers.Embedding(vocab, 4),
        head=keras.layers.Dense(
            vocab, kernel_initializer=keras.initializers.RandomNormal(stddev=1.5)
        ),
        sampler=kw.pop("sampler", "greedy"),
        jit_compile=jit_compile,
        **kw,
    )
    layer.build((None, None), covariates and (None, None, covariates))
    return layer


def beams(layer, seed, steps, num_beams, **kw):
    beam = samplers.BeamSampler(num_beams, return_all_beams=True)
    sequences, scores = layer.generate(seed, steps, sampler=beam, **kw)
    return np.asarray(sequences), np.asarray(scores)


def hand_scores(layer, seed, sequences, end_token=None):
    """Summed log-softmax of each row's tokens, from the layer's own call."""
    inputs = np.concatenate([seed, sequences[:, :-1]], 1)
    logits = keras.ops.convert_to_numpy(layer(inputs))[:, seed.shape[1] - 1 :]
    logits = logits.astype("float64")
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    chosen = np.take_along_axis(log_probs, sequences[..., None], -1)[..., 0]
    if end_token is not None:
        ended = np.cumsum(sequences == end_token, 1) - (sequences == end_token)
        chosen = np.where(ended == 0, chosen, 0.0)
    return chosen.sum(1)


@pytest.mark.parametrize(
    "cell",
    [
        lambda: keras.layers.GRUCell(6),
        pytest.param(lambda: keras.layers.LSTM(6), marks=pytest.mark.slow),
        pytest.param(
            lambda: [keras.layers.LSTMCell(4), keras.layers.SimpleRNNCell(3)],
            marks=pytest.mark.slow,
        ),
    ],
    ids=["gru_cell", "lstm_layer", "stacked"],
)
def test_one_beam_is_greedy(cell):
    layer = token_layer(cell(), vocab=7)
    seed = np.array([[1, 2, 3], [4, 0, 6]])
    greedy, greedy_state = layer.generate(seed, 12, return_state=True)
    best, state = layer.generate(
        seed, 12, sampler=samplers.BeamSampler(1), return_state=True
    )
    np.testing.assert_array_equal(best, greedy)
    for a, b in zip(state, greedy_state, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    # The "beam" name resolves to BeamSampler(4); the best beam is a sequence.
    assert layer.generate(seed, 12, sampler="beam").shape == (2, 12)


def test_all_sequences_as_beams_find_the_brute_force_best():
    layer = token_layer()
    seed = np.array(list(itertools.product(range(VOCAB), repeat=2)))  # 9 prompts
    horizon = 3
    every = np.array(list(itertools.product(range(VOCAB), repeat=horizon)))
    sequences, scores = beams(layer, seed, horizon, VOCAB**horizon)
    assert sequences.shape == (9, 27, 3) and scores.shape == (9, 27)
    greedy = np.asarray(layer.generate(seed, horizon))
    greedy_is_best = []
    for row in range(9):
        brute = np.asarray(layer.score(np.repeat(seed[row : row + 1], 27, 0), every))
        # Every sequence is a beam, once, and the best beam is brute force's.
        assert sorted(map(tuple, sequences[row])) == sorted(map(tuple, every))
        np.testing.assert_array_equal(sequences[row, 0], every[np.argmax(brute)])
        np.testing.assert_allclose(scores[row], np.sort(brute)[::-1], atol=1e-5)
        greedy_is_best.append((greedy[row] == sequences[row, 0]).all())
    # The weights are such that greedy misses the best sequence somewhere, so
    # the search did something greedy does not.
    assert not all(greedy_is_best)


def test_scores_are_summed_log_softmax_and_equal_score():
    layer = token_layer(vocab=6)
    seed = np.array([[1, 2, 3, 4], [5, 5, 0, 1]])
    sequences, scores = beams(layer, seed, 7, 4)
    assert np.all(np.diff(scores, axis=1) <= 0)  # best first
    for k in range(4):
        np.testing.assert_allclose(
            scores[:, k], hand_scores(layer, seed, sequences[:, k]), atol=1e-5
        )
        np.testing.assert_allclose(
            scores[:, k], layer.score(seed, sequences[:, k]), atol=1e-5
        )
    assert len({tuple(s) for s in sequences[0]}) == 4  # no duplicate beams


def test_end_token_finishes_beams_that_keep_their_score():
    layer = token_layer(vocab=5)
    seed = np.array([[1, 2], [3, 4]])
    end = 0
    sequences, scores = beams(layer, seed, 8, 5, end_token=end)
    ended = np.cumsum(sequences == end, -1) - (sequences == end) > 0
    assert ended.any()  # some beam finished before the horizon
    # After its first end_token, a beam holds end_token only.
    assert np.all(sequences[ended] == end)
    for k in range(5):
        np.testing.assert_allclose(
            scores[:, k],
            hand_scores(layer, seed, sequences[:, k], end_token=end),
            atol=1e-5,
        )
        np.testing.assert_allclose(
            scores[:, k], layer.score(seed, sequences[:, k], end_token=end), atol=1e-5
        )


def test_when_every_beam_ends_the_loop_stops_and_pads():
    layer = token_layer(vocab=4)
    bias = np.asarray(layer.head.bias).copy()
    bias[2] = 50.0  # token 2 is certain
    layer.head.bias.assign(bias)
    sequences, scores = beams(layer, np.array([[1, 3]]), 20, 3, end_token=2)
    # The best beam ends at once, the others end at their second token.
    np.testing.assert_array_equal(sequences[0, 0], np.full(20, 2))
    assert np.all(sequences[0, 1:, 1:] == 2) and np.all(sequences[0, 1:, 0] != 2)
    assert scores[0, 0] > -1e-6 and np.all(scores[0, 1:] < -40)


def test_length_penalty_changes_the_ranking_not_the_scores():
    layer = token_layer(vocab=5)
    seed = np.array([[1, 2], [3, 4]])
    plain = samplers.BeamSampler(5, return_all_beams=True)
    long = samplers.BeamSampler(5, length_penalty=2.0, return_all_beams=True)
    for sampler in (plain, long):
        sequences, scores = layer.generate(seed, 6, sampler=sampler, end_token=0)
        for k in range(5):
            np.testing.assert_allclose(
                scores[:, k], layer.score(seed, sequences[:, k], end_token=0), atol=1e-5
            )
    # Ranked by score / length ** 2: best first, by that key.
    sequences, scores = layer.generate(seed, 6, sampler=long, end_token=0)
    ended = np.cumsum(np.asarray(sequences) == 0, -1) - (np.asarray(sequences) == 0)
    lengths = (ended == 0).sum(-1)
    assert np.all(np.diff(np.asarray(scores) / lengths**2.0, axis=1) <= 1e-6)


def test_seed_mask_rows_equal_rows_alone():
    layer = token_layer(vocab=5)
    short, long = np.array([[3, 1]]), np.array([[2, 4, 4, 1]])
    left = np.array([[0, 0, 3, 1], [2, 4, 4, 1]])
    right = np.array([[3, 1, 0, 0], [2, 4, 4, 1]])
    for padded in (left, right):
        mask = padded != 0
        mask[1] = True
        sequences, scores = beams(layer, padded, 5, 3, seed_mask=mask)
        for row, alone in enumerate((short, long)):
            s, c = beams(layer, alone, 5, 3)
            np.testing.assert_array_equal(sequences[row], s[0])
            np.testing.assert_allclose(scores[row], c[0], atol=1e-5)
        np.testing.assert_allclose(
            scores[:, 0],
            layer.score(padded, sequences[:, 0], seed_mask=mask),
            atol=1e-5,
        )


# Among `make test`'s longest (21 s on a 2-core AMD EPYC): `make test-slow`.
@pytest.mark.slow
def test_covariates_and_initial_state():
    layer = token_layer(vocab=5, covariates=2)
    rng = np.random.default_rng(0)
    seed = np.array([[1, 2, 3], [4, 0, 1]])
    covariates = rng.normal(size=(2, 3 + 6 - 1, 2)).astype("float32")
    state = [rng.normal(size=(2, 6)).astype("float32")]
    sequences, scores = beams(
        layer, seed, 6, 4, covariates=covariates, initial_state=state
    )
    plain, _ = beams(layer, seed, 6, 4, covariates=covariates)
    assert not np.array_equal(sequences, plain)  # the state was read
    for k in range(4):
        np.testing.assert_allclose(
            scores[:, k],
            layer.score(
                seed, sequences[:, k], covariates=covariates, initial_state=state
            ),
            atol=1e-5,
        )
    one = samplers.BeamSampler(1)
    np.testing.assert_array_equal(
        layer.generate(seed, 6, covariates=covariates, sampler=one),
        layer.generate(seed, 6, covariates=covariates),
    )


def test_return_state_is_the_best_beams():
    layer = token_layer(vocab=5)
    seed = np.array([[1, 2, 3], [4, 4, 1]])
    best, state = layer.generate(
        seed, 6, sampler=samplers.BeamSampler(3), return_state=True
    )
    # The state that produced the last token: after reading seed and best[:-1].
    read = np.concatenate([seed, np.asarray(best)[:, :-1]], 1)
    _, expected = layer.generate(read, 1, return_state=True)
    for a, b in zip(state, expected, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_a_layer_whose_sampler_is_a_beam_search():
    layer = token_layer(vocab=5, sampler=samplers.BeamSampler(3))
    seed = np.array([[1, 2, 3]])
    expected, _ = beams(layer, seed, 5, 3)
    np.testing.assert_array_equal(layer.generate(seed, 5), expected[:, 0])
    clone = SelfFeedingRNN.from_config(layer.get_config())
    assert clone.sampler.get_config() == layer.sampler.get_config()
    # Called on logits, as a per-step sampler, it is greedy.
    logits = np.array([[0.1, 3.0, 0.2], [2.0, 0.0, 1.9]])
    assert np.asarray(samplers.BeamSampler(4)(logits)).tolist() == [1, 0]


def test_one_function_per_sampler_config_and_no_retrace_for_a_new_horizon():
    layer = token_layer(vocab=5)
    seed = np.array([[1, 2, 3]])
    layer.generate(seed, 3, sampler=samplers.BeamSampler(2))
    functions = layer._generation.functions
    assert len(functions) == 1
    (function,) = functions.values()
    layer.generate(seed, 9, sampler=samplers.BeamSampler(2))  # another object
    layer.generate(np.array([[1, 2], [3, 4]]), 30, sampler=samplers.BeamSampler(2))
    assert len(functions) == 1
    if keras.backend.backend() == "jax":
        # A JAX program has buffers of fixed size: the horizons 3 and 9 share
        # one (16 steps), 30 with a new batch size another.
        assert sum(layer._generation.programs.traces.values()) == 2
    else:
        assert function.experimental_get_tracing_count() == 1
    layer.generate(seed, 3, sampler=samplers.BeamSampler(3))
    layer.generate(seed, 3, sampler="top_k")
    layer.generate(seed, 3, sampler=samplers.TopKSampler(k=5))  # same as "top_k"
    assert len(functions) == 3


def test_xla_and_no_xla_agree():
    seed = np.array([[1, 2, 3], [4, 0, 1]])
    mask = np.array([[True, True, True], [False, True, True]])
    results = []
    for jit_compile in (True, False):
        layer = token_layer(vocab=6, jit_compile=jit_compile)
        results.append(beams(layer, seed, 7, 4, seed_mask=mask, end_token=5))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1], atol=1e-5)


def test_per_call_sampler_leaves_the_layer_as_it_was():
    layer = token_layer(vocab=6, sampler="random")
    seed = np.array([[1, 2, 3]])
    greedy = layer.generate(seed, 10, sampler="greedy")
    np.testing.assert_array_equal(
        greedy, layer.generate(seed, 10, sampler=samplers.BeamSampler(1))
    )
    assert isinstance(layer.sampler, samplers.RandomSampler)
    a = layer.generate(seed, 10, random_seed=3)
    b = layer.generate(seed, 10, sampler=samplers.RandomSampler(), random_seed=3)
    np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------- errors


def test_num_beams_below_one():
    with pytest.raises(ValueError, match="`num_beams` must be a positive integer"):
        samplers.BeamSampler(0)
    with pytest.raises(TypeError, match="`num_beams`"):
        samplers.BeamSampler(2.5)
    with pytest.raises(TypeError, match="`return_all_beams` must be a bool"):
        samplers.BeamSampler(2, return_all_beams=1)


def test_beam_search_on_a_continuous_model():
    layer = SelfFeedingRNN(keras.layers.GRUCell(4), head=keras.layers.Dense(1))
    seed = np.zeros((1, 3, 1), "float32")
    with pytest.raises(ValueError, match="beam search .* needs a token model"):
        layer.generate(seed, 3, sampler=samplers.BeamSampler(2))
    with pytest.raises(ValueError, match="sampler .* needs a token model"):
        layer.generate(seed, 3, sampler="greedy")
    with pytest.raises(ValueError, match="`score` .* needs a model that predicts"):
        layer.score(seed, seed)


def test_beam_search_on_a_distribution_model():
    layer = SelfFeedingRNN(keras.layers.GRUCell(4), distribution="normal")
    seed = np.zeros((1, 3, 1), "float32")
    with pytest.raises(ValueError, match="beam search .* distribution"):
        layer.generate(seed, 3, sampler=samplers.BeamSampler(2))
    # score sums a distribution's log_prob instead (tests/test_probabilistic.py);
    # a layer that predicts no probabilities has nothing to score.
    assert layer.score(seed, seed).shape == (1,)


def test_num_samples_with_a_beam_search():
    layer = token_layer(sampler="random")
    seed = np.array([[1, 2]])
    with pytest.raises(ValueError, match="`num_samples`.*BeamSampler"):
        layer.generate(seed, 3, sampler=samplers.BeamSampler(2), num_samples=2)
    with pytest.raises(ValueError, match="`num_samples`.*BeamSampler"):
        token_layer(sampler="beam").generate(seed, 3, num_samples=2)
    # A per-call greedy sampler is deterministic too: every path the same.
    with pytest.raises(ValueError, match="`num_samples`.*deterministic"):
        layer.generate(seed, 3, sampler="greedy", num_samples=2)
    assert layer.generate(seed, 3, num_samples=2).shape == (1, 2, 3)


@pytest.mark.parametrize(
    "probability", [0.5, schedules.Linear(0.0, 1.0, 10)], ids=["float", "schedule"]
)
def test_beam_sampler_on_a_layer_that_trains_on_its_own_outputs(probability):
    with pytest.raises(ValueError, match="`BeamSampler`.*sampling_probability"):
        token_layer(sampler="beam", sampling_probability=probability)
    layer = token_layer(sampling_probability=probability)
    with pytest.raises(ValueError, match="`BeamSampler`.*sampling_probability"):
        layer.sampler = samplers.BeamSampler(2)
    # Per call it is fine: training keeps the layer's own sampler.
    layer.generate(np.array([[1]]), 2, sampler=samplers.BeamSampler(2))


def test_feedback_turned_on_for_a_beam_layer():
    layer = token_layer(sampler="beam")
    with pytest.raises(ValueError, match="`BeamSampler`.*sampling_probability"):
        layer.set_sampling_probability(0.2)
    assert layer.current_sampling_probability == 0.0
    layer.set_sampling_probability(0.0)  # teacher forcing stays allowed


def test_score_checks_the_continuation():
    layer = token_layer()
    seed = np.array([[1, 2], [0, 1]])
    with pytest.raises(ValueError, match="`continuation` must have one row per seed"):
        layer.score(seed, np.array([[1, 2, 0]]))
    with pytest.raises(TypeError, match="`continuation` must hold integer.*float32"):
        layer.score(seed, np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match=r"`continuation` must be .* \(batch, steps\)"):
        layer.score(seed, np.array([1, 2]))
    with pytest.raises(ValueError, match="`end_token`"):
        layer.score(seed, np.array([[1], [2]]), end_token=VOCAB)


def test_errors_come_before_any_graph():
    layer = token_layer()
    with pytest.raises(ValueError, match="Unknown sampler name"):
        layer.generate(np.array([[1]]), 2, sampler="nucleus")
    assert layer._generation is None or not layer._generation.functions


@pytest.mark.tensorflow_only(reason="tf.function")
def test_score_in_a_traced_function_raises_nothing_eager():
    # score is an eager method; inside tf.function its ops trace too.
    layer = token_layer()
    seed, continuation = np.array([[1, 2]]), np.array([[0, 1]])
    traced = tf.function(lambda: layer.score(seed, continuation))
    np.testing.assert_allclose(traced(), layer.score(seed, continuation), atol=1e-6)


def test_score_is_traced_once_and_does_not_keep_the_layer_alive():
    import gc
    import weakref

    from selffeed_keras import _score

    layer = token_layer()
    layer.score(np.array([[1, 2]]), np.array([[0, 1]]))
    layer.score(np.array([[1, 2, 0], [2, 2, 1]]), np.array([[0, 1, 1, 2]] * 2))
    (function,) = _score._FUNCTIONS[layer].values()
    if keras.backend.backend() == "tensorflow":
        # One input signature; on JAX `jax.jit` compiles each new shape.
        assert function.experimental_get_tracing_count() == 1
    ref = weakref.ref(layer)
    del layer, function
    gc.collect()
    assert ref() is None


def test_more_beams_than_sequences_score_minus_infinity():
    layer = token_layer()
    sequences, scores = beams(layer, np.array([[1, 2]]), 1, 5)
    assert sorted(sequences[0, :3, 0].tolist()) == [0, 1, 2]
    assert np.all(np.isfinite(scores[0, :3])) and np.all(scores[0, 3:] == -np.inf)
