"""Where gravity points in the sensor's axes, sample by sample, and what jolted the foot.

Pitch is read off the gravity direction, so this is where the sensor's own
motion has to be kept out. With a gyro (both supported chips have one) the
accelerometer and gyro are fused by an AHRS (x-io's Fusion, ``imufusion``): a
quick raise turns the foot at up to 260 deg/s while its own acceleration swings
|a| between 0.6 and 1.25 g, which the accelerometer alone reads as 15 deg of
extra pitch; the gyro does not care. Without a gyro a causal low-pass of the
accelerometer has to do.

A gyro is only worth fusing once its bias is known: an MPU-6050 starts up to
20 deg/s off, which the AHRS would turn into tens of degrees of tilt. So until
the first still standing the accelerometer alone is used; at every still
standing the gyro's mean is its new bias, and the AHRS starts (or carries on)
from there. Stillness is decided here, once, from the low-passed accelerometer,
for everything downstream.

Impacts (heel strikes, a heel landing, the shoe knocking the step) ring: the
acceleration swings back and forth for several hundredths of a second, so its
second difference between grid samples is large, again and again. A quick
raise turns gravity through 50 deg in 0.3 s, which a high-pass at a few hertz
would take for a jolt, but it bends smoothly, and even a raise that starts
abruptly (the force stepping up) gives one swing of the second difference, not
a ringing train of them. Free fall is |a| near 0 for a
while, which no raise has and every hop and running stride does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import imufusion
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .condition import Grid
from .filter import StreamingLowPass
from .params import DetectorParams

_DEG = 180.0 / math.pi
RING_SAMPLES = 7    # a jolt rings within this many grid samples (70 ms at 100 Hz)
GLITCH_SAMPLES = 5  # a reading is held to the median of the last this many (50 ms)


@dataclass(frozen=True)
class Standing:
    """A still second (``still_s``) ending at grid index ``index``, and what it measured."""

    index: int
    accel_g: np.ndarray           # mean specific force (sensor axes, g)
    spread_g: float               # largest per-axis standard deviation of the raw samples
    gyro_dps: np.ndarray | None   # mean gyro reading: its bias


@dataclass(frozen=True)
class Motion:
    """Per-sample gravity estimates and jolts for a piece of the grid.

    Attributes
    ----------
    t, known : (n,) arrays
        Grid times (s) and whether each sample was measured (not bridged).
    gravity_live : (n, 3) array
        Unit gravity direction after the causal low-pass (lagged ``delay_s``), for
        decisions made as samples arrive.
    gravity_fit : (n, 3) array
        Unit gravity direction before the low-pass, for fitting one finished
        movement's boundaries with a zero-phase filter.
    impact, flight : (n,) bool arrays
        A jolt at this sample; in free fall for at least ``flight_s``.
    still_for : (n,) array
        How long the foot has been still at each sample (s; 0 while moving).
    fused : (n,) bool array
        The gyro was fused at this sample (the pitch holds through quick movements).
    standings : tuple of Standing
        Where in this piece a still second completed.
    """

    t: np.ndarray
    known: np.ndarray
    gravity_live: np.ndarray
    gravity_fit: np.ndarray
    impact: np.ndarray
    flight: np.ndarray
    still_for: np.ndarray
    fused: np.ndarray
    standings: tuple[Standing, ...] = ()


def _square(v: np.ndarray) -> np.ndarray:
    """Squared length of each row (n, 3)."""
    return (v * v).sum(axis=1)


def _norm(v: np.ndarray) -> np.ndarray:
    return np.sqrt(_square(v))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / _norm(v)[:, None]


def _level_quaternion(up: np.ndarray) -> np.ndarray:
    """The orientation (w, x, y, z) that sees gravity along ``up`` (sensor axes)."""
    u = up / np.linalg.norm(up)
    axis = np.array([u[1], -u[0], 0.0])       # u × z
    s = float(np.linalg.norm(axis))
    if s < 1e-9:
        return np.array([1.0, 0, 0, 0]) if u[2] > 0 else np.array([0.0, 1, 0, 0])
    half = 0.5 * math.atan2(s, u[2])
    return np.concatenate(([math.cos(half)], math.sin(half) * axis / s))


class GravityEstimator:
    """Turns grid pieces into :class:`Motion`; state carries across calls.

    Parameters
    ----------
    params : DetectorParams
    has_gyro : bool
        Fuse the gyro (AHRS) once its bias is known, or low-pass the accelerometer.
    """

    def __init__(self, params: DetectorParams, has_gyro: bool) -> None:
        self.params = params
        self.has_gyro = has_gyro
        self._accel_lp = StreamingLowPass(params.rate_hz, params.cutoff_hz)
        self._gravity_lp = StreamingLowPass(params.rate_hz, params.cutoff_hz)
        self.delay_s = self._gravity_lp.delay_s
        self._lag = max(1, round(params.velocity_lag_s * params.rate_hz))
        self._window_n = max(2, round(params.still_s * params.rate_hz))
        self._ring_levels = np.array([params.impact_g ** 2, 0.25 * params.impact_g ** 2])
        # a turn of gravity faster than still_rate_dps, as the squared chord over the lag
        self._moving_g2 = (math.radians(params.still_rate_dps) * self._lag / params.rate_hz) ** 2
        self._ahrs: imufusion.Ahrs | None = None
        self._bias: imufusion.Bias | None = None
        if has_gyro:
            settings = imufusion.AhrsSettings()
            settings.convention = imufusion.CONVENTION_NWU
            settings.gain = params.fusion_gain
            settings.gyroscope_range = params.gyro_limit_dps
            settings.acceleration_rejection = params.fusion_rejection_deg
            settings.rejection_timeout = params.fusion_rejection_timeout_s
            settings.sample_rate = params.rate_hz
            self._ahrs = imufusion.Ahrs()
            self._ahrs.set_settings(settings)
            bias = imufusion.BiasSettings()
            bias.sample_rate = params.rate_hz
            self._bias = imufusion.Bias()
            self._bias.set_settings(bias)
        self._fusing = False     # the gyro's bias is known and the AHRS running
        self.restart()

    def restart(self) -> None:
        """After a long gap: filters, stillness and orientation start from the next sample."""
        self._accel_lp.restart()
        self._gravity_lp.restart()
        self._above_s = -math.inf      # last time |a| was above the free-fall level
        self._busy_s = -math.inf       # last time the foot was not still
        self._still_before = 0.0       # how long it had been still at the last sample
        self._tail: np.ndarray | None = None     # last low-passed samples (for rates)
        self._last: np.ndarray | None = None     # last raw samples (for impacts)
        self._window: np.ndarray | None = None   # last still_s of raw samples
        self._fusing = False

    def __call__(self, grid: Grid) -> Motion:
        p = self.params
        a, t = grid.accel_g, grid.t
        kept = RING_SAMPLES + 1
        ext = np.concatenate((np.repeat(a[:1], kept, axis=0) if self._last is None
                              else self._last, a))
        self._last = ext[-kept:]
        impact = self._impacts(ext)
        smooth = self._accel_lp(self._deglitch(ext))
        size = _norm(a)
        if size.min() >= p.flight_g:        # the usual block: no free fall in it
            self._above_s, flight = float(t[-1]), np.zeros(len(t), dtype=bool)
        else:
            above = np.maximum.accumulate(np.where(size >= p.flight_g, t, self._above_s))
            self._above_s = float(above[-1])
            flight = t - above >= p.flight_s
        still_for = self._still_for(t, smooth, impact | flight | ~grid.known)
        standings = self._standings(grid, still_for)
        fused = np.zeros(len(t), dtype=bool)
        raw = a / size[:, None]
        if self._ahrs is None:
            live = _unit(smooth)
        else:
            self._fuse(grid.gyro_dps, a, smooth, standings, raw, fused)
            live = _unit(self._gravity_lp(raw))
        return Motion(t, grid.known, live, raw, impact, flight, still_for, fused, standings)

    def _deglitch(self, ext: np.ndarray) -> np.ndarray:
        """The block's samples (the last of ``ext``), each one over ``glitch_g`` from the
        median of the last ``GLITCH_SAMPLES`` up to it replaced by that median.

        One reading can be absurd while in range (a corrupted frame, a logger's bad
        value: 8 g on one axis), and without a gyro the low-pass spreads it into a bump
        the size of a raise: a false rep, or the raise direction voted wrong. No raise
        moves the foot's acceleration that far from the last 50 ms in one sample (a
        quick raise stopping dead steps it by about 1 g); a heel strike's peak does, and
        is no gravity either. Looking only back, it delays nothing. Impacts are told
        from the samples as they came.
        """
        n = len(ext) - RING_SAMPLES - 1
        x, recent = ext[-n:], ext[-(n + GLITCH_SAMPLES - 1):]
        box = recent.max(axis=0) - recent.min(axis=0)
        limit = self.params.glitch_g ** 2
        if float(box @ box) <= limit:
            return x    # the usual block: no sample that far from any other
        median = np.median(sliding_window_view(recent, GLITCH_SAMPLES, axis=0), axis=-1)
        return np.where((_square(x - median) > limit)[:, None], median, x)

    def _impacts(self, ext: np.ndarray) -> np.ndarray:
        """Samples that end an impact, from the block's raw samples (g) with the last
        ``RING_SAMPLES`` + 1 before it in front.

        A jolt is a ringing one: of the last ``RING_SAMPLES`` second differences
        (squared, g^2) one exceeds ``impact_g`` and at least three half of it. It is an
        impact while the foot still moves after it (a change over ``impact_still_g``),
        or if it turned back: two of its changes of ``impact_g`` or more go opposite
        ways (over 120 deg apart), as a heel strike, a landing or a knock does. A
        movement stopping dead (a quick raise topping out) changes the acceleration
        once, to a new level, and the foot is still from then on: a step, which
        resampling onto the grid spreads over a few second differences, and no impact.
        """
        n = RING_SAMPLES
        swings = _square(ext[2:] - 2.0 * ext[1:-1] + ext[:-2])
        if swings.max() <= self._ring_levels[0]:
            return np.zeros(len(ext) - n - 1, dtype=bool)     # the usual block: no jolt
        # how many of each window's differences pass each level, from running counts
        counts = np.cumsum(swings[:, None] > self._ring_levels, axis=0)
        counts = np.concatenate((counts[n - 1:n], counts[n:] - counts[:-n]))
        impact = (counts[:, 0] >= 1) & (counts[:, 1] >= 3)   # row j: block sample j
        changes = np.diff(ext, axis=0)
        rows = np.flatnonzero(impact & (_square(changes[n:]) <= self.params.impact_still_g ** 2))
        if len(rows):
            # the foot is still again: did the jolt turn back? (each window's n + 1
            # changes, of which its n second differences are made)
            window = sliding_window_view(changes, n + 1, axis=0)[rows].transpose(0, 2, 1)
            size = np.sqrt(_square(window.reshape(-1, 3))).reshape(len(rows), n + 1)
            sharp = size >= self.params.impact_g
            dots = np.einsum("kid,kjd->kij", window, window)
            turned = ((dots < -0.5 * size[:, :, None] * size[:, None, :])
                      & sharp[:, :, None] & sharp[:, None, :]).any(axis=(1, 2))
            impact[rows[~turned]] = False
        return impact

    def _still_for(self, t: np.ndarray, smooth: np.ndarray, jolted: np.ndarray) -> np.ndarray:
        """Seconds the foot has been still at each sample: the gravity direction not turning.

        The turn is measured as the change of the low-passed acceleration over
        ``velocity_lag_s``, in g: at rest that is 1 g long, so the chord is the angle.
        """
        k = self._lag
        if self._busy_s == -math.inf:     # before the stream counts as moving
            self._busy_s = float(t[0]) - 1.0 / self.params.rate_hz
        ext = smooth if self._tail is None else np.concatenate((self._tail, smooth))
        pad = len(ext) - len(smooth)
        if pad < k:
            ext = np.concatenate((np.repeat(ext[:1], k - pad, axis=0), ext))
        self._tail = ext[-k:]
        d = ext[k:] - ext[:-k]
        moving = _square(d) >= self._moving_g2
        moving |= jolted
        busy = np.maximum.accumulate(np.where(moving, t, self._busy_s))
        self._busy_s = float(busy[-1])
        return t - busy

    def _standings(self, grid: Grid, still_for: np.ndarray) -> tuple[Standing, ...]:
        """Each still second completed in this piece, with its mean and spread."""
        samples = grid.samples
        recent = samples if self._window is None else np.concatenate((self._window, samples))
        offset = len(recent) - len(samples)
        self._window = recent[-self._window_n:]
        s = self.params.still_s
        still_before, self._still_before = self._still_before, float(still_for[-1])
        if still_for.max() < s or (still_before >= s and still_for.min() >= s):
            return ()       # the usual block: moving, or still all along
        before = np.concatenate(([still_before], still_for[:-1]))
        crossed = np.flatnonzero((still_for >= s) & (before < s))
        out = []
        for j in crossed:
            window = recent[offset + j + 1 - self._window_n: offset + j + 1]
            if len(window) < self._window_n:
                continue
            gyro = window[:, 3:].mean(axis=0) if window.shape[1] == 6 else None
            out.append(Standing(int(j), window[:, :3].mean(axis=0),
                                float(np.max(np.std(window[:, :3], axis=0))), gyro))
        return tuple(out)

    def _fuse(self, gyro: np.ndarray, accel: np.ndarray, smooth: np.ndarray,
              standings: tuple[Standing, ...], out: np.ndarray, fused: np.ndarray) -> None:
        """AHRS gravity from the first still standing on, into ``out`` (which holds the
        accelerometer's direction, kept before it).

        ``fused`` is set where the AHRS gave the gravity.
        """
        ahrs, bias = self._ahrs, self._bias
        starts = [(s.index, s.gyro_dps) for s in standings]
        lo = 0
        for j, offset in [*starts, (len(accel), None)]:
            if self._fusing:
                fused[lo:j] = True
                update, debias, gravity = ahrs.update_no_magnetometer, bias.update, ahrs.get_gravity
                for i in range(lo, j):
                    update(debias(gyro[i]), accel[i])
                    out[i] = gravity()
            if offset is None:
                break
            bias.set_offset(offset)
            if not self._fusing:
                ahrs.set_quaternion(_level_quaternion(smooth[j]))
                self._fusing = True
            lo = j
