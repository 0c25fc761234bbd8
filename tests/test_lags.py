"""Lags: the cell reads its own elements from further back.

Every path of the layer is checked against `reference`, a hand-written loop
over the same weights that keeps each row's history as a Python list of
encoded elements.
"""

import keras
import numpy as np
import pytest
from cells import CELLS, sine_seed

from selffeed_keras import SelfFeedingRNN, samplers

LAGS = (1, 5, 3)  # not sorted: the order given is the order of the features


def numpy(x):
    """A tensor of any backend as a NumPy array (torch's: without its graph)."""
    return keras.ops.convert_to_numpy(x)


# ------------------------------------------------------------- the reference


class _Row:
    """One row of the reference: its cell state, history and scale."""

    def __init__(self, layer, cell_state, past, scale, covariates):
        self.layer, self.cell = layer, layer.rnn.cell
        self.cell_state, self.past, self.scale = cell_state, past, scale
        self.covariates = covariates

    def encode(self, value):
        if self.scale is not None:
            value = value / self.scale
        if self.layer.encoder is not None:
            return numpy(self.layer.encoder(np.array([value]))[0])
        return np.asarray(value, "float32")

    def step(self, value, column):
        """Reads `value`, with covariates column `column`; the head output."""
        self.past.append(self.encode(value))
        width = self.past[-1].shape[-1]
        parts = [
            np.zeros(width, "float32") if self.past[-lag] is None else self.past[-lag]
            for lag in self.layer.lags
        ]
        if self.covariates is not None:
            parts.append(self.covariates[column])
        x = np.concatenate(parts)[None].astype("float32")
        state = self.cell_state
        if isinstance(self.cell.state_size, (list, tuple)):
            state = keras.tree.pack_sequence_as(self.cell.state_size, state)
        else:
            state = state[0]
        output, state = self.cell(x, state)
        self.cell_state = keras.tree.flatten(state)
        for head in (self.layer.head, self.layer.projection):
            if head is not None:
                output = head(output)
        return numpy(output[0])

    def feed(self, output):
        if self.layer.is_token_model:
            return int(np.argmax(output))
        if self.layer.distribution is not None:  # the mean: tests make it certain
            return output.reshape(-1, 2)[:, 0] * (
                1.0 if self.scale is None else self.scale
            )
        return output

    def history(self, size):
        width = self.past[-1].shape[-1]
        return [
            np.zeros(width, "float32") if p is None else p
            for p in self.past[-(size - 1) :]
        ]


def reference(layer, seed, steps=0, seed_mask=None, covariates=None, state=None):
    """Teacher-forced outputs over the seed, then `steps` fed-back elements.

    A plain Python loop per row: `past` holds the row's encoded elements
    (zeros before the first valid one), lag l of the element read at a step
    is `past[-l]`. Returns `(seed outputs, generated, final state)`; seed
    outputs at masked steps are None.
    """
    seed = np.asarray(seed)
    batch, seed_time = seed.shape[:2]
    size = max(layer.lags)
    num_cell_states = len(keras.tree.flatten(layer.rnn.get_initial_state(1)))
    mask = np.ones((batch, seed_time), bool) if seed_mask is None else seed_mask
    seed_outputs, generated, final = [], [], []
    for b in range(batch):
        if state is None:
            cell_state = keras.tree.flatten(layer.rnn.cell.get_initial_state(1))
            past, scale = [None] * (size - 1), None
        else:
            cell_state = [s[b : b + 1] for s in state[:num_cell_states]]
            past = list(state[num_cell_states][b]) if size > 1 else []
            scale = state[-1][b] if layer.scaling == "mean" else None
        if layer.scaling == "mean" and (scale is None or np.all(scale == 0)):
            valid = np.abs(seed[b][mask[b]])
            scale = valid.mean(0) if valid.size and valid.sum() > 0 else 1.0
            scale = np.maximum(scale, 1e-6)
        row = _Row(
            layer,
            cell_state,
            past,
            scale,
            None if covariates is None else covariates[b],
        )
        row_outputs, last = [], None
        for t in range(seed_time):
            if mask[b, t]:
                last = row.step(seed[b, t], t)
                row_outputs.append(last)
            else:
                row_outputs.append(None)
        row_generated = [row.feed(last)]
        for k in range(1, steps):
            row_generated.append(
                row.feed(row.step(row_generated[-1], seed_time + k - 1))
            )
        seed_outputs.append(row_outputs)
        generated.append(row_generated)
        final.append((row.cell_state, row.history(size), scale))
    return seed_outputs, np.array(generated), final


def teacher_forced(seed_outputs):
    """The reference's seed outputs as an array, NaN at masked steps."""
    shape = next(o for row in seed_outputs for o in row if o is not None).shape
    return np.array(
        [
            [np.full(shape, np.nan) if o is None else o for o in row]
            for row in seed_outputs
        ]
    )


def assert_close_where_valid(actual, expected, atol=1e-5):
    actual = numpy(actual)
    valid = ~np.isnan(expected)
    np.testing.assert_allclose(actual[valid], expected[valid], atol=atol)


def lagged_layer(cell_name="lstm_cell", lags=LAGS, **kwargs):
    """A layer with lags; without XLA unless asked, which compiles for seconds."""
    keras.utils.set_random_seed(0)
    kwargs.setdefault("jit_compile", False)
    return SelfFeedingRNN(
        CELLS[cell_name](), head=keras.layers.Dense(1), lags=lags, **kwargs
    )


# ---------------------------------------------------------------- contract


@pytest.mark.parametrize(
    "lags, error, match",
    [
        ((2, 3), ValueError, "1 is missing"),
        ((1, 3, 3), ValueError, "appears twice"),
        ((1, 0), ValueError, "distinct positive integers"),
        ((1, -2), ValueError, "distinct positive integers"),
        ((), ValueError, "distinct positive integers"),
        ((1, 2.0), TypeError, "of type float"),
        ((1, True), TypeError, "of type bool"),
        (3, TypeError, "Received: lags=3"),
        ("1", TypeError, "Received: lags='1'"),
    ],
)
def test_bad_lags_are_refused(lags, error, match):
    with pytest.raises(error, match=match):
        SelfFeedingRNN(keras.layers.GRUCell(4), lags=lags)


def test_lags_in_config_and_default():
    layer = SelfFeedingRNN(keras.layers.GRUCell(4), lags=[1, np.int64(48)])
    assert layer.lags == (1, 48)
    assert layer.get_config()["lags"] == [1, 48]
    clone = SelfFeedingRNN.from_config(layer.get_config())
    assert clone.lags == (1, 48)
    # A config saved before lags existed loads as lags=(1,).
    config = SelfFeedingRNN(keras.layers.GRUCell(4)).get_config()
    del config["lags"]
    assert SelfFeedingRNN.from_config(config).lags == (1,)


def test_default_lags_keep_the_state_and_the_outputs():
    seed = sine_seed(batch=2, time=9)
    plain = lagged_layer("gru_cell", lags=(1,), return_state=True)
    outputs, state = plain(seed)
    assert len(state) == 1  # no history in the state
    _, generated, _ = reference(plain, seed, steps=6)
    np.testing.assert_allclose(numpy(plain.generate(seed, 6)), generated, atol=1e-5)


@pytest.mark.parametrize("cell_name", ["lstm_cell", "stacked"])
def test_free_running_training_equals_generate_from_one_step(cell_name):
    # p=1: every step after the first reads the layer's own last output, and
    # its lags read whatever was fed: as generate from a one-step seed.
    layer = lagged_layer(cell_name, sampling_probability=1.0, return_state=True)
    inputs = sine_seed(batch=2, time=10)
    outputs, state = layer(inputs, training=True)
    generated, generated_state = layer.generate(inputs[:, :1], 10, return_state=True)
    np.testing.assert_allclose(numpy(outputs), numpy(generated), atol=1e-5)
    for a, b in zip(state, generated_state, strict=True):
        np.testing.assert_allclose(numpy(a), numpy(b), atol=1e-5)


def test_scheduled_sampling_with_lags_trains():
    layer = lagged_layer(sampling_probability=0.5)
    model = keras.Sequential([keras.Input((None, 1)), layer])
    model.compile("adam", "mse")
    inputs = sine_seed(batch=4, time=12)
    before = [numpy(w) for w in model.trainable_weights]
    model.fit(inputs[:, :-1], inputs[:, 1:], epochs=1, verbose=0)
    changed = [
        not np.allclose(a, numpy(w))
        for a, w in zip(before, model.trainable_weights, strict=True)
    ]
    assert all(changed)


# --------------------------------------------------------- teacher forcing


@pytest.mark.parametrize("cell_name", ["lstm_cell", "lstm_layer", "stacked"])
def test_call_equals_the_reference(cell_name):
    layer = lagged_layer(cell_name, return_state=True)
    seed = sine_seed(batch=2, time=9)
    outputs, state = layer(seed)
    expected, _, final = reference(layer, seed)
    np.testing.assert_allclose(numpy(outputs), teacher_forced(expected), atol=1e-5)
    # The state: cell states, then the history, oldest first.
    assert state[-1].shape == (2, max(LAGS) - 1, 1)
    np.testing.assert_allclose(
        numpy(state[-1]), np.array([f[1] for f in final]), atol=1e-6
    )


@pytest.mark.parametrize("padding", ["left", "right", "middle"])
def test_call_with_a_mask_counts_valid_elements(padding):
    layer = lagged_layer(return_state=True)
    seed = sine_seed(batch=3, time=10)
    mask = np.ones((3, 10), bool)
    if padding == "left":
        mask[0, :4], mask[1, :1] = False, False
    elif padding == "right":
        mask[0, 6:], mask[2, 8:] = False, False
    else:
        mask[0, 3:5], mask[1, 1], mask[2, 7] = False, False, False
    outputs, state = layer(seed, mask=mask)
    expected, _, final = reference(layer, seed, seed_mask=mask)
    assert_close_where_valid(outputs, teacher_forced(expected))
    np.testing.assert_allclose(
        numpy(state[-1]), np.array([f[1] for f in final]), atol=1e-6
    )


def test_two_calls_equal_one():
    layer = lagged_layer(return_state=True)
    seed = sine_seed(batch=2, time=11)
    whole, whole_state = layer(seed)
    first, state = layer(seed[:, :4])
    rest, rest_state = layer(seed[:, 4:], initial_state=state)
    np.testing.assert_allclose(
        np.concatenate([numpy(first), numpy(rest)], 1), numpy(whole), atol=1e-5
    )
    for a, b in zip(rest_state, whole_state, strict=True):
        np.testing.assert_allclose(numpy(a), numpy(b), atol=1e-5)


# -------------------------------------------------------------- generation


@pytest.mark.parametrize("seed_time", [2, 9])  # shorter and longer than max lag
@pytest.mark.parametrize("jit_compile", [False, True])
def test_generate_equals_the_reference(seed_time, jit_compile):
    layer = lagged_layer(jit_compile=jit_compile)
    seed = sine_seed(batch=2, time=seed_time)
    _, expected, final = reference(layer, seed, steps=12)
    generated, state = layer.generate(seed, 12, return_state=True)
    np.testing.assert_allclose(numpy(generated), expected, atol=1e-5)
    # The state that produced the last element: its history ends with the
    # element read last, the one before the last generated.
    np.testing.assert_allclose(
        numpy(state[-1]), np.array([f[1] for f in final]), atol=1e-5
    )


@pytest.mark.parametrize("padding", ["left", "right", "middle"])
def test_generate_with_a_seed_mask(padding):
    layer = lagged_layer()
    seed = sine_seed(batch=3, time=9)
    mask = np.ones((3, 9), bool)
    if padding == "left":
        mask[0, :5], mask[1, :2] = False, False
    elif padding == "right":
        mask[0, 4:], mask[2, 7:] = False, False
    else:
        mask[0, 2:6], mask[1, 1] = False, False
    _, expected, _ = reference(layer, seed, steps=8, seed_mask=mask)
    np.testing.assert_allclose(
        numpy(layer.generate(seed, 8, seed_mask=mask)), expected, atol=1e-5
    )


def test_generate_with_covariates():
    layer = lagged_layer()
    seed = sine_seed(batch=2, time=6)
    covariates = np.random.default_rng(0).normal(size=(2, 6 + 7 - 1, 2))
    covariates = covariates.astype("float32")
    _, expected, _ = reference(layer, seed, steps=7, covariates=covariates)
    np.testing.assert_allclose(
        numpy(layer.generate(seed, 7, covariates=covariates)), expected, atol=1e-5
    )


def test_two_generate_calls_equal_one():
    layer = lagged_layer()
    seed = sine_seed(batch=2, time=7)
    whole = layer.generate(seed, 20)
    first, state = layer.generate(seed, 8, return_state=True)
    rest = layer.generate(first[:, -1:], 12, initial_state=state)
    np.testing.assert_allclose(
        np.concatenate([numpy(first), numpy(rest)], 1), numpy(whole), atol=1e-5
    )


def test_call_state_continues_in_generate():
    layer = lagged_layer(return_state=True)
    seed = sine_seed(batch=2, time=10)
    _, state = layer(seed[:, :-1])
    np.testing.assert_allclose(
        numpy(layer.generate(seed[:, -1:], 9, initial_state=state)),
        numpy(layer.generate(seed, 9)),
        atol=1e-5,
    )


def certain_normal(layer):
    """Makes the layer's Normal draws certain: a scale of about 1e-6."""
    kernel, bias = layer.projection.get_weights()
    kernel[:, 1::2], bias[1::2] = 0.0, -50.0
    layer.projection.set_weights([kernel, bias])


@pytest.mark.parametrize("scaling", [None, "mean"])
def test_sample_paths_each_read_their_own_history(scaling):
    layer = lagged_layer(distribution="normal", scaling=scaling)
    seed = 3.0 + sine_seed(batch=2, time=8)
    layer.build(seed.shape)
    certain_normal(layer)
    _, expected, _ = reference(layer, seed, steps=10)
    paths = numpy(layer.generate(seed, 10, num_samples=3, random_seed=1))
    assert paths.shape == (2, 3, 10, 1)
    for k in range(3):
        np.testing.assert_allclose(paths[:, k], expected, atol=1e-4)


def test_sample_paths_draw_apart_and_continue():
    layer = lagged_layer(distribution="normal", scaling="mean")
    seed = 3.0 + sine_seed(batch=2, time=8)
    paths, state = layer.generate(
        seed, 6, num_samples=4, random_seed=3, return_state=True
    )
    assert state[-2].shape == (8, max(LAGS) - 1, 1)  # one history per path
    again = layer.generate(seed, 6, num_samples=4, random_seed=3)
    np.testing.assert_array_equal(numpy(paths), numpy(again))
    assert np.std(numpy(paths)[:, :, -1]) > 0


def token_layer(vocab_size, lags, units):
    """A greedy token model with lags, an `Embedding(vocab_size, 3)` encoder."""
    keras.utils.set_random_seed(0)
    return SelfFeedingRNN(
        keras.layers.GRUCell(units),
        head=keras.layers.Dense(vocab_size),
        encoder=keras.layers.Embedding(vocab_size, 3),
        sampler="greedy",
        lags=lags,
        jit_compile=False,
    )


def test_token_model_with_greedy_and_beam():
    layer = token_layer(11, lags=(2, 1), units=8)
    seed = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    _, expected, _ = reference(layer, seed, steps=9)
    np.testing.assert_array_equal(numpy(layer.generate(seed, 9)), expected)
    # A beam search of one beam is greedy.
    np.testing.assert_array_equal(
        numpy(layer.generate(seed, 9, sampler=samplers.BeamSampler(1))), expected
    )
    # Scores: of the greedy continuation, as a beam search ranks it.
    (sequences, scores) = layer.generate(
        seed, 9, sampler=samplers.BeamSampler(3, return_all_beams=True)
    )
    np.testing.assert_allclose(
        numpy(layer.score(seed, sequences[:, 0])), numpy(scores[:, 0]), atol=1e-4
    )


def test_score_of_a_distribution_reads_lags_as_the_call_does():
    layer = lagged_layer(distribution="normal", scaling="mean")
    seed = 3.0 + sine_seed(batch=2, time=6)
    continuation = 3.0 + sine_seed(batch=2, time=4, offset=0.5)
    layer.build((None, None, 1))
    scale = np.abs(seed).mean(1)  # score takes the scale from the seed
    state = [numpy(s) for s in layer._spec.flat_state(2)]
    state[-1] = scale
    inputs = np.concatenate([seed, continuation[:, :-1]], 1)
    params = layer(inputs, initial_state=state)[:, 5:]
    expected = numpy(layer.distribution.log_prob(params, continuation)).sum((1, 2))
    np.testing.assert_allclose(
        numpy(layer.score(seed, continuation)), expected, rtol=1e-5
    )


# ------------------------------------------- history the cell does not read


@pytest.mark.parametrize("past_time", [2, 9])  # fewer and more than max(lags) - 1
def test_history_state_is_read_by_lags(past_time):
    layer = lagged_layer(return_state=True)
    past = sine_seed(batch=2, time=past_time, offset=1.0)
    seed = sine_seed(batch=2, time=3)
    state = layer.history_state(past)
    assert len(state) == 3 and state[-1].shape == (2, max(LAGS) - 1, 1)
    numpy_state = [numpy(s) for s in state]
    expected, generated, _ = reference(layer, seed, steps=6, state=numpy_state)
    np.testing.assert_allclose(
        numpy(layer.generate(seed, 6, initial_state=state)), generated, atol=1e-5
    )
    outputs, _ = layer(seed, initial_state=state)
    np.testing.assert_allclose(numpy(outputs), teacher_forced(expected), atol=1e-5)
    # The cell did not step over the history: its states are zeros.
    np.testing.assert_array_equal(numpy_state[0], np.zeros((2, 8)))


def test_history_state_with_mean_scaling_takes_the_context_scale():
    layer = lagged_layer(distribution="normal", scaling="mean")
    past = 5.0 + sine_seed(batch=2, time=7, offset=1.0)
    seed = 2.0 + sine_seed(batch=2, time=3)
    layer.build(seed.shape)
    certain_normal(layer)
    state = layer.history_state(past, context=seed)
    numpy_state = [numpy(s) for s in state]
    np.testing.assert_allclose(numpy_state[-1], np.abs(seed).mean(1), rtol=1e-6)
    _, generated, _ = reference(layer, seed, steps=5, state=numpy_state)
    paths = layer.generate(seed, 5, initial_state=state, num_samples=2, random_seed=0)
    np.testing.assert_allclose(
        numpy(paths),
        np.repeat(generated[:, None], 2, axis=1),
        atol=1e-4,
    )


def test_history_state_context_mask_keeps_padding_out_of_the_scale():
    # A batch of series padded on the left to one context length: the state's
    # scale is the one generate takes from the seed under the same mask (it
    # prefers the state's), so padding must not count in it.
    layer = SelfFeedingRNN(
        keras.layers.GRUCell(8), distribution="normal", scaling="mean", lags=(1, 5)
    )
    y = (100 + 10 * np.sin(np.arange(60, dtype="float32")))[None, :, None]
    y = y.repeat(2, 0)
    past, context = y[:, :40], y[:, 40:].copy()
    mask = np.ones((2, 20), bool)
    mask[1, :10] = False
    context[1, :10] = np.nan  # padding: never read, so NaN is allowed there
    _, alone = layer.generate(context, 3, seed_mask=mask, return_state=True)
    state = layer.history_state(past, context=context, context_mask=mask)
    _, continued = layer.generate(
        context, 3, seed_mask=mask, return_state=True, initial_state=state
    )
    expected = [np.abs(y[0, 40:]).mean(0), np.abs(y[1, 50:]).mean(0)]
    np.testing.assert_allclose(numpy(state[-1]), expected, rtol=1e-5)
    np.testing.assert_allclose(numpy(alone[-1]), expected, rtol=1e-5)
    np.testing.assert_allclose(numpy(continued[-1]), expected, rtol=1e-5)


def test_history_state_trains_as_an_input_of_a_functional_model():
    layer = lagged_layer("gru_cell", lags=(1, 6))
    y = np.sin(np.arange(400, dtype="float32") / 3).reshape(10, 40, 1)
    past, windows = y[:, :20], y[:, 20:]
    state = layer.history_state(past)
    y_in = keras.Input((None, 1))
    state_in = [keras.Input(tuple(s.shape[1:])) for s in state]
    model = keras.Model([y_in, state_in], layer(y_in, initial_state=state_in))
    model.compile("adam", "mse")
    model.fit([windows[:, :-1], state], windows[:, 1:], epochs=1, verbose=0)
    np.testing.assert_allclose(
        model.predict([windows[:, :-1], state], verbose=0),
        numpy(layer(windows[:, :-1], initial_state=state)),
        atol=1e-5,
    )


def test_history_state_leaves_an_unbuilt_layer_free_to_read_covariates():
    """The training states can be made before the model: it decides the rest."""
    layer = lagged_layer(lags=(1, 6), distribution="normal", scaling="mean")
    y = 3.0 + np.sin(np.arange(400, dtype="float32") / 3).reshape(10, 40, 1)
    past, windows = y[:, :20], y[:, 20:]
    calendar = np.cos(np.arange(400, dtype="float32") / 7).reshape(10, 40, 1)
    state = layer.history_state(past, context=windows[:, :5])
    assert not layer.built  # only the encoder may build: the call decides
    y_in, covariates_in = keras.Input((None, 1)), keras.Input((None, 1))
    state_in = [keras.Input(tuple(s.shape[1:])) for s in state]
    outputs = layer(y_in, covariates=covariates_in, initial_state=state_in)
    model = keras.Model([y_in, covariates_in, state_in], outputs)
    model.compile("adam", layer.distribution.loss)
    x = [windows[:, :-1], calendar[:, 21:], state]
    model.fit(x, windows[:, 1:], epochs=1, verbose=0)
    built_state = layer.history_state(past, context=windows[:, :5])
    for before, after in zip(state, built_state, strict=True):
        np.testing.assert_allclose(numpy(before), numpy(after), rtol=1e-6)
    outputs = layer(windows[:, :-1], covariates=calendar[:, 21:], initial_state=state)
    np.testing.assert_allclose(
        model.predict(x, verbose=0),
        numpy(outputs),
        atol=1e-5,
    )


def test_history_state_needs_lags():
    layer = lagged_layer(lags=(1,))
    with pytest.raises(ValueError, match="keeps none"):
        layer.history_state(sine_seed(batch=1, time=4))


_PAST = np.ones((2, 4, 1), "float32")
_MASK_3 = np.ones((2, 3), bool)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            {"history": np.ones((2, 4), "float32")},
            ValueError,
            r"`history` must have shape \(batch, time, features\)",
        ),
        (
            {"history": np.ones((2, 4, 1), bool)},
            TypeError,
            "`history` must hold real numbers",
        ),
        (
            {"history": np.full((2, 4, 1), np.nan, "float32")},
            ValueError,
            r"`history` must hold finite numbers.*`history_mask`",
        ),
        (
            {"context": np.ones((3, 5, 1), "float32")},
            ValueError,
            r"a row for each row of `history`.*context.shape=\(3, 5, 1\)",
        ),
        (
            {"context": np.ones((2, 5, 2), "float32")},
            ValueError,
            r"the same features.*history.shape=\(2, 4, 1\)",
        ),
        (
            {"context": np.ones((2, 5), "float32")},
            ValueError,
            r"`context` must have shape \(batch, time, features\)",
        ),
        (
            {"context": np.full((2, 5, 1), np.inf, "float32")},
            ValueError,
            r"`context` must hold finite numbers.*`context_mask`",
        ),
        (
            {"history_mask": np.ones((2, 5), bool)},
            ValueError,
            r"`history_mask` must have shape \(batch, time\) = \(2, 4\)",
        ),
        (
            {"history_mask": np.ones((2, 4), "int32")},
            TypeError,
            "`history_mask` must be boolean",
        ),
        (
            {"context_mask": np.ones((2, 4), bool)},
            ValueError,
            "`context_mask` marks the real steps of `context`, so it needs",
        ),
        (
            {"context": np.ones((2, 5, 1), "float32"), "context_mask": _MASK_3},
            ValueError,
            r"`context_mask` must have shape \(batch, time\) = \(2, 5\)",
        ),
        (
            {
                "context": np.ones((2, 5, 1), "float32"),
                "context_mask": np.array([[True] * 5, [False] * 5]),
            },
            ValueError,
            r"Every row of `context_mask` needs.*rows \[1\]",
        ),
        (
            {
                "context": np.ones((2, 5, 1), "float32"),
                "context_mask": np.ones((2, 5), "float32"),
            },
            TypeError,
            "`context_mask` must be boolean",
        ),
    ],
)
def test_history_state_names_the_argument_it_refuses(kwargs, error, match):
    layer = lagged_layer(distribution="normal", scaling="mean")
    kwargs = {"history": _PAST, **kwargs}
    with pytest.raises(error, match=match):
        layer.history_state(**kwargs)


def test_history_state_refuses_a_context_without_mean_scaling():
    with pytest.raises(ValueError, match='scale of a layer with scaling="mean"'):
        lagged_layer().history_state(_PAST, context=_PAST)


def test_history_state_masked_steps_may_hold_nan_and_a_row_may_have_no_history():
    layer = lagged_layer(return_state=True)
    past = sine_seed(batch=2, time=5, offset=1.0)
    past[1] = np.nan  # the second row has no history: every step is masked
    mask = np.array([[True] * 5, [False] * 5])
    state = layer.history_state(past, history_mask=mask)
    np.testing.assert_array_equal(numpy(state[-1][1]), np.zeros((max(LAGS) - 1, 1)))
    alone = layer.history_state(past[:1])  # the first row as it is
    np.testing.assert_allclose(numpy(state[-1][:1]), numpy(alone[-1]), atol=1e-6)


@pytest.mark.parametrize("built", [False, True])
def test_history_state_refuses_token_ids_outside_the_vocabulary(built):
    layer = token_layer(7, lags=(1, 2), units=4)
    if built:
        layer.generate(np.array([[1, 2]]), 1)
    for past, bad in (([[1, 9, 3]], 9), ([[1, 2, -1]], -1)):
        with pytest.raises(
            ValueError, match=rf"`history` must hold token ids in \[0, 7\).* = {bad}"
        ):
            layer.history_state(np.array(past))


@pytest.fixture
def mixed_float16():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    yield
    keras.mixed_precision.set_dtype_policy("float32")


def test_history_state_reads_values_past_float16_with_mean_scaling(mixed_float16):
    # A scaled layer reads its series in float32, as `generate` reads a seed,
    # and divides by the scale before the cast to float16.
    layer = lagged_layer(distribution="normal", scaling="mean")
    past = 1e5 * (2.0 + sine_seed(batch=2, time=7))
    state = layer.history_state(past, context=past[:, -3:])
    scale = np.abs(past[:, -3:]).mean(1)
    np.testing.assert_allclose(numpy(state[-1]), scale, rtol=1e-6)
    np.testing.assert_allclose(
        numpy(state[-2]).astype("float32"),
        past[:, -(max(LAGS) - 1) :] / scale[:, None],
        rtol=1e-3,
    )
    seed = past[:, -3:]
    assert np.isfinite(numpy(layer.generate(seed, 3, initial_state=state))).all()


# ------------------------------------------------------- saving and export


def test_saving_keeps_lags(tmp_path):
    layer = lagged_layer()
    seed = sine_seed(batch=2, time=6)
    model = keras.Sequential([keras.Input((None, 1)), layer])
    expected = layer.generate(seed, 10)
    model.save(tmp_path / "lags.keras")
    loaded = keras.saving.load_model(tmp_path / "lags.keras").layers[0]
    assert loaded.lags == LAGS
    np.testing.assert_allclose(
        numpy(loaded.generate(seed, 10)), numpy(expected), atol=1e-6
    )
    np.testing.assert_allclose(numpy(loaded(seed)), numpy(layer(seed)), atol=1e-6)


@pytest.mark.tensorflow_only(reason="ExportArchive")
def test_export_archive_serves_generate_with_lags(tmp_path):
    import tensorflow as tf

    layer = lagged_layer()
    seed = sine_seed(batch=2, time=6)
    expected = layer.generate(seed, 15)
    archive = keras.export.ExportArchive()
    archive.track(layer)
    archive.add_endpoint(
        "generate",
        lambda seed, steps: layer.generate(seed, steps),
        input_signature=[
            tf.TensorSpec((None, None, 1), tf.float32),
            tf.TensorSpec((), tf.int32),
        ],
    )
    archive.write_out(str(tmp_path / "served"), verbose=False)
    served = tf.saved_model.load(str(tmp_path / "served"))
    np.testing.assert_allclose(served.generate(seed, 15), expected, atol=1e-6)
