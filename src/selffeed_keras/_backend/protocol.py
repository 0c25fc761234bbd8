"""What a Keras backend provides to the rest of the package: the protocol.

Each backend is a folder of this package (`tensorflow/`, `jax/`, `torch/`)
with the same modules: `ops.py` (the small operations that the backend-free
modules need: tensors, casts, checks, draws) and `loop.py` (the compiled
generation loop and the traced programs that run it). The folder's
`__init__.py` re-exports every member of `Backend` below, and
`selffeed_keras._backend` re-exports the chosen backend's, chosen once at
import from `keras.backend.backend()`. Everything outside this package is
`keras.ops`, `keras.random`, `keras.tree` and NumPy, and reads a backend's
facts through the constants below, never through its name.

A new backend is a new folder whose `__init__.py` provides every member,
with the signatures written here (`tests/test_backend_protocol.py` checks
each installed backend against them), one more branch in the dispatch of
`__init__.py`, and the backend's runs of the tests that
`tests/test_backends.py` and `tests/test_generate_jax_torch.py` describe.
"""

from typing import Protocol


class Programs(Protocol):
    """The traced generation programs of one `_generate.Generation`.

    Built once per `Generation` (per layer and `jit_compile`); traces the
    generation graph (`generation.graph_for(...)`) once per call key, caches
    the result and runs it. `functions` maps each key traced (or run) so far
    to its program.
    """

    functions: dict

    def __init__(self, generation):
        """Holds `generation`; traces nothing yet."""

    def prepare(self, args, reservation=None):
        """The call's arguments as the programs take them.

        Args:
            args: list. The seed, `steps` and the optional arguments named
                in the call's key.
            reservation: None, or an int from 0 (see `stream`): appended
                to `args` in the form the program takes it.
        """

    def random_seed(self, random_seed):
        """A call's `random_seed` (a scalar of `RANDOM_SEED_DTYPE`, or a
        Python int) as the `(2,)` seed state, of `SEED_DTYPE`, that the
        call's draws start from."""

    def __call__(self, key, args):
        """Runs the program for `key` (traced on its first call) on `args`
        (as `prepare` returns them): `(outputs, state)`."""


class Backend(Protocol):
    """The names each backend folder provides, and what each means."""

    SEED_DTYPE: str
    """The dtype of a `keras.random.SeedGenerator`'s state on this backend:
    `"int64"` (TensorFlow), `"uint32"` (JAX), `"int32"` (torch)."""

    RANDOM_SEED_DTYPE: str
    """The dtype of `generate`'s `random_seed` as a tensor: one that holds
    every allowed seed, 0 to 2**32 - 1. `SEED_DTYPE` where it does (int64,
    uint32); int64 where it does not (torch's int32), and
    `Programs.random_seed` bit-casts it into the state."""

    SEED_IN_LOOP_STATE: bool
    """Whether a random draw inside Keras' RNN loop (training on its own
    draws) carries the seed generator's state as loop state rather than
    assigning the generator in place: True on JAX, whose `lax.scan` leaks a
    tracer from a variable assigned inside the loop."""

    SEED_IN_THE_FREE_LOOP: bool
    """Whether generation reads the seed in the loop that then runs free
    (one compiled chunk on TensorFlow) rather than in a loop of its own
    first (JAX, torch: the free steps skip the seed's per-step selects)."""
    MEMORY_COPIES: dict
    """For `max_bytes` (`_budget`), measured against the growth of peak
    resident memory (`benchmarks/memory.py`): `"outputs"`, the copies of a
    call's outputs alive at once (the loop's buffers, their gathering, the
    final layout); `"history"`, the copies of a row's ring of `max(lags)`
    slots (the ring, a step's updated copy, the gathered histories);
    `"index"`, the bytes per slot of the indices that order the returned
    history."""

    @staticmethod
    def is_tensor(value):
        """Whether `value` is a tensor or variable of the backend (not a
        Python or NumPy value)."""

    @staticmethod
    def concrete(value=None):
        """Whether Python can read values now: those of `value`, or, without
        one, those of the caller's tensors.

        True in an eager TensorFlow call, for a JAX array that is not a
        tracer, for a torch tensor outside `torch.compile`. False inside a
        traced function (a `tf.function`, `jax.jit`), where the code runs
        once to build a program that runs many times: there a call's
        Python-side checks and bookkeeping (its size check, the reservation
        of its random stream) cannot run per call, and the program does them.
        """

    @staticmethod
    def traced():
        """Whether the caller is tracing this call into a program of its own
        that cannot run our eager checks and compiled loop inside it (a
        `jax.jit`, `vmap` or `grad` on JAX). A `tf.function` can: False
        there; torch traces nothing."""

    @staticmethod
    def constant(value, dtype=None):
        """`value` (a Python or NumPy value, a tensor or a variable) as a
        tensor, of `dtype` if given."""

    @staticmethod
    def cast(value, dtype):
        """`keras.ops.cast`, but the backend's own where that spares the
        eager checks Keras' dispatch (`tf.cast` on TensorFlow)."""

    @staticmethod
    def to_numpy(value):
        """The NumPy value of a concrete tensor, as cheaply as the backend
        allows (the eager checks of every call read their arguments)."""

    @staticmethod
    def checked(value, check, name):
        """`value`, with the assertion that `check()` returns (a pair
        `(condition, message)`) attached where the backend runs assertions
        inside a traced function (TensorFlow's graphs, as an op named
        `name`); elsewhere `value` unchanged, `check` never called."""

    @staticmethod
    def assert_non_negative(value, message):
        """`value`, checked to hold no negative number where its values can
        be read (a `ValueError` with `message`) and in TensorFlow's graphs
        (an assertion)."""

    @staticmethod
    def scatter_update_owned(tensor, indices, updates):
        """`keras.ops.scatter_update` of a tensor that the caller owns and
        reads on only through the result: on torch without gradients it
        writes in place, where Keras' op copies the whole tensor."""

    @staticmethod
    def held_steps(steps):
        """How many steps a call's output buffers hold for `steps` (an int):
        `steps`, or on JAX its power of two (the program's capacity)."""

    @staticmethod
    def lgamma(x):
        """The log of the absolute value of the gamma function, in float32."""

    @staticmethod
    def uniform(shape, key):
        """float32 draws in `[0, 1)` of a stateless generator keyed by a
        `(2,)` int32 `key`, fast under XLA on a CPU: Philox on TensorFlow,
        the default `jax.random` generator on JAX, a `torch.Generator` on
        torch."""

    @staticmethod
    def normal(shape, key):
        """Standard normal float32 draws, keyed as `uniform`'s."""

    @staticmethod
    def run(
        step, carry, length, inputs=None, *, emitted, stop=None, keep_from=None,
        capacity=None, jit_compile=False,
    ):  # fmt: skip
        """Runs `step` for `length` steps and collects what each emits.

        The horizon is a tensor (or, on torch, an int), so that a new length
        never retraces the function that holds the loop.

        Args:
            step: callable `(t, inputs_t, carry) -> (emitted, carry)`, where
                `emitted` is None for a loop that emits nothing and the new
                carry keeps the structure, dtypes and shapes of `carry`.
            carry: the initial carry.
            length: scalar int32: how many steps to run; may be 0.
            inputs: None, or a nested structure of tensors of shape
                `(time, ...)`, time first: step `t` reads slice `t`. An
                input may be shorter than `length`.
            emitted: a nested structure of tensors shaped like one step's
                output (values ignored), or None for a loop that emits
                nothing.
            stop: None, or callable `carry -> scalar bool`, checked after
                each step: the loop exits once it holds.
            keep_from: None, or a scalar int32: the outputs of the steps
                before it are not kept.
            capacity: None, or (on backends whose buffers have a fixed size:
                JAX) the buffers' length, at least the outputs kept.
            jit_compile: bool. Whether XLA compiles the loop, where the
                backend offers the choice (TensorFlow).

        Returns:
            `(outputs, carry, count)`: `outputs` like `emitted` with a
            leading axis whose first `count` rows are the outputs kept (the
            steps run less `keep_from`; TensorFlow and torch return those
            rows only, JAX `capacity` rows), and the carry after the last
            step.
        """

    @staticmethod
    def fill_after(outputs, count, total, value):
        """`outputs` (time first, `count` rows kept) with `value` in every
        row from `count` to `total`."""

    @staticmethod
    def check_time(x, expected, message):
        """`x`, checked (in the graph, on TensorFlow; at once on torch) to
        have `expected` steps on its axis 1; JAX checked the length before
        it padded it, and returns `x`."""

    @staticmethod
    def stream(variable, reservation):
        """A call's random stream: a `(2,)` seed state of its own.

        Reads the seed generator's `variable` and adds one to its counter, so
        that the generator advances by one per call however many draws the
        call makes, and mixes the state read with `reservation` (an int:
        see `_generate.Generation.reserve`), so that calls in flight at once
        draw different streams.
        """

    @staticmethod
    def function(fn, signature, variables):
        """`fn` as a traced function of the backend that reads `variables`
        (the layer's): a `tf.function` with the input signature `signature`
        (`keras.KerasTensor`s, batch and time unknown) on TensorFlow, a
        `jax.jit` program of the variables' values on JAX, `fn` without
        gradients on torch."""

    Programs: type[Programs]
    """The class of the generation programs: see `Programs` above."""
