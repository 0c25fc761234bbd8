"""The PyTorch backend's small operations: eager, no traced checks."""

import keras
import numpy as np
import torch

# The protocol's constants: what each means is in `_backend/protocol.py`.
SEED_DTYPE = "int32"
RANDOM_SEED_DTYPE = "int64"  # the int32 state stops at 2**31 - 1
SEED_IN_LOOP_STATE = False


def is_tensor(value):
    return isinstance(value, (torch.Tensor, keras.Variable))


def concrete(value=None):
    del value
    return not torch.compiler.is_compiling()


def traced():
    return False


def constant(value, dtype=None):
    if isinstance(value, keras.Variable):
        value = value.value
    return keras.ops.convert_to_tensor(value, dtype)


def cast(value, dtype):
    return keras.ops.cast(value, dtype)


def to_numpy(value):
    return value.detach().cpu().numpy()


def checked(value, check, name):
    del check, name  # torch runs eagerly: values were checked in Python.
    return value


def assert_non_negative(value, message):
    if concrete() and bool(torch.any(torch.as_tensor(value) < 0)):
        raise ValueError(message)
    return value


def scatter_update_owned(tensor, indices, updates):
    if torch.is_grad_enabled():
        return keras.ops.scatter_update(tensor, indices, updates)
    if not tensor.is_contiguous():
        # An expanded view (a repeat) shares memory between rows: one copy,
        # after which the steps write in place.
        tensor = tensor.contiguous()
    index = tuple(torch.as_tensor(indices, dtype=torch.int64).T)
    tensor[index] = torch.as_tensor(updates, dtype=tensor.dtype)
    return tensor


def lgamma(x):
    return torch.lgamma(torch.as_tensor(x, dtype=torch.float32))


def _generator(key):
    key = np.asarray(keras.ops.convert_to_numpy(key), "int64")
    generator = torch.Generator()
    generator.manual_seed(int(key[0]) * 2**31 + int(key[1]))
    return generator


def uniform(shape, key):
    draws = torch.rand(tuple(shape), generator=_generator(key), dtype=torch.float32)
    return keras.ops.convert_to_tensor(draws)  # on Keras' device


def normal(shape, key):
    draws = torch.randn(tuple(shape), generator=_generator(key), dtype=torch.float32)
    return keras.ops.convert_to_tensor(draws)
