"""Heel-up angle from the gravity direction, for a sensor mounted any way round.

The foot pitches about a horizontal axis through the ball of the foot, so the
gravity vector the sensor sees turns in one plane. Standing still gives that
plane's "level" direction; the first clear movement from standing is a raise
and gives the direction "heel up" turns it. Pitch is the signed angle within
that plane, so a heel drop below level is negative, and sideways roll (balance
sway on one leg) barely shows. Everything here depends only on the samples and
their times, never on how they were cut into blocks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from ..samples import SampleBlock
from .calibration import DEFAULT_LEVER_CM, Calibration, CalibrationError, prior_peak_deg
from .filter import StreamingLowPass

log = logging.getLogger(__name__)

STILL_S = 1.0            # standing still needed at the start to self-calibrate
STILL_STD_G = 0.02       # per-axis spread allowed while "still" (sensor noise is ~3 mg)
LOUD_G = 0.3             # |a| this far from 1 g: stepping, walking, impacts — not a raise
AXIS_FRACTION = 0.4      # the first movement past this share of a typical raise fixes the sign
QUIET_BEFORE_AXIS_S = 1.0
NO_STILL_START = "no still standing at the start (need ~1 s without movement)"
_DEG = 180.0 / np.pi
_ONES = np.ones(3)


class PitchTracker:
    """Turns raw accelerometer blocks into filtered pitch, block-size invariant.

    It buffers the first second to estimate the sample rate (and, without a
    calibration, the standing baseline), then streams. ``feed`` returns
    ``(t, pitch_deg, loud, gravity_g)`` for the samples it could process.
    """

    def __init__(self, calibration: Calibration | None = None) -> None:
        self._given = calibration
        self._startup: list[SampleBlock] = []
        self.lowpass: StreamingLowPass | None = None
        self.rate_hz: float | None = None
        self.baseline_g: np.ndarray | None = None
        self._down: np.ndarray | None = None       # unit baseline gravity
        self._plane: np.ndarray | None = None      # (3, 2): [heel-up direction, down]
        self._loud_mid = 1.0      # |a|² band outside which a sample is loud: mid ± half
        self._loud_half = np.inf
        self._axis_tilt_deg = 0.0
        self._last_loud_t = -np.inf
        self._waiting: list[tuple[np.ndarray, ...]] = []   # samples before the axis is known

    @property
    def raise_axis(self) -> np.ndarray | None:
        """Unit axis the foot pitches about (sensor axes), once known."""
        if self._plane is None:
            return None
        return np.cross(self._down, self._plane[:, 0])

    def feed(self, block: SampleBlock) -> tuple[np.ndarray, ...] | None:
        if self.lowpass is None:
            self._startup.append(block)
            t0 = self._startup[0].t[0]
            if block.t[-1] - t0 < STILL_S:
                return None
            block = SampleBlock.concat(self._startup)
            self._startup = []
            self._start(block)
        return self._process(block.t, block.accel_g)

    def flush(self) -> tuple[np.ndarray, ...] | None:
        """At the end of a stream shorter than the start-up window.

        Samples still waiting for a raise axis are dropped: without a raise
        there is nothing in them to report.
        """
        if self.lowpass is not None or not self._startup:
            return None
        block = SampleBlock.concat(self._startup)
        self._startup = []
        if self._given is None or len(block) < 2:
            raise CalibrationError(NO_STILL_START)
        self._start(block)
        return self._process(block.t, block.accel_g)

    def _start(self, block: SampleBlock) -> None:
        """Estimate the rate and baseline from the first second of samples."""
        end = int(np.searchsorted(block.t, block.t[0] + STILL_S, side="left")) + 1
        t, accel = block.t[:end], block.accel_g[:end]
        if len(t) < 2:
            raise CalibrationError(NO_STILL_START)
        self.rate_hz = float(1.0 / np.median(np.diff(t)))
        self.lowpass = StreamingLowPass(self.rate_hz)
        if self._given is not None:
            base = np.asarray(self._given.baseline_g)
        else:
            if np.max(np.std(accel, axis=0)) > STILL_STD_G:
                raise CalibrationError(NO_STILL_START)
            base = accel.mean(axis=0)
        self.baseline_g = base
        g0 = float(np.linalg.norm(base))
        self._down = base / g0
        lo, hi = (g0 - LOUD_G) ** 2, (g0 + LOUD_G) ** 2
        self._loud_mid, self._loud_half = 0.5 * (hi + lo), 0.5 * (hi - lo)
        if self._given is not None:
            self._set_axis(np.asarray(self._given.raise_axis))
        prior = (self._given.prior_peak_deg if self._given is not None
                 else prior_peak_deg(DEFAULT_LEVER_CM))
        self._axis_tilt_deg = AXIS_FRACTION * prior
        log.debug("calibrated: rate %.1f Hz, baseline %s", self.rate_hz, base)

    def _set_axis(self, axis: np.ndarray) -> None:
        """Fix the pitch plane from a raise axis (any length, any tilt off horizontal)."""
        down = self._down
        axis = axis - (axis @ down) * down
        axis = axis / np.linalg.norm(axis)
        up_dir = np.cross(axis, down)
        self._plane = np.column_stack([up_dir / np.linalg.norm(up_dir), down])

    def refine_axis(self, gravity_g: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """Re-fit the axis to a whole raise: the direction least present in its gravity vectors.

        The first estimate comes from one sample, so balance sway can tilt it; over a
        full raise the pitch plane dominates the spread of the gravity vectors.
        Returns the gravity-to-pitch function to use from now on.
        """
        unit = gravity_g / np.linalg.norm(gravity_g, axis=1, keepdims=True)
        _, vectors = np.linalg.eigh(unit.T @ unit)
        axis = vectors[:, 0]
        current = self.raise_axis
        if axis @ current < 0:
            axis = -axis
        self._set_axis(axis)
        return self._pitch_deg

    def _pitch_deg(self, gravity: np.ndarray) -> np.ndarray:
        r = gravity @ self._plane
        return np.arctan2(r[:, 0], r[:, 1]) * _DEG

    def _process(self, t: np.ndarray, accel: np.ndarray) -> tuple[np.ndarray, ...] | None:
        gravity = self.lowpass(t, accel)
        sq = (accel * accel) @ _ONES
        loud = np.abs(sq - self._loud_mid) > self._loud_half
        if self._plane is None:
            self._waiting.append((t, gravity, loud))
            if not self._find_axis(t, gravity, loud):
                return None
            t, gravity, loud = (np.concatenate(parts) for parts in zip(*self._waiting,
                                                                       strict=True))
            self._waiting = []
        return t, self._pitch_deg(gravity), loud, gravity

    def _find_axis(self, t: np.ndarray, gravity: np.ndarray, loud: np.ndarray) -> bool:
        """Look for the first quiet, clear movement; it is a raise and fixes the pitch plane.

        Samples wait until then: before the raise direction is known only an unsigned
        tilt exists, and sideways balance sway would pass for pitch.
        """
        down = self._down
        across = gravity - (gravity @ down)[:, None] * down
        tilt = np.arctan2(np.linalg.norm(across, axis=1), gravity @ down) * _DEG
        last_loud = np.maximum.accumulate(np.where(loud, t, self._last_loud_t))
        self._last_loud_t = float(last_loud[-1])
        hits = np.flatnonzero((tilt >= self._axis_tilt_deg)
                              & (t - last_loud >= QUIET_BEFORE_AXIS_S))
        if len(hits) == 0:
            return False
        j = int(hits[0])
        self._set_axis(np.cross(down, across[j]))
        log.debug("raise axis from the movement at %.2f s", t[j])
        return True
