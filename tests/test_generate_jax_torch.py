"""`generate` on JAX and torch against hand-written loops on the same weights.

Run with KERAS_BACKEND=jax (`make test-jax`) or torch (`make test-torch`);
skipped on TensorFlow, whose loop `tests/test_loop.py` checks the same way.
What only one of the two backends has (JAX's compiled programs, torch's
gradients and threads) is in `test_jax_generate.py` and
`test_torch_generate.py`.
"""

import contextlib

import keras
import numpy as np
import pytest
from cells import CELLS, continuous_layer, reference_generate, sine_seed, token_layer

BACKEND = keras.backend.backend()

pytestmark = pytest.mark.skipif(
    BACKEND not in ("jax", "torch"),
    reason="runs with KERAS_BACKEND=jax or torch (TensorFlow: tests/test_loop.py)",
)


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def reference(*args, **kwargs):
    """`cells.reference_generate`, without recording gradients on torch."""
    if BACKEND == "torch":
        import torch

        no_grad = torch.no_grad()
    else:
        no_grad = contextlib.nullcontext()
    with no_grad:
        return reference_generate(*args, **kwargs)


def tokens(batch=3, time=9, seed=1):
    return np.random.default_rng(seed).integers(1, 13, (batch, time))


@pytest.mark.parametrize("cell_name", sorted(CELLS))
def test_continuous_equals_the_hand_written_loop(cell_name):
    layer = continuous_layer(cell_name, features=2)
    seed = sine_seed(batch=3, time=7, features=2)
    outputs = layer.generate(seed, 25)
    assert keras.ops.is_tensor(outputs)
    np.testing.assert_allclose(numpy(outputs), reference(layer, seed, 25), atol=1e-5)


def test_greedy_tokens_and_covariates_equal_the_hand_written_loop():
    layer = token_layer("gru_cell")
    seed = tokens()
    generated = numpy(layer.generate(seed, 15))
    assert generated.dtype == np.int32
    np.testing.assert_array_equal(generated, reference(layer, seed, 15))
    layer = continuous_layer("lstm_cell")
    seed = sine_seed(time=9)
    covariates = np.random.default_rng(0).normal(size=(2, 9 + 12 - 1, 3))
    covariates = covariates.astype("float32")
    np.testing.assert_allclose(
        numpy(layer.generate(seed, 12, covariates=covariates)),
        reference(layer, seed, 12, covariates),
        atol=1e-5,
    )


def test_seed_mask_rows_continue_as_alone_and_state_continues():
    layer = continuous_layer("gru_cell")
    seed = sine_seed(batch=2, time=9)
    mask = np.ones((2, 9), bool)
    mask[1, :4] = False
    outputs = numpy(layer.generate(seed, 12, seed_mask=mask))
    alone = numpy(layer.generate(seed[1:, 4:], 12))
    np.testing.assert_allclose(outputs[1:], alone, atol=1e-5)
    whole = numpy(layer.generate(seed, 40))
    first, state = layer.generate(seed, 20, return_state=True)
    rest = layer.generate(numpy(first)[:, -1:], 20, initial_state=state)
    np.testing.assert_allclose(whole[:, 20:], numpy(rest), atol=1e-5)
