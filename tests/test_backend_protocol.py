"""Every installed backend provides the protocol of `_backend/protocol.py`.

Each backend folder is imported where its package is installed (importing
`_backend.jax` needs `jax`, not the JAX backend of Keras: nothing runs), and
checked to provide every member of `protocol.Backend` with the signature
written there; `Programs` has the methods of `protocol.Programs`.
"""

import importlib
import importlib.util
import inspect
import pathlib
import types

import keras
import numpy as np
import pytest

from selffeed_keras import _backend
from selffeed_keras._backend import protocol

BACKENDS = ["tensorflow", "jax", "torch"]
CONSTANTS = {
    name: kind
    for name, kind in protocol.Backend.__annotations__.items()
    if name != "Programs"
}
FUNCTIONS = [
    name
    for name, member in vars(protocol.Backend).items()
    if isinstance(member, staticmethod)
]
METHODS = ["__init__", "prepare", "random_seed", "__call__"]


def _parameters(function):
    """`(name, kind, has_default)` of each parameter, `self` left out."""
    parameters = list(inspect.signature(function).parameters.values())
    if parameters and parameters[0].name == "self":
        parameters = parameters[1:]
    return [(p.name, p.kind, p.default is not p.empty) for p in parameters]


def _folder(name):
    """The members that backend `name`'s `ops.py` and `loop.py` define."""
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed")
    members = {}
    for module in ("ops", "loop"):
        module = importlib.import_module(f"selffeed_keras._backend.{name}.{module}")
        members.update(vars(module))
    return types.SimpleNamespace(**members)


def test_the_protocol_names_its_members():
    assert set(CONSTANTS) == {
        "SEED_DTYPE",
        "RANDOM_SEED_DTYPE",
        "SEED_IN_LOOP_STATE",
        "SEED_IN_THE_FREE_LOOP",
        "MEMORY_COPIES",
    }
    assert {"concrete", "run", "stream", "function", "uniform"} <= set(FUNCTIONS)
    assert "executing_eagerly" not in FUNCTIONS  # one "is it eager" test


@pytest.mark.parametrize("name", BACKENDS)
def test_every_backend_folder_provides_the_protocol(name):
    folder = _folder(name)
    for member, kind in CONSTANTS.items():
        assert isinstance(getattr(folder, member), kind), (name, member)
    for member in FUNCTIONS:
        expected = _parameters(getattr(protocol.Backend, member))
        assert _parameters(getattr(folder, member)) == expected, (name, member)
    for method in METHODS:
        expected = _parameters(getattr(protocol.Programs, method))
        provided = _parameters(getattr(folder.Programs, method))
        assert provided == expected, (name, f"Programs.{method}")


@pytest.mark.parametrize("name", BACKENDS)
def test_every_backend_folder_has_the_same_modules(name):
    directory = pathlib.Path(_backend.__file__).parent / name
    assert sorted(p.name for p in directory.glob("*.py")) == [
        "__init__.py",
        "loop.py",
        "ops.py",
    ]


def test_the_package_reexports_the_running_backend():
    assert _backend.NAME == keras.backend.backend()
    folder = _folder(_backend.NAME)
    for member in [*CONSTANTS, *FUNCTIONS, "Programs"]:
        assert getattr(_backend, member) is getattr(folder, member), member


def test_the_seed_dtypes_hold_what_they_must():
    # The random_seed argument holds every allowed seed; the state's dtype
    # is Keras' own for the backend.
    assert keras.random.SeedGenerator(0).state.dtype == _backend.SEED_DTYPE
    assert np.iinfo(_backend.RANDOM_SEED_DTYPE).max >= 2**32 - 1
