"""Resolving the layer's `cell` argument: a cell, a list of cells, a recurrent layer."""

import keras

_CELL_HELP = (
    "`cell` must be a Keras RNN cell (for example `keras.layers.LSTMCell(32)`), "
    "a list of cells (stacked), or a recurrent layer (for example "
    "`keras.layers.LSTM(32)`)"
)


def _is_cell(obj):
    return hasattr(obj, "call") and hasattr(obj, "state_size")


def recurrent_layer(cell):
    """Returns the `keras.layers.RNN` that runs `cell` over whole sequences.

    A recurrent layer is used as it is when it returns sequences and state;
    otherwise an unbuilt copy that does is made, since its config is all
    that differs.
    """
    if isinstance(cell, keras.layers.RNN):
        if cell.go_backwards or cell.stateful:
            raise ValueError(
                f"{_CELL_HELP}, running forwards and not stateful: generation "
                "carries the state itself. Received: cell="
                f"{type(cell).__name__}(go_backwards={cell.go_backwards}, "
                f"stateful={cell.stateful})."
            )
        if cell.return_sequences and cell.return_state:
            return cell
        if cell.built:
            raise ValueError(
                f"{_CELL_HELP}. A built recurrent layer must be created with "
                "`return_sequences=True, return_state=True`, or pass an unbuilt "
                f"one. Received: cell={cell.name} (return_sequences="
                f"{cell.return_sequences}, return_state={cell.return_state})."
            )
        config = {**cell.get_config(), "return_sequences": True, "return_state": True}
        return type(cell).from_config(config)
    if isinstance(cell, (list, tuple)):
        if not cell or not all(_is_cell(c) for c in cell):
            raise TypeError(f"{_CELL_HELP}. Received: cell={cell!r}.")
        cell = keras.layers.StackedRNNCells(list(cell))
    if not _is_cell(cell):
        raise TypeError(
            f"{_CELL_HELP}. Received: cell={cell!r} of type {type(cell).__name__}."
        )
    return keras.layers.RNN(cell, return_sequences=True, return_state=True)
