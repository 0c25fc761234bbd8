"""Times `SelfFeedingRNN.generate` against the usual ways of free running.

Every method runs the same weights from the same seed, warming up on the seed
its own way, and must produce `generate`'s outputs before it is timed. Each
method is timed on its own: a first call (tracing and compiling included),
then repeated calls whose median gives the steady state. Ratios compare
methods of the same row, measured in the same run. The other sections give
the per-step cost of the warm-up, covariates, sample paths and lags.

    python -m benchmarks.generate          # the full tables, a few minutes
    python -m benchmarks.generate --quick  # a tiny configuration, seconds
    python -m benchmarks.generate --only methods lags  # some sections

`benchmarks.overhead` times one call, the first call, tracing and memory;
`benchmarks.backends` runs `generate` on JAX and torch.
"""

import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from benchmarks import common
from benchmarks.common import (
    alternate,
    measure,
    met,
    print_table,
)
from benchmarks.models import SEED_TIME, jax, jax_scan, make_layer, make_seed
from selffeed_keras import SelfFeedingRNN

# --------------------------------------------------- the ways people do it


class Parts:
    """The layer's pieces, as a hand-written loop uses them."""

    def __init__(self, layer):
        self.layer = layer
        self.cell = layer.rnn.cell

    def encode(self, x):
        return x if self.layer.encoder is None else self.layer.encoder(x)

    def predict(self, output):
        y = self.layer.head(output)
        if self.layer.sampler is None:
            return y
        return self.layer.sampler(y, seed=self.layer.seed_generator)

    def step(self, previous, state):
        output, state = self.cell(self.encode(previous), state)
        return self.predict(output), state

    def warm_up(self, seed):
        """Steps the cell over the seed; returns element 0 and its state."""
        state = self.cell.get_initial_state(seed.shape[0])
        for t in range(seed.shape[1]):
            output, state = self.cell(self.encode(seed[:, t]), state)
        return self.predict(output), state


def rerun_prefix(parts):
    """(a) Re-runs the whole growing sequence to predict each next element.

    The layer's teacher-forced call is compiled once for any length, as
    `model.predict` or a `tf.function` would do it.
    """
    layer = parts.layer
    shape = (None, None) + ((1,) if layer.sampler is None else ())
    dtype = tf.float32 if layer.sampler is None else tf.int32
    predict = tf.function(
        lambda sequence: layer(sequence)[:, -1],
        input_signature=[tf.TensorSpec(shape, dtype)],
    )

    def run(seed, steps):
        sequence = tf.convert_to_tensor(seed, dtype)
        outputs = []
        for _ in range(steps):
            value = predict(sequence)
            if layer.sampler is not None:
                value = layer.sampler(value, layer.seed_generator)
            outputs.append(value)
            sequence = tf.concat([sequence, tf.cast(value[:, None], dtype)], axis=1)
        return tf.stack(outputs, axis=1)

    return run


def eager_loop(parts, seed, steps):
    """(b) An eager Python loop carrying the state."""
    value, state = parts.warm_up(tf.convert_to_tensor(seed))
    outputs = [value]
    for _ in range(steps - 1):
        value, state = parts.step(value, state)
        outputs.append(value)
    return tf.stack(outputs, axis=1)


def compiled_step_loop(parts):
    """(c) A Python loop over a compiled single step."""
    step = tf.function(parts.step)
    warm_up = tf.function(parts.warm_up)

    def run(seed, steps):
        value, state = warm_up(tf.convert_to_tensor(seed))
        outputs = [value]
        for _ in range(steps - 1):
            value, state = step(value, state)
            outputs.append(value)
        return tf.stack(outputs, axis=1)

    return run


def traced_loop(parts):
    """(d) A Python loop traced into one tf.function (the FeedBack tutorial).

    `steps` is a Python int: a new length retraces.
    """

    @tf.function
    def run(seed, steps):
        value, state = parts.warm_up(seed)
        outputs = [value]
        for _ in range(steps - 1):
            value, state = parts.step(value, state)
            outputs.append(value)
        return tf.stack(outputs, axis=1)

    return lambda seed, steps: run(tf.convert_to_tensor(seed), steps)


def while_loop(parts):
    """(e) A plain tf.while_loop in a tf.function, TensorArray of `steps`."""

    @tf.function
    def run(seed, steps):
        value, state = parts.warm_up(seed)
        buffer = tf.TensorArray(value.dtype, size=steps).write(0, value)

        def body(i, value, state, buffer):
            value, state = parts.step(value, state)
            return i + 1, value, state, buffer.write(i, value)

        buffer = tf.while_loop(
            lambda i, *_: i < steps, body, (tf.constant(1), value, state, buffer)
        )[-1]
        perm = [1, 0] + list(range(2, value.shape.rank + 1))
        return tf.transpose(buffer.stack(), perm)

    return lambda seed, steps: run(tf.convert_to_tensor(seed), tf.constant(steps))


SKIPPED = (
    "Slow methods are skipped where one run would take many seconds: the "
    "re-run prefix and the loop traced in one tf.function (which traces every "
    "step) run up to 100 steps; the eager and compiled-step loops up to 1,000 "
    "steps with LSTMCell(32) at batch 1, and up to 100 steps elsewhere."
)


def too_slow(name, units, batch, steps):
    """Whether a method is skipped for this row; see SKIPPED."""
    if name in ("re-run prefix", "loop traced in one tf.function"):
        return steps > 100
    if name in ("eager loop", "compiled-step loop"):
        return steps > (1_000 if (units, batch) == (32, 1) else 100)
    return False


def methods(layer):
    parts = Parts(layer)
    found = {
        "generate": lambda s, n: layer.generate(s, n),
        "generate, jit_compile=False": None,  # filled below, same weights
        "re-run prefix": rerun_prefix(parts),
        "eager loop": lambda s, n: eager_loop(parts, s, n),
        "compiled-step loop": compiled_step_loop(parts),
        "loop traced in one tf.function": traced_loop(parts),
        "tf.while_loop": while_loop(parts),
    }
    if jax is not None:
        found["JAX lax.scan"] = jax_scan(layer)
    return found


def compare(name, result, references, sampler):
    """Checks a method's outputs against generate's; returns the table cell.

    Random sampling under XLA draws other (equally distributed) tokens than
    TensorFlow's CPU kernels from the same seeds, so with a random sampler the
    TensorFlow methods are checked against `generate(jit_compile=False)`.
    """
    if not references:
        references["generate"] = result
        return "reference"
    if name == "generate, jit_compile=False" and sampler == "random":
        references["random"] = result
        return "XLA draws other tokens"
    if name == "JAX lax.scan" and sampler == "random":
        return "own RNG, not compared"
    reference = references.get("random" if sampler == "random" else "generate")
    if result.dtype.kind in "iu":
        return f"{np.mean(result != reference):.0%} differ"
    return f"{np.max(np.abs(result - reference)):.1e}"


def bench_config(config, quick, reset_seed):
    kind, units, batch, steps, sampler = config
    layer = make_layer(kind, units, sampler)
    plain = make_layer(kind, units, sampler, jit_compile=False)
    plain.set_weights(layer.get_weights())
    seed = make_seed(kind, batch)
    found = methods(layer)
    found["generate, jit_compile=False"] = lambda s, n: plain.generate(s, n)
    budget = 0.2 if quick else 1.0
    rows = []
    references = {}
    for name, method in found.items():
        if too_slow(name, units, batch, steps):
            continue

        def run(method=method):
            reset_seed(layer)
            reset_seed(plain)
            return method(seed, steps)

        first, median, runs, result = measure(run, budget, 3 if quick else 25)
        check = compare(name, result, references, sampler)
        rows.append([name, first, median, median / steps * 1e6, runs, check])
        time.sleep(0.1)
    per_step = rows[0][3]
    for row in rows:
        row.insert(4, row[3] / per_step)
    return rows


def reset_seed(layer):
    """Restarts the layer's sampling generator, as `random_seed=1` does."""
    state = layer.seed_generator.state
    state.assign(tf.constant([1, 0], state.dtype))


def bench_methods(quick):
    print(SKIPPED + "\n")
    configs = QUICK if quick else FULL
    header = [
        "method",
        "first call (s)",
        "median (ms)",
        "us per step",
        "x generate",
        "runs",
        "same outputs (max diff)",
    ]
    for config in configs:
        kind, units, batch, steps, sampler = config
        name = "sine" if kind == "sine" else f"chars, {sampler}"
        print(f"### {name}: LSTMCell({units}), batch {batch}, {steps:,} steps\n")
        rows = bench_config(config, quick, reset_seed)
        print_table(
            header,
            [
                [
                    f"{method}",
                    f"{first:.3f}",
                    f"{median * 1e3:.2f}",
                    f"{per_step:.2f}",
                    f"{ratio:.2f}",
                    f"{runs}",
                    check,
                ]
                for method, first, median, per_step, ratio, runs, check in rows
            ],
        )


def bench_warm_up(quick):
    """Cost per seed step of the warm-up, run in the compiled loop."""
    lengths = (10, 100) if quick else (10, 1_000, 10_000)
    rows = []
    for kind, units in (("sine", 32), ("chars", 256)):
        layer = make_layer(kind, units)
        layer.generate(make_seed(kind, 1, 5), 1)
        medians = []
        for length in lengths:
            seed = make_seed(kind, 1, length)
            _, median, _, _ = measure(lambda s=seed, g=layer.generate: g(s, 1), 0.5, 15)
            medians.append(median)
        per_step = (medians[-1] - medians[0]) / (lengths[-1] - lengths[0]) * 1e6
        rows.append(
            [f"{kind}, LSTMCell({units})"]
            + [f"{m * 1e3:.2f}" for m in medians]
            + [f"{per_step:.2f}"]
        )
    header = ["model (batch 1)"] + [f"seed {n:,} (ms)" for n in lengths]
    print_table(header + ["us per seed step"], rows)


def bench_covariates(quick):
    """Per-step cost of reading 3 covariates at every step."""
    rows = []
    steps = 100 if quick else 1_000
    for batch in (1, 64):
        times = []
        for num_covariates in (0, 3):
            keras.utils.set_random_seed(0)
            layer = SelfFeedingRNN(
                keras.layers.LSTMCell(32), head=keras.layers.Dense(1)
            )
            seed = make_seed("sine", batch)
            kwargs = {}
            if num_covariates:
                c = np.random.default_rng(0).normal(
                    size=(batch, SEED_TIME + steps - 1, num_covariates)
                )
                kwargs["covariates"] = c.astype("float32")
            call = lambda s=seed, g=layer.generate, k=kwargs: g(s, steps, **k)  # noqa: E731
            times.append(measure(call, 0.5 if quick else 3.0, 50)[1])
        rows.append(
            [
                f"{batch}",
                f"{times[0] / steps * 1e6:.2f}",
                f"{times[1] / steps * 1e6:.2f}",
                f"{times[1] / times[0]:.2f}",
            ]
        )
    header = [
        f"batch (LSTMCell(32), {steps:,} steps)",
        "no covariates (us/step)",
        "3 covariates (us/step)",
        "ratio (target 1.3)",
    ]
    print_table(header, rows)


def bench_paths(quick):
    """100 sample paths of 48 steps against one path and 100 calls."""
    keras.utils.set_random_seed(0)
    layer = SelfFeedingRNN(
        keras.layers.LSTMCell(40), distribution="student_t", scaling="mean"
    )
    seed = 100 + make_seed("sine", 1, 168)
    n = 10 if quick else 100
    budget, runs = (0.3, 5) if quick else (3.0, 30)
    one = measure(lambda: layer.generate(seed, 48, random_seed=0), budget, runs)
    paths = measure(
        lambda: layer.generate(seed, 48, num_samples=n, random_seed=0), budget, runs
    )

    def calls():
        return [layer.generate(seed, 48) for _ in range(n)][-1]

    many = measure(calls, budget, 3)
    rows = [
        ["1 path", f"{one[1] * 1e3:.2f}", "1.00"],
        [f"num_samples={n}", f"{paths[1] * 1e3:.2f}", f"{paths[1] / one[1]:.2f}"],
        [f"{n} calls of generate", f"{many[1] * 1e3:.2f}", f"{many[1] / one[1]:.2f}"],
    ]
    print_table(
        ["LSTMCell(40), Student-t, 48 steps, 1 series", "median (ms)", "/ 1 path"],
        rows,
    )
    print(f"- {n} paths / 1 path: {paths[1] / one[1]:.2f}x (target 3x)\n")


def side_by_side(calls, budget_s, max_rounds):
    """Median seconds per call of each of `calls`, measured in alternation."""
    times = alternate(calls, budget_s, min_rounds=3, max_rounds=max_rounds)
    return {name: statistics.median(t) for name, t in times.items()}


def bench_lags(quick):
    """Lags (1, 48, 336) against (1,): per step, and 100 sample paths."""
    steps = 20 if quick else 1_000
    many = (1, 4, 9) if quick else (1, 48, 336)
    budget, rounds = (0.1, 3) if quick else (4.0, 40)
    # The quick run checks that the section runs: no XLA, which compiles
    # for seconds per layer and batch.
    jit_compile = False if quick else "auto"
    layers = {}
    for lags in ((1,), many):
        keras.utils.set_random_seed(0)
        layers[lags] = SelfFeedingRNN(
            keras.layers.LSTMCell(32),
            head=keras.layers.Dense(1),
            lags=lags,
            jit_compile=jit_compile,
        )
    rows, verdicts = [], []
    for batch in (1, 64):
        seed = make_seed("sine", batch)
        calls = {
            lags: lambda g=layer.generate, s=seed: g(s, steps)
            for lags, layer in layers.items()
        }
        times = side_by_side(calls, budget, rounds)
        ratio = times[many] / times[(1,)]
        rows.append(
            [
                f"{batch}",
                f"{times[(1,)] / steps * 1e6:.2f}",
                f"{times[many] / steps * 1e6:.2f}",
                f"{ratio:.2f}",
            ]
        )
        verdicts.append(f"- batch {batch}, per step: {met(ratio, 1.3)}")
    header = [
        f"batch (LSTMCell(32), {steps:,} steps)",
        "lags (1,) (us/step)",
        f"lags {many} (us/step)",
        "ratio (target 1.3)",
    ]
    print_table(header, rows)

    n = 10 if quick else 100
    seed = 100 + make_seed("sine", 1, 2 * max(many) if quick else 400)
    rows = []
    for lags in ((1,), many):
        keras.utils.set_random_seed(0)
        layer = SelfFeedingRNN(
            keras.layers.LSTMCell(40),
            distribution="student_t",
            scaling="mean",
            lags=lags,
            jit_compile=jit_compile,
        )
        times = side_by_side(
            {
                "one": lambda g=layer.generate: g(seed, 48, random_seed=0),
                "paths": lambda g=layer.generate: g(
                    seed, 48, num_samples=n, random_seed=0
                ),
            },
            budget,
            rounds,
        )
        ratio = times["paths"] / times["one"]
        rows.append(
            [
                f"{lags}",
                f"{times['one'] * 1e3:.2f}",
                f"{times['paths'] * 1e3:.2f}",
                f"{ratio:.2f}",
            ]
        )
        verdicts.append(f"- lags {lags}, {n} paths / 1 path: {met(ratio, 3)}")
    header = [
        f"lags (LSTMCell(40), Student-t, seed {seed.shape[1]}, 48 steps)",
        "1 path (ms)",
        f"{n} paths (ms)",
        "ratio (target 3)",
    ]
    print_table(header, rows)
    print("\n".join(verdicts) + "\n")


# (units, batch, steps, target ratio of generate to the hand-written scan)


FULL = [
    # (model, units, batch, steps, sampler)
    ("sine", 32, 1, 100, None),
    ("sine", 32, 1, 1_000, None),
    ("sine", 32, 1, 10_000, None),
    ("sine", 32, 64, 1_000, None),
    ("sine", 256, 1, 1_000, None),
    ("sine", 256, 64, 100, None),
    ("sine", 256, 64, 1_000, None),
    ("chars", 256, 1, 100, "greedy"),
    ("chars", 256, 1, 1_000, "greedy"),
    ("chars", 256, 32, 1_000, "random"),
]
QUICK = [("sine", 8, 1, 10, None), ("chars", 8, 2, 10, "random")]


TITLE = "generate: per-step cost of free running"
# The sections of the report, in order: name -> (title, function).
SECTIONS = {
    "methods": ("Steady state, all methods", bench_methods),
    "warm-up": ("Warm-up over the seed (compiled with the loop)", bench_warm_up),
    "covariates": ("Covariates", bench_covariates),
    "paths": ("Sample paths", bench_paths),
    "lags": ("Lags: (1,) against (1, 48, 336)", bench_lags),
}


def main():
    common.main(__doc__.splitlines()[0], TITLE, SECTIONS)


if __name__ == "__main__":
    main()
