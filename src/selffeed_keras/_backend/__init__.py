"""Everything that differs between Keras backends, chosen once at import.

One folder per backend (`tensorflow/`, `jax/`, `torch/`), each with the same
modules (`ops.py`: tensors, casts, checks, draws; `loop.py`: the compiled
generation loop and its traced programs), provides the members of
`protocol.Backend`, where each is documented. This module picks the folder
of `keras.backend.backend()`, once, and re-exports its members: the rest of
the package calls `_backend.run`, `_backend.concrete`, ... and reads the
backend's facts (`_backend.SEED_DTYPE`, ...) without asking which backend
runs.
"""

import keras

NAME = keras.backend.backend()
if NAME == "tensorflow":
    from selffeed_keras._backend import tensorflow as _impl
elif NAME == "jax":
    from selffeed_keras._backend import jax as _impl
elif NAME == "torch":
    from selffeed_keras._backend import torch as _impl
else:
    raise ValueError(
        "selffeed_keras runs on the Keras backends tensorflow, jax and torch. "
        f"Received: Keras backend {NAME!r}. Set the environment variable "
        "KERAS_BACKEND (or ~/.keras/keras.json) to one of them before Python "
        "imports keras, then restart the kernel."
    )

# ops.py
SEED_DTYPE = _impl.SEED_DTYPE
RANDOM_SEED_DTYPE = _impl.RANDOM_SEED_DTYPE
SEED_IN_LOOP_STATE = _impl.SEED_IN_LOOP_STATE
is_tensor = _impl.is_tensor
concrete = _impl.concrete
traced = _impl.traced
constant = _impl.constant
cast = _impl.cast
to_numpy = _impl.to_numpy
checked = _impl.checked
assert_non_negative = _impl.assert_non_negative
lgamma = _impl.lgamma
scatter_update_owned = _impl.scatter_update_owned
uniform = _impl.uniform
normal = _impl.normal
# loop.py
SEED_IN_THE_FREE_LOOP = _impl.SEED_IN_THE_FREE_LOOP
Programs = _impl.Programs
run = _impl.run
fill_after = _impl.fill_after
check_time = _impl.check_time
stream = _impl.stream
function = _impl.function
MEMORY_COPIES = _impl.MEMORY_COPIES
held_steps = _impl.held_steps
