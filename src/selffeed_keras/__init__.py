"""selffeed_keras: RNNs that run on their own outputs, in Keras 3.

`SelfFeedingRNN` trains teacher-forced with `model.fit` and generates
free-running with `generate(seed, steps)` in one compiled loop, with the same
weights. `samplers` turn logits into the next token for token models;
`distributions` turn a head's output into a forecast distribution, trained
with `losses.NegativeLogLikelihood`; `schedules` and
`callbacks.ScheduledSampling` train on the model's own outputs (scheduled
sampling, free-running training); `forecasting` holds panels of many series
and the training windows cut from them.
"""

from selffeed_keras import (
    callbacks,
    distributions,
    forecasting,
    losses,
    samplers,
    schedules,
)
from selffeed_keras.layer import SelfFeedingRNN

__version__ = "0.1.0"
__all__ = [
    "SelfFeedingRNN",
    "__version__",
    "callbacks",
    "distributions",
    "forecasting",
    "losses",
    "samplers",
    "schedules",
]
