"""Keras' private API that the package relies on is still there and still works.

If a Keras release removes or renames one of these, the first test names the
release and the attribute, and `src/selffeed_keras/_keras_private.py` is the
one file to change.
"""

import importlib

import keras
import numpy as np
import pytest

from selffeed_keras import _keras_private


def _resolve(dotted):
    """Imports the longest module prefix of `dotted`, then gets attributes."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(dotted)


@pytest.mark.parametrize(
    "owner, attribute",
    _keras_private.PRIVATE_API,
    ids=[f"{owner}.{attribute}" for owner, attribute in _keras_private.PRIVATE_API],
)
def test_private_keras_api_exists(owner, attribute):
    try:
        resolved = _resolve(owner)
        if owner == "keras.StatelessScope":  # an attribute of its instances
            resolved = resolved()
        found = hasattr(resolved, attribute)
    except (ImportError, AttributeError):
        found = False
    if not found:
        pytest.fail(
            f"Keras {keras.version()} has no `{owner}.{attribute}`, a private "
            "Keras API that selffeed_keras relies on (see "
            "src/selffeed_keras/_keras_private.py and tests/keras_harness.py). "
            "Replace it there, or pin an older Keras."
        )


def _mask_shape(mask):
    return tuple(keras.tree.flatten(mask)[0].shape)


def test_config_dropout_masks_makes_and_reset_clears_the_masks_of_stacked_cells():
    cells = keras.layers.StackedRNNCells(
        [
            keras.layers.LSTMCell(4, dropout=0.5, recurrent_dropout=0.5),
            keras.layers.GRUCell(3, dropout=0.5),
        ]
    )
    rnn = keras.layers.RNN(cells)
    rnn.build((2, 7, 5))
    step_input = np.ones((2, 5), "float32")
    state = [
        [np.zeros((2, 4), "float32"), np.zeros((2, 4), "float32")],
        np.zeros((2, 3), "float32"),
    ]
    _keras_private.config_dropout_masks(rnn, cells, step_input, state)
    first, second = cells.cells
    # A probe of another width gets the cached mask: config made it, for the
    # input each cell sees (the second cell reads the first one's output).
    probe = np.ones((2, 11), "float32")
    assert _mask_shape(first.get_dropout_mask(probe)) == (2, 5)
    assert _mask_shape(first.get_recurrent_dropout_mask(probe)) == (2, 4)
    assert _mask_shape(second.get_dropout_mask(probe)) == (2, 4)
    _keras_private.reset_dropout_masks(rnn, cells)
    for cell in cells.cells:
        assert _mask_shape(cell.get_dropout_mask(probe)) == (2, 11)
        cell.reset_dropout_mask()


def test_flatten_layers_finds_nested_layers_once_and_not_the_model():
    class Holder(keras.layers.Layer):
        def __init__(self, inner, **kwargs):
            super().__init__(**kwargs)
            self.inner = inner

        def call(self, x):
            return self.inner(x)

    deep = keras.layers.Dense(2, name="deep")
    shared = keras.layers.Dense(2, name="shared")
    inner_model = keras.Sequential([Holder(deep, name="holder"), shared], name="inner")
    inputs = keras.Input((2,))
    model = keras.Model(inputs, shared(inner_model(inputs)), name="outer")
    names = [layer.name for layer in _keras_private.flatten_layers(model)]
    assert "outer" not in names
    assert {"inner", "holder", "deep", "shared"} <= set(names)
    assert names.count("shared") == 1


def test_stateless_scope_reads_the_enclosing_scope_and_keeps_its_assignment():
    outer_variable = keras.Variable(1.0)
    inner_variable = keras.Variable(2.0)
    with keras.StatelessScope([(outer_variable, 10.0)]):
        with _keras_private.stateless_scope(inner_variable, 20.0) as scope:
            assert float(outer_variable.value) == 10.0
            assert float(inner_variable.value) == 20.0
            inner_variable.assign(30.0)
        assert float(scope.get_current_value(inner_variable)) == 30.0
    assert float(inner_variable.value) == 2.0  # nothing written outside
