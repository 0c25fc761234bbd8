"""torch: an eager Python loop, one step per iteration, under `torch.no_grad()`.

Keras' torch backend compiles nothing of its own, so generation here runs
the same `keras.ops` graph as on the other backends, eagerly: `run` calls
the step once per iteration and stacks what the steps emit once at the
end. Each step pays Keras' eager dispatch of every layer and `keras.ops`
call it makes: about 0.8 ms a step for an `LSTMCell(32)` at batch 1 on a
2-core AMD EPYC, where the compiled loops of TensorFlow and JAX take about
2 us (docs/benchmarks.md, "Generation on torch").

`run` follows the TensorFlow loop's conventions: the outputs have as many
steps as were run (no fixed-size buffers, so `capacity` is not used), and
`fill_after` appends the rows past them. `Programs` has nothing to trace:
it picks the graph for a call's key, turns the call's scalars into Python
numbers (so that the loop's lengths are Python ints) and runs the graph
without recording gradients. The layer's variables are read as they are,
so new weights need nothing anew.
"""

import threading

import keras
import numpy as np
import torch
from keras import tree

# Generation reads the seed in a loop of its own, then runs free: the free
# run's steps skip the seed's per-step selects, each an eager op here.
SEED_IN_THE_FREE_LOOP = False

# Reading and advancing a seed generator is one step for concurrent calls.
_STREAM_LOCK = threading.Lock()


def check_time(x, expected, message):
    """`x`, once checked to have `expected` steps on its axis 1."""
    if x.shape[1] != expected:
        raise ValueError(f"{message} Received: {x.shape[1]} steps, for {expected}.")
    return x


def run(
    step, carry, length, inputs=None, *, emitted, stop=None, keep_from=None,
    capacity=None, jit_compile=False,
):  # fmt: skip
    """Runs `step` for `length` steps, one Python iteration each.

    Args:
        step: callable `(t, inputs_t, carry) -> (emitted, carry)`, as for the
            TensorFlow loop; `t` is a Python int.
        carry: the initial carry.
        length: int or scalar integer tensor: how many steps to run.
        inputs: None, or a nested structure of tensors of shape `(time, ...)`:
            step `t` reads slice `t` (steps past the end read the last one).
        emitted: a nested structure of tensors shaped like one step's output,
            or None for a loop that emits nothing.
        stop: None, or callable `carry -> scalar bool`, checked before each
            step: the loop exits once it holds.
        keep_from: None, or an int: the outputs of the steps before it are
            not kept (at least that many steps run).
        capacity: ignored: the outputs have the length of the steps run.
        jit_compile: ignored: nothing is compiled.

    Returns:
        `(outputs, carry, count)`: `outputs` like `emitted` with a leading
        axis of `count` (a Python int), the steps run less `keep_from`, and
        the carry after the last step.
    """
    del capacity, jit_compile
    length = int(length)
    keep_from = 0 if keep_from is None else int(keep_from)
    # Each input as its slices along time: a step reads one by index.
    slices = None if inputs is None else [_Slices(x) for x in tree.flatten(inputs)]
    structure = None if emitted is None else tree.flatten(emitted)
    kept = [[] for _ in structure or ()]
    t = 0
    with torch.no_grad():
        while t < length:
            if stop is not None and bool(stop(carry)):
                break
            inputs_t = None
            if slices is not None:
                inputs_t = tree.pack_sequence_as(inputs, [x[t] for x in slices])
            value, carry = step(t, inputs_t, carry)
            if structure is not None and t >= keep_from:
                for values, v in zip(kept, tree.flatten(value), strict=True):
                    values.append(v)
            t += 1
    count = max(t - keep_from, 0)
    if emitted is None:
        return None, carry, count
    outputs = [_stack(values, e) for values, e in zip(kept, structure, strict=True)]
    return tree.pack_sequence_as(emitted, outputs), carry, count


class _Slices:
    """The slices of one input along time; past the end, the last one."""

    __slots__ = ("slices", "last")

    def __init__(self, x):
        self.slices = torch.unbind(keras.ops.convert_to_tensor(x))
        self.last = len(self.slices) - 1

    def __getitem__(self, t):
        return self.slices[min(t, self.last)]


def _stack(values, example):
    """The steps' `values` stacked on a new axis 0, in `example`'s dtype."""
    example = keras.ops.convert_to_tensor(example)
    if not values:
        return torch.zeros((0, *example.shape), dtype=example.dtype)
    stacked = torch.stack([keras.ops.convert_to_tensor(v) for v in values])
    return stacked if stacked.dtype == example.dtype else stacked.to(example.dtype)


def fill_after(outputs, count, total, value):
    """`outputs` (`count` steps, time first) followed by `value` up to `total`."""
    shape = (int(total) - int(count), *outputs.shape[1:])
    value = keras.ops.convert_to_tensor(value, outputs.dtype)
    return torch.cat([outputs, torch.reshape(value, ()).expand(shape)], 0)


def stream(variable, reservation):
    """A call's stream, from the generator's `variable` and its `reservation`.

    Reads the generator's state and adds one to its counter (under a lock,
    so that concurrent calls each advance it), and mixes the state read
    with `reservation` into a `(2,)` int32 seed state `[mixed, 0]`. Keras'
    torch backend seeds each draw with the sum of the two words, and the
    second advances by one per draw, so two calls' streams meet only if
    their mixed words lie closer than the draws they make. The mixing is
    NumPy's `SeedSequence`, on the host: once per call.
    """
    with _STREAM_LOCK:
        state = variable.value
        read = [int(v) for v in state.detach().cpu().tolist()]
        variable.assign(state + torch.tensor([0, 1], dtype=state.dtype))
    words = [v & 0xFFFFFFFF for v in read] + [int(reservation) & 0xFFFFFFFF]
    mixed = int(np.random.SeedSequence(words).generate_state(1)[0])
    return torch.tensor([_as_int32(mixed), 0], dtype=torch.int32)


def _as_int32(value):
    """The int32 whose bits are those of the uint32 `value`."""
    return (value & 0xFFFFFFFF ^ 0x80000000) - 0x80000000


def function(fn, signature, variables):
    """`fn`, run without recording gradients: nothing to trace.

    `signature` and `variables` are not used: `fn` reads the variables.
    """
    del signature, variables

    def eager(*args):
        with torch.no_grad():
            return fn(*args)

    return eager


class Programs:
    """The graphs of one `_generate.Generation`, one per key, run eagerly.

    `functions` maps each key run so far to its graph.
    """

    def __init__(self, generation):
        self.generation = generation
        self.functions = {}
        self._lock = threading.Lock()

    def prepare(self, args, reservation=None):
        """The call's arguments: a reservation travels as an int."""
        if reservation is None:
            return args
        return [*args, int(reservation)]

    def random_seed(self, random_seed):
        """A call's `random_seed` as the `(2,)` int32 state it starts from."""
        seed = int(keras.ops.convert_to_numpy(random_seed))
        return torch.tensor([_as_int32(seed), 0], dtype=torch.int32)

    def __call__(self, key, args):
        graph = self.functions.get(key)
        if graph is None:
            with self._lock:
                graph = self.functions.get(key)
                if graph is None:
                    graph = self.functions[key] = self.generation.graph_for(key)
        seed, steps, *optional = args
        options = dict(zip(key.options, optional, strict=True))
        if "num_samples" in options:
            options["num_samples"] = int(options["num_samples"])
        with torch.no_grad():
            return graph(seed, int(steps), **options, jit_compile=False)


# A list of steps and their stacking; int64 indices order the history.
# Measured against peak resident memory (benchmarks/memory.py): see the
# protocol's `MEMORY_COPIES`.
MEMORY_COPIES = {"outputs": 5, "history": 4, "index": 32}


def held_steps(steps):
    return steps
