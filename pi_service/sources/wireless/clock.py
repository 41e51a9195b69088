"""The sensor's clock mapped to the Pi's, drift included.

Every frame gives one pair: the sensor time of its last sample and when it arrived
on the Pi. Arrival is that moment plus a latency that is never negative (batching,
Wi-Fi, the broker), so the pairs' lower envelope is the clock relation itself. The
map keeps the lowest pair of each few-second window and fits a line through those
minima, refitting without windows far above the line: a backlog after an outage
(every frame late) is left out, and the slope follows the sensor's oscillator (an
MPU-6050's is off by up to a few percent). One offset per run would drift by that
much: 100 ppm is 0.36 s an hour.
"""

from __future__ import annotations

import math
from collections import deque


class ClockMap:
    """Sensor seconds -> Pi monotonic seconds, from (sensor_s, arrival_s) pairs.

    Parameters
    ----------
    window_s : float
        Sensor seconds per window; the lowest pair of each is kept.
    windows : int
        Windows kept (``windows * window_s`` of history: 5 min by default).
    """

    def __init__(self, window_s: float = 5.0, windows: int = 60) -> None:
        if window_s <= 0 or windows < 3:
            raise ValueError("window_s must be > 0 and windows >= 3")
        self.window_s = window_s
        self._minima: deque[tuple[int, float, float]] = deque(maxlen=windows)  # (w, s, d)
        self._fit: tuple[float, float] | None = None   # d = a + b * (s - ref)
        self._ref = 0.0
        self._fallback = True   # too few windows for a line: the lowest offset so far

    def add(self, sensor_s: float, arrival_s: float) -> None:
        d = arrival_s - sensor_s
        w = math.floor(sensor_s / self.window_s)
        if self._minima and self._minima[-1][0] == w:
            if d >= self._minima[-1][2]:
                return
            self._minima[-1] = (w, sensor_s, d)
            if self._fallback:   # the line leaves the filling window out; this does not
                self._fit = None
        elif self._minima and w < self._minima[-1][0]:
            return   # back in sensor time: does not happen within an epoch
        else:
            self._minima.append((w, sensor_s, d))
            self._fit = None

    @property
    def ready(self) -> bool:
        return bool(self._minima)

    @property
    def skew_ppm(self) -> float:
        """How much faster the Pi's clock runs than the sensor's, parts per million."""
        return self._line()[1] * 1e6

    def __call__(self, sensor_s: float) -> float:
        a, b = self._line()
        return sensor_s + a + b * (sensor_s - self._ref)

    def _line(self) -> tuple[float, float]:
        if self._fit is not None:
            return self._fit
        if not self._minima:
            raise ValueError("no frames yet: the sensor clock cannot be mapped")
        # The window still filling has seen few frames: its minimum is not low yet.
        points = [(s, d) for _, s, d in self._minima][:-1]
        self._fallback = len(points) < 2 or points[-1][0] - points[0][0] < self.window_s
        if self._fallback:
            self._ref = self._minima[-1][1]
            self._fit = (min(d for _, _, d in self._minima), 0.0)
            return self._fit
        self._ref = points[-1][0]
        for _ in range(3):   # refit without the windows well above the line (backlogs)
            a, b = _least_squares(points, self._ref)
            resid = [d - a - b * (s - self._ref) for s, d in points]
            spread = 1.4826 * sorted(abs(r) for r in resid)[len(resid) // 2] + 1e-4
            kept = [p for p, r in zip(points, resid, strict=True) if r <= 3 * spread]
            if len(kept) == len(points) or len(kept) < 2:
                break
            points = kept
        self._fit = (a, b)
        return self._fit


def _least_squares(points: list[tuple[float, float]], ref: float) -> tuple[float, float]:
    """``d = a + b (s - ref)`` through the points, by least squares."""
    n = len(points)
    mean_s = sum(s for s, _ in points) / n
    mean_d = sum(d for _, d in points) / n
    var = sum((s - mean_s) ** 2 for s, _ in points)
    b = sum((s - mean_s) * (d - mean_d) for s, d in points) / var if var > 0 else 0.0
    return mean_d + b * (ref - mean_s), b
