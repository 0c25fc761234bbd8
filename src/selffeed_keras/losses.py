"""Losses: the negative log-likelihood that trains a distribution output.

`NegativeLogLikelihood(distribution)` is a registered `keras.losses.Loss`:
a model compiled with it saves to and loads from a `.keras` file, in safe
mode. `Distribution.loss` hands one out, so the class lives beside the
distributions (`selffeed_keras.distributions`), and this module is its
public name.
"""

from selffeed_keras.distributions import NegativeLogLikelihood

__all__ = ["NegativeLogLikelihood"]
