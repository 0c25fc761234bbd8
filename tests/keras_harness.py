"""The one place that imports Keras' private layer test harness.

`keras.src.testing.TestCase.run_layer_test` checks config round trip, build,
symbolic and eager calls, a training step and mixed precision in one call. It
is private API: if a Keras release moves it, only this file changes.
"""

from keras.src.testing import TestCase as KerasTestCase

__all__ = ["KerasTestCase"]
