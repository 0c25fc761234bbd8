"""What the backend-free modules need that differs between Keras backends.

One module per backend (`tensorflow.py`, `jax.py`, `torch.py`) exposes the
same few functions; this package picks one, once, from
`keras.backend.backend()`. Everything else in the package is `keras.ops`,
`keras.random`, `keras.tree` and NumPy.

- `SEED_DTYPE`: the dtype of a `keras.random.SeedGenerator`'s state.
- `SEED_IN_LOOP_STATE`: whether a random draw inside Keras' RNN loop carries
  the seed generator's state as loop state (JAX's `lax.scan`, where a
  variable assigned inside the loop leaks a tracer) rather than assigning
  the generator in place.
- `is_tensor(value)`: whether `value` is a tensor or variable of the backend
  (not a Python or NumPy value).
- `concrete(value)`: whether the value of `value` can be read in Python now:
  an eager TensorFlow call, a JAX array that is not a tracer, a torch tensor.
  In a traced function (a `tf.function`, `jax.jit`) it cannot.
- `traced()`: whether the caller is tracing this call into a program of its
  own that cannot run our eager checks and compiled loop inside it (a
  `jax.jit`, `vmap` or `grad` on JAX). A `tf.function` can: False there.
- `constant(value, dtype=None)`: `value` (a Python or NumPy value, a tensor
  or a variable) as a tensor, of `dtype` if given.
- `cast(value, dtype)`: `keras.ops.cast`, but `tf.cast` itself on TensorFlow,
  which spares the eager checks of every call Keras' dispatch.
- `to_numpy(value)`: the NumPy value of a concrete tensor, as cheaply as the
  backend allows (the eager checks of every call read their arguments).
- `checked(value, check, name)`: `value`, with the assertion that `check()`
  returns (`(condition, message)`) attached where the backend runs
  assertions inside a traced function (TensorFlow's graphs); elsewhere
  `value` unchanged, `check` never called.
- `assert_non_negative(value, message)`: `value`, checked to hold no
  negative number where the values can be read (and in TensorFlow's graphs).
- `scatter_update_owned(tensor, indices, updates)`: `keras.ops.scatter_update`
  of a tensor that the caller owns and reads on only through the result: on
  torch without gradients it writes in place, where Keras' op copies the
  whole tensor.
- `lgamma(x)`: the log of the absolute value of the gamma function.
- `uniform(shape, key)`, `normal(shape, key)`: float32 draws of a stateless
  generator keyed by a `(2,)` int32 `key`, fast under XLA on a CPU:
  Philox on TensorFlow, the default `jax.random` generator on JAX, a
  `torch.Generator` on torch.
"""

import keras

_NAME = keras.backend.backend()
if _NAME == "tensorflow":
    from selffeed_keras._backend import tensorflow as _impl
elif _NAME == "jax":
    from selffeed_keras._backend import jax as _impl
elif _NAME == "torch":
    from selffeed_keras._backend import torch as _impl
else:
    raise ValueError(
        "selffeed_keras runs on the Keras backends tensorflow, jax and torch. "
        f"Received: Keras backend {_NAME!r}. Set the environment variable "
        "KERAS_BACKEND (or ~/.keras/keras.json) to one of them before Python "
        "imports keras, then restart the kernel."
    )

NAME = _NAME
SEED_DTYPE = _impl.SEED_DTYPE
SEED_IN_LOOP_STATE = _impl.SEED_IN_LOOP_STATE
is_tensor = _impl.is_tensor
concrete = _impl.concrete
traced = _impl.traced
constant = _impl.constant
to_numpy = _impl.to_numpy
cast = _impl.cast
checked = _impl.checked
assert_non_negative = _impl.assert_non_negative
lgamma = _impl.lgamma
scatter_update_owned = _impl.scatter_update_owned
uniform = _impl.uniform
normal = _impl.normal
