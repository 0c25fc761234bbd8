"""The compiled free-running loop: a step function run on its own outputs.

Nothing here knows about Keras. `free_run` takes a `step(previous, state)`
function and unrolls it in one `tf.while_loop` whose horizon is a tensor, so
that a new number of steps never retraces the function that holds it.
"""

import tensorflow as tf


def free_run(step, first, state, steps, end_token=None):
    """Feeds `step` its own outputs for `steps` elements.

    Args:
        step: callable `(previous, state) -> (next, state)`, with `state` a
            flat list of tensors that keeps its structure.
        first: tensor `(batch, ...)`: element 0, already produced from `state`.
        state: flat list of tensors: the state that produced `first`.
        steps: scalar int32 tensor, at least 1: how many elements in all.
        end_token: None, or a scalar int32 tensor. A row that emits it
            stops: its later elements are `end_token`, and the loop exits
            once every row has stopped.

    Returns:
        `(outputs, state)`: outputs of shape `(batch, steps, ...)` and the
        state that produced the last element computed.
    """
    buffer = tf.TensorArray(first.dtype, size=steps, element_shape=first.shape).write(
        0, first
    )
    if end_token is None:
        done = tf.constant(False)
    else:
        done = tf.equal(first, end_token)

    def keep_going(i, previous, state, buffer, done):
        return tf.logical_and(i < steps, tf.logical_not(tf.reduce_all(done)))

    def body(i, previous, state, buffer, done):
        value, state = step(previous, state)
        if end_token is not None:
            value = tf.where(done, end_token, value)
            done = tf.logical_or(done, tf.equal(value, end_token))
        return i + 1, value, state, buffer.write(i, value), done

    count, _, state, buffer, _ = tf.while_loop(
        keep_going,
        body,
        (tf.constant(1), first, state, buffer, done),
        maximum_iterations=steps - 1,
    )
    if end_token is None:
        outputs = buffer.stack()
    else:
        # Rows stopped early leave the tail unwritten: fill it with end_token.
        written = buffer.gather(tf.range(count))
        padding = tf.fill(
            tf.concat([[steps - count], tf.shape(first)], axis=0), end_token
        )
        outputs = tf.concat([written, padding], axis=0)
    perm = [1, 0] + list(range(2, first.shape.rank + 1))
    return tf.transpose(outputs, perm), state
