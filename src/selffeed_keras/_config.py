"""What the small serializable objects (samplers, schedules, distributions) share."""

import keras


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


def resolve(identifier, base, aliases, name, module):
    """Resolves None, a `base` object, a lowercase name or a serialized config.

    The one `get()` of samplers and distributions.

    Args:
        identifier: what the user passed.
        base: the class every resolved object is an instance of.
        aliases: dict from lowercase names to callables that make the object.
        name: the argument's name, for messages.
        module: the public module of `base`, for messages.

    Returns:
        An instance of `base`, or None for None.
    """
    if identifier is None or isinstance(identifier, base):
        return identifier
    if isinstance(identifier, str):
        if identifier in aliases:
            return aliases[identifier]()
        raise ValueError(
            f"Unknown {name} name. Expected one of {sorted(aliases)}. "
            f"Received: {name}={identifier!r}."
        )
    if isinstance(identifier, dict):
        resolved = keras.saving.deserialize_keras_object(identifier)
        if isinstance(resolved, base):
            return resolved
    raise TypeError(
        f"`{name}` must be None, a `selffeed_keras.{module}.{base.__name__}`, or "
        f"one of the names {sorted(aliases)}. Received: {name}={identifier!r}."
    )
