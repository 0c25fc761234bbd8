"""What every backend's loop module offers."""

import ast
import pathlib

import keras

from selffeed_keras import _loop

NAMES = [
    "Programs",
    "check_time",
    "executing_eagerly",
    "fill_after",
    "function",
    "run",
    "stream",
]


def test_the_backend_module_offers_every_name():
    assert _loop.BACKEND == keras.backend.backend()
    for name in NAMES:
        assert callable(getattr(_loop, name)), name


def test_every_backend_module_defines_every_name():
    # Read, not imported: each module imports its backend's package.
    directory = pathlib.Path(_loop.__file__).parent
    for backend in ["tensorflow", "jax", "torch"]:
        tree = ast.parse((directory / f"{backend}.py").read_text())
        defined = {
            n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))
        }
        defined |= {
            target.id
            for n in tree.body
            if isinstance(n, ast.Assign)
            for target in n.targets
            if isinstance(target, ast.Name)
        }
        assert set(NAMES) | {"_MAX_CHUNK"} <= defined, backend
