import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from selffeed_keras import schedules


@pytest.mark.parametrize(
    "schedule, points",
    [
        (schedules.Constant(0.3), {0: 0.3, 7: 0.3, 10_000: 0.3}),
        (schedules.Linear(0.0, 1.0, steps=4), {0: 0.0, 1: 0.25, 4: 1.0, 9: 1.0}),
        (schedules.Linear(0.2, 0.6, steps=2), {0: 0.2, 1: 0.4, 5: 0.6}),
        (schedules.Exponential(0.5), {0: 0.0, 1: 0.5, 3: 0.875}),
        (
            schedules.InverseSigmoid(5.0),
            {0: 1 - 5 / 6, 10: 1 - 5 / (5 + math.exp(2.0)), 80: 1.0},
        ),
    ],
    ids=lambda v: repr(v) if isinstance(v, schedules.Schedule) else "",
)
@pytest.mark.tensorflow_only(reason="tf.function")
def test_values_at_known_points(schedule, points):
    for i, expected in points.items():
        assert float(schedule(i)) == pytest.approx(expected, abs=1e-6)
        # The same on a tensor index, inside a compiled function.
        compiled = tf.function(lambda i, s=schedule: s(i))
        assert float(compiled(tf.constant(i))) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    "schedule",
    [
        schedules.Constant(0.5),
        schedules.Linear(0.1, 0.9, steps=3),
        schedules.Exponential(0.99),
        schedules.InverseSigmoid(20),
    ],
)
def test_serializable_and_rising_from_zero_side(schedule):
    config = keras.saving.serialize_keras_object(schedule)
    restored = keras.saving.deserialize_keras_object(config)
    assert type(restored) is type(schedule)
    assert restored.get_config() == schedule.get_config()
    values = [float(schedule(i)) for i in range(0, 200, 10)]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert values == sorted(values)


def test_get_accepts_floats_schedules_and_configs():
    assert schedules.get(0.25).get_config() == {"value": 0.25}
    linear = schedules.Linear(0, 1, 5)
    assert schedules.get(linear) is linear
    config = keras.saving.serialize_keras_object(linear)
    assert schedules.get(config).get_config() == linear.get_config()


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: schedules.Constant(1.5), "`value` must be a number in"),
        (lambda: schedules.Constant(-0.1), "`value` must be a number in"),
        (lambda: schedules.Linear(0, 2, 5), "`end` must be a number in"),
        (lambda: schedules.Linear(0, 1, 0), "`steps` must be a positive integer"),
        (lambda: schedules.Exponential(1.0), r"`k` must be a number in \(0, 1\)"),
        (lambda: schedules.Exponential(0), r"`k` must be a number in \(0, 1\)"),
        (lambda: schedules.InverseSigmoid(0.5), "`k` must be a number of at least 1"),
        (lambda: schedules.InverseSigmoid(np.inf), "`k` must be a number of at leas"),
    ],
)
def test_invalid_parameters_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_unknown_schedule_raises():
    with pytest.raises(
        TypeError, match=r"`sampling_probability` must be a number in \[0, 1\] or a"
    ):
        schedules.get("linear")
