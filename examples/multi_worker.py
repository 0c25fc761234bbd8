"""Trains a SelfFeedingRNN on several workers, and resumes after a lost worker.

Keras 3's `model.fit` fails under `tf.distribute.MultiWorkerMirroredStrategy`
(keras-team/keras#20585), so this script trains with a custom loop instead:
`strategy.run` for the step, `strategy.distribute_datasets_from_function` for
the input, `tf.train.CheckpointManager` for a checkpoint after every epoch.
Under this strategy a lost worker stops the whole job; run the same command
again and every worker restores the latest checkpoint and trains on from
there. See docs/how-to/distributed.md.

Start one process per worker, each with the same cluster and its own index:

    TF_CONFIG='{"cluster": {"worker": ["host0:2222", "host1:2222"]},
                "task": {"type": "worker", "index": 0}}' \
    python examples/multi_worker.py --checkpoint-dir /shared/ckpt \
        --output-dir /shared/out --epochs 4 --sampling-probability 1.0

Without TF_CONFIG it trains on one worker. `--checkpoint-dir` must be the
same directory for every worker (a shared file system): worker 0, the chief,
writes there and every worker restores from there. The chief writes the final
trainable weights (`weights.npz`) and `result.json` to `--output-dir`.
"""

import argparse
import json
import os
import shutil
import tempfile
import time
import warnings

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from selffeed_keras import SelfFeedingRNN, schedules  # noqa: E402


def sine_windows(num_windows=64, length=24, seed=0):
    """Sine waves of random frequency and phase: `(inputs, targets)`.

    Targets are the inputs shifted by one step, both
    `(num_windows, length, 1)`.
    """
    rng = np.random.default_rng(seed)
    frequency = rng.uniform(0.1, 0.3, size=(num_windows, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(num_windows, 1))
    waves = np.sin(frequency * np.arange(length + 1) + phase).astype("float32")
    return waves[:, :-1, None], waves[:, 1:, None]


# --8<-- [start:model]
def build_model(sampling_probability, units=8, seed=0):
    """A `SelfFeedingRNN` with an `LSTMCell` and a `Dense(1)` head.

    Call it inside `strategy.scope()`. `keras.utils.set_random_seed` makes the
    initial weights the same on every worker and in every run.
    """
    keras.utils.set_random_seed(seed)
    layer = SelfFeedingRNN(
        keras.layers.LSTMCell(units),
        head=keras.layers.Dense(1),
        sampling_probability=sampling_probability,
        random_seed=seed,
    )
    return keras.Sequential([keras.Input((None, 1)), layer]), layer
    # --8<-- [end:model]


# --8<-- [start:data]
def dataset_fn(inputs, targets, global_batch_size, epoch, seed=0):
    """Returns the `dataset_fn` for one epoch's input pipelines.

    The order of the windows depends on the epoch and the seed only, so that a
    job restarted at epoch `e` sees the batches that an uninterrupted job
    sees. Pipeline `i` of `n` takes every `n`-th window, so that global batch
    `k` holds the same windows whatever the number of workers (with one
    replica per worker, as here: with several, each takes turns on its
    worker's pipeline).
    """
    order = np.random.default_rng([seed, epoch]).permutation(len(inputs))

    def make(input_context):
        batch_size = input_context.get_per_replica_batch_size(
            global_batch_size
        )
        data = tf.data.Dataset.from_tensor_slices(
            (inputs[order], targets[order])
        )
        data = data.shard(
            input_context.num_input_pipelines, input_context.input_pipeline_id
        )
        return data.batch(batch_size, drop_remainder=True)

    return make
    # --8<-- [end:data]


# --8<-- [start:chief]
def is_chief(strategy):
    """True on the worker that writes checkpoints and results: worker 0."""
    resolver = strategy.cluster_resolver
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type in (None, "chief") or (
        task_type == "worker" and task_id == 0
    )
    # --8<-- [end:chief]


def train(
    checkpoint_dir,
    output_dir=None,
    epochs=4,
    sampling_probability=0.0,
    global_batch_size=16,
    num_windows=64,
    learning_rate=0.01,
    seed=0,
    pause=0.0,
):
    """Trains with a custom loop under `MultiWorkerMirroredStrategy`.

    Reads the cluster from `TF_CONFIG` (one worker without it). Restores the
    latest checkpoint in `checkpoint_dir` when there is one and trains the
    remaining epochs, saving a checkpoint after each.

    Args:
        checkpoint_dir: str. The chief's checkpoint directory, the same path
            for every worker.
        output_dir: str or None. Where the chief writes the final trainable
            weights (`weights.npz`) and `result.json` at the end.
        epochs: int. Epochs in all, restored ones included.
        sampling_probability: float in [0, 1] for a constant, or a
            `selffeed_keras.schedules.Schedule` evaluated at each epoch.
        global_batch_size: int. Windows per step over all workers together.
        num_windows: int. Training windows per epoch.
        learning_rate: float. Adam's learning rate.
        seed: int. Seeds the initial weights, the data order and the coin
            flips of scheduled sampling.
        pause: float. Seconds to wait after each checkpoint, so that a test
            can stop a worker between two checkpoints.

    Returns:
        A dict: `restored_epoch` (0 for a fresh start), `epochs` (the epochs
        completed in all), `losses` (the mean loss of each epoch run in this
        process), `probabilities` (the sampling probability of each of those
        epochs) and `num_replicas`.
    """
    # --8<-- [start:setup]
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    schedule = schedules.get(sampling_probability)
    with strategy.scope():
        model, layer = build_model(float(schedule(0)), seed=seed)
        optimizer = keras.optimizers.Adam(learning_rate)
        optimizer.build(model.trainable_variables)
        epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")

    # The layer's SeedGenerator is no tf.train trackable: add its state to the
    # checkpoint, so that a restarted job draws the coin flips that the lost
    # job would have drawn.
    checkpoint = tf.train.Checkpoint(
        model=model,
        optimizer=optimizer,
        epoch=epoch,
        seed_state=layer.seed_generator.state,
    )
    # Every worker saves (saving may need all of them); only the chief's copy
    # is kept. The others write to a temporary directory, deleted after each
    # save, as TensorFlow's multi-worker guide prescribes.
    chief = is_chief(strategy)
    write_dir = (
        checkpoint_dir if chief else tempfile.mkdtemp(prefix="ckpt-worker-")
    )
    manager = tf.train.CheckpointManager(checkpoint, write_dir, max_to_keep=2)
    latest = tf.train.latest_checkpoint(checkpoint_dir)
    if latest:
        checkpoint.restore(latest).assert_existing_objects_matched()
    restored_epoch = int(epoch.numpy())
    # --8<-- [end:setup]
    print(f"restored_epoch={restored_epoch}", flush=True)

    # --8<-- [start:step]
    def replica_step(inputs, targets):
        with tf.GradientTape() as tape:
            predictions = model(inputs, training=True)
            per_window = keras.ops.mean(
                keras.ops.square(predictions - targets), [1, 2]
            )
            # Averaged over the global batch: the optimizer sums the gradients
            # of all replicas.
            loss = tf.nn.compute_average_loss(
                per_window, global_batch_size=global_batch_size
            )
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(gradients, model.trainable_variables)
        return loss

    def make_train_step():
        @tf.function
        def train_step(inputs, targets):
            losses = strategy.run(replica_step, args=(inputs, targets))
            return strategy.reduce("SUM", losses, axis=None)

        return train_step
        # --8<-- [end:step]

    # --8<-- [start:loop]
    inputs, targets = sine_windows(num_windows, seed=seed)
    train_step = make_train_step()
    feedback_traced = float(schedule(0)) > 0
    losses, probabilities = [], []
    for e in range(restored_epoch, epochs):
        # What ScheduledSampling does in fit: set the value for this epoch. It
        # lives in a variable, so a new value needs no retrace, except the
        # first value above 0 on a layer traced teacher-forced (the layer
        # warns about fit; here we trace the step anew ourselves).
        probability = float(schedule(e))
        if isinstance(sampling_probability, schedules.Schedule):
            with warnings.catch_warnings():
                warnings.filterwarnings(
                    "ignore", "Layer .* was traced for teacher"
                )
                layer.set_sampling_probability(probability)
            if probability > 0 and not feedback_traced:
                train_step, feedback_traced = make_train_step(), True
        began = time.perf_counter()
        data = strategy.distribute_datasets_from_function(
            dataset_fn(inputs, targets, global_batch_size, e, seed)
        )
        epoch_losses = [float(train_step(x, y)) for x, y in data]
        epoch.assign(e + 1)
        manager.save()
        if not chief:
            shutil.rmtree(write_dir, ignore_errors=True)
        losses.append(float(np.mean(epoch_losses)))
        probabilities.append(layer.current_sampling_probability)
        print(
            f"epoch {e + 1}/{epochs}: loss={losses[-1]:.6f}, "
            f"{time.perf_counter() - began:.2f} s",
            flush=True,
        )
        time.sleep(pause)
    # --8<-- [end:loop]

    result = {
        "restored_epoch": restored_epoch,
        "epochs": int(epoch.numpy()),
        "losses": losses,
        "probabilities": probabilities,
        "num_replicas": strategy.num_replicas_in_sync,
    }
    if chief and output_dir is not None:
        os.makedirs(output_dir, exist_ok=True)
        np.savez(
            os.path.join(output_dir, "weights.npz"),
            *[np.asarray(v) for v in model.trainable_variables],
        )
        with open(os.path.join(output_dir, "result.json"), "w") as f:
            json.dump(result, f)
    print(f"done: {json.dumps(result)}", flush=True)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint-dir", required=True)
    parser.add_argument("--output-dir")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--sampling-probability", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pause", type=float, default=0.0)
    args = parser.parse_args(argv)
    train(
        args.checkpoint_dir,
        args.output_dir,
        epochs=args.epochs,
        sampling_probability=args.sampling_probability,
        seed=args.seed,
        pause=args.pause,
    )


if __name__ == "__main__":
    main()
