"""The seed generator's state, saved with the layer's own variables.

Keras saves a layer's own variables but not the state of its
`keras.random.SeedGenerator`, nor does `tf.train.Checkpoint` see it: after a
reload, calls without `random_seed` would repeat the first draws of the
original model, and a resumed `fit` with scheduled sampling would flip other
coins than an uninterrupted one. The state is saved under its own key, as
int64 on every backend (TensorFlow holds it as int64, JAX as uint32), and a
file saved without it still loads, the generator starting afresh.
"""

import keras
import numpy as np

KEY = "seed_generator_state"


def save(store, generator):
    """Adds the generator's state to a layer's `store`, as a `(2,)` int64 array."""
    store[KEY] = np.asarray(keras.ops.convert_to_numpy(generator.state.value), "int64")


def split(store):
    """The store without the generator's state, and the state or None."""
    keys = list(store.keys())
    state = np.asarray(store[KEY]) if KEY in keys else None
    return {key: store[key] for key in keys if key != KEY}, state


def load(state, generator):
    """Assigns a state from `split` (None: a file saved before it was kept)."""
    if state is not None:
        generator.state.assign(state.astype(generator.state.dtype))
