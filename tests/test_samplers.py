import keras
import numpy as np
import pytest

from selffeed_keras import samplers

ALL = [
    samplers.GreedySampler(),
    samplers.RandomSampler(),
    samplers.TopKSampler(k=3),
    samplers.TopPSampler(p=0.8),
]
PEAKED = np.array([[0.0, 9.0, 1.0, 0.5], [7.0, 0.0, 0.0, 1.0]], "float32")


@pytest.mark.parametrize("sampler", ALL, ids=lambda s: type(s).__name__)
def test_contract_every_sampler(sampler):
    # Peaked logits and a tiny temperature make every sampler pick the argmax.
    cold = type(sampler).from_config({**sampler.get_config(), "temperature": 1e-4})
    ids = cold(PEAKED, seed=0)
    assert ids.dtype == "int32" and ids.shape == (2,)
    assert np.asarray(ids).tolist() == [1, 0]
    # Float16 logits are sampled in float32 and give the same answer.
    assert np.asarray(cold(PEAKED.astype("float16"), seed=0)).tolist() == [1, 0]
    # Serializable through Keras, by registered name, in safe mode.
    config = keras.saving.serialize_keras_object(sampler)
    restored = keras.saving.deserialize_keras_object(config)
    assert type(restored) is type(sampler)
    assert restored.get_config() == sampler.get_config()
    assert samplers.get(config).get_config() == sampler.get_config()


@pytest.mark.parametrize(
    "name, cls",
    [
        ("greedy", samplers.GreedySampler),
        ("random", samplers.RandomSampler),
        ("top_k", samplers.TopKSampler),
        ("top_p", samplers.TopPSampler),
        ("beam", samplers.BeamSampler),
    ],
)
def test_get_resolves_lowercase_names(name, cls):
    assert type(samplers.get(name)) is cls


def test_get_passes_objects_and_none_through():
    sampler = samplers.TopKSampler(k=2)
    assert samplers.get(sampler) is sampler
    assert samplers.get(None) is None


def test_top_k_only_draws_among_the_k_best():
    logits = np.tile(np.array([[5.0, 4.9, 4.8, -9.0, -9.0]], "float32"), (500, 1))
    ids = np.asarray(samplers.TopKSampler(k=2)(logits, seed=1))
    assert set(ids) == {0, 1}


def test_top_p_keeps_the_nucleus():
    # Probabilities ~[0.6, 0.3, 0.1]: p=0.7 keeps the first two tokens.
    logits = np.log(np.tile(np.array([[0.6, 0.3, 0.1]], "float32"), (800, 1)))
    ids = np.asarray(samplers.TopPSampler(p=0.7)(logits, seed=2))
    assert set(ids) == {0, 1}
    counts = np.bincount(ids, minlength=3) / len(ids)
    np.testing.assert_allclose(counts[:2], [2 / 3, 1 / 3], atol=0.06)


def test_random_follows_the_softmax_and_temperature_flattens_it():
    logits = np.tile(np.array([[2.0, 0.0]], "float32"), (3000, 1))
    warm = np.asarray(samplers.RandomSampler()(logits, seed=3)).mean()
    hot = np.asarray(samplers.RandomSampler(temperature=100.0)(logits, seed=3)).mean()
    assert abs(warm - 1 / (1 + np.e**2)) < 0.03  # share of token 1
    assert abs(hot - 0.5) < 0.04


def test_a_seed_generator_advances_between_calls():
    generator = keras.random.SeedGenerator(0)
    logits = np.zeros((64, 10), "float32")
    sampler = samplers.RandomSampler()
    assert not np.array_equal(
        sampler(logits, seed=generator), sampler(logits, seed=generator)
    )


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: samplers.GreedySampler(temperature=0), "temperature"),
        (lambda: samplers.RandomSampler(temperature=-1.0), "temperature"),
        (lambda: samplers.RandomSampler(temperature=float("nan")), "temperature"),
        (lambda: samplers.TopKSampler(k=0), "k"),
        (lambda: samplers.TopPSampler(p=0.0), "p"),
        (lambda: samplers.TopPSampler(p=1.5), "p"),
        (lambda: samplers.BeamSampler(num_beams=0), "num_beams"),
        (
            lambda: samplers.BeamSampler(2, length_penalty=float("inf")),
            "length_penalty",
        ),
    ],
)
def test_out_of_range_arguments_raise(make, name):
    with pytest.raises(ValueError, match=f"`{name}`.*Received: {name}="):
        make()


@pytest.mark.parametrize("shape", [(7,), (2, 3, 7)])
@pytest.mark.parametrize(
    "sampler",
    [samplers.GreedySampler(), samplers.RandomSampler(), samplers.TopKSampler(2)],
    ids=["greedy", "random", "top_k"],
)
def test_logits_of_another_rank_than_two_are_refused(sampler, shape):
    # Greedy answered silently (one id for a vector, ids per step for three
    # axes); the random ones failed in `keras.random.categorical`, which
    # showed top-k's values as the logits received.
    with pytest.raises(ValueError, match=r"`logits` must have shape \(batch, voc"):
        sampler(np.zeros(shape, "float32"), seed=0)


def test_get_rejects_unknown_names_and_types():
    with pytest.raises(ValueError, match="Unknown sampler name.*'nucleus'"):
        samplers.get("nucleus")
    with pytest.raises(TypeError, match="`sampler` must be"):
        samplers.get(3)
