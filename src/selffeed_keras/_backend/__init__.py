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
    from selffeed_keras._backend.tensorflow import loop as _loop
    from selffeed_keras._backend.tensorflow import ops as _ops
elif NAME == "jax":
    from selffeed_keras._backend.jax import loop as _loop
    from selffeed_keras._backend.jax import ops as _ops
elif NAME == "torch":
    from selffeed_keras._backend.torch import loop as _loop
    from selffeed_keras._backend.torch import ops as _ops
else:
    raise ValueError(
        "selffeed_keras runs on the Keras backends tensorflow, jax and torch. "
        f"Received: Keras backend {NAME!r}. Set the environment variable "
        "KERAS_BACKEND (or ~/.keras/keras.json) to one of them before Python "
        "imports keras, then restart the kernel."
    )

# ops.py
SEED_DTYPE = _ops.SEED_DTYPE
RANDOM_SEED_DTYPE = _ops.RANDOM_SEED_DTYPE
SEED_IN_LOOP_STATE = _ops.SEED_IN_LOOP_STATE
is_tensor = _ops.is_tensor
concrete = _ops.concrete
traced = _ops.traced
constant = _ops.constant
cast = _ops.cast
to_numpy = _ops.to_numpy
checked = _ops.checked
assert_non_negative = _ops.assert_non_negative
lgamma = _ops.lgamma
scatter_update_owned = _ops.scatter_update_owned
uniform = _ops.uniform
normal = _ops.normal
# loop.py
SEED_IN_THE_FREE_LOOP = _loop.SEED_IN_THE_FREE_LOOP
Programs = _loop.Programs
run = _loop.run
fill_after = _loop.fill_after
check_time = _loop.check_time
stream = _loop.stream
function = _loop.function
MEMORY_COPIES = _loop.MEMORY_COPIES
held_steps = _loop.held_steps
