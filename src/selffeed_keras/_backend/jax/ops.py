"""The JAX backend's small operations: tensors, casts, checks, draws."""

import functools

import jax
import jax._src.core as _jax_core
import jax.numpy as jnp
import keras
import numpy as np

# The protocol's constants: what each means is in `_backend/protocol.py`.
SEED_DTYPE = "uint32"
RANDOM_SEED_DTYPE = "uint32"
SEED_IN_LOOP_STATE = True


def is_tensor(value):
    return isinstance(value, (jax.Array, keras.Variable))


def concrete(value=None):
    if isinstance(value, keras.Variable):
        value = value.value
    return not isinstance(value, jax.core.Tracer)


def traced():
    # JAX's private test, 0.3 us a call (Keras' public one makes an array,
    # about 100 us): True outside any jax.jit, vmap or grad trace.
    clean = getattr(_jax_core, "trace_state_clean", None)
    return clean is not None and not clean()


def constant(value, dtype=None):
    # Python and NumPy values stay NumPy until the jitted call takes them:
    # `jnp.asarray` compiles a program per new shape (JAX 0.10: 15-190 ms)
    # and dispatches one per call (tens of us), and the eager checks read
    # NumPy anyway.
    if isinstance(value, keras.Variable):
        value = value.value
    if isinstance(value, jax.Array):
        return value if dtype is None else cast(value, dtype)
    with np.errstate(over="ignore"):  # as `cast` below
        return np.asarray(value, None if dtype is None else _numpy_dtype(dtype))


def cast(value, dtype):
    if isinstance(value, (np.ndarray, np.generic)):
        # A value past the dtype's range becomes an infinity, as `jnp` casts
        # it, without NumPy's warning: the checks that follow name it.
        with np.errstate(over="ignore"):
            return np.asarray(value).astype(_numpy_dtype(dtype), copy=False)
    return keras.ops.cast(value, dtype)


@functools.lru_cache(maxsize=64)
def _numpy_dtype(dtype):
    """A Keras dtype name (bfloat16 included) as a NumPy dtype."""
    return jnp.dtype(keras.backend.standardize_dtype(dtype))


def to_numpy(value):
    return np.asarray(value)


def checked(value, check, name):
    # Assertions do not run inside `jax.jit`; concrete values were checked in
    # Python before this is reached.
    del check, name
    return value


def assert_non_negative(value, message):
    if concrete(value) and np.any(np.asarray(value) < 0):
        raise ValueError(message)
    return value


def scatter_update_owned(tensor, indices, updates):
    return keras.ops.scatter_update(tensor, indices, updates)


def lgamma(x):
    return jax.lax.lgamma(jnp.asarray(x, "float32"))


def _key(key):
    return jnp.asarray(key).astype("uint32")


def uniform(shape, key):
    return jax.random.uniform(_key(key), tuple(shape), "float32")


def normal(shape, key):
    return jax.random.normal(_key(key), tuple(shape), "float32")
