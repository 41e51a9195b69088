"""The sensor's clock mapped to the Pi's, drift included.

Every frame gives one pair: the sensor time of its last sample and when it arrived
on the Pi. Arrival is that moment plus a latency that is never negative (batching,
Wi-Fi, the broker), so the pairs' lower envelope is the clock relation itself. The
map keeps the lowest pair of each few-second window and fits a line through the
lower convex hull of those minima: a backlog after an outage (late frames) lies
above the hull and does not move it, and the slope follows the sensor's oscillator
(an MPU-6050's is off by up to a few percent). One offset per run would drift by
that much: 100 ppm is 0.36 s an hour.
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
        if window_s <= 0 or windows < 2:
            raise ValueError("window_s must be > 0 and windows >= 2")
        self.window_s = window_s
        self._minima: deque[tuple[int, float, float]] = deque(maxlen=windows)  # (w, s, d)
        self._fit: tuple[float, float] | None = None   # d = a + b * (s - s_ref)
        self._ref = 0.0

    def add(self, sensor_s: float, arrival_s: float) -> None:
        d = arrival_s - sensor_s
        w = math.floor(sensor_s / self.window_s)
        if self._minima and self._minima[-1][0] == w:
            if d < self._minima[-1][2]:
                self._minima[-1] = (w, sensor_s, d)
            else:
                return
        elif self._minima and w < self._minima[-1][0]:
            return   # out of order in sensor time: never happens within an epoch
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
        points = [(s, d) for _, s, d in self._minima]
        hull = _lower_hull(points)
        self._ref = hull[-1][0]
        if len(hull) < 2 or hull[-1][0] - hull[0][0] < self.window_s:
            self._fit = (min(d for _, d in points), 0.0)
            return self._fit
        n = len(hull)
        mean_s = sum(s for s, _ in hull) / n
        mean_d = sum(d for _, d in hull) / n
        var = sum((s - mean_s) ** 2 for s, _ in hull)
        b = sum((s - mean_s) * (d - mean_d) for s, d in hull) / var
        self._fit = (mean_d + b * (self._ref - mean_s), b)
        return self._fit


def _lower_hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Lower convex hull of points sorted by x (Andrew's monotone chain)."""
    hull: list[tuple[float, float]] = []
    for p in points:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) <= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    return hull
