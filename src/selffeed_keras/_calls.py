"""Preparing a call that reads a seed, once for `generate` and `score`.

`read_seed` and `prepare` check the arguments before any graph exists,
build a layer that was never called (under a lock, so that concurrent first
calls build it once), check the seed's values against the built layer and
the initial state against its state layout. `generate` then keys the traced
program of the call (`_generate.CallKey`) and reserves its random stream.
"""

import dataclasses
import threading

from selffeed_keras import (
    _backend,
    _beam,
    _budget,
    _checks,
    _generate,
    _inputs,
    samplers,
)

# Held by the first calls of `generate` and `score` (any layer) while they
# build the layer and make its generation functions, so that concurrent
# first calls do it once.
_FIRST_CALL_LOCK = threading.Lock()


@dataclasses.dataclass(frozen=True)
class SeedCall:
    """A call's checked arguments, and the spec of the layer that reads them."""

    spec: object
    seed: object
    covariates: object
    seed_mask: object
    initial_state: object


def read_seed(layer, seed, where):
    """The seed as a tensor of the layer's kind, or raises (before any build)."""
    _inputs.not_traced(where)
    return _inputs.seed(seed, layer.is_token_model, layer.input_dtype)


def prepare(layer, seed, steps, *, covariates, seed_mask, initial_state, where):
    """Checks a seed call's arguments, builds the layer on its first call.

    Args:
        layer: the `SelfFeedingRNN`.
        seed: the seed from `read_seed`.
        steps: how many elements the call reads or writes after the seed (a
            tensor or int); covariates must cover `seed_time + steps - 1`.
        covariates: the call's `covariates`, or None.
        seed_mask: the call's `seed_mask`, or None.
        initial_state: the call's `initial_state`, or None.
        where: the method's name, for messages.

    Returns:
        A `SeedCall`.
    """
    covariates = _inputs.generate_covariates(
        covariates,
        seed,
        steps,
        layer._spec.num_covariates if layer.built else None,
        layer.built,
        layer.compute_dtype,
        where=f"`{where}`",
    )
    if not layer.built:
        with _FIRST_CALL_LOCK:  # concurrent first calls build once
            if not layer.built:
                layer.build(
                    (None, None, *seed.shape[2:]),
                    None if covariates is None else (None, None, covariates.shape[-1]),
                )
    spec = layer._spec
    _inputs.seed_features(seed, spec.input_shape)
    seed_mask = _inputs.seed_mask(seed_mask, seed)
    seed = checked_values(spec, seed, seed_mask, covariates)
    initial_state = _inputs.initial_state(
        initial_state, spec.state_specs, seed.shape[0]
    )
    return SeedCall(spec, seed, covariates, seed_mask, initial_state)


def checked_values(spec, seed, seed_mask, covariates):
    """Raises for seed values or covariates that the loop cannot read.

    Token ids out of the vocabulary, a row of padding only, NaN or infinite
    values, values outside the distribution's support: eager calls raise,
    naming the first bad position; in a graph, token ids are asserted outside
    the compiled loop.
    """
    step = spec.step
    if spec.token_model:
        seed = _inputs.token_ids(seed, "seed", spec.vocabulary_size)
        if getattr(step.encoder, "mask_zero", False):
            _inputs.padding_rows(seed, seed_mask)
    else:
        _inputs.finite(seed, "seed", seed_mask)
        distribution = getattr(step.readout, "distribution", None)
        _inputs.in_support(seed, "seed", distribution, seed_mask)
    if covariates is not None:
        _inputs.finite(covariates, "covariates", seed_mask)
    return seed


def generation(layer):
    """The layer's `_generate.Generation`, made on first use (built layers)."""
    made = layer._generation
    if made is not None:
        return made
    with _FIRST_CALL_LOCK:
        if layer._generation is None:
            layer._generation = _generate.Generation(
                layer._spec,
                layer.seed_generator,
                layer.jit_compile,
                layer.cell.name,
                layer.variables,
            )
        return layer._generation


def generate(
    layer, seed, steps, *, covariates, initial_state, seed_mask, end_token,
    random_seed, return_state, num_samples, sampler, noise_scale, max_bytes,
):  # fmt: skip
    """`SelfFeedingRNN.generate`: see its docstring."""
    seed = read_seed(layer, seed, "generate")
    sampler = _beam.call_sampler(samplers.get(sampler), layer.sampler)
    steps = _checks.steps(steps)
    call = prepare(
        layer, seed, steps, covariates=covariates, seed_mask=seed_mask,
        initial_state=initial_state, where="generate",
    )  # fmt: skip
    spec = call.spec
    end_token = _checks.end_token(end_token, spec.token_model, spec.output_size)
    random_seed = _checks.random_seed(random_seed)
    _checks.boolean(return_state, "return_state")
    noise_scale = _checks.noise_scale(noise_scale, layer.distribution)
    used = sampler or layer.sampler
    _beam.check_num_samples(used, num_samples)
    deterministic = deterministic_feedback(layer.distribution, used)
    num_samples = _checks.num_samples(num_samples, deterministic)
    _budget.check(spec, max_bytes, call.seed, steps, num_samples, call.covariates, used)
    generation_ = generation(layer)
    if random_seed is not None:
        random_seed = generation_.programs.random_seed(random_seed)
    elif deterministic is None and not _backend.concrete():
        random_seed = generation_.reserve_stream()
    # A call that draws nothing reserves no stream.
    reserve = random_seed is None and deterministic is None
    options = {
        "initial_state": call.initial_state,
        "covariates": call.covariates,
        "seed_mask": call.seed_mask,
        "end_token": end_token,
        "random_seed": random_seed,
        "num_samples": num_samples,
        # 1 draws as the plain program does: no argument.
        "noise_scale": None if noise_scale == 1.0 else noise_scale,
    }
    key = _generate.CallKey.of(options, reserve, sampler, layer.sampler)
    args = [call.seed, steps]
    args += [options[name] for name in key.options if name in options]
    if reserve:
        with generation_.reserve() as reservation:
            outputs, state = generation_(key, args, reservation)
    else:
        outputs, state = generation_(key, args)
    return (outputs, state) if return_state else outputs


def deterministic_feedback(distribution, sampler):
    """What makes the fed-back value deterministic, or None if it is random."""
    if distribution is not None:
        return None
    if sampler is None:
        return "continuous feedback (sampler=None, distribution=None)"
    if not sampler.is_random:
        return f"sampler={sampler!r}"
    return None
