"""What the small serializable objects (samplers, schedules) share."""


class Configurable:
    """Creates an object from its `get_config()`, and shows it by its config."""

    def get_config(self):
        """Returns the constructor arguments, for `keras.saving`."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_config.")

    @classmethod
    def from_config(cls, config):
        """Creates an object from `get_config()`'s output."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
