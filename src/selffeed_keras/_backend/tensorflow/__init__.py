"""The TensorFlow backend: `ops.py` and `loop.py` provide `protocol.Backend`."""
