"""From whatever a source delivers to clean samples on an even grid.

Sensors and files are untidy: a host stamps a FIFO burst with one time, a radio
drops frames, a cable glitch reads 1e308, clocks run at 99.7 Hz or 204.8 Hz. The
rest of the pipeline wants none of that, so here, once:

- samples that are not finite, beyond any chip's range or all zero are dropped and counted;
- samples sharing a timestamp are spread out before it: a host that stamps each
  FIFO read with the read's time gives every sample of the burst that time, but
  they were measured one by one since the read before, so they are placed evenly
  over that interval, the last at the stamp (counted). The next block may go on
  with the same stamp, so the last sample (or burst) of each block waits for it:
  a sample period of delay, and the same times whatever the blocks;
- time going backwards is refused;
- the stream is resampled by linear interpolation onto a grid at the internal
  rate, so every later stage sees one rate and one period;
- a step longer than ``gap_s`` is a gap: up to ``bridge_gap_s`` it is bridged
  (its grid samples are interpolated but marked unknown, so nothing is measured
  from them), longer ones restart the pipeline after them.

Everything depends only on the samples and their times: grid times are
``origin + k / rate`` and each value comes from the same two samples whatever
the blocks, so any partition gives the same output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import HeelRaiseError
from ..samples import SampleBlock
from .events import Gap
from .params import DetectorParams


class SampleError(HeelRaiseError, ValueError):
    """The stream itself is unusable (time going backwards)."""


@dataclass(frozen=True)
class Grid:
    """Samples on the internal grid.

    ``samples`` is the accelerometer (g) with, where there is one, the gyro (deg/s)
    beside it, (n, 3) or (n, 6), resampled together and kept together for the
    stages that want both. ``known`` is False for samples interpolated across a
    gap: they keep filters and states continuous, but nothing is measured from them.
    """

    t: np.ndarray
    samples: np.ndarray
    known: np.ndarray

    @property
    def accel_g(self) -> np.ndarray:
        return self.samples[:, :3]

    @property
    def gyro_dps(self) -> np.ndarray | None:
        return self.samples[:, 3:] if self.samples.shape[1] > 3 else None


@dataclass
class Count:
    """How often something happened in the stream, and when first."""

    count: int = 0
    first_s: float | None = None

    def add(self, n: int, t_s: float) -> None:
        if n:
            self.count += n
            if self.first_s is None:
                self.first_s = float(t_s)


@dataclass
class Quality:
    """What the conditioner had to mend, for the ``warnings`` of an analysis."""

    bad_samples: Count = field(default_factory=Count)
    repeated_stamps: Count = field(default_factory=Count)
    gyro_dropped: Count = field(default_factory=Count)


class Conditioner:
    """Turns sample blocks into :class:`Grid` pieces and :class:`~.events.Gap` events."""

    def __init__(self, params: DetectorParams) -> None:
        self.params = params
        self.period_s = 1.0 / params.rate_hz
        self.quality = Quality()
        self.has_gyro: bool | None = None
        self._limits = np.array([params.accel_limit_g] * 3 + [params.gyro_limit_dps] * 3)
        self._prev: tuple[float, np.ndarray] | None = None     # last sample used
        self._origin_s = 0.0
        self._next_k = 0
        self._held: tuple[np.ndarray, np.ndarray] | None = None   # the last burst so far
        self._stamp_s: float | None = None   # the stamp before the held burst
        self._spacing_s = self.period_s      # between a burst's samples, last seen

    def finish(self) -> list[Grid | Gap]:
        """End of stream: the burst held back for the next block is let go."""
        if self._held is None:
            return []
        t, x = self._held
        self._held = None
        return self._resample(self._spread(t), x)

    def feed(self, block: SampleBlock) -> list[Grid | Gap]:
        if len(block) == 0:
            return []
        t, x = self._good(block)
        return self._resample(t, x) if len(t) else []

    def _good(self, block: SampleBlock) -> tuple[np.ndarray, np.ndarray]:
        """Drop unreadable and repeated samples; refuse backwards time."""
        gyro = block.gyro_dps
        if self.has_gyro is None:
            self.has_gyro = gyro is not None
        elif self.has_gyro and gyro is None:
            # a source that loses its gyro goes on without it (the fusion restarts)
            self.quality.gyro_dropped.add(len(block), block.t[0])
            self.has_gyro = False
            self._prev = None
        t = block.t
        x = np.concatenate((block.accel_g, gyro), axis=1) if self.has_gyro else block.accel_g
        if self._held is not None:
            held_t, held_x = self._held
            t = np.concatenate((held_t, t))
            x = np.concatenate((held_x[:, :x.shape[1]], x))
            self._held = None
        limits = self._limits[:x.shape[1]]
        last = -math.inf if self._stamp_s is None else self._stamp_s
        size = np.abs(x)
        # all three accelerometer axes at exactly zero is no reading either: an MPU-6050
        # asleep after a brown-out reads zeros (and a zero vector has no direction)
        felt = size[:, :3].sum(axis=1)
        if bool((size <= limits).all()) and bool(felt.all()) and t[0] > last and (
                t[-1] < math.inf) and (len(t) == 1 or bool((t[1:] > t[:-1]).all())):
            # the usual block, in one check (NaN fails every comparison): all readable, no
            # shared stamps, so the times stay as they are
            self._held = t[-1:], x[-1:]
            if len(t) > 1:
                self._stamp_s = float(t[-2])
            return t[:-1], x[:-1]
        ok = (size <= limits).all(axis=1) & (felt > 0.0) & np.isfinite(t)
        if not ok.all():
            bad = np.flatnonzero(~ok)
            self.quality.bad_samples.add(len(bad), t[bad[0]] if np.isfinite(t[bad[0]]) else 0.0)
            t, x = t[ok], x[ok]
            if not len(t):
                return t, x
        steps = np.diff(t, prepend=last)
        if steps.min() < 0.0:
            i = int(np.flatnonzero(steps < 0)[0])
            raise SampleError(f"time goes backwards at t={t[i]:.6f} s "
                              f"(after t={t[i - 1] if i else last:.6f} s)")
        repeated = steps == 0.0
        if repeated.any():
            self.quality.repeated_stamps.add(int(np.count_nonzero(repeated)),
                                             t[int(np.flatnonzero(repeated)[0])])
        cut = int(np.searchsorted(t, t[-1], side="left"))
        self._held = t[cut:], x[cut:]
        return self._spread(t[:cut]), x[:cut]

    def _spread(self, t: np.ndarray) -> np.ndarray:
        """Times for samples stamped in bursts: each burst evenly over the interval since
        the stamp before it, its last sample at its stamp."""
        if not len(t):
            return t
        firsts = np.flatnonzero(np.diff(t, prepend=-np.inf) > 0.0)
        sizes = np.diff(firsts, append=len(t))
        before = np.concatenate(([np.nan if self._stamp_s is None else self._stamp_s],
                                 t[firsts[:-1]]))
        spacing = np.where(sizes > 1, (t[firsts] - before) / sizes, 0.0)
        # after a gap (or at the start) the interval says nothing: the last spacing seen
        for i in np.flatnonzero(sizes > 1):
            if np.isfinite(spacing[i]) and spacing[i] <= self.params.gap_s:
                self._spacing_s = float(spacing[i])
            else:
                spacing[i] = self._spacing_s
        self._stamp_s = float(t[-1])
        rank = np.arange(len(t)) - np.repeat(firsts, sizes)
        return t - (np.repeat(sizes, sizes) - 1 - rank) * np.repeat(spacing, sizes)

    def _resample(self, t: np.ndarray, x: np.ndarray) -> list[Grid | Gap]:
        """Grid samples up to the last sample; gaps bridged or restarted."""
        p = self.params
        out: list[Grid | Gap] = []
        if self._prev is None:
            self._origin_s, self._next_k = float(t[0]), 0
        else:
            t = np.concatenate((self._prev[0], t))
            x = np.concatenate((self._prev[1], x))
        self._prev = (t[-1:], x[-1:])
        if t[-1] - t[0] <= p.bridge_gap_s:
            return self._grid(t, x)      # the usual case: too short to hold a long gap
        steps = t[1:] - t[:-1]
        start = 0
        for i in np.flatnonzero(steps > p.bridge_gap_s):
            # grid up to the last sample before the gap, then a fresh grid after it
            out += self._grid(t[start:i + 1], x[start:i + 1])
            out.append(Gap(float(t[i]), float(t[i + 1]), restarted=True))
            self._origin_s, self._next_k = float(t[i + 1]), 0
            start = i + 1
        return out + self._grid(t[start:], x[start:])

    def _grid(self, t: np.ndarray, x: np.ndarray) -> list[Grid | Gap]:
        """Interpolate ``x`` onto the grid times within ``t`` not yet emitted."""
        last_k = int((t[-1] - self._origin_s) / self.period_s + 1e-9)
        if last_k < self._next_k:
            return []
        k = np.arange(self._next_k, last_k + 1)
        self._next_k = last_k + 1
        grid_t = self._origin_s + k * self.period_s
        if len(t) == 1:
            return [Grid(grid_t, np.repeat(x, len(k), axis=0), np.ones(len(k), dtype=bool))]
        # (on arrays this small the methods searchsorted and take cost a third of the
        # functions and fancy indexing, and two ufuncs a quarter of np.clip)
        i = t.searchsorted(grid_t, side="right") - 1
        np.minimum(np.maximum(i, 0, out=i), len(t) - 2, out=i)
        t0, x0 = t[i], x.take(i, axis=0)
        span = t[i + 1] - t0
        frac = (grid_t - t0) / span
        np.minimum(np.maximum(frac, 0.0, out=frac), 1.0, out=frac)
        values = x0 + frac[:, None] * (x.take(i + 1, axis=0) - x0)
        if span.max() <= self.params.gap_s:     # the usual case: no gap bridged
            return [Grid(grid_t, values, np.ones(len(k), dtype=bool))]
        known = span <= self.params.gap_s
        known |= (frac == 0.0) | (frac == 1.0)
        if known.all():
            return [Grid(grid_t, values, known)]
        out: list[Grid | Gap] = []
        cut = 0
        # each bridged gap is reported between the samples before its end and after
        steps = t[1:] - t[:-1]
        for j in np.flatnonzero(steps > self.params.gap_s):
            end = int(np.searchsorted(grid_t, t[j + 1], side="left"))
            if end > cut and not known[end - 1]:
                out.append(Grid(grid_t[cut:end], values[cut:end], known[cut:end]))
                out.append(Gap(float(t[j]), float(t[j + 1]), restarted=False))
                cut = end
        if cut < len(k):
            out.append(Grid(grid_t[cut:], values[cut:], known[cut:]))
        return out
