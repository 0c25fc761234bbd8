"""Training on several workers or devices.

Most tests here run examples/multi_worker.py on 127.0.0.1 (TensorFlow). Each
job runs the example script in one process per worker, with TF_CONFIG naming
free local ports, a hard time limit, and every process killed at the end
whatever happens. The script trains a small `SelfFeedingRNN` with a custom
loop under `MultiWorkerMirroredStrategy` (Keras' `fit` fails under that
strategy, keras-team/keras#20585) and checkpoints after every epoch. The last
test trains on a `Panel`'s windows under `keras.distribution.DataParallel` on
JAX, over two host devices.
"""

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "multi_worker.py"
EPOCHS = 4
JOB_LIMIT = 300  # seconds: a hard limit on any one job, start-up included
# Float sums of two replicas' gradients against one replica's: not bitwise.
WEIGHTS = {"rtol": 1e-4, "atol": 1e-5}

pytestmark = pytest.mark.slow


def free_ports(n):
    """`n` distinct ports that were free a moment ago."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class Job:
    """One training job: a process per worker, logs in `directory`."""

    def __init__(self, directory, num_workers, args):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        cluster = [f"127.0.0.1:{port}" for port in free_ports(num_workers)]
        self.logs, self.processes = [], []
        for index in range(num_workers):
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(SCRIPT.parent)]),
                "KERAS_BACKEND": "tensorflow",
                "TF_CPP_MIN_LOG_LEVEL": "2",
                "CUDA_VISIBLE_DEVICES": "-1",  # the workers would share one GPU
            }
            env.pop("TF_CONFIG", None)  # one worker: no cluster
            if num_workers > 1:
                env["TF_CONFIG"] = json.dumps(
                    {
                        "cluster": {"worker": cluster},
                        "task": {"type": "worker", "index": index},
                    }
                )
            log = self.directory / f"worker{index}-{time.monotonic_ns()}.log"
            self.logs.append(log)
            with open(log, "w") as out:
                self.processes.append(
                    subprocess.Popen(
                        [sys.executable, "-u", *args],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        cwd=self.directory,
                    )
                )
        self.started = time.monotonic()

    def remaining(self):
        """Seconds left of the job's time limit."""
        return max(0.0, JOB_LIMIT - (time.monotonic() - self.started))

    def wait(self):
        """Waits for every worker within the time limit; fails on an error."""
        codes = [p.wait(timeout=self.remaining()) for p in self.processes]
        assert codes == [0] * len(codes), self.tail()

    def kill(self):
        for p in self.processes:
            if p.poll() is None:
                p.kill()
            p.wait()

    def tail(self, chars=3000):
        return "\n".join(
            f"--- {log.name}\n{log.read_text()[-chars:]}" for log in self.logs
        )


@contextlib.contextmanager
def job(directory, num_workers, args):
    """A running job, every process of which is killed at exit."""
    started = None
    try:
        started = Job(directory, num_workers, args)
        yield started
    finally:
        if started is not None:
            started.kill()


def script_args(directory, sampling_probability, *extra):
    """The script's arguments: checkpoints and outputs under `directory`."""
    return [
        str(SCRIPT),
        f"--checkpoint-dir={Path(directory) / 'ckpt'}",
        f"--output-dir={Path(directory) / 'out'}",
        f"--epochs={EPOCHS}",
        f"--sampling-probability={sampling_probability}",
        *extra,
    ]


def output(directory):
    """The chief's `result.json` and final weights in `directory / "out"`."""
    out = Path(directory) / "out"
    result = json.loads((out / "result.json").read_text())
    with np.load(out / "weights.npz") as weights:
        return result, [weights[k] for k in weights.files]


# One process trains the one-worker runs one after the other: a new process
# per run would cost a TensorFlow start-up each. `train` builds a new model
# and a new strategy each time and restores only what the checkpoint holds.
ONE_WORKER_RUNS = f"""
import sys
import multi_worker
from selffeed_keras import schedules

def train(name, p, epochs={EPOCHS}, checkpoint=None):
    multi_worker.train(
        f"{{sys.argv[1]}}/{{checkpoint or name}}/ckpt",
        f"{{sys.argv[1]}}/{{name}}/out",
        epochs=epochs,
        sampling_probability=p,
    )

train("p0", 0.0)
train("p1", 1.0)
train("whole", 0.5)
train("half", 0.5, epochs=2)
train("resumed", 0.5, checkpoint="half")
train("schedule", schedules.Linear(0.0, 1.0, steps=2))
"""


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    """Outputs of the one-worker runs, by name."""
    base = tmp_path_factory.mktemp("one_worker")
    with job(base, 1, ["-c", ONE_WORKER_RUNS, str(base)]) as runs:
        runs.wait()
    return lambda name: output(base / name)


def assert_same_weights(actual, expected):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, e, **WEIGHTS)


@pytest.mark.parametrize("sampling_probability", [0.0, 1.0])
def test_two_workers_train_the_weights_of_one(
    tmp_path, one_worker, sampling_probability
):
    # With p = 0 or 1 no coin flip decides anything, so two replicas of half
    # the global batch compute the one-worker step; strictly between, the
    # replicas' flips differ from the one-worker run's.
    with job(tmp_path, 2, script_args(tmp_path, sampling_probability)) as two:
        two.wait()
    result, weights = output(tmp_path)
    expected_result, expected_weights = one_worker(f"p{sampling_probability:g}")
    assert (result["num_replicas"], expected_result["num_replicas"]) == (2, 1)
    assert result["epochs"] == EPOCHS
    np.testing.assert_allclose(result["losses"], expected_result["losses"], rtol=1e-4)
    assert_same_weights(weights, expected_weights)
    # The two modes train other weights: the comparison can tell them apart.
    _, other = one_worker(f"p{1 - sampling_probability:g}")
    assert not all(
        np.allclose(a, b, **WEIGHTS) for a, b in zip(weights, other, strict=True)
    )


def test_a_lost_worker_stops_the_job_and_a_restart_resumes(tmp_path, one_worker):
    # A pause after each checkpoint leaves time to stop worker 1 between two.
    with job(tmp_path, 2, script_args(tmp_path, 1.0, "--pause=2")) as first:
        while not (tmp_path / "ckpt" / "checkpoint").exists():
            assert first.remaining() > 0, first.tail()
            assert all(p.poll() is None for p in first.processes), first.tail()
            time.sleep(0.05)
        first.processes[1].send_signal(signal.SIGKILL)
        # Under MultiWorkerMirroredStrategy the survivor fails at its next
        # collective: the job stops, and writes no result.
        code = first.processes[0].wait(timeout=first.remaining())
        assert code != 0, first.tail()
        assert "UnavailableError" in first.logs[0].read_text(), first.tail()
    assert not (tmp_path / "out").exists()

    # The same job again, on new ports as after a reschedule, resumes.
    with job(tmp_path, 2, script_args(tmp_path, 1.0)) as second:
        second.wait()
    result, weights = output(tmp_path)
    expected_result, expected_weights = one_worker("p1")
    restored = result["restored_epoch"]
    assert 1 <= restored < EPOCHS
    assert result["epochs"] == EPOCHS
    np.testing.assert_allclose(
        result["losses"], expected_result["losses"][restored:], rtol=1e-4
    )
    assert_same_weights(weights, expected_weights)


def test_resuming_draws_the_coin_flips_of_an_uninterrupted_run(one_worker):
    # With 0 < p < 1 the coin flips come from the layer's SeedGenerator, whose
    # state must be in the checkpoint for a resumed run to match.
    result, weights = one_worker("resumed")
    expected_result, expected_weights = one_worker("whole")
    assert result["restored_epoch"] == 2
    assert result["epochs"] == EPOCHS
    np.testing.assert_allclose(
        result["losses"], expected_result["losses"][2:], rtol=1e-5
    )
    assert_same_weights(weights, expected_weights)


def test_a_per_epoch_schedule_in_the_loop_switches_to_feedback(one_worker):
    # What ScheduledSampling does in fit, done by the loop. The layer starts
    # teacher-forced (p = 0 at epoch 0), so the step must be traced anew when
    # the schedule first rises above 0: else epochs 1 to 3 would repeat the
    # teacher-forced run's.
    result, _ = one_worker("schedule")
    teacher_forced, _ = one_worker("p0")
    assert result["probabilities"] == [0.0, 0.5, 1.0, 1.0]
    assert result["losses"][0] == pytest.approx(teacher_forced["losses"][0], rel=1e-6)
    for epoch in (1, 2, 3):
        assert result["losses"][epoch] != pytest.approx(
            teacher_forced["losses"][epoch], rel=1e-3
        )


# ------------------------------------------------- a panel under DataParallel

PANEL_DATA_PARALLEL = """
import json
import jax
import keras
import numpy as np
from selffeed_keras import SelfFeedingRNN
from selffeed_keras.forecasting import Panel

assert len(jax.devices()) == 2, jax.devices()
rng = np.random.default_rng(0)
# 64 series: the validation windows fill 4 batches of 16, each split in 2
# (a last batch of 15, from 63 series, fails: JAX's IndivisibleError).
panel = Panel([10 + np.cumsum(rng.normal(size=n)) for n in rng.integers(20, 80, 64)])


def train(distribution):
    keras.distribution.set_distribution(distribution)
    keras.utils.set_random_seed(0)
    windows, validation = panel.windows(
        12, 6, subset="both", batch_size=16, steps_per_epoch=4, seed=0
    )
    layer = SelfFeedingRNN(
        keras.layers.LSTMCell(8),
        distribution="student_t",
        scaling="mean",
        context_length=12,
    )
    inputs = windows.model_inputs()
    model = keras.Model(inputs, layer(inputs["inputs"], mask=inputs["mask"]))
    model.compile(keras.optimizers.Adam(0.01), loss=layer.distribution.loss)
    before = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    first_batch = float(model.test_on_batch(*windows[0]))
    history = model.fit(windows, validation_data=validation, epochs=1, verbose=0)
    after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    return {
        "first_batch": first_batch,
        "loss": history.history["loss"][0],
        "val_loss": history.history["val_loss"][0],
        "changed": max(
            float(np.max(np.abs(a - b))) for a, b in zip(after, before, strict=True)
        ),
        "weights": [w.tolist() for w in after],
        # Replicated over the mesh under DataParallel: one device without.
        "devices": len(model.trainable_weights[0].value.sharding.device_set),
    }


one = train(None)
two = train(keras.distribution.DataParallel(devices=jax.devices()))
two["weights_difference"] = max(
    float(np.max(np.abs(np.subtract(a, b))))
    for a, b in zip(one.pop("weights"), two.pop("weights"), strict=True)
)
print(json.dumps({"one": one, "two": two}))
"""


@pytest.mark.skipif(
    importlib.util.find_spec("jax") is None,
    reason="keras.distribution runs on JAX: `pip install -e '.[jax]'`",
)
def test_panel_windows_train_under_data_parallel_on_two_devices(tmp_path):
    # On JAX whatever backend runs the tests: a fresh process with two host
    # devices. One device and two start from the same weights and read the
    # same windows, teacher-forced, so the first batch's loss and the epoch
    # agree but for the order of float sums.
    result = subprocess.run(
        [sys.executable, "-c", PANEL_DATA_PARALLEL],
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT / "src"),
            "KERAS_BACKEND": "jax",
            "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
            "CUDA_VISIBLE_DEVICES": "-1",
            "JAX_PLATFORMS": "cpu",
        },
        capture_output=True,
        text=True,
        timeout=JOB_LIMIT,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = json.loads(result.stdout.strip().splitlines()[-1])
    one, two = runs["one"], runs["two"]
    for key in ("first_batch", "loss", "val_loss"):
        assert np.isfinite(two[key]), two
    assert (one["devices"], two["devices"]) == (1, 2)
    assert two["changed"] > 1e-4  # the epoch trained the weights
    assert two["first_batch"] == pytest.approx(one["first_batch"], rel=1e-5)
    assert two["loss"] == pytest.approx(one["loss"], rel=1e-4)
    assert two["val_loss"] == pytest.approx(one["val_loss"], rel=1e-4)
    assert two["weights_difference"] < 1e-4
