"""Training on several workers: examples/multi_worker.py on 127.0.0.1.

Each job runs the example script in one process per worker, with TF_CONFIG
naming free local ports, a hard time limit, and every process killed at the
end whatever happens. The script trains a small `SelfFeedingRNN` with a custom
loop under `MultiWorkerMirroredStrategy` (Keras' `fit` fails under that
strategy, keras-team/keras#20585) and checkpoints after every epoch.
"""

import contextlib
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
    """One training job: a process per worker, logs and outputs in `directory`."""

    def __init__(self, directory, num_workers, *args):
        self.directory = Path(directory)
        self.output_dir = self.directory / "out"
        cluster = [f"127.0.0.1:{port}" for port in free_ports(num_workers)]
        self.logs = []
        self.processes = []
        for index in range(num_workers):
            config = {
                "cluster": {"worker": cluster},
                "task": {"type": "worker", "index": index},
            }
            env = {
                **os.environ,
                "TF_CONFIG": json.dumps(config),
                "PYTHONPATH": os.pathsep.join(
                    [str(ROOT / "src"), str(ROOT / "examples")]
                ),
                "KERAS_BACKEND": "tensorflow",
                "TF_CPP_MIN_LOG_LEVEL": "2",
                "CUDA_VISIBLE_DEVICES": "-1",  # workers would share one GPU
            }
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
        return max(0.0, JOB_LIMIT - (time.monotonic() - self.started))

    def wait(self):
        """Waits for every worker within the job's time limit; the exit codes."""
        return [p.wait(timeout=self.remaining()) for p in self.processes]

    def kill(self):
        for p in self.processes:
            if p.poll() is None:
                p.kill()
            p.wait()

    def tail(self, chars=3000):
        return "\n".join(
            f"--- {log.name}\n{log.read_text()[-chars:]}" for log in self.logs
        )

    def result(self):
        """The chief's `result.json` and final weights."""
        result = json.loads((self.output_dir / "result.json").read_text())
        with np.load(self.output_dir / "weights.npz") as weights:
            return result, [weights[k] for k in weights.files]


def script_args(directory, sampling_probability, *extra, epochs=EPOCHS):
    """The script's arguments: checkpoints and outputs under `directory`."""
    return [
        str(SCRIPT),
        f"--checkpoint-dir={Path(directory) / 'ckpt'}",
        f"--output-dir={Path(directory) / 'out'}",
        f"--epochs={epochs}",
        f"--sampling-probability={sampling_probability}",
        *extra,
    ]


@contextlib.contextmanager
def jobs(*specs):
    """Starts one job per `(directory, num_workers, args)`; kills all at exit."""
    started = []
    try:
        for directory, num_workers, args in specs:
            os.makedirs(directory, exist_ok=True)
            started.append(Job(directory, num_workers, *args))
        yield started
    finally:
        for job in started:
            job.kill()


def run(*specs):
    """Runs jobs side by side to the end; their results."""
    with jobs(*specs) as started:
        for job in started:
            codes = job.wait()
            assert codes == [0] * len(codes), job.tail()
        return [job.result() for job in started]


def single_worker(directory, sampling_probability, epochs=EPOCHS):
    return (directory, 1, script_args(directory, sampling_probability, epochs=epochs))


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    """Uninterrupted one-worker runs, teacher-forced and free-running."""
    base = tmp_path_factory.mktemp("one_worker")
    results = run(*(single_worker(base / f"p{p}", p) for p in (0.0, 1.0)))
    return dict(zip((0.0, 1.0), results, strict=True))


def assert_same_weights(actual, expected):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, e, **WEIGHTS)


@pytest.mark.parametrize("sampling_probability", [0.0, 1.0])
def test_two_workers_train_the_weights_of_one(
    tmp_path, one_worker, sampling_probability
):
    # With p = 0 or 1 no coin flip decides anything, so two replicas of half
    # the global batch compute the one-worker step; strictly between, each
    # replica's flips differ from the one-worker run's.
    ((result, weights),) = run(
        (
            tmp_path,
            2,
            script_args(tmp_path, sampling_probability),
        )
    )
    expected_result, expected_weights = one_worker[sampling_probability]
    assert result["num_replicas"] == 2
    assert expected_result["num_replicas"] == 1
    assert result["epochs"] == EPOCHS
    np.testing.assert_allclose(result["losses"], expected_result["losses"], rtol=1e-4)
    assert_same_weights(weights, expected_weights)
    # The two modes train different weights: the comparison can tell them apart.
    other = one_worker[1.0 - sampling_probability][1]
    assert not all(
        np.allclose(a, b, **WEIGHTS) for a, b in zip(weights, other, strict=True)
    )


def test_a_lost_worker_stops_the_job_and_a_restart_resumes(tmp_path, one_worker):
    checkpoint_dir, output_dir = tmp_path / "ckpt", tmp_path / "out"
    # A pause after each checkpoint leaves time to stop worker 1 between two.
    paused = script_args(tmp_path, 1.0, "--pause=2")
    with jobs((tmp_path, 2, paused)) as (job,):
        while not (checkpoint_dir / "checkpoint").exists():
            assert job.remaining() > 0, job.tail()
            assert all(p.poll() is None for p in job.processes), job.tail()
            time.sleep(0.05)
        job.processes[1].send_signal(signal.SIGKILL)
        # Under MultiWorkerMirroredStrategy the survivor fails at its next
        # collective: the job stops, nothing is written.
        code = job.processes[0].wait(timeout=job.remaining())
        assert code != 0, job.tail()
        assert "UnavailableError" in job.logs[0].read_text(), job.tail()
    assert not output_dir.exists()

    # The same job again (new ports, as after a reschedule) resumes.
    ((result, weights),) = run((tmp_path, 2, script_args(tmp_path, 1.0)))
    expected_result, expected_weights = one_worker[1.0]
    assert 1 <= result["restored_epoch"] < EPOCHS
    assert result["epochs"] == EPOCHS
    assert len(result["losses"]) == EPOCHS - result["restored_epoch"]
    np.testing.assert_allclose(
        result["losses"],
        expected_result["losses"][result["restored_epoch"] :],
        rtol=1e-4,
    )
    assert_same_weights(weights, expected_weights)


def test_a_resumed_job_draws_the_coin_flips_of_an_uninterrupted_one(tmp_path):
    # With 0 < p < 1 the coin flips come from the layer's SeedGenerator, whose
    # state must be in the checkpoint for a resumed job to match.
    resumed = tmp_path / "resumed"
    first = single_worker(resumed, 0.5, epochs=2)
    with jobs(single_worker(tmp_path / "whole", 0.5), first) as (whole, half):
        assert half.wait() == [0], half.tail()
        ((result, weights),) = run(single_worker(resumed, 0.5))
        assert whole.wait() == [0], whole.tail()
        expected_result, expected_weights = whole.result()
    assert result["restored_epoch"] == 2
    assert result["epochs"] == EPOCHS
    np.testing.assert_allclose(
        result["losses"], expected_result["losses"][2:], rtol=1e-5
    )
    assert_same_weights(weights, expected_weights)


def test_a_per_epoch_schedule_in_the_loop_switches_to_feedback(tmp_path, one_worker):
    # What ScheduledSampling does in fit, done by the loop: the layer starts
    # teacher-forced (p = 0 at epoch 0), so the step must be traced anew when
    # the schedule first rises above 0.
    code = (
        "import sys, multi_worker\n"
        "from selffeed_keras import schedules\n"
        "multi_worker.train(sys.argv[1], sys.argv[2], epochs=4, "
        "sampling_probability=schedules.Linear(0.0, 1.0, steps=2))"
    )
    args = ["-c", code, str(tmp_path / "ckpt"), str(tmp_path / "out")]
    ((result, weights),) = run((tmp_path, 1, args))
    teacher_result, _ = one_worker[0.0]
    assert result["probabilities"] == [0.0, 0.5, 1.0, 1.0]
    # Epoch 0 is the teacher-forced run's epoch 0; the next ones are not.
    assert result["losses"][0] == pytest.approx(teacher_result["losses"][0], rel=1e-6)
    for epoch in (1, 2, 3):
        assert result["losses"][epoch] != pytest.approx(
            teacher_result["losses"][epoch], rel=1e-3
        )
