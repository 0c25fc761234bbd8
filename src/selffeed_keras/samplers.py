"""Samplers: what turns a head's logits into the next token id.

A sampler is a small stateless object, named and behaving as the samplers
of keras-hub. It reads logits of shape `(batch, vocab_size)` and returns
token ids of shape `(batch,)` and dtype `int32`. The math runs in float32
whatever the compute dtype. Randomness comes from the `seed` passed in: an
int, or the `keras.random.SeedGenerator` that `SelfFeedingRNN` owns, so that
sampling advances inside the compiled generation loop.

`BeamSampler` is no per-step sampler: given to `generate`, it makes it
search for the most likely sequences (called on logits, it is greedy).

Subclass `Sampler` and override `sample` to write your own; register it with
`keras.saving.register_keras_serializable` so that models using it load.
"""

import math

import keras
import numpy as np
from keras import ops

from selffeed_keras import _beam, _checks
from selffeed_keras._config import Configurable, resolve

__all__ = [
    "BeamSampler",
    "GreedySampler",
    "RandomSampler",
    "Sampler",
    "TopKSampler",
    "TopPSampler",
    "get",
]

_register = keras.saving.register_keras_serializable(package="selffeed_keras")


@_register
class Sampler(Configurable):
    """Base class of the samplers: logits in, token ids out.

    Subclasses override `sample(logits, seed)`, which receives float32 logits
    already divided by `temperature`. A sampler whose choice the logits alone
    decide sets the class attribute `is_random = False`: `generate` then
    reserves no random stream for it and refuses `num_samples` (every path
    would be the same). A sampler that searches whole sequences instead of
    picking one token per step (beam search) overrides `search`.

    Args:
        temperature: float. Logits are divided by it before sampling; above 0.
            Below 1 sharpens the distribution, above 1 flattens it. Defaults
            to `1.0`.

    Examples:
        >>> class ArgminSampler(selffeed_keras.samplers.Sampler):
        ...     def sample(self, logits, seed):
        ...         return keras.ops.argmin(logits, axis=-1)
        >>> np.asarray(ArgminSampler()(np.array([[0.1, 3.0, 0.2]]))).tolist()
        [0]
    """

    # Whether `sample` draws at random.
    is_random = True
    # None for a per-step sampler; a search overrides it with a method that
    # builds `generate`'s graph in place of the step-by-step loop.
    search = None

    def __init__(self, temperature=1.0):
        self.temperature = _checks.positive_float(temperature, "temperature")

    def __call__(self, logits, seed=None):
        """Returns the next token ids, shape `(batch,)`, dtype `int32`.

        Args:
            logits: tensor of shape `(batch, vocab_size)`.
            seed: int, `keras.random.SeedGenerator` or None: the randomness
                of random samplers, as `keras.random` takes it.

        Raises:
            ValueError: for `logits` of another rank than 2.
            TypeError: for a `seed` of another type.
        """
        seed = _checks.keras_seed(seed)
        rank = _checks.rank_of(logits) if hasattr(logits, "shape") else np.ndim(logits)
        if rank is not None and rank != 2:
            shape = tuple(getattr(logits, "shape", np.shape(logits)))
            raise ValueError(
                "`logits` must have shape (batch, vocab_size): a row of scores "
                "per sequence (for one sequence, add the axis with "
                f"`logits[None]`). Received: logits.shape={shape}."
            )
        logits = ops.cast(logits, "float32") / self.temperature
        return ops.cast(self.sample(logits, seed), "int32")

    def sample(self, logits, seed):
        """Chooses token ids from float32 logits of shape `(batch, vocab_size)`."""
        raise NotImplementedError(
            f"{type(self).__name__} must override `sample(logits, seed)`."
        )

    def get_config(self):
        """Returns the constructor arguments, for `keras.saving`."""
        return {"temperature": self.temperature}


@_register
class GreedySampler(Sampler):
    """Picks the most likely token at every step; deterministic.

    Use it for reproducible, most-likely continuations. `temperature` is
    accepted so that every sampler takes the same arguments, and changes
    nothing here.

    Args:
        temperature: float. Accepted for uniformity; no effect. Defaults to
            `1.0`.

    Examples:
        >>> sampler = selffeed_keras.samplers.GreedySampler()
        >>> np.asarray(sampler(np.array([[0.1, 3.0, 0.2]]))).tolist()
        [1]
    """

    is_random = False

    def sample(self, logits, seed):
        """Returns the index of the largest logit."""
        return ops.argmax(logits, axis=-1)


@_register
class RandomSampler(Sampler):
    """Samples the next token from the whole softmax distribution.

    Args:
        temperature: float. Logits are divided by it first. Defaults to `1.0`.

    Examples:
        >>> sampler = selffeed_keras.samplers.RandomSampler(temperature=1e-3)
        >>> np.asarray(sampler(np.array([[0.1, 3.0, 0.2]]), seed=0)).tolist()
        [1]
    """

    def sample(self, logits, seed):
        """Draws one token per row from `softmax(logits)`."""
        return keras.random.categorical(logits, 1, seed=seed)[:, 0]


@_register
class TopKSampler(Sampler):
    """Samples the next token among the `k` most likely ones.

    Args:
        k: int. How many of the highest-scoring tokens to keep; at least 1.
            A `k` larger than the vocabulary keeps every token.
        temperature: float. Logits are divided by it first. Defaults to `1.0`.

    Examples:
        >>> sampler = selffeed_keras.samplers.TopKSampler(k=1)
        >>> np.asarray(sampler(np.array([[0.1, 3.0, 0.2]]), seed=0)).tolist()
        [1]
    """

    def __init__(self, k, temperature=1.0):
        super().__init__(temperature=temperature)
        self.k = _checks.positive_int(k, "k", ": how many tokens to keep")

    def sample(self, logits, seed):
        """Draws one token per row among the `k` largest logits."""
        k = min(self.k, logits.shape[-1])
        top_logits, top_ids = ops.top_k(logits, k=k)
        choice = keras.random.categorical(top_logits, 1, seed=seed)
        return ops.take_along_axis(top_ids, choice, axis=-1)[:, 0]

    def get_config(self):
        """Returns the constructor arguments, for `keras.saving`."""
        return {**super().get_config(), "k": self.k}


@_register
class TopPSampler(Sampler):
    """Samples among the smallest set of tokens whose probability reaches `p`.

    Nucleus sampling (Holtzman et al., 2019): tokens are sorted by
    probability and kept until their cumulative probability reaches `p`;
    the most likely token is always kept.

    Args:
        p: float in (0, 1]. The probability mass to keep.
        temperature: float. Logits are divided by it first. Defaults to `1.0`.

    Examples:
        >>> sampler = selffeed_keras.samplers.TopPSampler(p=0.5)
        >>> np.asarray(sampler(np.array([[0.1, 3.0, 0.2]]), seed=0)).tolist()
        [1]
    """

    def __init__(self, p, temperature=1.0):
        super().__init__(temperature=temperature)
        self.p = _checks.probability(
            p, "p", open_at_zero=True, what=": the probability mass to keep"
        )

    def sample(self, logits, seed):
        """Draws one token per row from the nucleus of mass `p`."""
        sorted_logits, sorted_ids = ops.top_k(logits, k=logits.shape[-1])
        probabilities = ops.softmax(sorted_logits, axis=-1)
        # Keep a token if the mass before it is still below p: the first
        # token is always kept.
        mass_before = ops.cumsum(probabilities, axis=-1) - probabilities
        kept = ops.where(mass_before < self.p, sorted_logits, -1e9)
        choice = keras.random.categorical(kept, 1, seed=seed)
        return ops.take_along_axis(sorted_ids, choice, axis=-1)[:, 0]

    def get_config(self):
        """Returns the constructor arguments, for `keras.saving`."""
        return {**super().get_config(), "p": self.p}


@_register
class BeamSampler(Sampler):
    """Beam search: the most likely continuations, not one token at a time.

    Not a per-step sampler: `generate` runs a search with it. It keeps
    `num_beams` hypotheses per row in the generation loop; at each step
    every hypothesis is extended by every token, and the `num_beams`
    extensions with the highest summed log-probability (at temperature 1)
    are kept. With an `end_token`, a hypothesis that emits it is finished:
    it keeps its score and pads with `end_token`. Beam search is
    deterministic: `random_seed` changes nothing.

    When fewer sequences exist than beams (`num_beams` above `vocab_size
    ** steps`), the extra beams score -inf.

    Set it as the layer's `sampler`, or pass it to one call,
    `layer.generate(seed, steps, sampler=BeamSampler(4))`. Called on logits
    as a per-step sampler, it picks the most likely token: a beam of one is
    greedy.

    Args:
        num_beams: int. How many hypotheses to keep per row; at least 1.
            `1` is greedy search.
        length_penalty: float. Beams are ranked by `score / length **
            length_penalty`, `length` counting the tokens up to and including
            the first `end_token`, as keras-hub does: above 0 favours longer
            sequences, below 0 shorter ones. It changes only the ranking: the
            scores returned are the plain log-likelihoods. Defaults to `0.0`.
        return_all_beams: bool. If True, `generate` returns `(sequences,
            scores)`: every beam, `(batch, num_beams, steps)` sorted best
            first, and their log-likelihoods `(batch, num_beams)`. If False
            (the default) it returns the best sequence per row, `(batch,
            steps)`.

    Examples:
        >>> layer = selffeed_keras.SelfFeedingRNN(
        ...     keras.layers.GRUCell(8),
        ...     encoder=keras.layers.Embedding(5, 4),
        ...     head=keras.layers.Dense(5),
        ...     sampler="greedy",
        ... )
        >>> beam = selffeed_keras.samplers.BeamSampler(3, return_all_beams=True)
        >>> sequences, scores = layer.generate(np.array([[1, 2]]), 4, sampler=beam)
        >>> tuple(sequences.shape), tuple(scores.shape)
        ((1, 3, 4), (1, 3))
        >>> bool(np.all(np.diff(np.asarray(scores)) <= 0))  # best first
        True
    """

    def __init__(self, num_beams, length_penalty=0.0, return_all_beams=False):
        super().__init__()
        self.num_beams = _checks.positive_int(
            num_beams, "num_beams", ": how many hypotheses to keep per row"
        )
        self.length_penalty = _checks.number(
            length_penalty,
            "length_penalty",
            "a finite number",
            valid=math.isfinite,
        )
        self.return_all_beams = _checks.boolean(return_all_beams, "return_all_beams")

    is_random = False

    def sample(self, logits, seed):
        """Returns the index of the largest logit: one step of a beam of one."""
        return ops.argmax(logits, axis=-1)

    def search(self, step, seed, steps, **options):
        """The beam search graph of `generate`, in place of its step loop.

        Args:
            step: the layer's one-step transition (`_step.Step`).
            seed: `(batch, seed_time)` int32 token ids.
            steps: scalar int32, at least 1.
            **options: `generate`'s other arguments, as `_beam.graph` takes
                them.

        Returns:
            `(outputs, state)`, as `_beam.graph` returns them.
        """
        return _beam.graph(step, self, seed, steps, **options)

    def get_config(self):
        """Returns the constructor arguments, for `keras.saving`."""
        return {
            "num_beams": self.num_beams,
            "length_penalty": self.length_penalty,
            "return_all_beams": self.return_all_beams,
        }


# Names that need arguments come with defaults: k=5, p=0.9, num_beams=4.
_ALIASES = {
    "beam": lambda: BeamSampler(num_beams=4),
    "greedy": GreedySampler,
    "random": RandomSampler,
    "top_k": lambda: TopKSampler(k=5),
    "top_p": lambda: TopPSampler(p=0.9),
}


def get(identifier):
    """Resolves a sampler from a name, a config or a sampler object.

    Args:
        identifier: None, a `Sampler`, a lowercase name (`"greedy"`,
            `"random"`, `"top_k"`, `"top_p"`, `"beam"`), or a dict from
            `keras.saving.serialize_keras_object`. Named `"top_k"`, `"top_p"`
            and `"beam"` need arguments, so they come with the defaults
            `k=5`, `p=0.9` and `num_beams=4`.

    Returns:
        A `Sampler`, or None for None.

    Examples:
        >>> selffeed_keras.samplers.get("greedy")
        GreedySampler(temperature=1.0)
    """
    return resolve(identifier, Sampler, _ALIASES, "sampler", "samplers")
