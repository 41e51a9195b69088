"""A causal Butterworth low-pass that carries its state from block to block.

Live detection needs the filter to run sample by sample with no look-ahead, and
the same output whatever the block sizes: ``sosfilt`` with its state carried
gives exactly that. The filter is designed for the stream's nominal rate, so
short gaps (dropped samples, a FIFO overrun) are bridged with straight-line
samples that are filtered and then dropped: filtering straight through would
squeeze the gap into one step and delay everything after it. After a long gap
(a reconnect) the old state means nothing, so it restarts at the first new sample.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, group_delay, lfilter, sos2tf, sosfilt_zi

CUTOFF_HZ = 3.0
ORDER = 2
FILL_PERIODS = 2.5    # a longer step (more than one dropped sample) is a gap to bridge
RESTART_GAP_S = 0.5   # a longer gap (a reconnect) restarts the filter


class StreamingLowPass:
    """Low-pass columns of samples at a nominal rate, bridging gaps, restarting after long ones.

    Parameters
    ----------
    rate_hz : float
        Nominal sample rate the filter is designed for (estimated from the stream).
    cutoff_hz : float
        -3 dB frequency; capped below Nyquist for slow streams.
    """

    def __init__(self, rate_hz: float, cutoff_hz: float = CUTOFF_HZ, order: int = ORDER) -> None:
        cutoff_hz = min(cutoff_hz, 0.4 * rate_hz)
        self.sos = butter(order, cutoff_hz, fs=rate_hz, output="sos")
        self._zi_unit = sosfilt_zi(self.sos)[:, :, None]
        self.period_s = 1.0 / rate_hz
        self.fill_s = FILL_PERIODS * self.period_s
        b, a = sos2tf(self.sos)
        _, delay = group_delay((b, a), w=[0.01 * cutoff_hz], fs=rate_hz)
        self.delay_s = float(delay[0]) / rate_hz
        """Low-frequency group delay: how late slow movements come out, in seconds."""
        self._zi: np.ndarray | None = None
        self._last_t = -np.inf
        self._last_x: np.ndarray | None = None

    def __call__(self, t: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Filter ``x`` (n, k) sampled at times ``t`` (n,), continuing from the last call."""
        last_t, self._last_t = self._last_t, t[-1]
        if t[0] - last_t <= self.fill_s and (len(t) < 2 or (t[1:] - t[:-1]).max() <= self.fill_s):
            self._last_x = x[-1]
            return self._run(x)   # the usual case, kept cheap
        steps = np.diff(t, prepend=last_t)
        pieces = []
        start = 0
        for i in np.flatnonzero(steps > self.fill_s):
            if i > start:
                pieces.append(self._run(x[start:i]))
            before = x[i - 1] if i > 0 else self._last_x
            if steps[i] > RESTART_GAP_S or before is None:
                self._zi = self._zi_unit * x[i][None, None, :]
            else:
                missing = int(round(steps[i] / self.period_s)) - 1
                if missing > 0:
                    share = (np.arange(1, missing + 1) / (missing + 1))[:, None]
                    self._run(before + share * (x[i] - before))
            start = i
        pieces.append(self._run(x[start:]))
        self._last_x = x[-1]
        return np.concatenate(pieces)

    def _run(self, x: np.ndarray) -> np.ndarray:
        """``sosfilt`` over ``x``, section by section with ``lfilter``.

        The same arithmetic and state as ``sosfilt(self.sos, x, axis=0, zi=...)``
        (each section is a transposed direct-form II biquad), but a fifth of its
        per-call overhead: with blocks of ten samples that overhead was half the
        pipeline's time (bench/throughput.py).
        """
        zi = self._zi
        if zi is None:
            zi = self._zi = np.zeros((len(self.sos), 2, x.shape[1]))
        for section, (b, a) in enumerate(zip(self.sos[:, :3], self.sos[:, 3:], strict=True)):
            x, zi[section] = lfilter(b, a, x, axis=0, zi=zi[section])
        return x
