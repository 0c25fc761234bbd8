"""Measures `generate`'s memory estimate against the growth of peak memory.

For each call below, on each backend, a fresh Python process builds the
layer, makes a warm-up call of the same kind but tiny (so that tracing and
compiling are not counted), then makes the call. The growth is the peak
resident memory during the call (Linux's VmHWM, reset before the call
through /proc/self/clear_refs) less the resident memory before it. The
estimate is the one `max_bytes` is checked against; the ratio is estimate /
growth, which `max_bytes` needs at 1 or above (the estimate covers the
call) and which should stay at most 3.

    python -m benchmarks.memory                      # all backends, minutes
    python -m benchmarks.memory --backends torch     # one backend
    python -m benchmarks.memory --cases beam paths   # some calls

Linux only (it reads /proc/self/status).
"""

import argparse
import json
import os
import platform
import subprocess
import sys

CASES = {
    # name: (what, layer arguments, warm-up call, measured call)
    "long": (
        "64 features, batch 256, 2,000 steps",
        {"kind": "continuous", "features": 64},
        {"batch": 2, "steps": 3},
        {"batch": 256, "steps": 2000},
    ),
    "paths": (
        "normal, 4 features, batch 2, 10,000 paths, 500 steps",
        {"kind": "normal", "features": 4},
        {"batch": 2, "steps": 3, "num_samples": 2},
        {"batch": 2, "steps": 500, "num_samples": 10000},
    ),
    "lags": (
        "normal, lags (1, 5000), batch 2, 5,000 paths, 10 steps",
        {"kind": "normal", "features": 1, "lags": (1, 5000)},
        {"batch": 2, "steps": 3, "num_samples": 2},
        {"batch": 2, "steps": 10, "num_samples": 5000},
    ),
    "beam": (
        "BeamSampler(400), vocabulary 50, batch 4, 4,000 steps",
        {"kind": "tokens", "vocab": 50, "num_beams": 400},
        {"batch": 4, "steps": 3},
        {"batch": 4, "steps": 4000},
    ),
}

BACKENDS = ("tensorflow", "jax", "torch")


def _status(field):
    """A field of /proc/self/status, in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def measure(name):
    """Runs one case in this process; prints a JSON line of its figures."""
    import keras
    import numpy as np

    import selffeed_keras
    from selffeed_keras import _budget

    _, options, warm_up, call = CASES[name]
    kind = options["kind"]
    extra = {"lags": options["lags"]} if "lags" in options else {}
    sampler = None
    if kind == "tokens":
        vocab = options["vocab"]
        layer = selffeed_keras.SelfFeedingRNN(
            keras.layers.GRUCell(16),
            head=keras.layers.Dense(vocab),
            encoder=keras.layers.Embedding(vocab, 8),
            sampler="greedy",
        )
        sampler = selffeed_keras.samplers.BeamSampler(options["num_beams"])

        def seed(batch):
            return np.ones((batch, 5), "int32")

    else:
        features = options["features"]
        if kind == "normal":
            layer = selffeed_keras.SelfFeedingRNN(
                keras.layers.GRUCell(16), distribution="normal", **extra
            )
        else:
            layer = selffeed_keras.SelfFeedingRNN(
                keras.layers.GRUCell(16), head=keras.layers.Dense(features), **extra
            )

        def seed(batch):
            shape = (batch, 20, features)
            return np.random.default_rng(0).normal(size=shape).astype("float32")

    def run(batch, steps, num_samples=None):
        return layer.generate(
            seed(batch), steps, num_samples=num_samples,
            sampler=sampler, max_bytes=None,
        )  # fmt: skip

    run(**warm_up)
    seed_now = seed(call["batch"])
    needed, _ = _budget.estimate(
        layer._spec, seed_now, call["steps"], num_samples=call.get("num_samples"),
        sampler=sampler or layer.sampler,
    )  # fmt: skip
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets VmHWM to the current resident memory
    before = _status("VmRSS")
    outputs = run(**call)
    growth = _status("VmHWM") - before
    del outputs
    print(json.dumps({"estimate": needed, "growth": growth}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS))
    parser.add_argument("--cases", nargs="+", default=list(CASES))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child process
    args = parser.parse_args()
    if args.one:
        measure(args.one)
        return
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"{'backend':<11} {'call':<8} {'estimate MB':>12} {'growth MB':>10} ratio")
    for backend in args.backends:
        for name in args.cases:
            env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.memory", "--one", name],
                env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if done.returncode:
                print(f"{backend:<11} {name:<8} failed:\n{done.stderr[-2000:]}")
                continue
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            estimate, growth = figures["estimate"], figures["growth"]
            print(
                f"{backend:<11} {name:<8} {estimate / 1e6:>12.0f} "
                f"{growth / 1e6:>10.0f} {estimate / max(growth, 1):5.2f}",
                flush=True,
            )
    print()
    for name in args.cases:
        print(f"{name:<8} {CASES[name][0]}")


if __name__ == "__main__":
    main()
