"""selffeed_keras: RNNs that run on their own outputs, in Keras 3.

`SelfFeedingRNN` trains teacher-forced with `model.fit` and generates
free-running with `generate(seed, steps)` in one compiled loop, with the same
weights. `samplers` turn logits into the next token for token models;
`distributions` turn a head's output into a forecast distribution, trained
with `losses.NegativeLogLikelihood`; `schedules` and
`callbacks.ScheduledSampling` train on the model's own outputs (scheduled
sampling, free-running training).
"""

import keras

if keras.backend.backend() != "tensorflow":
    raise ValueError(
        "selffeed_keras needs Keras on the TensorFlow backend: its generation "
        "loop is a compiled `tf.while_loop`. Received: Keras backend "
        f"{keras.backend.backend()!r}. Set the environment variable "
        "KERAS_BACKEND=tensorflow before Python imports keras (or in "
        "~/.keras/keras.json), then restart the kernel."
    )

from selffeed_keras import (  # noqa: E402
    callbacks,
    distributions,
    losses,
    samplers,
    schedules,
)
from selffeed_keras.layer import SelfFeedingRNN  # noqa: E402

__version__ = "0.1.0"
__all__ = [
    "SelfFeedingRNN",
    "__version__",
    "callbacks",
    "distributions",
    "losses",
    "samplers",
    "schedules",
]
