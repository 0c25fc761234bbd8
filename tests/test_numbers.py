"""Numeric arguments accept numbers as users hold them, and store plain ones.

Python numbers, NumPy scalars and 0-d arrays are accepted wherever a number
is meant, and stored as Python `int` or `float`, so that `get_config` stays
JSON. A `bool` is refused, with a message that says so.
"""

import json

import keras
import numpy as np
import pytest
from cells import continuous_layer, sine_seed, token_layer

from selffeed_keras import callbacks, samplers, schedules


def _config_of(obj):
    if isinstance(obj, keras.layers.Layer):
        return obj.get_config()
    return keras.saving.serialize_keras_object(obj)


def _layer_config_round_trip(layer):
    config = json.loads(json.dumps(layer.get_config()))
    assert type(layer).from_config(config).get_config() == layer.get_config()


# name: (integer?, a valid float, a valid int or None, make(value) -> object,
#        stored(object) -> the stored value)
CONSTRUCTOR_ARGUMENTS = {
    "Sampler.temperature": (
        False,
        0.5,
        2,
        lambda v: samplers.RandomSampler(temperature=v),
        lambda s: s.temperature,
    ),
    "TopKSampler.k": (
        True,
        None,
        3,
        lambda v: samplers.TopKSampler(k=v),
        lambda s: s.k,
    ),
    "TopPSampler.p": (
        False,
        0.5,
        1,
        lambda v: samplers.TopPSampler(p=v),
        lambda s: s.p,
    ),
    "Constant.value": (
        False,
        0.25,
        1,
        lambda v: schedules.Constant(v),
        lambda s: s.value,
    ),
    "Linear.start": (
        False,
        0.25,
        0,
        lambda v: schedules.Linear(v, 1.0, 10),
        lambda s: s.start,
    ),
    "Linear.end": (
        False,
        0.75,
        1,
        lambda v: schedules.Linear(0.0, v, 10),
        lambda s: s.end,
    ),
    "Linear.steps": (
        True,
        None,
        10,
        lambda v: schedules.Linear(0.0, 1.0, v),
        lambda s: s.steps,
    ),
    "Exponential.k": (
        False,
        0.5,
        None,
        lambda v: schedules.Exponential(v),
        lambda s: s.k,
    ),
    "InverseSigmoid.k": (
        False,
        2.5,
        3,
        lambda v: schedules.InverseSigmoid(v),
        lambda s: s.k,
    ),
    "schedules.get": (
        False,
        0.5,
        1,
        schedules.get,
        lambda s: s.value,
    ),
    "ScheduledSampling.schedule": (
        False,
        0.5,
        1,
        callbacks.ScheduledSampling,
        lambda c: c.schedule.value,
    ),
    "SelfFeedingRNN.sampling_probability": (
        False,
        0.5,
        1,
        lambda v: continuous_layer("gru_cell", sampling_probability=v),
        lambda layer: layer.sampling_probability,
    ),
    "SelfFeedingRNN.random_seed": (
        True,
        None,
        7,
        lambda v: continuous_layer("gru_cell", random_seed=v),
        lambda layer: layer.random_seed,
    ),
    "set_sampling_probability": (
        False,
        0.5,
        1,
        lambda v: _set_probability(continuous_layer("gru_cell"), v),
        lambda layer: layer.current_sampling_probability,
    ),
}


def _set_probability(layer, value):
    layer.set_sampling_probability(value)
    return layer


def _holdings(integer, as_float, as_int):
    """`(id, value held, the Python number expected)` for one argument."""
    cases = []
    if as_int is not None:
        cases += [
            ("int", as_int, as_int),
            ("np.int64", np.int64(as_int), as_int),
            ("np.int32", np.int32(as_int), as_int),
            ("0-d int array", np.array(as_int), as_int),
        ]
    if not integer:
        cases += [
            ("float", as_float, as_float),
            ("np.float32", np.float32(as_float), as_float),
            ("np.float64", np.float64(as_float), as_float),
            ("0-d float array", np.array(as_float, "float32"), as_float),
        ]
    return cases


@pytest.mark.parametrize(
    "argument, held, expected",
    [
        pytest.param(
            argument,
            held,
            expected,
            id=f"{argument}-{kind}",
        )
        for argument, (integer, as_float, as_int, _, _) in (
            CONSTRUCTOR_ARGUMENTS.items()
        )
        for kind, held, expected in _holdings(integer, as_float, as_int)
    ],
)
def test_numeric_arguments_are_stored_as_python_numbers(argument, held, expected):
    integer, _, _, make, stored = CONSTRUCTOR_ARGUMENTS[argument]
    obj = make(held)
    value = stored(obj)
    assert type(value) is (int if integer else float)
    assert value == expected
    if argument == "set_sampling_probability":
        return  # a variable's value, not a constructor argument
    if argument == "ScheduledSampling.schedule":
        obj = obj.schedule  # callbacks have no config; the schedule has
    json.dumps(_config_of(obj))
    if isinstance(obj, keras.layers.Layer):
        _layer_config_round_trip(obj)


REFUSED = [
    ("a bool", True, TypeError, "not a bool"),
    ("a NumPy bool", np.True_, TypeError, "not a bool"),
    ("a 0-d bool array", np.array(True), TypeError, "not a bool"),
    ("a string", "1", TypeError, ""),
    ("a 1-d array", np.array([1, 1]), TypeError, ""),
    ("None", None, TypeError, ""),
]


@pytest.mark.parametrize("kind, value, error, match", REFUSED)
@pytest.mark.parametrize("argument", list(CONSTRUCTOR_ARGUMENTS))
def test_constructor_arguments_refuse_non_numbers(argument, kind, value, error, match):
    make = CONSTRUCTOR_ARGUMENTS[argument][3]
    name = argument.split(".")[-1]
    if argument in ("schedules.get", "set_sampling_probability"):
        name = {"schedules.get": "sampling_probability"}.get(argument, "value")
    if argument == "SelfFeedingRNN.random_seed" and value is None:
        pytest.skip("None is the default random_seed")
    with pytest.raises(error, match=f"`{name}` must be .*{match}.*Received: {name}="):
        make(value)


@pytest.mark.parametrize(
    "argument", [a for a, case in CONSTRUCTOR_ARGUMENTS.items() if case[0]]
)
@pytest.mark.parametrize("value", [3.0, np.float32(3.0), np.array(3.0)])
def test_integer_arguments_refuse_floats(argument, value):
    name = argument.split(".")[-1]
    with pytest.raises(TypeError, match=f"`{name}` must be .*integer"):
        CONSTRUCTOR_ARGUMENTS[argument][3](value)


# ------------------------------------------------------------- generate


@pytest.fixture(scope="module")
def tokens():
    return token_layer("gru_cell", vocab=7, sampler=samplers.RandomSampler())


TOKEN_SEED = np.array([[1, 2, 3]], "int32")


def _generate(layer, **kwargs):
    arguments = {"steps": 6, "random_seed": 3} | kwargs
    return np.asarray(layer.generate(TOKEN_SEED, **arguments))


@pytest.mark.parametrize("argument", ["steps", "end_token", "random_seed"])
@pytest.mark.parametrize(
    "held", [pytest.param(held, id=kind) for kind, held, _ in _holdings(True, None, 4)]
)
def test_generate_takes_integers_as_held(tokens, argument, held):
    np.testing.assert_array_equal(
        _generate(tokens, **{argument: held}), _generate(tokens, **{argument: 4})
    )


@pytest.mark.parametrize("kind, value, error, match", REFUSED[:3])
@pytest.mark.parametrize("argument", ["steps", "end_token", "random_seed"])
def test_generate_refuses_bools(tokens, argument, kind, value, error, match):
    with pytest.raises(error, match=f"`{argument}` must be .*{match}.*{argument}="):
        _generate(tokens, **{argument: value})


@pytest.mark.parametrize(
    "held", [pytest.param(held, id=kind) for kind, held, _ in _holdings(True, None, 4)]
)
def test_a_sampler_call_takes_an_integer_seed_as_held(held):
    logits = np.zeros((64, 10), "float32")
    sampler = samplers.RandomSampler()
    np.testing.assert_array_equal(sampler(logits, seed=held), sampler(logits, seed=4))


@pytest.mark.parametrize("kind, value, error, match", REFUSED[:3])
def test_a_sampler_call_refuses_a_bool_seed(kind, value, error, match):
    with pytest.raises(error, match=f"`seed` must be .*{match}.*seed="):
        samplers.RandomSampler()(np.zeros((1, 3), "float32"), seed=value)


def test_steps_takes_a_numpy_integer_on_a_continuous_layer():
    layer = continuous_layer("gru_cell")
    seed = sine_seed(batch=1)
    np.testing.assert_array_equal(
        layer.generate(seed, np.array(5, "int16")), layer.generate(seed, 5)
    )
