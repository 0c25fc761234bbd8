"""The generation benchmarks' models and seeds, and a hand-written JAX scan.

`make_layer` builds the sine model (LSTMCell + Dense(1)) or the character
model (Embedding, LSTMCell, Dense(VOCAB), a sampler) from random seed 0;
`jax_scan` runs the same weights in a jitted `lax.scan`, the yardstick of
`generate`'s per-step cost: the steps are static (a new number compiles
anew, once per number, outside the timed calls), and a call does only the
jitted work.
"""

import functools

import keras
import numpy as np

import selffeed_keras
from selffeed_keras import SelfFeedingRNN

try:
    import jax
    import jax.numpy as jnp
except ImportError:  # the optional `bench` extra
    jax = None

SEED_TIME = 20
VOCAB = 64


def make_layer(kind, units, sampler="greedy", jit_compile="auto"):
    keras.utils.set_random_seed(0)
    if kind == "sine":
        layer = SelfFeedingRNN(
            keras.layers.LSTMCell(units),
            head=keras.layers.Dense(1),
            jit_compile=jit_compile,
        )
        layer.build((None, None, 1))
    else:
        layer = SelfFeedingRNN(
            keras.layers.LSTMCell(units),
            head=keras.layers.Dense(VOCAB),
            encoder=keras.layers.Embedding(VOCAB, 32),
            sampler=sampler,
            jit_compile=jit_compile,
        )
        layer.build((None, None))
    return layer


def make_seed(kind, batch, time_steps=SEED_TIME):
    if kind == "sine":
        t = np.arange(time_steps, dtype="float32") * 0.1
        phase = np.arange(batch, dtype="float32")[:, None]
        return np.sin(t + phase)[..., None].astype("float32")
    return np.random.default_rng(0).integers(0, VOCAB, (batch, time_steps))


def jax_scan(layer):
    """(f) JAX `lax.scan` under `jit`, on the layer's weights."""
    cell, head = layer.rnn.cell, layer.head
    kernel, recurrent, bias = (jnp.asarray(w) for w in cell.get_weights())
    head_kernel, head_bias = (jnp.asarray(w) for w in head.get_weights())
    table = (
        None if layer.encoder is None else jnp.asarray(layer.encoder.embeddings.numpy())
    )
    greedy = isinstance(layer.sampler, selffeed_keras.samplers.GreedySampler)

    def lstm(x, h, c):
        z = x @ kernel + h @ recurrent + bias
        i, f, g, o = jnp.split(z, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        return jax.nn.sigmoid(o) * jnp.tanh(c), c

    def encode(x):
        return x if table is None else table[x]

    def predict(h, key):
        y = h @ head_kernel + head_bias
        if layer.sampler is None:
            return y
        if greedy:
            return jnp.argmax(y, axis=-1).astype(jnp.int32)
        return jax.random.categorical(key, y, axis=-1).astype(jnp.int32)

    deterministic = layer.sampler is None or greedy

    @functools.partial(jax.jit, static_argnames="steps")
    def run(seed, key, steps):
        batch = seed.shape[0]
        zeros = jnp.zeros((batch, kernel.shape[1] // 4))

        def read(carry, x):
            h, c = lstm(encode(x), *carry)
            return (h, c), None

        (h, c), _ = jax.lax.scan(read, (zeros, zeros), jnp.swapaxes(seed, 0, 1))
        # A deterministic model splits no key: the jitted work only.
        keys = None if deterministic else jax.random.split(key, steps)
        first = predict(h, None if keys is None else keys[0])

        def free(carry, key):
            value, h, c = carry
            h, c = lstm(encode(value), h, c)
            value = predict(h, key)
            return (value, h, c), value

        _, rest = jax.lax.scan(
            free, (first, h, c), None if keys is None else keys[1:], length=steps - 1
        )
        return jnp.concatenate([first[:, None], jnp.swapaxes(rest, 0, 1)], axis=1)

    # Made once: a call does only what the jitted work needs, on the NumPy
    # seed that `generate` takes (no eager `jnp.zeros` or `PRNGKey` per call).
    key = jax.random.PRNGKey(0)

    def call(seed, steps):
        return run(seed, key, steps=steps).block_until_ready()

    return call
