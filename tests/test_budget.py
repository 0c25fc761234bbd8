"""`generate`'s memory estimate (`max_bytes`): beams, paths, lag histories.

The estimate counts the loop's rows (a beam search's `batch * num_beams`, the
paths' `batch * num_samples`) and each row's lag history, and the call is
refused before it makes any state. Its accuracy against measured memory is
`benchmarks/memory.py`'s; here, calls it once let through.
"""

import keras
import numpy as np
import pytest
from cells import sine_seed, token_layer

from selffeed_keras import SelfFeedingRNN, _budget, _lags, samplers


def lag_paths(lags):
    return SelfFeedingRNN(keras.layers.GRUCell(4), distribution="normal", lags=lags)


def test_a_beam_search_counts_every_beam():
    layer = token_layer("gru_cell", vocab=6)
    seed = np.ones((4, 3), "int32")
    layer.generate(seed, 2, sampler=samplers.BeamSampler(2))
    # It was estimated for 4 rows (about 0.2 MB), not 4 * 400 beams.
    with pytest.raises(ValueError, match=r"1600 rows .*past `max_bytes`=10000000"):
        layer.generate(
            seed, 4000, sampler=samplers.BeamSampler(400), max_bytes=10_000_000
        )
    one, _ = _budget.estimate(layer._spec, seed, 100, sampler=samplers.BeamSampler(1))
    many, _ = _budget.estimate(layer._spec, seed, 100, sampler=samplers.BeamSampler(10))
    assert 9 * one < many <= 10 * one


def test_lag_histories_of_paths_count_their_copies():
    layer = lag_paths((1, 5000))
    layer.generate(sine_seed(batch=1), 2, num_samples=2)
    # It was estimated at one history per path, about 40 MB, and let through;
    # the call took several copies of it.
    with pytest.raises(ValueError, match="2000 rows .*past `max_bytes`=45000000"):
        layer.generate(sine_seed(batch=1), 10, num_samples=2000, max_bytes=45_000_000)
    needed, rows = _budget.estimate(
        layer._spec, sine_seed(batch=1), 10, num_samples=2000
    )
    assert rows == 2000
    assert needed >= 2000 * 5000 * 4  # at least the histories themselves


@pytest.mark.parametrize("lags", [(1, 10**12), (1, 2**31)])
def test_lags_past_int32_are_refused(lags):
    with pytest.raises(ValueError, match=r"`lags` .*at most 2147483647"):
        lag_paths(lags)


def test_the_longest_lag_is_accepted():
    assert _lags.check((1, 2**31 - 1)) == (1, 2**31 - 1)


def _peak_growth_of(call):
    """Bytes by which peak resident memory grew during `call()` (Linux)."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets the peak to the current resident memory

    def status(field):
        with open("/proc/self/status") as lines:
            line = next(line for line in lines if line.startswith(field + ":"))
        return int(line.split()[1]) * 1024

    before = status("VmRSS")
    call()
    return status("VmHWM") - before


def test_a_long_history_is_refused_before_any_state_is_made(monkeypatch):
    templates = []
    template = _lags.Lags.template

    def spy(self, batch_size, dtype):
        templates.append(batch_size)
        return template(self, batch_size, dtype)

    monkeypatch.setattr(_lags.Lags, "template", spy)
    layer = lag_paths((1, 10**8))  # a history of 400 MB per row

    def refused():
        with pytest.raises(ValueError, match=r"past `max_bytes`=100000000"):
            layer.generate(sine_seed(batch=1), 3, max_bytes=10**8)

    growth = _peak_growth_of(refused)
    assert not [size for size in templates if size], templates
    assert growth < 100 * 2**20, growth


def test_rows_times_the_longest_lag_past_int32_are_refused_whatever_max_bytes():
    layer = lag_paths((1, 2**29))
    layer.build((None, None, 1))  # builds no history
    # Checked as `generate` checks, without the call: its 4 rows would hold
    # 8 GiB of history.
    with pytest.raises(ValueError, match=r"`lags` .*int32"):
        _budget.check(layer._spec, None, sine_seed(batch=1), 3, 4, None, None)
    _budget.check(layer._spec, None, sine_seed(batch=1), 3, 3, None, None)
