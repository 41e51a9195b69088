"""The streaming low-pass is scipy's sosfilt, whatever the block sizes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import sosfilt, sosfilt_zi

from pi_service.pipeline.filter import StreamingLowPass


@pytest.mark.parametrize("order, block", [(2, 1), (2, 7), (4, 10), (4, 333)])
def test_blocks_give_what_sosfilt_gives_on_the_whole_signal(order, block):
    low = StreamingLowPass(100.0, 3.0, order=order)
    x = np.random.default_rng(order + block).normal(size=(2000, 3))
    out = np.concatenate([low(x[i:i + block]) for i in range(0, 2000, block)])
    # it starts settled on the first sample, as if that value had always been there
    zi = sosfilt_zi(low.sos)[:, :, None] * x[0][None, None, :]
    whole, _ = sosfilt(low.sos, x, axis=0, zi=zi)
    np.testing.assert_allclose(out, whole, atol=1e-12)


def test_a_restart_forgets_the_past_and_settles_on_the_next_sample():
    low = StreamingLowPass(100.0, 3.0)
    low(np.full((500, 3), 5.0))
    low.restart()
    out = low(np.full((50, 3), -1.0))
    np.testing.assert_allclose(out, -1.0, atol=1e-12)   # no trace of the 5.0 before


def test_the_delay_is_the_low_frequency_group_delay():
    low = StreamingLowPass(100.0, 3.0)
    assert low.delay_s == pytest.approx(0.225 / 3.0, rel=0.05)     # DESIGN: 2nd order
    t = np.arange(3000) / 100.0
    ramp = np.clip(t - 5.0, 0.0, None)[:, None] * np.ones(3)          # a slow ramp
    out = low(ramp)
    # late in the ramp the output trails the input by the delay
    assert ramp[2000, 0] - out[2000, 0] == pytest.approx(low.delay_s, rel=0.02)
