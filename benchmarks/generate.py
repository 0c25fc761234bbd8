"""Times `SelfFeedingRNN.generate` against the usual ways of free running.

Every method runs the same weights from the same seed, warming up on the seed
its own way, and must produce `generate`'s outputs before it is timed. Each
method is timed on its own: a first call (tracing and compiling included),
then repeated calls whose median gives the steady state. Ratios compare
methods of the same row, measured in the same run.

    python benchmarks/generate.py          # the full tables, a few minutes
    python benchmarks/generate.py --quick  # a tiny configuration, seconds
    python benchmarks/generate.py --only per-call first-call  # some sections
"""

import argparse
import datetime
import importlib.util
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf
else:  # a `--backend-cases` run on JAX or torch: TensorFlow stays out of it
    tf = None

import selffeed_keras  # noqa: E402
from selffeed_keras import SelfFeedingRNN  # noqa: E402

try:
    import jax
    import jax.numpy as jnp
except ImportError:  # the optional `bench` extra
    jax = None

SEED_TIME = 20
VOCAB = 64


# ----------------------------------------------------------------- the models


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

    @jax.jit
    def run(seed, horizon, key):
        batch = seed.shape[0]
        zeros = jnp.zeros((batch, kernel.shape[1] // 4))

        def read(carry, x):
            h, c = lstm(encode(x), *carry)
            return (h, c), None

        (h, c), _ = jax.lax.scan(read, (zeros, zeros), jnp.swapaxes(seed, 0, 1))
        keys = jax.random.split(key, horizon.shape[0])
        first = predict(h, keys[0])

        def free(carry, key):
            value, h, c = carry
            h, c = lstm(encode(value), h, c)
            value = predict(h, key)
            return (value, h, c), value

        _, rest = jax.lax.scan(free, (first, h, c), keys[1:])
        return jnp.concatenate([first[:, None], jnp.swapaxes(rest, 0, 1)], axis=1)

    def call(seed, steps):
        key = jax.random.PRNGKey(0)
        return run(jnp.asarray(seed), jnp.zeros(steps), key).block_until_ready()

    return call


# ------------------------------------------------------------------ timing


def timed(function):
    start = time.perf_counter()
    result = function()
    if hasattr(result, "numpy"):
        result = result.numpy()
    return time.perf_counter() - start, np.asarray(result)


def measure(function, budget_s, max_runs):
    """First call, then the median of repeated calls within `budget_s`."""
    first, result = timed(function)
    times = []
    spent = 0.0
    while len(times) < 3 or (spent < budget_s and len(times) < max_runs):
        elapsed, _ = timed(function)
        times.append(elapsed)
        spent += elapsed
    return first, statistics.median(times), len(times), result


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


# ------------------------------------------------------------------ tables


def print_table(header, rows):
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(flush=True)


def environment():
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    threads = (
        f"TF intra-op {tf.config.threading.get_intra_op_parallelism_threads()}, "
        f"inter-op {tf.config.threading.get_inter_op_parallelism_threads()} "
        "(0 = one per core)"
    )
    lines = [
        f"date: {datetime.date.today().isoformat()}",
        f"machine: {cpu}, {os.cpu_count()} cores, {platform.system()}",
        f"Python {platform.python_version()}, TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__}, NumPy {np.__version__}, "
        f"JAX {jax.__version__ if jax else 'not installed'}, "
        f"selffeed_keras {selffeed_keras.__version__}",
        f"threads: {threads}; OMP_NUM_THREADS="
        f"{os.environ.get('OMP_NUM_THREADS', 'unset')}, XLA_FLAGS="
        f"{os.environ.get('XLA_FLAGS', 'unset')}",
        "devices: "
        + ", ".join(d.device_type for d in tf.config.list_physical_devices()),
    ]
    for line in lines:
        print(f"- {line}")
    print()


def reset_seed(layer):
    """Restarts the layer's sampling generator, as `random_seed=1` does."""
    state = layer.seed_generator.state
    state.assign(tf.constant([1, 0], state.dtype))


def bench_methods(configs, quick):
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


def bench_tracing(quick):
    """First call, then new lengths: no new trace, no new compile."""
    rows = []
    for kind, units, sampler in (
        ("sine", 32, "greedy"),
        ("chars", 256, "greedy"),
        ("chars", 256, "random"),
    ):
        for jit_compile in ("auto", False):
            layer = make_layer(kind, units, sampler, jit_compile)
            calls = [(SEED_TIME, 100), (SEED_TIME, 1_000), (7, 333)]
            times = []
            for time_steps, steps in calls:
                seed = make_seed(kind, 1, time_steps)
                times.append(
                    timed(lambda s=seed, n=steps, g=layer.generate: g(s, n))[0]
                )
            (function,) = layer._generation.functions.values()
            rows.append(
                [
                    f"{kind}, LSTMCell({units})"
                    if kind == "sine"
                    else f"{kind}, {sampler}, LSTMCell({units})",
                    f"{jit_compile!r}",
                    f"{times[0]:.2f}",
                    f"{times[1] * 1e3:.1f}",
                    f"{times[2] * 1e3:.1f}",
                    f"{function.experimental_get_tracing_count()}",
                ]
            )
            if quick:
                break
        if quick:
            break
    header = [
        "model (batch 1)",
        "jit_compile",
        "first call, 100 steps (s)",
        "then 1,000 steps (ms)",
        "then seed 7, 333 steps (ms)",
        "traces",
    ]
    print_table(header, rows)


def peak_memory(steps):
    """Run in a fresh process: peak RSS after generating `steps` at batch 1."""
    layer = make_layer("sine", 32)
    layer.generate(make_seed("sine", 1), 2)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    outputs = layer.generate(make_seed("sine", 1), steps)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{steps} {before} {peak} {elapsed} {outputs.numpy().nbytes}")


def bench_memory(quick):
    rows = []
    for steps in (1_000,) if quick else (10_000, 100_000, 1_000_000):
        result = subprocess.run(
            [sys.executable, __file__, "--peak-memory", str(steps)],
            capture_output=True,
            text=True,
            check=True,
        )
        _, before, peak, elapsed, nbytes = result.stdout.split()
        rows.append(
            [
                f"{steps:,}",
                f"{int(nbytes) / 2**20:.2f}",
                f"{int(before) / 2**10:.0f}",
                f"{int(peak) / 2**10:.0f}",
                f"{(int(peak) - int(before)) / 2**10:.1f}",
                f"{float(elapsed) / steps * 1e6:.2f}",
            ]
        )
    header = [
        "steps",
        "output (MiB)",
        "peak RSS before (MiB)",
        "peak RSS after (MiB)",
        "growth (MiB)",
        "us per step",
    ]
    print_table(header, rows)


def bench_per_call(quick):
    """What one short call costs, against calling a traced function at all."""
    layer = make_layer("sine", 32)
    short, long = make_seed("sine", 1, 1), make_seed("sine", 1, 50)
    trivial = tf.function(lambda x: x + 1)
    concrete = trivial.get_concrete_function(tf.TensorSpec((), tf.float32))
    one = tf.constant(1.0)
    budget, runs = (0.2, 20) if quick else (1.0, 200)
    cases = [
        ("a trivial tf.function (x + 1)", lambda: trivial(one)),
        ("the same through its concrete function", lambda: concrete(one)),
        ("generate: 1-step seed, 1 step", lambda: layer.generate(short, 1)),
        ("generate: 1-step seed, 100 steps", lambda: layer.generate(short, 100)),
        ("generate: 50-step seed, 1 step", lambda: layer.generate(long, 1)),
        ("generate: 50-step seed, 100 steps", lambda: layer.generate(long, 100)),
    ]
    medians = {}
    for name, function in cases:
        medians[name] = measure(function, budget, runs)[1]
    rows = [[name, f"{m * 1e3:.3f}"] for name, m in medians.items()]
    print_table(["call (LSTMCell(32), batch 1)", "median (ms)"], rows)
    trivial_ms = medians["a trivial tf.function (x + 1)"]
    print(
        "- 1-step seed and 1 step / trivial tf.function: "
        f"{medians['generate: 1-step seed, 1 step'] / trivial_ms:.2f}x (target 2x)"
    )
    print(
        "- 50-step seed / 1-step seed, at 100 steps: "
        f"{medians['generate: 50-step seed, 100 steps'] / medians['generate: 1-step seed, 100 steps']:.2f}x"  # noqa: E501
        " (target 1.2x)\n"
    )
    if jax is None:
        print("JAX is not installed (`pip install -e '.[bench]'`): no JAX column.\n")
        return
    scan = jax_scan(layer)
    seed = make_seed("sine", 1)
    rows = []
    for steps in (10, 100) if quick else (10, 100, 1_000, 10_000):
        ours = measure(lambda n=steps: layer.generate(seed, n), budget, runs)
        theirs = measure(lambda n=steps: scan(seed, n), budget, runs)
        np.testing.assert_allclose(ours[3], theirs[3], atol=1e-3)
        rows.append(
            [
                f"{steps:,}",
                f"{ours[1] * 1e3:.3f}",
                f"{theirs[1] * 1e3:.3f}",
                f"{ours[1] / theirs[1]:.2f}",
            ]
        )
    header = ["steps", "generate (ms)", "JAX lax.scan (ms)", "generate / JAX"]
    print_table(header, rows)


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
    """Median seconds per call of each of `calls`, measured in alternation.

    Each is called once first (tracing and compiling), then all are called in
    turn, round after round, so that a shared machine slows each alike.
    """
    for call in calls.values():
        timed(call)
    times = {name: [] for name in calls}
    spent, rounds = 0.0, 0
    while rounds < 3 or (spent < budget_s and rounds < max_rounds):
        for name, call in calls.items():
            elapsed, _ = timed(call)
            times[name].append(elapsed)
            spent += elapsed
        rounds += 1
    return {name: statistics.median(t) for name, t in times.items()}


def met(ratio, target):
    return f"{'met' if ratio <= target else 'missed'} ({ratio:.2f}x, target {target}x)"


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
BACKEND_CASES = [(32, 1, 100, 2.0), (32, 1, 10_000, 1.2), (256, 64, 1_000, 1.1)]
BACKEND_SEED = 50


def backend_cases(quick):
    """Run with KERAS_BACKEND set: generate against a hand-written `lax.scan`.

    Both read the same 50-step seed on the same weights and run free; they
    are called in alternation (`side_by_side`), `generate`'s argument checks
    included. Prints one line per case: units, batch, steps, the medians and
    quartiles in ms, and the number of calls of each.
    """
    cases = [(8, 1, 20, 2.0)] if quick else BACKEND_CASES
    for units, batch, steps, _ in cases:
        layer = make_layer("sine", units)
        seed = make_seed("sine", batch, BACKEND_SEED)
        scan = jax_scan(layer)
        np.testing.assert_allclose(
            np.asarray(layer.generate(seed, steps)), scan(seed, steps), atol=1e-4
        )
        calls = {
            "generate": lambda g=layer.generate, s=seed, n=steps: ready(g(s, n)),
            "scan": lambda f=scan, s=seed, n=steps: f(s, n),
        }
        rounds = 5 if quick else max(20, min(200, int(2e4 / (units * steps))))
        times = side_by_side_times(calls, budget_s=0.5 if quick else 20, rounds=rounds)
        quartiles = {
            name: np.percentile(np.asarray(t) * 1e3, [25, 50, 75])
            for name, t in times.items()
        }
        values = [f"{q:.4f}" for name in calls for q in quartiles[name]]
        print(units, batch, steps, *values, len(times["generate"]))


def ready(outputs):
    """`outputs` once computed: JAX dispatches asynchronously, TensorFlow not."""
    wait = getattr(outputs, "block_until_ready", None)
    return outputs if wait is None else wait()


def side_by_side_times(calls, budget_s, rounds):
    """Each call's times, in alternation: at least `rounds`, within `budget_s`."""
    for call in calls.values():
        call()
    times = {name: [] for name in calls}
    spent, done = 0.0, 0
    while done < rounds or (spent < budget_s and done < 4 * rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            elapsed = time.perf_counter() - start
            times[name].append(elapsed)
            spent += elapsed
        done += 1
    return times


def bench_backends(quick):
    """JAX and TensorFlow generate against a jitted JAX scan, same weights."""
    if jax is None:
        print("JAX is not installed (`pip install -e '.[bench]'`): no JAX section.\n")
        return
    rows = []
    for backend in ("jax", "tensorflow"):
        env = dict(os.environ, KERAS_BACKEND=backend)
        command = [sys.executable, __file__, "--backend-cases"]
        result = subprocess.run(
            command + (["--quick"] if quick else []),
            capture_output=True, text=True, check=True, env=env,
        )  # fmt: skip
        targets = {case[:3]: case[3] for case in BACKEND_CASES}
        for line in result.stdout.strip().splitlines():
            units, batch, steps, *q, calls = line.split()
            key = (int(units), int(batch), int(steps))
            ours, theirs = [float(x) for x in q[:3]], [float(x) for x in q[3:]]
            ratio = ours[1] / theirs[1]
            target = targets.get(key)
            rows.append(
                [
                    backend,
                    f"LSTMCell({units}), batch {batch}, {int(steps):,} steps",
                    f"{ours[1]:.3f} ({ours[0]:.3f}–{ours[2]:.3f})",
                    f"{theirs[1]:.3f} ({theirs[0]:.3f}–{theirs[2]:.3f})",
                    f"{ratio:.2f}",
                    "–" if target is None else met(ratio, target),
                    calls,
                ]
            )
    header = [
        "backend",
        "case (50-step seed)",
        "generate, ms: median (quartiles)",
        "JAX lax.scan, ms",
        "ratio",
        "target",
        "calls each",
    ]
    print_table(header, rows)
    rows = []
    for backend in ("jax", "tensorflow"):
        env = dict(os.environ, KERAS_BACKEND=backend)
        for repeat in range(1 if quick else 3):
            result = subprocess.run(
                [sys.executable, __file__, "--first-call"],
                capture_output=True, text=True, check=True, env=env,
            )  # fmt: skip
            build, call = (float(x) for x in result.stdout.split())
            rows.append([backend, f"{repeat + 1}", f"{build:.2f}", f"{call:.2f}"])
    header = ["backend", "fresh process", "layer built (s)", "first generate (s)"]
    print_table(header, rows)


# (units, batch, steps) of the torch section: the eager loop's cost per step.
TORCH_CASES = [(32, 1, 100), (32, 1, 1_000), (256, 64, 100)]


def torch_cases(quick):
    """Run with KERAS_BACKEND set: `generate`'s time per call, by case.

    Prints one line per case: units, batch, steps, the median and quartiles
    of a call in ms, and the number of calls.
    """
    for units, batch, steps in [(8, 1, 10)] if quick else TORCH_CASES:
        layer = make_layer("sine", units)
        seed = make_seed("sine", batch, BACKEND_SEED)
        call = lambda g=layer.generate, s=seed, n=steps: ready(g(s, n))  # noqa: E731
        times = side_by_side_times({"generate": call}, 0.2 if quick else 3, 5)
        q = np.percentile(np.asarray(times["generate"]) * 1e3, [25, 50, 75])
        print(units, batch, steps, *(f"{x:.4f}" for x in q), len(times["generate"]))


def bench_torch(quick):
    """torch's eager loop against TensorFlow's and JAX's compiled loops.

    Each backend runs in a process of its own; the processes take turns,
    round after round, so that the backends share the machine's load alike.
    """
    if importlib.util.find_spec("torch") is None:  # not imported here: slow
        print("torch is not installed (`pip install -e '.[torch]'`): no section.\n")
        return
    # The quick run (a smoke test) starts torch's process only.
    backends = ["tensorflow"] + (["jax"] if jax else []) + ["torch"]
    backends = ["torch"] if quick else backends
    rows = []
    for round_ in range(1 if quick else 3):
        for backend in backends:
            env = dict(os.environ, KERAS_BACKEND=backend)
            result = subprocess.run(
                [sys.executable, __file__, "--torch-cases"]
                + (["--quick"] if quick else []),
                capture_output=True, text=True, check=True, env=env,
            )  # fmt: skip
            for line in result.stdout.strip().splitlines():
                units, batch, steps, *q, calls = line.split()
                low, median, high = (float(x) for x in q)
                rows.append(
                    [
                        f"{round_ + 1}",
                        backend,
                        f"LSTMCell({units}), batch {batch}, {int(steps):,} steps",
                        f"{median:.2f} ({low:.2f}–{high:.2f})",
                        f"{1e3 * median / int(steps):.1f}",
                        calls,
                    ]
                )
    header = [
        "round",
        "backend",
        "case (50-step seed)",
        "generate, ms: median (quartiles)",
        "us per step",
        "calls",
    ]
    print_table(header, rows)


def first_call():
    """Run in a fresh process: seconds of the first call, by part."""
    start = time.perf_counter()
    layer = make_layer("sine", 32)
    built = time.perf_counter()
    layer.generate(make_seed("sine", 1), 100)
    print(f"{built - start} {time.perf_counter() - built}")


def bench_first_call(quick):
    rows = []
    for repeat in range(1 if quick else 3):
        result = subprocess.run(
            [sys.executable, __file__, "--first-call"],
            capture_output=True,
            text=True,
            check=True,
        )
        build, call = (float(x) for x in result.stdout.split())
        rows.append([f"{repeat + 1}", f"{build:.2f}", f"{call:.2f}"])
    header = ["fresh process", "layer built (s)", "first generate, 100 steps (s)"]
    print_table(header, rows)


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


# The sections of the report, in order: name -> (title, function).
SECTIONS = {
    "methods": ("Steady state, all methods", bench_methods),
    "warm-up": ("Warm-up over the seed (compiled with the loop)", bench_warm_up),
    "per-call": ("The cost of one call", bench_per_call),
    "first-call": ("The first call of a fresh process", bench_first_call),
    "covariates": ("Covariates", bench_covariates),
    "paths": ("Sample paths", bench_paths),
    "lags": ("Lags: (1,) against (1, 48, 336)", bench_lags),
    "tracing": ("Tracing and compiling: first call, then new lengths", bench_tracing),
    "backends": ("JAX and TensorFlow against a jitted JAX scan", bench_backends),
    "torch": ("torch's eager loop against the compiled loops", bench_torch),
    "memory": (
        "Long generation: peak memory (sine, LSTMCell(32), batch 1)",
        bench_memory,
    ),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny configuration")
    parser.add_argument("--peak-memory", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--first-call", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backend-cases", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--torch-cases", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(SECTIONS),
        help="run only these sections, in this order (default: all)",
    )
    args = parser.parse_args()
    if args.peak_memory:
        peak_memory(args.peak_memory)
        return
    if args.first_call:
        first_call()
        return
    if args.backend_cases:
        backend_cases(args.quick)
        return
    if args.torch_cases:
        torch_cases(args.quick)
        return
    print("# generate: per-step cost of free running\n")
    environment()
    for name in args.only or SECTIONS:
        title, bench = SECTIONS[name]
        print(f"## {title}\n")
        if name == "methods":
            print(SKIPPED + "\n")
            bench(QUICK if args.quick else FULL, args.quick)
        else:
            bench(args.quick)


if __name__ == "__main__":
    main()
