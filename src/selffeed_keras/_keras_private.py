"""The one place that calls Keras' private API.

Keras offers no public way to do these things, and rewriting them would copy
Keras' logic, which then drifts from Keras'. Each function below wraps one
private method, so that a Keras release that renames or removes it breaks
this file and `tests/test_keras_private.py`, which names the release and the
missing attribute, and nothing else.

`PRIVATE_API` lists every private attribute used, here and in the tests.
"""

import keras
from keras.src.backend.common import stateless_scope as _stateless_scope

# (owner, attribute): every private Keras attribute this package relies on.
# `tests/keras_harness.py` uses the last one, Keras' layer test harness.
PRIVATE_API = (
    ("keras.layers.RNN", "_maybe_config_dropout_masks"),
    ("keras.layers.RNN", "_maybe_reset_dropout_masks"),
    ("keras.layers.Layer", "_flatten_layers"),
    ("keras.src.backend.common.stateless_scope", "get_stateless_scope"),
    # An instance attribute, tested in tests/test_keras_private.py.
    ("keras.StatelessScope", "state_mapping"),
    ("keras.src.testing.TestCase", "run_layer_test"),
)


def config_dropout_masks(rnn, cell, step_input, state):
    """Makes the dropout masks of `cell` for one call, as `rnn` does.

    `keras.layers.RNN` makes the masks of the cells it knows once per call,
    before its loop, so that every step drops the same units. A cell that
    runs inside another cell (our feedback cell) is unknown to the `RNN`
    that runs the loop: call this before the loop and `reset_dropout_masks`
    after it. Recurses into stacked cells, feeding each the previous cell's
    output, as Keras does.

    Args:
        rnn: a `keras.layers.RNN`; only its (private) helper is used.
        cell: the cell whose masks to make: a Keras cell, a
            `keras.layers.StackedRNNCells`, or any cell (nothing happens for
            a cell without dropout).
        step_input: tensor `(batch, features)`: one step of the cell's input.
        state: the cell's initial state, in its own structure.
    """
    rnn._maybe_config_dropout_masks(cell, step_input, state)


def reset_dropout_masks(rnn, cell):
    """Clears the masks made by `config_dropout_masks`, after the loop.

    Args:
        rnn: the `keras.layers.RNN` given to `config_dropout_masks`.
        cell: the same cell.
    """
    rnn._maybe_reset_dropout_masks(cell)


def flatten_layers(model):
    """Returns every layer nested in `model`, at any depth, without `model`.

    Keras' own walk: it goes into sublayers that `model.layers` does not
    list (a layer held by another layer's attribute) and lists a shared
    layer once.

    Args:
        model: a `keras.Model` or `keras.layers.Layer`.

    Returns:
        A list of layers.
    """
    return model._flatten_layers(include_self=False)


def stateless_scope(variable, value):
    """A `keras.StatelessScope` in which `variable` reads `value`.

    Every other variable reads what it reads in the enclosing stateless
    scope (a JAX training step runs in one), not its stored value: a new
    scope does not look into the one around it, so its mapping starts from
    the enclosing scope's. An assignment inside the scope is kept there:
    read it back with `scope.get_current_value(variable)`.

    Args:
        variable: a `keras.Variable`, such as a seed generator's state.
        value: the tensor it reads in the scope.
    """
    outer = _stateless_scope.get_stateless_scope()
    scope = keras.StatelessScope([(variable, value)])
    if outer is not None:
        scope.state_mapping = {**outer.state_mapping, **scope.state_mapping}
    return scope
