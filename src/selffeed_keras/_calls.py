"""Preparing a call that reads a seed, once for `generate`, `score` and `observe`.

`read_seed` and `prepare` check the arguments before any graph exists,
build a layer that was never called (under a lock, so that concurrent first
calls build it once), check the seed's values against the built layer and
the initial state against its state layout. `generate` then keys the traced
program of the call (`_generate.CallKey`) and reserves its random stream;
`observe` keys its own program (it reads its values as a seed, and
generates nothing).
"""

import dataclasses
import threading

import numpy as np

from selffeed_keras import (
    _backend,
    _beam,
    _budget,
    _checks,
    _generate,
    _inputs,
    samplers,
)


@dataclasses.dataclass(frozen=True)
class Reading:
    """What a call calls the values it reads, and what it lets through.

    Attributes:
        values: the name of the values (`"seed"`, or `observe`'s
            `"values"`), for messages.
        mask: the name of their mask.
        gaps: whether a NaN is a missing value (`observe`) rather than an
            error.
        empty_rows: whether a mask row may have no valid step (`observe`:
            "nothing new for this row").
        state: the name of the state to start from.
    """

    values: str = "seed"
    mask: str = "seed_mask"
    gaps: bool = False
    empty_rows: bool = False
    state: str = "initial_state"


SEED = Reading()
OBSERVED = Reading("values", "mask", gaps=True, empty_rows=True, state="state")


# Held by the first calls of `generate`, `score` and `observe` (any layer)
# while they build the layer and make its generation functions, so that
# concurrent first calls do it once.
_FIRST_CALL_LOCK = threading.Lock()


@dataclasses.dataclass(frozen=True)
class SeedCall:
    """A call's checked arguments, and the spec of the layer that reads them."""

    spec: object
    seed: object
    covariates: object
    seed_mask: object
    initial_state: object


def read_seed(layer, seed, where, reading=SEED):
    """The seed as a tensor of the layer's kind, or raises (before any build)."""
    _inputs.not_traced(where)
    return _inputs.seed(seed, layer.is_token_model, layer.input_dtype, reading.values)


def prepare(
    layer, seed, steps, *, covariates, seed_mask, initial_state, where,
    reading=SEED,
):  # fmt: skip
    """Checks a seed call's arguments, builds the layer on its first call.

    Args:
        layer: the `SelfFeedingRNN`.
        seed: the seed from `read_seed`.
        steps: how many elements the call reads or writes after the seed (a
            tensor or int); covariates must cover `seed_time + steps - 1`.
            None for a call that reads its values only (`observe`):
            covariates cover `seed_time`.
        covariates: the call's `covariates`, or None.
        seed_mask: the call's `seed_mask`, or None.
        initial_state: the call's `initial_state`, or None.
        where: the method's name, for messages.
        reading: how the call names its arguments, and whether it reads
            gaps and empty mask rows (`OBSERVED`), or not (`SEED`).

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
        seed_name=reading.values,
    )
    if not layer.built:
        with _FIRST_CALL_LOCK:  # concurrent first calls build once
            if not layer.built:
                layer.build(
                    (None, None, *seed.shape[2:]),
                    None if covariates is None else (None, None, covariates.shape[-1]),
                )
    spec = layer._spec
    _inputs.seed_features(seed, spec.input_shape, reading.values)
    seed_mask = _inputs.seed_mask(
        seed_mask, seed, reading.mask, reading.values, reading.empty_rows
    )
    seed = checked_values(spec, seed, seed_mask, covariates, reading)
    initial_state = _inputs.initial_state(
        initial_state, spec.state_specs, seed.shape[0], reading.state
    )
    return SeedCall(spec, seed, covariates, seed_mask, initial_state)


def checked_values(spec, seed, seed_mask, covariates, reading=SEED):
    """Raises for seed values or covariates that the loop cannot read.

    Token ids out of the vocabulary, a row of padding only, NaN or infinite
    values, values outside the distribution's support: eager calls raise,
    naming the first bad position; in a graph, token ids are asserted outside
    the compiled loop. With `reading.gaps`, a NaN is a missing value, which
    a layer with lags reads (and one without refuses).
    """
    step = spec.step
    name, mask_name = reading.values, reading.mask
    if spec.token_model:
        seed = _inputs.token_ids(seed, name, spec.vocabulary_size)
        if getattr(step.encoder, "mask_zero", False) and not reading.empty_rows:
            _inputs.padding_rows(seed, seed_mask)
    else:
        _inputs.finite(seed, name, seed_mask, mask_name, reading.gaps)
        if reading.gaps and not step.history.num_states:
            _no_gaps(seed, seed_mask, name, mask_name)
        distribution = getattr(step.readout, "distribution", None)
        _inputs.in_support(seed, name, distribution, seed_mask, mask_name, reading.gaps)
    if covariates is not None:
        _inputs.finite(covariates, "covariates", seed_mask, mask_name)
    return seed


def _no_gaps(values, mask, name, mask_name):
    """Raises for a NaN at a step that `mask` keeps, on a layer without lags."""
    if not _backend.concrete(values):
        return
    missing = np.isnan(_backend.to_numpy(values))
    if not missing.any():
        return
    missing = missing.reshape(missing.shape[:2] + (-1,)).any(-1)
    if mask is not None:
        missing &= _backend.to_numpy(mask)
    if missing.any():
        row, step = (int(i) for i in np.argwhere(missing)[0])
        raise ValueError(
            f"`{name}` holds a NaN, a missing value, which a layer with lags "
            "reads as its last value again so that its lags keep counting "
            "time; this layer has lags=(1,) and keeps no last value. Fill the "
            f"gap yourself, or mark the step False in `{mask_name}` (the cell "
            f"then skips it). Received: {name}[{row}, {step}] is NaN (the "
            "first missing position, row and step)."
        )


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


def observe(layer, values, state, covariates, mask):
    """`SelfFeedingRNN.observe`: see its docstring."""
    values = read_seed(layer, values, "observe", OBSERVED)
    call = prepare(
        layer, values, None, covariates=covariates, seed_mask=mask,
        initial_state=state, where="observe", reading=OBSERVED,
    )  # fmt: skip
    # The int32 limit of the history's indices (the outputs are none).
    _budget.check(call.spec, None, call.seed, 1, None, call.covariates, None)
    options = {
        "initial_state": call.initial_state,
        "covariates": call.covariates,
        "seed_mask": call.seed_mask,
    }
    key = _generate.CallKey.observing(options)
    # generation's arguments: the values, `steps` (1, unused), the options.
    args = [call.seed, _one_step()]
    args += [value for value in options.values() if value is not None]
    _, new_state = generation(layer)(key, args)
    return new_state


_ONE_STEP = []


def _one_step():
    """The `steps` of an observe program, a scalar int32 tensor made once."""
    if not _ONE_STEP:
        if not _backend.concrete():  # in a caller's graph: not cached
            return _checks.steps(1)
        _ONE_STEP.append(_checks.steps(1))
    return _ONE_STEP[0]
