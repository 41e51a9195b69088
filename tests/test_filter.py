"""The streaming low-pass is scipy's sosfilt, whatever the block sizes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import sosfilt, sosfilt_zi

from pi_service.pipeline.filter import StreamingLowPass


@pytest.mark.parametrize("order, block", [(2, 1), (2, 7), (4, 10), (4, 333)])
def test_blocks_give_what_sosfilt_gives_on_the_whole_signal(order, block):
    low = StreamingLowPass(100.0, order=order)
    t = np.arange(2000) / 100.0
    x = np.random.default_rng(order + block).normal(size=(2000, 3))
    out = np.concatenate([low(t[i:i + block], x[i:i + block]) for i in range(0, 2000, block)])
    # it starts settled on the first sample, as if that value had always been there
    zi = sosfilt_zi(low.sos)[:, :, None] * x[0][None, None, :]
    whole, _ = sosfilt(low.sos, x, axis=0, zi=zi)
    np.testing.assert_allclose(out, whole, atol=1e-12)


def test_dropped_samples_are_bridged_not_squeezed():
    t = np.arange(300) / 100.0
    x = np.minimum(np.maximum(t - 1.0, 0.0), 1.0)[:, None] * np.ones(3)   # a 1 s ramp
    keep = np.ones(300, bool)
    keep[150:153] = False                   # three samples lost mid-ramp
    full = StreamingLowPass(100.0)(t, x)
    gappy = StreamingLowPass(100.0)(t[keep], x[keep])
    # the bridge is a straight line, as the ramp was: the output is as if nothing was lost
    np.testing.assert_allclose(gappy, full[keep], atol=1e-9)
    squeezed = StreamingLowPass(100.0)(np.arange(keep.sum()) / 100.0, x[keep])
    assert np.abs(squeezed - full[keep]).max() > 1e-3
