"""What a layer saves besides its variables: its seed generator's state, its lags.

Keras saves a layer's own variables but not the state of its
`keras.random.SeedGenerator`, nor does `tf.train.Checkpoint` see it: after a
reload, calls without `random_seed` would repeat the first draws of the
original model, and a resumed `fit` with scheduled sampling would flip other
coins than an uninterrupted one. The state is saved under its own key, as
int64 on every backend (TensorFlow holds it as int64, JAX as uint32), and a
file saved without it still loads, the generator starting afresh.

The lags are saved too: `lags=(1, 3)` and `lags=(1, 5)` give the cell
inputs of the same width, so the weights of one would load into the other
without a word, and every forecast would read the wrong elements. A file
saved without them (before they were kept) loads unchecked.
"""

import keras
import numpy as np

KEY = "seed_generator_state"
LAGS_KEY = "lags"


def save(store, generator, lags):
    """Adds the generator's state and the lags to a layer's `store` (int64)."""
    store[KEY] = np.asarray(keras.ops.convert_to_numpy(generator.state.value), "int64")
    store[LAGS_KEY] = np.asarray(lags, "int64")


def split(store, lags):
    """The store without what `save` added, and the generator's state or None.

    Raises:
        ValueError: where the store holds other lags than `lags`.
    """
    keys = list(store.keys())
    if LAGS_KEY in keys:
        saved = tuple(int(lag) for lag in np.asarray(store[LAGS_KEY]))
        if saved != tuple(lags):
            raise ValueError(
                f"These weights were saved by a layer with lags={saved}, and "
                f"this layer reads lags={tuple(lags)}: the weights would load "
                "but read the wrong elements. Create the layer with "
                f"lags={saved} (keras.saving.load_model does, from the "
                f"file's config). Received: lags={tuple(lags)}."
            )
    state = np.asarray(store[KEY]) if KEY in keys else None
    extra = (KEY, LAGS_KEY)
    return {key: store[key] for key in keys if key not in extra}, state


def load(state, generator):
    """Assigns a state from `split` (None: a file saved before it was kept)."""
    if state is not None:
        generator.state.assign(state.astype(generator.state.dtype))
