"""Heel-up angle from the gravity direction, for a sensor mounted any way round.

The foot pitches about a horizontal axis through the ball of the foot, so the
gravity vector the sensor sees turns in one plane; pitch is the signed angle
in that plane from standing level (:mod:`.posture` learns both), so a heel drop
below level is negative and sideways roll barely shows.

Until the raise direction is known nothing can be said about a movement, so
samples wait here, at most ``max_pending_s`` of them: when the direction is
decided they all go on, measured against it, and the first reps are reported
late rather than wrong. If nothing decides it in that time the best evidence
does, or, when the foot barely moved, the oldest samples are let go (they held
no raise), so memory stays bounded on a shelf all day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from ..samples import SampleBlock
from .calibration import Calibration
from .condition import Conditioner, Grid
from .events import Gap
from .gravity import GravityEstimator, Motion
from .params import DetectorParams
from .posture import Posture, Reference


@dataclass(frozen=True)
class Frame:
    """Pitch samples measured against one reference.

    Attributes
    ----------
    t, known : (n,) arrays
        Grid times (s) and whether each sample was measured.
    pitch_deg : (n,) array
        Heel-up angle from level after the causal low-pass (live decisions).
    fit_deg : (n,) array
        The same before the low-pass (boundary fits).
    impact, flight, fused : (n,) bool arrays
        Jolts, and where the gyro was fused (see :class:`.gravity.Motion`).
    fresh : bool
        The reference changed at the first sample: nothing before it compares.
    roll_deg : (n,) array, optional
        How far the foot is tilted out of the pitch plane (deg, before the low-pass):
        a heel raise turns about the ball of the foot and keeps it small. None: level.
    """

    t: np.ndarray
    known: np.ndarray
    pitch_deg: np.ndarray
    fit_deg: np.ndarray
    impact: np.ndarray
    flight: np.ndarray
    fused: np.ndarray
    fresh: bool
    roll_deg: np.ndarray | None = None


_ARRAYS = [f.name for f in fields(Motion) if f.name != "standings"]


def _cut(m: Motion, lo: int, hi: int) -> Motion:
    if lo == 0 and hi == len(m.t):
        return m        # the usual piece: all of it, no new views
    return Motion(*(getattr(m, name)[lo:hi] for name in _ARRAYS))


def _join(parts: list[Motion]) -> Motion:
    if len(parts) == 1:
        return parts[0]
    return Motion(*(np.concatenate([getattr(m, name) for m in parts]) for name in _ARRAYS))


class PitchTracker:
    """Sample blocks in; :class:`Frame` and :class:`~.events.Gap` items out.

    Parameters
    ----------
    params : DetectorParams
    calibration : Calibration, optional
        Known level and axis: pitch flows from the first sample.
    """

    def __init__(self, params: DetectorParams, calibration: Calibration | None = None) -> None:
        self.params = params
        self.conditioner = Conditioner(params)
        self.posture = Posture(params, calibration)
        self._gravity: GravityEstimator | None = None
        self._pending: list[Motion] = []
        self._pending_n = 0
        self._reference: Reference | None = self.posture.reference
        self._fresh = True          # the next frame starts a new frame of reference

    @property
    def reference(self) -> Reference | None:
        return self._reference

    @property
    def delay_s(self) -> float:
        return 0.0 if self._gravity is None else self._gravity.delay_s

    @property
    def fused(self) -> bool:
        """Whether a gyro is being fused (None until the first sample)."""
        return self._gravity is not None and self._gravity.has_gyro

    def feed(self, block: SampleBlock) -> list[Frame | Gap]:
        return self._items(self.conditioner.feed(block))

    def finish(self) -> list[Frame | Gap]:
        """End of stream: the last samples, then a decision from what there is."""
        out = self._items(self.conditioner.finish())
        if self._pending:
            ref = self.posture.force()
            if ref is not None:
                out += self._release(ref)
            self._pending, self._pending_n = [], 0
        return out

    def _items(self, items: list[Grid | Gap]) -> list[Frame | Gap]:
        out: list[Frame | Gap] = []
        for item in items:
            if isinstance(item, Gap):
                if item.restarted and self._gravity is not None:
                    self._gravity.restart()
                    self.posture.restart()
                out.append(item)
            else:
                out += self._grid(item)
        return out

    def _grid(self, grid: Grid) -> list[Frame]:
        if self._gravity is None or self._gravity.has_gyro != (grid.gyro_dps is not None):
            self._gravity = GravityEstimator(self.params, grid.gyro_dps is not None)
        motion = self._gravity(grid)
        changes = self.posture.update(motion, self._pending if self._reference is None else ())
        out: list[Frame] = []
        lo = 0
        for j, ref in [*changes, (len(motion.t), None)]:
            if j > lo:
                out += self._measure(_cut(motion, lo, j))
            if ref is None:
                break
            waiting = self._reference is None or self._reference.axis is None
            if ref.axis is not None:
                if waiting and self._pending:
                    out += self._release(ref)     # and the samples after follow on from it
                elif waiting or ref.fresh:
                    self._fresh = True
            elif waiting and self._reference is not None and float(
                    ref.down @ self._reference.down) < math.cos(math.radians(
                        self.params.return_deg)):
                # a new level before any direction: what waited, measured against the old
                # one (the sensor on the shelf, say), is let go
                self._drop_before(float(motion.t[j]) - self.params.still_s
                                  - self.params.lookback_s)
            self._reference = ref
            lo = j
        return out

    def _measure(self, m: Motion) -> list[Frame]:
        """Pitch for samples with a known direction; the others wait."""
        ref = self._reference
        if ref is not None and ref.axis is not None:
            fresh, self._fresh = self._fresh, False
            return [self._frame(m, ref, fresh)]
        self._pending.append(m)
        self._pending_n += len(m.t)
        if self._pending_n <= self.params.max_pending_s * self.params.rate_hz:
            return []
        forced = self.posture.force()
        if forced is not None:
            return self._release(forced)
        self._drop_before(float(m.t[-1]) - self.params.lookback_s)
        return []

    def _release(self, ref: Reference) -> list[Frame]:
        """The direction is known: everything that waited, measured against it."""
        m = _join(self._pending)
        self._pending, self._pending_n = [], 0
        self._reference, self._fresh = ref, False
        return [self._frame(m, ref, True)]

    def _drop_before(self, t_s: float) -> None:
        keep = []
        for m in self._pending:
            if m.t[-1] >= t_s:
                keep.append(_cut(m, int(np.searchsorted(m.t, t_s)), len(m.t)))
        self._pending = keep
        self._pending_n = sum(len(m.t) for m in keep)

    @staticmethod
    def _frame(m: Motion, ref: Reference, fresh: bool) -> Frame:
        return Frame(m.t, m.known, ref.pitch_deg(m.gravity_live), ref.pitch_deg(m.gravity_fit),
                     m.impact, m.flight, m.fused, fresh, ref.roll_deg(m.gravity_fit))
