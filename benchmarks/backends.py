"""`generate` on Keras' JAX, TensorFlow and torch backends.

Each backend runs in a process of its own (`KERAS_BACKEND`). JAX and
TensorFlow run against a hand-written `lax.scan` under `jax.jit` on the same
weights; torch's eager loop against TensorFlow's and JAX's compiled loops.

    python -m benchmarks.backends          # the full tables, minutes
    python -m benchmarks.backends --quick  # a tiny configuration
    python -m benchmarks.backends --only torch
"""

import importlib.util
import os

import numpy as np

from benchmarks import common
from benchmarks.common import (
    alternate,
    met,
    print_table,
    ready,
    run_module,
)
from benchmarks.models import jax, jax_scan, make_layer, make_seed

BACKEND_CASES = [(32, 1, 100, 2.0), (32, 1, 10_000, 1.2), (256, 64, 1_000, 1.1)]
BACKEND_SEED = 50


def backend_cases(quick):
    """Run with KERAS_BACKEND set: generate against a hand-written `lax.scan`.

    Both read the same 50-step seed on the same weights and run free; they
    are called in alternation (`common.alternate`), `generate`'s argument checks
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
        times = alternate(calls, 0.5 if quick else 20, rounds, 4 * rounds, fetch=False)
        quartiles = {
            name: np.percentile(np.asarray(t) * 1e3, [25, 50, 75])
            for name, t in times.items()
        }
        values = [f"{q:.4f}" for name in calls for q in quartiles[name]]
        print(units, batch, steps, *values, len(times["generate"]))


def bench_backends(quick):
    """JAX and TensorFlow generate against a jitted JAX scan, same weights."""
    if jax is None:
        print("JAX is not installed (`pip install -e '.[bench]'`): no JAX section.\n")
        return
    rows = []
    for backend in ("jax", "tensorflow"):
        env = dict(os.environ, KERAS_BACKEND=backend)
        quick_flag = ["--quick"] if quick else []
        output = run_module(
            __spec__.name, "--mode", "backend-cases", *quick_flag, env=env
        )
        targets = {case[:3]: case[3] for case in BACKEND_CASES}
        for line in output.strip().splitlines():
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
            output = run_module("benchmarks.overhead", "--mode", "first-call", env=env)
            build, call = (float(x) for x in output.split())
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
        times = alternate({"generate": call}, 0.2 if quick else 3, 5, 20, fetch=False)
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
            quick_flag = ["--quick"] if quick else []
            output = run_module(
                __spec__.name, "--mode", "torch-cases", *quick_flag, env=env
            )
            for line in output.strip().splitlines():
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


TITLE = "backends: generate on JAX, TensorFlow and torch"
# The sections of the report, in order: name -> (title, function).
SECTIONS = {
    "backends": ("JAX and TensorFlow against a jitted JAX scan", bench_backends),
    "torch": ("torch's eager loop against the compiled loops", bench_torch),
}


def main():
    modes = {"backend-cases": backend_cases, "torch-cases": torch_cases}
    common.main(__doc__.splitlines()[0], TITLE, SECTIONS, modes)


if __name__ == "__main__":
    main()
