"""`observe`: values read into a state, as `generate` reads a seed.

Run on TensorFlow, JAX and torch (`make test`, `make test-jax`, `make
test-torch`). The state is checked against `test_lags.reference`, a
hand-written loop over the same weights; then the two equalities that
`observe` promises, with lags, covariates, masks and distributions: reading
a series in pieces equals reading it at once, and generating from an
observed state equals generating from the whole seed. States are compared
in the state's own (scaled) units at rtol 1e-5 (atol 1e-6 for values near
0). Gaps (NaN) against masks, the mean scale's policy, the errors, and the
programs traced.
"""

import keras
import numpy as np
import pytest
from cells import CELLS, sine_seed
from test_lags import certain_normal, reference

from selffeed_keras import SelfFeedingRNN
from selffeed_keras._generate import CallKey

BACKEND = keras.backend.backend()
LAGS = (1, 5, 3)


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def assert_states_close(actual, expected, rtol=1e-5, atol=1e-6):
    actual, expected = list(actual), list(expected)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(numpy(a), numpy(e), rtol=rtol, atol=atol)


def make_layer(cell_name="lstm_cell", lags=LAGS, **kwargs):
    """A layer with lags, without XLA unless asked (it compiles for seconds)."""
    keras.utils.set_random_seed(0)
    kwargs.setdefault("jit_compile", False)
    return SelfFeedingRNN(
        CELLS[cell_name](), head=keras.layers.Dense(1), lags=lags, **kwargs
    )


def make_token_layer(**kwargs):
    keras.utils.set_random_seed(0)
    return SelfFeedingRNN(
        keras.layers.GRUCell(8),
        head=keras.layers.Dense(11),
        encoder=keras.layers.Embedding(11, 4),
        sampler="greedy",
        lags=(1, 4),
        jit_compile=False,
        **kwargs,
    )


# Each case: the layer's arguments, whether it reads covariates, the masks
# its series carry (None, or "left": the first steps of some rows padding,
# as series of different lengths that end together).
CASES = {
    "lags": ({}, False, None),
    "no_lags": ({"lags": (1,)}, False, None),
    "covariates": ({}, True, None),
    "mask": ({}, False, "left"),
    "normal": ({"distribution": "normal"}, True, "left"),
    "student_t_stacked": (
        {"distribution": "student_t", "cell_name": "stacked"},
        False,
        None,
    ),
    "two_state_cell": ({"cell_name": "two_state_cell"}, True, "left"),
}


def series(case, batch=3, time=17, extra=0):
    """A case's layer (built), values, covariates and mask for `time + extra`."""
    kwargs, with_covariates, padding = CASES[case]
    layer = make_layer(**kwargs)
    x = 2.0 + sine_seed(batch=batch, time=time + extra)
    covariates = None
    if with_covariates:
        covariates = np.cos(np.arange(time + extra, dtype="float32") * 0.7)
        covariates = np.tile(covariates[None, :, None], (batch, 1, 2))
        covariates[..., 1] += np.arange(batch, dtype="float32")[:, None]
    mask = None
    if padding == "left":
        mask = np.ones((batch, time + extra), bool)
        mask[0, :4] = False
        mask[1, :9] = False
    layer.build((None, None, 1), None if covariates is None else (None, None, 2))
    return layer, x, covariates, mask


def cut(array, start, stop=None):
    return None if array is None else array[:, start:stop]


# --------------------------------------------------- against a hand-written loop


@pytest.mark.parametrize("cell_name", ["lstm_cell", "stacked"])
@pytest.mark.parametrize("padding", [None, "left", "middle"])
def test_state_equals_the_reference(cell_name, padding):
    layer = make_layer(cell_name)
    x = sine_seed(batch=2, time=9)
    mask = None
    if padding is not None:
        mask = np.ones((2, 9), bool)
        if padding == "left":
            mask[0, :3] = False
        else:
            mask[1, 3:6] = False
    layer.build(x.shape)
    state = [numpy(s) for s in layer.observe(x, mask=mask)]
    _, _, final = reference(layer, x, seed_mask=mask)
    num_cell = len(state) - 1
    for b, (cell_state, history, _) in enumerate(final):
        for actual, expected in zip(state[:num_cell], cell_state, strict=True):
            np.testing.assert_allclose(actual[b], numpy(expected)[0], atol=1e-5)
        np.testing.assert_allclose(state[num_cell][b], np.stack(history), atol=1e-5)


def test_state_equals_the_teacher_forced_call_state():
    # The call (return_state=True) runs Keras' RNN over the sequence.
    layer = make_layer(return_state=True)
    x, mask = sine_seed(batch=3, time=11), np.ones((3, 11), bool)
    mask[2, :5] = False
    _, expected = layer(x, mask=mask)
    assert_states_close(layer.observe(x, mask=mask), expected)


# ----------------------------------------------------- pieces equal the whole


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("split", [1, 6])
def test_pieces_equal_the_whole(case, split):
    layer, x, covariates, mask = series(case)
    whole = layer.observe(x, covariates=covariates, mask=mask)
    first = layer.observe(
        x[:, :split], covariates=cut(covariates, 0, split), mask=cut(mask, 0, split)
    )
    pieces = layer.observe(
        x[:, split:], first, covariates=cut(covariates, split), mask=cut(mask, split)
    )
    assert_states_close(pieces, whole)


def test_one_value_at_a_time_equals_the_whole():
    layer, x, covariates, mask = series("normal", time=9)
    state = None
    for t in range(9):
        state = layer.observe(
            x[:, t : t + 1], state, cut(covariates, t, t + 1), cut(mask, t, t + 1)
        )
    assert_states_close(state, layer.observe(x, None, covariates, mask))


@pytest.mark.parametrize("case", list(CASES))
def test_generate_from_an_observed_state_equals_generate(case):
    steps = 7
    layer, x, covariates, mask = series(case, extra=steps - 1)
    x = x[:, : -(steps - 1)]  # covariates cover seed_time + steps - 1
    seed_time = x.shape[1]
    state = layer.observe(
        x[:, :-1],
        covariates=cut(covariates, 0, seed_time - 1),
        mask=cut(mask, 0, seed_time - 1),
    )
    seed_mask = cut(mask, 0, seed_time)
    expected, expected_state = layer.generate(
        x, steps, covariates=covariates, seed_mask=seed_mask, random_seed=3,
        return_state=True,
    )  # fmt: skip
    outputs, online_state = layer.generate(
        x[:, -1:], steps, initial_state=state,
        covariates=cut(covariates, seed_time - 1), random_seed=3, return_state=True,
    )  # fmt: skip
    np.testing.assert_allclose(numpy(outputs), numpy(expected), rtol=1e-5, atol=1e-5)
    assert_states_close(online_state, expected_state, atol=1e-5)


def test_sample_paths_from_an_observed_state():
    layer, x, covariates, mask = series("normal", extra=4)
    x, seed_time = x[:, :-4], 17
    state = layer.observe(x[:, :-1], None, cut(covariates, 0, 16), cut(mask, 0, 16))
    expected = layer.generate(
        x, 5, covariates=covariates, seed_mask=mask[:, :seed_time], num_samples=4,
        random_seed=9,
    )  # fmt: skip
    paths = layer.generate(
        x[:, -1:], 5, initial_state=state, covariates=cut(covariates, 16),
        num_samples=4, random_seed=9,
    )  # fmt: skip
    np.testing.assert_allclose(numpy(paths), numpy(expected), rtol=1e-5, atol=1e-5)


def test_token_model_pieces_and_generate():
    layer = make_token_layer()
    ids = np.array([[1, 5, 2, 7, 3, 3, 9, 4], [6, 2, 8, 1, 10, 5, 2, 2]], "int32")
    whole = layer.observe(ids)
    assert_states_close(layer.observe(ids[:, 3:], layer.observe(ids[:, :3])), whole)
    np.testing.assert_array_equal(
        numpy(layer.generate(ids[:, -1:], 6, initial_state=layer.observe(ids[:, :-1]))),
        numpy(layer.generate(ids, 6)),
    )


def test_from_a_history_state():
    layer = make_layer()
    past, x = sine_seed(batch=2, time=6, offset=2.0), sine_seed(batch=2, time=8)
    layer.build(x.shape)
    start = layer.history_state(past)
    state = layer.observe(x[:, :-1], start)
    np.testing.assert_allclose(
        numpy(layer.generate(x[:, -1:], 5, initial_state=state)),
        numpy(layer.generate(x, 5, initial_state=start)),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.skipif(BACKEND != "tensorflow", reason="XLA's loop on TensorFlow")
def test_under_xla():
    layer = make_layer(jit_compile=True)
    x = sine_seed(batch=2, time=10)
    state = layer.observe(x[:, :-1])
    np.testing.assert_allclose(
        numpy(layer.generate(x[:, -1:], 6, initial_state=state)),
        numpy(layer.generate(x, 6)),
        rtol=1e-5,
        atol=1e-6,
    )
    assert_states_close(layer.observe(x[:, 4:-1], layer.observe(x[:, :4])), state)


# ------------------------------------------------------ many series, masks


def test_a_row_without_a_value_keeps_its_state_exactly():
    layer, x, covariates, _ = series("covariates", batch=3)
    state = layer.observe(x[:, :10], covariates=covariates[:, :10])
    mask = np.zeros((3, 7), bool)
    mask[0] = True  # row 0 receives 7 values, row 1 one, row 2 none
    mask[1, 3] = True
    after = layer.observe(x[:, 10:], state, covariates[:, 10:], mask)
    for a, s in zip(after, state, strict=True):
        np.testing.assert_array_equal(numpy(a)[2], numpy(s)[2])
    # Each row as if it were observed alone.
    for row in range(2):
        keep = mask[row]
        alone = layer.observe(
            x[row : row + 1, 10:][:, keep],
            [numpy(s)[row : row + 1] for s in state],
            covariates[row : row + 1, 10:][:, keep],
        )
        assert_states_close([numpy(a)[row : row + 1] for a in after], alone)


def test_many_series_in_one_call_equal_one_call_each():
    layer, x, covariates, mask = series("normal", batch=5)
    together = layer.observe(x, None, covariates, mask)
    for row in range(5):
        alone = layer.observe(
            x[row : row + 1], None, covariates[row : row + 1], mask[row : row + 1]
        )
        assert_states_close([numpy(s)[row : row + 1] for s in together], alone)


# ------------------------------------------------------------------- gaps


def test_a_gap_reads_the_last_value_again():
    layer = make_layer()
    x = sine_seed(batch=2, time=12)
    layer.build(x.shape)
    gapped, filled = x.copy(), x.copy()
    for row, t in [(0, 4), (0, 5), (1, 9)]:
        gapped[row, t] = np.nan
        filled[row, t] = filled[row, t - 1]
    assert_states_close(layer.observe(gapped), layer.observe(filled))
    # The online case: a call of one missing value, after a state.
    state = layer.observe(x[:, :6])
    missing = np.full((2, 1, 1), np.nan, "float32")
    assert_states_close(layer.observe(missing, state), layer.observe(x[:, 5:6], state))


def test_a_gap_counts_in_the_lags_and_a_masked_step_does_not():
    layer = make_layer(lags=(1, 4))
    x = sine_seed(batch=1, time=10)
    layer.build(x.shape)
    gapped, mask = x.copy(), np.ones((1, 10), bool)
    gapped[0, 8] = np.nan
    mask[0, 8] = False
    with_gap = [numpy(s) for s in layer.observe(gapped)]
    masked = [numpy(s) for s in layer.observe(x, mask=mask)]
    # A masked step is not read: as if it were not there.
    assert_states_close(masked, layer.observe(np.delete(x, 8, axis=1)))
    # A gap is a step: the history (the last 3 elements) holds one element
    # per step, the gap's a copy of the one before it; masked, lag 4 of the
    # last step reaches one step further back.
    np.testing.assert_allclose(with_gap[-1][0, :, 0], x[0, [7, 7, 9], 0])
    np.testing.assert_allclose(masked[-1][0, :, 0], x[0, [6, 7, 9], 0])
    assert not np.allclose(with_gap[0], masked[0])


def test_gaps_with_mean_scaling_keep_out_of_the_scale():
    layer = make_layer(distribution="normal", scaling="mean")
    x = 3.0 + sine_seed(batch=2, time=8)
    layer.build(x.shape)
    gapped = x.copy()
    gapped[0, 2] = np.nan
    state = layer.observe(gapped)
    values = np.delete(x[0, :, 0], 2)
    np.testing.assert_allclose(numpy(state[-1])[0], [np.abs(values).mean()], rtol=1e-6)


def test_a_layer_without_lags_refuses_gaps_but_not_masked_nan():
    layer = make_layer(lags=(1,))
    x = sine_seed(batch=2, time=5)
    layer.build(x.shape)
    x[1, 2] = np.nan
    with pytest.raises(
        ValueError, match=r"`values` holds a NaN.*lags=\(1,\).*\[1, 2\]"
    ):
        layer.observe(x)
    mask = np.ones((2, 5), bool)
    mask[1, 2] = False
    state = layer.observe(x, mask=mask)
    assert np.isfinite(numpy(state[0])).all()


# -------------------------------------------------------------- mean scaling


def test_mean_scale_from_the_first_context_length_values():
    layer = make_layer(
        distribution="normal", scaling="mean", context_length=5, return_state=True
    )
    x = 3.0 + sine_seed(batch=2, time=12)
    x[1] *= 10.0
    _, expected = layer(x)  # training's scale: the first 5 steps
    state = layer.observe(x)
    np.testing.assert_allclose(numpy(state[-1]), np.abs(x[:, :5]).mean(1), rtol=1e-6)
    assert_states_close(state, expected)


@pytest.mark.parametrize("context_length", [None, 4])
def test_mean_scale_is_carried_unchanged(context_length):
    layer = make_layer(
        distribution="normal", scaling="mean", context_length=context_length
    )
    x = 3.0 + sine_seed(batch=2, time=14)
    layer.build(x.shape)
    first = layer.observe(x[:, :6])
    then = layer.observe(100.0 * x[:, 6:], first)
    np.testing.assert_array_equal(numpy(then[-1]), numpy(first[-1]))
    np.testing.assert_allclose(
        numpy(first[-1]), np.abs(x[:, : context_length or 6]).mean(1), rtol=1e-6
    )


@pytest.mark.parametrize("split", [4, 9])  # at least context_length values first
def test_mean_scaled_pieces_equal_the_whole(split):
    layer = make_layer(distribution="normal", scaling="mean", context_length=4)
    layer.build((None, None, 1), (None, None, 2))
    x = 5.0 * (2.0 + sine_seed(batch=3, time=15))
    covariates = np.tile(
        np.cos(np.arange(15.0, dtype="float32"))[None, :, None], (3, 1, 2)
    )
    whole = layer.observe(x, covariates=covariates)
    first = layer.observe(x[:, :split], covariates=covariates[:, :split])
    pieces = layer.observe(x[:, split:], first, covariates[:, split:])
    assert_states_close(pieces, whole)


def test_mean_scaled_generate_from_an_observed_state():
    # generate on the whole series, from a zero state that carries the
    # observed scale, equals generate from the observed state.
    layer = make_layer(distribution="normal", scaling="mean", context_length=6)
    x = 4.0 + sine_seed(batch=2, time=15)
    layer.build(x.shape)
    certain_normal(layer)
    state = layer.observe(x[:, :-1])
    zero = [np.zeros_like(numpy(s)) for s in state[:-1]] + [numpy(state[-1])]
    np.testing.assert_allclose(
        numpy(layer.generate(x[:, -1:], 6, initial_state=state, random_seed=1)),
        numpy(layer.generate(x, 6, initial_state=zero, random_seed=1)),
        rtol=1e-5,
    )


def test_a_row_that_reads_nothing_has_no_scale_yet():
    layer = make_layer(distribution="normal", scaling="mean", context_length=3)
    x = 3.0 + sine_seed(batch=2, time=6)
    layer.build(x.shape)
    mask = np.array([[True] * 6, [False] * 6])
    state = layer.observe(x, mask=mask)
    assert numpy(state[-1])[1, 0] == 0.0
    later = layer.observe(2.0 * x, state)
    np.testing.assert_allclose(
        numpy(later[-1])[1], np.abs(2.0 * x[1, :3]).mean(0), rtol=1e-6
    )
    np.testing.assert_array_equal(numpy(later[-1])[0], numpy(state[-1])[0])


# ------------------------------------------------------------------ errors


@pytest.fixture(scope="module")
def built():
    layer = make_layer(distribution="normal")
    layer.build((None, None, 1), (None, None, 2))
    return layer


def _values(time=4):
    return sine_seed(batch=2, time=time)


def _covariates(time=4):
    return np.zeros((2, time, 2), "float32")


F32 = "float32"


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"values": np.zeros((2, 4), F32)}, ValueError, r"`values` must have shape"),
        ({"values": np.zeros((2, 0, 1), F32)}, ValueError, "`values` must hold at"),
        ({"values": np.zeros((2, 4, 3), F32)}, ValueError, r"`values`.*size.*\(1,\)"),
        ({"values": np.zeros((2, 4, 1), bool)}, TypeError, "`values` must hold real"),
        ({"values": [[["a"]]]}, TypeError, "`values` must hold numbers"),
        ({"mask": np.ones((2, 3), bool)}, ValueError, r"`mask` must.*= \(2, 4\)"),
        ({"mask": np.ones((2, 4), "int32")}, TypeError, "`mask` must be boolean"),
        ({"covariates": None}, ValueError, "covariates, so `observe` needs them"),
        ({"covariates": _covariates(5)}, ValueError, r"one step for each.*`values`"),
        (
            {"covariates": np.zeros((3, 4, 2), F32)},
            ValueError,
            "the `values`' batch size, 2",
        ),
        ({"state": [np.zeros((2, 8))]}, ValueError, r"`state` must be a flat list"),
        ({"state": "zeros"}, ValueError, r"`state` must be a flat list"),
    ],
)
def test_bad_arguments_name_themselves(built, kwargs, error, match):
    arguments = {"values": _values(), "covariates": _covariates(), **kwargs}
    with pytest.raises(error, match=match):
        built.observe(**arguments)


def test_non_finite_values_state_and_covariates(built):
    x = _values()
    x[1, 2] = np.inf
    with pytest.raises(
        ValueError, match=r"`values` must hold finite numbers, or NaN.*\[1, 2\]"
    ):
        built.observe(x, covariates=_covariates())
    covariates = _covariates()
    covariates[0, 1, 0] = np.nan
    with pytest.raises(ValueError, match=r"`covariates` must hold finite.*`mask`"):
        built.observe(_values(), covariates=covariates)
    state = [numpy(s) for s in built.observe(_values(), covariates=_covariates())]
    state[1][0, 0] = np.nan
    with pytest.raises(ValueError, match=r"`state\[1\]` must hold finite numbers"):
        built.observe(_values(), state, _covariates())


def test_values_outside_the_support():
    layer = make_layer(distribution="log_normal")
    x = 1.0 + _values()
    x[0, 1] = -2.0
    x[1, 3] = np.nan  # a gap is not outside
    with pytest.raises(
        ValueError, match=r"`values` must hold positive.*\[0, 1\].*`mask`"
    ):
        layer.observe(x)
    x[0, 1] = 1.0
    assert np.isfinite(numpy(layer.observe(x)[0])).all()


def test_errors_come_before_any_program():
    layer = make_layer()
    with pytest.raises(ValueError, match="`values`"):
        layer.observe(np.zeros((2, 4), "float32"))
    assert not layer.built
    layer.build((None, None, 1))
    with pytest.raises(ValueError, match="`mask`"):
        layer.observe(_values(), mask=np.ones((2, 5), bool))
    assert layer._generation is None


def test_token_ids_outside_the_vocabulary():
    layer = make_token_layer()
    with pytest.raises(ValueError, match=r"`values` must hold token ids in \[0, 11\)"):
        layer.observe(np.array([[1, 11]], "int32"))


# --------------------------------------------------------------- programs


def observe_keys(layer):
    return {key for key in layer._generation.functions if key.observe}


def test_one_program_per_combination_of_arguments():
    layer = make_layer()
    layer.build((None, None, 1))
    for time in (5, 6, 7, 9):
        state = layer.observe(sine_seed(batch=2, time=time))
    layer.observe(sine_seed(batch=2, time=3), state)
    layer.observe(sine_seed(batch=2, time=3), state, mask=np.ones((2, 3), bool))
    expected = {
        CallKey((), observe=True),
        CallKey(("initial_state",), observe=True),
        CallKey(("initial_state", "seed_mask"), observe=True),
    }
    assert observe_keys(layer) == expected


@pytest.mark.skipif(BACKEND != "jax", reason="JAX's compiled programs")
def test_jax_compiles_once_per_bucket_of_lengths():
    layer = make_layer()
    layer.build((None, None, 1))
    key = CallKey(("initial_state",), observe=True)
    state = layer.observe(sine_seed(batch=2, time=3))
    for time in (17, 18, 20):  # one bucket: 20 steps
        layer.observe(sine_seed(batch=2, time=time), state)
    assert layer._generation.programs.traces[key] == 1
    for time in (1, 2, 4):  # another: 4 steps
        layer.observe(sine_seed(batch=2, time=time), state)
    assert layer._generation.programs.traces[key] == 2


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.function's traces")
def test_tensorflow_traces_once_for_every_length_and_batch():
    layer = make_layer()
    layer.build((None, None, 1))
    state = layer.observe(sine_seed(batch=2, time=3))
    for batch, time in [(2, 1), (2, 40), (5, 3)]:
        start = [np.repeat(numpy(s)[:1], batch, axis=0) for s in state]
        layer.observe(sine_seed(batch=batch, time=time), start)
    function = layer._generation.functions[CallKey(("initial_state",), observe=True)]
    assert function.experimental_get_tracing_count() == 1


def export_online(layer, state, path):
    """Writes `observe` and `forecast` endpoints, as docs/how-to/export.md does."""
    import tensorflow as tf

    state_specs = [tf.TensorSpec((None, *s.shape[1:]), s.dtype) for s in state]
    archive = keras.export.ExportArchive()
    archive.track(layer)
    archive.add_endpoint(
        "observe",
        lambda values, mask, *state: layer.observe(values, list(state), mask=mask),
        input_signature=[
            tf.TensorSpec((None, None, 1), tf.float32),
            tf.TensorSpec((None, None), tf.bool),
            *state_specs,
        ],
    )
    archive.add_endpoint(
        "forecast",
        lambda last, steps, num_samples, random_seed, *state: layer.generate(
            last,
            steps,
            initial_state=list(state),
            num_samples=num_samples,
            random_seed=random_seed,
        ),  # fmt: skip
        input_signature=[
            tf.TensorSpec((None, 1, 1), tf.float32),
            tf.TensorSpec((), tf.int32),
            tf.TensorSpec((), tf.int32),
            tf.TensorSpec((), tf.int64),
            *state_specs,
        ],
    )
    archive.write_out(str(path), verbose=False)
    return tf.saved_model.load(str(path))


@pytest.mark.tensorflow_only(reason="ExportArchive")
def test_served_observe_and_forecast_equal_the_python_calls(tmp_path):
    layer = make_layer(
        lags=(1, 2, 5), distribution="student_t", scaling="mean", context_length=6
    )  # fmt: skip
    values = 10 + sine_seed(batch=3, time=12)
    state = layer.observe(values[:, :-1])
    served = export_online(layer, state, tmp_path / "online")
    # One value at a time, many series: row 1 receives nothing, row 2 a gap.
    expected, got = list(state), list(state)
    last = seed = values[:, -1:]  # what observe reads next; the last value
    for t in range(3):
        mask = np.array([[True], [t == 2], [True]])
        got = served.observe(last, mask, *got)
        expected = layer.observe(last, expected, mask=mask)
        assert_states_close(got, expected)
        last = seed + 0.1
        if t == 1:
            last[2] = np.nan  # a gap: observe reads the last value again
        seed = np.where(np.isnan(last), seed, last)
        paths = served.forecast(seed, 8, 5, 11, *got)
        assert paths.shape == (3, 5, 8, 1)
        np.testing.assert_allclose(
            numpy(paths),
            numpy(
                layer.generate(
                    seed, 8, initial_state=expected, num_samples=5, random_seed=11
                )
            ),
            rtol=1e-5,
        )
    # A row without a value keeps its state exactly, through the endpoint too.
    unchanged = served.observe(last, np.zeros((3, 1), bool), *got)
    for a, b in zip(unchanged, got, strict=True):
        np.testing.assert_array_equal(numpy(a), numpy(b))
