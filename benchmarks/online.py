"""Online forecasting: what one call costs, against the floor of a compiled call.

Each backend runs in a fresh process of its own (TensorFlow, then JAX), and
each comparison is measured side by side: the calls in turn, round after
round, medians of the rounds (`common.alternate`), NumPy in and NumPy out
for every call. The references do only the work they stand for:

- `observe` of one value for one series against a compiled function doing
  the same work: one step of the same cell (`tf.function` on TensorFlow,
  `jax.jit` on JAX), the value and the state in as NumPy, the state out;
- a one-step `generate` from a one-step seed against a trivial compiled
  function (x + 1);
- on JAX, `generate` of 100 steps from a 50-step seed and of 10,000 steps
  against a jitted `lax.scan` over the same weights that takes the same
  NumPy seed (`benchmarks.models.jax_scan`);
- `observe` of one value for 10,000 series in one call, and a 48-step,
  100-path forecast of one series from its observed state: times only.

    python -m benchmarks.online          # the full tables, a minute or two
    python -m benchmarks.online --quick  # a tiny configuration, seconds
"""

import json
import os
import statistics

import keras
import numpy as np

from benchmarks import common
from benchmarks.common import alternate, met, print_table, run_module
from benchmarks.models import make_layer, make_seed
from selffeed_keras import SelfFeedingRNN

# The targets: (call, its reference, at most this ratio, on these backends).
# A one-step generate is held to a trivial `tf.function`; on JAX its ratio
# to a trivial jitted function is reported without a target.
TARGETS = [
    ("observe, 1 value, 1 series", "compiled cell step, same work", 2.0, "both"),
    ("generate, 1-step seed, 1 step", "trivial compiled function (x + 1)", 2.0,
     "tensorflow"),
    ("generate, 50-step seed, 100 steps", "jitted lax.scan, 50-step seed, 100", 2.0,
     "jax"),
    ("generate, 50-step seed, 10,000 steps", "jitted lax.scan, 10,000 steps", 1.2,
     "jax"),
]  # fmt: skip
REPORTED = [
    "observe, 1 value each, 10,000 series",
    "forecast, 1 series, 48 steps, 100 paths",
]


def fetched(outputs):
    """`outputs` (a tensor or a list of them) as NumPy: the call is done."""
    if isinstance(outputs, (list, tuple)):
        return [keras.ops.convert_to_numpy(x) for x in outputs]
    return keras.ops.convert_to_numpy(outputs)


def reference_step(layer):
    """A compiled function of one step of the layer's LSTMCell: NumPy in, out."""
    cell = layer.rnn.cell
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        units = cell.units
        spec = [tf.TensorSpec((None, 1), tf.float32)] + [
            tf.TensorSpec((None, units), tf.float32)
        ] * 2

        @tf.function(input_signature=spec)
        def step(x, h, c):
            _, (h, c) = cell(x, [h, c])
            return h, c

        return lambda x, h, c: [t.numpy() for t in step(x, h, c)]
    import jax

    weights = [v.value for v in cell.weights]

    @jax.jit
    def jitted(weights, x, h, c):
        mapping = list(zip(cell.weights, weights, strict=True))
        with keras.StatelessScope(state_mapping=mapping):
            _, (h, c) = cell(x, [h, c])
        return h, c

    return lambda x, h, c: [np.asarray(t) for t in jitted(weights, x, h, c)]


def trivial():
    """A trivial compiled function (x + 1), NumPy in and out."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        plus_one = tf.function(
            lambda x: x + 1, input_signature=[tf.TensorSpec((), tf.float32)]
        )
        return lambda x: plus_one(x).numpy()
    import jax

    plus_one = jax.jit(lambda x: x + 1)
    return lambda x: np.asarray(plus_one(x))


def side_by_side(calls, quick):
    budget, rounds = (0.3, 30) if quick else (3.0, 2_000)
    times = alternate(calls, budget, min_rounds=5, max_rounds=rounds, fetch=False)
    return {name: statistics.median(t) for name, t in times.items()}


def measure_backend(quick):
    """Run in a fresh process: the medians of every call, as JSON."""
    backend = keras.backend.backend()
    medians = {}
    layer = make_layer("sine", 32)
    history = make_seed("sine", 1, 50)
    state = fetched(layer.observe(history[:, :-1]))
    value = history[:, -1:]
    step = reference_step(layer)
    one = np.float32(1.0)
    plus_one = trivial()
    short = make_seed("sine", 1, 1)
    x, (h, c) = value[:, 0], state
    # The reference reads what observe reads, and returns what it returns.
    np.testing.assert_allclose(
        step(x, h, c), fetched(layer.observe(value, state)), atol=1e-5
    )
    medians.update(
        side_by_side(
            {
                TARGETS[0][0]: lambda: fetched(layer.observe(value, state)),
                TARGETS[0][1]: lambda: step(x, h, c),
                TARGETS[1][0]: lambda: fetched(layer.generate(short, 1)),
                TARGETS[1][1]: lambda: plus_one(one),
            },
            quick,
        )
    )
    if backend == "jax":
        from benchmarks.models import jax_scan

        scan = jax_scan(layer)
        for (name, reference, *_), steps in zip(
            TARGETS[2:], (100, 1_000 if quick else 10_000), strict=True
        ):
            np.testing.assert_allclose(
                fetched(layer.generate(history, steps)),
                scan(history, steps),
                atol=1e-4,
            )
            medians.update(
                side_by_side(
                    {
                        name: lambda n=steps: fetched(layer.generate(history, n)),
                        reference: lambda n=steps: np.asarray(scan(history, n)),
                    },
                    quick,
                )
            )
    series = 1_000 if quick else 10_000
    many = np.tile(history, (series, 1, 1))
    many += np.arange(series, dtype="float32")[:, None, None] * 1e-4
    many_state = fetched(layer.observe(many[:, :-1]))
    keras.utils.set_random_seed(0)
    paths = SelfFeedingRNN(
        keras.layers.LSTMCell(40), distribution="student_t", scaling="mean"
    )
    level = 100 + make_seed("sine", 1, 168)
    paths_state = fetched(paths.observe(level[:, :-1]))
    medians.update(
        side_by_side(
            {
                REPORTED[0]: lambda: fetched(layer.observe(many[:, -1:], many_state)),
                REPORTED[1]: lambda: fetched(
                    paths.generate(
                        level[:, -1:],
                        48,
                        initial_state=paths_state,
                        num_samples=100,
                        random_seed=0,
                    )  # fmt: skip
                ),
            },
            quick,
        )
    )
    print(json.dumps(medians))


def bench_online(quick):
    found = {}
    for backend in ("tensorflow", "jax"):
        env = {**os.environ, "KERAS_BACKEND": backend}
        args = ["--quick"] * quick + ["--mode", "measure"]
        output = run_module(__spec__.name, *args, env=env)
        found[backend] = json.loads(output.strip().splitlines()[-1])
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    print(f"Load average (1 min) at the end: {load:.1f}.\n")
    rows, verdicts = [], []
    for backend, medians in found.items():
        for name, reference, target, where in TARGETS:
            if name not in medians:
                continue
            ours, theirs = medians[name], medians[reference]
            ratio = ours / theirs
            rows.append(
                [
                    backend,
                    name,
                    f"{ours * 1e3:.3f}",
                    reference,
                    f"{theirs * 1e3:.3f}",
                    f"{ratio:.2f}",
                ]
            )
            if where in ("both", backend):
                verdicts.append(f"- {backend}, {name}: {met(ratio, target)}")
    header = ["backend", "call", "median (ms)", "reference", "median (ms)", "ratio"]
    if quick:
        print("A --quick run: 1,000 steps for 10,000, and 1,000 series.\n")
    print_table(header, rows)
    print("\n".join(verdicts) + "\n")
    rows = [
        [backend, name, f"{medians[name] * 1e3:.2f}"]
        for backend, medians in found.items()
        for name in REPORTED
    ]
    print_table(["backend", "call", "median (ms)"], rows)


TITLE = "online: observe one value, forecast from the state, per-call cost"
SECTIONS = {
    "online": (
        "The per-call floor, side by side (LSTMCell(32), batch 1)",
        bench_online,
    ),
}


def main():
    common.main(__doc__.splitlines()[0], TITLE, SECTIONS, {"measure": measure_backend})


if __name__ == "__main__":
    main()
