"""A causal Butterworth low-pass that carries its state from block to block.

Live detection needs the filter to run sample by sample with no look-ahead, and
the same output whatever the block sizes: ``sosfilt`` with its state carried
gives exactly that. The conditioner has already put every sample on one even
grid, so the filter is designed once for that rate; after a restart (a long
gap) the old state means nothing, and the filter starts settled on the first
new sample.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, group_delay, lfilter, sos2tf, sosfilt_zi

ORDER = 2


class StreamingLowPass:
    """Low-pass columns of evenly spaced samples, continuing from the last call.

    Parameters
    ----------
    rate_hz : float
        Sample rate of the grid.
    cutoff_hz : float
        -3 dB frequency; capped below Nyquist.
    """

    def __init__(self, rate_hz: float, cutoff_hz: float, order: int = ORDER) -> None:
        cutoff_hz = min(cutoff_hz, 0.4 * rate_hz)
        self.sos = butter(order, cutoff_hz, fs=rate_hz, output="sos")
        self._zi_unit = sosfilt_zi(self.sos)[:, :, None]
        b, a = sos2tf(self.sos)
        _, delay = group_delay((b, a), w=[0.01 * cutoff_hz], fs=rate_hz)
        self.delay_s = float(delay[0]) / rate_hz
        """Low-frequency group delay: how late slow movements come out, in seconds."""
        self._sections = [(b, a) for b, a in zip(self.sos[:, :3], self.sos[:, 3:], strict=True)]
        self._zi: list[np.ndarray] | None = None     # each section's state

    def restart(self) -> None:
        """Forget the past: the next sample starts the filter settled on itself."""
        self._zi = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Filter ``x`` (n, k), continuing from the last call.

        ``sosfilt`` over ``x``, section by section with ``lfilter``: the same
        arithmetic and state as ``sosfilt(self.sos, x, axis=0, zi=...)`` (each
        section is a transposed direct-form II biquad), but a fifth of its per-call
        overhead: with blocks of ten samples that overhead was half the pipeline's
        time (bench/throughput.py).
        """
        if self._zi is None:
            self._zi = list(self._zi_unit * x[0][None, None, :])
        zi = self._zi
        for section, (b, a) in enumerate(self._sections):
            x, zi[section] = lfilter(b, a, x, axis=0, zi=zi[section])
        return x
