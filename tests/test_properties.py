"""Properties of `generate` checked on random cases with `hypothesis`.

Each property compares two ways of producing the same elements through the
public API: a horizon near the loop's chunk boundaries against a hand-written
loop, a padded batch against its rows alone, continued calls against one
call, and a batch with an end token against its rows alone and a known path.

TensorFlow's generation loop runs in chunks of at most
`_backend.tensorflow.loop._MAX_CHUNK` elements (4,096). To cross chunk
boundaries with short, fast horizons, this module traces its layers with
that constant patched to `CHUNK`; it is the only private name used here.
One slow test crosses the real boundary.

Batch sizes are fixed per test: under XLA a new batch size compiles the chunk
again. No deadline: the first example of a test pays for tracing.
"""

import keras
import numpy as np
import pytest
from cells import continuous_layer, reference_generate, sine_seed, token_layer
from hypothesis import given, settings
from hypothesis import strategies as st

from selffeed_keras import SelfFeedingRNN, _backend, samplers

# Hypothesis draws dozens of cases per property, each generating with XLA:
# about a minute in all, run by `make test-slow` (CI), not `make test`.
pytestmark = pytest.mark.slow

# The chunks are TensorFlow's: JAX's and torch's loops run in none.
TENSORFLOW = keras.backend.backend() == "tensorflow"
FULL_CHUNK = 4096
CHUNK = 8
BATCH = 3
MAX_STEPS = 3 * CHUNK + 2

small = settings(deadline=None, max_examples=15, database=None)


@pytest.fixture(scope="module", autouse=True)
def small_chunks():
    if not TENSORFLOW:
        yield
        return
    loop = _backend.tensorflow.loop
    assert loop._MAX_CHUNK == FULL_CHUNK
    with pytest.MonkeyPatch.context() as patch:
        # raising=True: if the loop no longer has this constant, say so.
        patch.setattr(loop, "_MAX_CHUNK", CHUNK)
        yield


def _gru(**kwargs):
    keras.utils.set_random_seed(0)
    return continuous_layer("gru_cell", **kwargs)


@pytest.fixture(scope="module")
def continuous():
    layer = _gru(jit_compile=False)
    seed = sine_seed(batch=BATCH, time=5)
    return layer, seed, reference_generate(layer, seed, MAX_STEPS)


@pytest.fixture(scope="module")
def continuous_xla():
    layer = _gru(jit_compile=True)
    seed = sine_seed(batch=BATCH, time=5)
    return layer, seed, reference_generate(layer, seed, MAX_STEPS)


# ------------------------------------------------- horizons around chunks


@pytest.mark.parametrize("fixture", ["continuous", "continuous_xla"])
def test_any_horizon_equals_the_hand_written_loop(fixture, request):
    layer, seed, reference = request.getfixturevalue(fixture)

    @small
    @given(steps=st.integers(1, MAX_STEPS))
    def check(steps):
        outputs = layer.generate(seed, steps)
        assert outputs.shape == (BATCH, steps, 1)
        np.testing.assert_allclose(outputs, reference[:, :steps], atol=1e-5)

    check()


@pytest.mark.slow
def test_horizons_around_the_real_chunk_size_equal_the_hand_written_loop():
    # The elements here are 12 bytes, so a chunk holds FULL_CHUNK of them.
    horizon = FULL_CHUNK + 4
    with pytest.MonkeyPatch.context() as patch:
        if TENSORFLOW:
            patch.setattr(_backend.tensorflow.loop, "_MAX_CHUNK", FULL_CHUNK)
        layers = [_gru(jit_compile=False), _gru(jit_compile=True)]
        seed = sine_seed(batch=BATCH, time=5)
        for layer in layers:
            layer.generate(seed, 1)  # traced with the real chunk size
    layers[1].set_weights(layers[0].get_weights())
    reference = reference_generate(layers[0], seed, horizon)

    @settings(deadline=None, max_examples=6, database=None)
    @given(steps=st.integers(FULL_CHUNK - 2, horizon), xla=st.booleans())
    def check(steps, xla):
        outputs = layers[xla].generate(seed, steps)
        np.testing.assert_allclose(outputs, reference[:, :steps], atol=1e-5)

    check()


# ------------------------------------------------------------- seed_mask

SEED_TIME = 7


@st.composite
def padded_rows(draw):
    """Per row, the valid span `[start, end)` of a seed of SEED_TIME steps."""
    spans = []
    for _ in range(BATCH):
        start = draw(st.integers(0, SEED_TIME - 1))
        end = draw(st.integers(start + 1, SEED_TIME))
        spans.append((start, end))
    return spans


@pytest.mark.parametrize("kind", ["continuous", "tokens"])
def test_a_padded_batch_equals_each_row_alone(kind, continuous):
    if kind == "continuous":
        layer = continuous[0]
        seed = np.random.default_rng(1).normal(size=(BATCH, SEED_TIME, 1))
        seed = seed.astype("float32")
    else:
        keras.utils.set_random_seed(0)
        layer = token_layer("gru_cell", vocab=11)
        seed = np.random.default_rng(1).integers(0, 11, (BATCH, SEED_TIME))

    @small
    @given(spans=padded_rows(), steps=st.integers(1, 2 * CHUNK + 1))
    def check(spans, steps):
        mask = np.zeros((BATCH, SEED_TIME), bool)
        for row, (start, end) in enumerate(spans):
            mask[row, start:end] = True
        together = np.asarray(layer.generate(seed, steps, seed_mask=mask))
        for row, (start, end) in enumerate(spans):
            alone = np.asarray(layer.generate(seed[row : row + 1, start:end], steps))
            if kind == "tokens":
                np.testing.assert_array_equal(together[row], alone[0])
            else:
                np.testing.assert_allclose(together[row], alone[0], atol=1e-5)

    check()


# ----------------------------------------------------------- continuing


@st.composite
def splits(draw):
    """A horizon and a split of it into the lengths of continued calls."""
    steps = draw(st.integers(2, MAX_STEPS))
    cuts = draw(st.lists(st.integers(1, steps - 1), max_size=4, unique=True))
    bounds = [0, *sorted(cuts), steps]
    return steps, [b - a for a, b in zip(bounds, bounds[1:], strict=False)]


def _continue(layer, seed, lengths):
    """Generates `lengths` in continued calls, each from the last's state."""
    parts = []
    previous, state = seed, None
    for length in lengths:
        part, state = layer.generate(
            previous, length, initial_state=state, return_state=True
        )
        parts.append(np.asarray(part))
        previous = part[:, -1:]
    return np.concatenate(parts, axis=1)


@pytest.mark.parametrize("fixture", ["continuous", "continuous_xla"])
def test_continued_calls_equal_one_call(fixture, request):
    layer, seed, reference = request.getfixturevalue(fixture)

    @small
    @given(split=splits())
    def check(split):
        steps, lengths = split
        np.testing.assert_allclose(
            _continue(layer, seed, lengths), reference[:, :steps], atol=1e-5
        )

    check()


def test_continued_greedy_token_calls_equal_one_call():
    keras.utils.set_random_seed(0)
    layer = token_layer("gru_cell", vocab=11)
    seed = np.random.default_rng(2).integers(0, 11, (BATCH, 4))
    whole = np.asarray(layer.generate(seed, MAX_STEPS))

    @small
    @given(split=splits())
    def check(split):
        steps, lengths = split
        np.testing.assert_array_equal(_continue(layer, seed, lengths), whole[:, :steps])

    check()


# ------------------------------------------------------------ end_token

VOCAB = 2 * MAX_STEPS


def _counting_layer():
    """A token model whose greedy path is known: token `t` is followed by `t + 1`.

    One-hot embedding, a linear `SimpleRNNCell` that shifts the one-hot
    vector by one and forgets its state, and a head with peaked logits.
    """
    layer = SelfFeedingRNN(
        keras.layers.SimpleRNNCell(VOCAB, activation=None),
        encoder=keras.layers.Embedding(VOCAB, VOCAB),
        head=keras.layers.Dense(VOCAB),
        sampler=samplers.GreedySampler(),
    )
    layer.build((None, None))
    identity = np.eye(VOCAB, dtype="float32")
    layer.encoder.set_weights([identity])
    shift = np.roll(identity, 1, axis=1)  # one-hot t -> one-hot t + 1
    layer.cell.set_weights([shift, np.zeros_like(identity), np.zeros(VOCAB)])
    layer.head.set_weights([10.0 * identity, np.zeros(VOCAB, "float32")])
    return layer


@pytest.fixture(scope="module")
def counting():
    return _counting_layer()


@small
@given(
    steps=st.integers(1, MAX_STEPS),
    end_token=st.integers(0, VOCAB - 1),
    positions=st.lists(st.integers(0, MAX_STEPS + 2), min_size=BATCH, max_size=BATCH),
)
def test_rows_stop_where_the_end_token_comes(counting, steps, end_token, positions):
    # A row whose seed ends in `s` emits s + 1, s + 2, ...: choose `s` so that
    # `end_token` comes at `position` (beyond `steps`: the row never stops).
    last = [(end_token - 1 - p) % VOCAB for p in positions]
    seed = np.stack([np.full(BATCH, VOCAB - 1), last], axis=1).astype("int32")
    together = np.asarray(counting.generate(seed, steps, end_token=end_token))
    for row, (s, position) in enumerate(zip(last, positions, strict=True)):
        free = (s + 1 + np.arange(steps)) % VOCAB
        expected = np.where(np.arange(steps) > position, end_token, free)
        np.testing.assert_array_equal(together[row], expected)
        alone = counting.generate(seed[row : row + 1], steps, end_token=end_token)
        np.testing.assert_array_equal(together[row], np.asarray(alone)[0])


def test_the_counting_model_counts(counting):
    # The construction that the property above relies on.
    outputs = np.asarray(counting.generate(np.array([[0, 5]], "int32"), 4))
    np.testing.assert_array_equal(outputs, [[6, 7, 8, 9]])


def test_a_random_model_stops_at_any_end_token_like_each_row_alone():
    keras.utils.set_random_seed(0)
    layer = token_layer("gru_cell", vocab=11)
    seed = np.random.default_rng(3).integers(0, 11, (BATCH, 4))
    free = np.asarray(layer.generate(seed, MAX_STEPS))

    @small
    @given(
        steps=st.integers(1, MAX_STEPS),
        row=st.integers(0, BATCH - 1),
        data=st.data(),
    )
    def check(steps, row, data):
        # The end token is one that row `row` emits at a random position.
        position = data.draw(st.integers(0, steps - 1))
        end_token = int(free[row, position])
        together = np.asarray(layer.generate(seed, steps, end_token=end_token))
        for r in range(BATCH):
            alone = layer.generate(seed[r : r + 1], steps, end_token=end_token)
            np.testing.assert_array_equal(together[r], np.asarray(alone)[0])
            hits = np.flatnonzero(free[r, :steps] == end_token)
            stop = hits[0] if hits.size else steps
            np.testing.assert_array_equal(together[r, :stop], free[r, :stop])
            assert (together[r, stop:] == end_token).all()

    check()
