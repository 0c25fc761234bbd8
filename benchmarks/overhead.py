"""What a call of `generate` costs beyond its steps, and what long ones hold.

One short call against calling a traced function at all (and, with JAX, the
same model in a jitted `lax.scan` at growing horizons); the first call of a
fresh process; the first call of a model, then new lengths, which must
neither retrace nor recompile; and the peak memory of generating up to a
million steps.

    python -m benchmarks.overhead          # the full tables, a few minutes
    python -m benchmarks.overhead --quick  # a tiny configuration, seconds
    python -m benchmarks.overhead --only per-call first-call  # some sections
"""

import resource
import time

import keras
import numpy as np

from benchmarks import common
from benchmarks.common import (
    measure,
    print_table,
    run_module,
    timed,
)
from benchmarks.models import SEED_TIME, jax, jax_scan, make_layer, make_seed

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf
else:  # a `--mode first-call` run on JAX or torch: TensorFlow stays out of it
    tf = None


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


def first_call(quick):
    """Run in a fresh process: seconds of the first call, by part.

    The same in a `quick` run.
    """
    start = time.perf_counter()
    layer = make_layer("sine", 32)
    built = time.perf_counter()
    layer.generate(make_seed("sine", 1), 100)
    print(f"{built - start} {time.perf_counter() - built}")


def bench_first_call(quick):
    rows = []
    for repeat in range(1 if quick else 3):
        output = run_module(__spec__.name, "--mode", "first-call")
        build, call = (float(x) for x in output.split())
        rows.append([f"{repeat + 1}", f"{build:.2f}", f"{call:.2f}"])
    header = ["fresh process", "layer built (s)", "first generate, 100 steps (s)"]
    print_table(header, rows)


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


def peak_memory(quick, steps):
    """Run in a fresh process: peak RSS after generating `steps` at batch 1.

    `steps` is a string (the process's argument); `quick` changes nothing.
    """
    steps = int(steps)
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
        output = run_module(__spec__.name, "--mode", "peak-memory", str(steps))
        _, before, peak, elapsed, nbytes = output.split()
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


TITLE = "overhead: one call, the first call, tracing and memory"
# The sections of the report, in order: name -> (title, function).
SECTIONS = {
    "per-call": ("The cost of one call", bench_per_call),
    "first-call": ("The first call of a fresh process", bench_first_call),
    "tracing": ("Tracing and compiling: first call, then new lengths", bench_tracing),
    "memory": (
        "Long generation: peak memory (sine, LSTMCell(32), batch 1)",
        bench_memory,
    ),
}


def main():
    modes = {"first-call": first_call, "peak-memory": peak_memory}
    common.main(__doc__.splitlines()[0], TITLE, SECTIONS, modes)


if __name__ == "__main__":
    main()
