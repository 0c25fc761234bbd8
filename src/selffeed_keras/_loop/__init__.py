"""The compiled loop and the traced programs that run it, one module per backend.

Everything that differs between Keras backends in generation sits here,
behind the same names in each module:

- `run(step, carry, length, inputs, *, emitted, stop, keep_from, capacity,
  jit_compile)`: the loop over a horizon given as a tensor;
- `fill_after(outputs, count, total, value)`: rows past the steps computed;
- `check_time(x, expected, message)`: a graph-side check of a length;
- `executing_eagerly()`: False inside a traced TensorFlow function;
- `Programs(generation)`: traces the generation graph once per key (the
  optional arguments given), caches it and runs it;
- `stream(variable, reservation)`: a call's random stream;
- `function(fn, signature, variables)`: any other traced function (`score`);
- `SEED_IN_THE_FREE_LOOP`: whether generation reads the seed in the loop
  that runs free (one compiled chunk on TensorFlow) or in a loop of its own
  first (JAX, torch: the free steps skip the seed's selects).

`tensorflow.py` runs a chunked `tf.while_loop` compiled by XLA, in a
`tf.function` that reads the layer's variables; `jax.py` a `jax.lax` loop in
one `jax.jit` program whose arguments are the variables' values; `torch.py`
an eager Python loop, one step per iteration, without gradients. The modules
above this one (`_generate`, `_warm_up`, `_beam`) are `keras.ops` and know
no backend.
"""

import keras

# Refuses, at import, a backend that has none of these modules.
from selffeed_keras import _backend  # noqa: F401

BACKEND = keras.backend.backend()

if BACKEND == "tensorflow":
    from selffeed_keras._loop import tensorflow as _impl
elif BACKEND == "jax":
    from selffeed_keras._loop import jax as _impl
else:
    from selffeed_keras._loop import torch as _impl

_MAX_CHUNK = _impl._MAX_CHUNK
Programs = _impl.Programs
SEED_IN_THE_FREE_LOOP = _impl.SEED_IN_THE_FREE_LOOP
check_time = _impl.check_time
executing_eagerly = _impl.executing_eagerly
fill_after = _impl.fill_after
function = _impl.function
run = _impl.run
stream = _impl.stream

__all__ = [
    "BACKEND",
    "Programs",
    "SEED_IN_THE_FREE_LOOP",
    "_MAX_CHUNK",
    "check_time",
    "executing_eagerly",
    "fill_after",
    "function",
    "run",
    "stream",
]
