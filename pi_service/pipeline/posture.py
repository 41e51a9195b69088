"""Standing level and the raise direction, learned from the stream as evidence comes.

Pitch is the angle the foot has turned from standing level about the axis
through the ball of the foot, so two things must be known first, for a sensor
clipped on any way round:

- **Level**: the gravity direction while standing still. The first still
  standing anywhere in the stream sets it (people shift and settle first).
  Until the raise direction is known, a still standing after a disturbance
  (walking, a hop, the sensor being handled) replaces it, so a stream that
  starts on the shelf or mid-walk still finds the floor; after a long gap it is
  taken again. Once the direction is known, a still standing further below level
  than an ankle dorsiflexes shows that "level" was a raised foot, and one far off
  the pitch plane shows the sensor was clipped on anew.
- **The raise axis and its sign**, from physics rather than from "the first
  movement": the ankle plantarflexes 40-60 deg but dorsiflexes only about 20, so
  an excursion from level of more than ``dorsiflex_max_deg`` that comes back is a
  raise, and the side it went to is heel-up. A heel lowered below a step first, a
  heel drop, a toe tap are all smaller. Smaller excursions that agree decide too
  (``weak_votes``). Each later large excursion votes again, and the direction
  flips from then on if the votes turn against it.

The axis of each vote is the cross product of level gravity and the gravity at
the excursion's farthest point, which is heel-up by construction. Everything
happens at particular samples, decided from them and what came before, so the
block partition never matters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .calibration import Calibration
from .gravity import Motion, Standing
from .params import DetectorParams

_DEG = 180.0 / math.pi


@dataclass(frozen=True)
class Reference:
    """What pitch is measured against, from a given sample on.

    Attributes
    ----------
    baseline_g : (3,) array
        Specific force while standing still (sensor axes, g).
    down : (3,) array
        Unit gravity direction at standing level.
    axis : (3,) array or None
        Unit heel-up rotation axis, perpendicular to ``down``; None until known.
    fresh : bool
        The frame of reference moved (a new level, a flipped or new axis):
        movements in progress cannot be finished across it.
    """

    baseline_g: np.ndarray
    down: np.ndarray
    axis: np.ndarray | None
    fresh: bool = True

    def __post_init__(self) -> None:
        up = None if self.axis is None else np.cross(self.axis, self.down)
        object.__setattr__(self, "_up", up)

    def pitch_deg(self, gravity: np.ndarray) -> np.ndarray:
        """Signed heel-up angle (deg) of unit gravity vectors (n, 3) from level."""
        return np.arctan2(gravity.dot(self._up), gravity.dot(self.down)) * _DEG

    def roll_deg(self, gravity: np.ndarray) -> np.ndarray:
        """Angle (deg) of unit gravity vectors (n, 3) out of the pitch plane."""
        return np.arcsin(np.clip(gravity.dot(self.axis), -1.0, 1.0)) * _DEG


def _across(v: np.ndarray, down: np.ndarray) -> np.ndarray:
    """``v`` made perpendicular to ``down`` and unit length."""
    v = v - (v @ down) * down
    return v / np.linalg.norm(v)


def _cross_rows(d: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``d x g`` for each row of ``g`` (np.cross costs more than the arithmetic here)."""
    return np.column_stack((d[1] * g[:, 2] - d[2] * g[:, 1], d[2] * g[:, 0] - d[0] * g[:, 2],
                            d[0] * g[:, 1] - d[1] * g[:, 0]))


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return math.degrees(math.acos(min(1.0, max(-1.0, float(a @ b)))))


class Posture:
    """Follows excursions from level; says when the reference for pitch changes.

    Parameters
    ----------
    params : DetectorParams
    calibration : Calibration, optional
        A known baseline and axis: no standing or raise is needed first.
    """

    def __init__(self, params: DetectorParams, calibration: Calibration | None = None) -> None:
        self.params = params
        self.calibrated = calibration is not None
        self.reference: Reference | None = None
        if calibration is not None:
            base = np.asarray(calibration.baseline_g, dtype=float)
            down = base / np.linalg.norm(base)
            self.reference = Reference(base, down, _across(
                np.asarray(calibration.raise_axis, dtype=float), down))
        self.stood = calibration is not None      # a still standing has been found
        self._jolts = 0             # impacts since the last standing (before a decision)
        self._flew = False          # free fall since then
        self._after_gap = False
        self._far_cos = 1.0         # cosine of the excursion's farthest tilt from level
        self._far_cross: np.ndarray | None = None   # level x gravity there (heel-up axis)
        self._flew = False          # free fall during the excursion
        self._knocked = False       # an impact during it, or as it came back
        self._out_s = -math.inf     # when it left level
        self._flown = False         # free fall since the last standing
        self._last_impact = False
        self._cos_weak = math.cos(math.radians(params.weak_vote_deg))
        self._cos_strong = math.cos(math.radians(params.dorsiflex_max_deg))
        self._cos_return = math.cos(math.radians(params.return_deg))
        self._votes: list[np.ndarray] = []          # small excursions, before a decision
        self._tally = np.zeros(3)                   # large excursions since the decision
        self._since = 0                             # how many
        if calibration is not None:     # the person's own raises decided it: settled
            self._tally, self._since = self.reference.axis.copy(), params.settled_votes
        self._lean = np.zeros(3)                    # sum |c| c over excursions (forced call)

    @property
    def decided(self) -> bool:
        return self.reference is not None and self.reference.axis is not None

    def restart(self) -> None:
        """After a long gap: the excursion is lost and the next standing re-takes level."""
        self._far_cross = None
        self._after_gap = True

    def force(self) -> Reference | None:
        """No decisive excursion yet: decide from what the excursions leaned towards."""
        if self.decided or self.reference is None:
            return None
        lean = self._lean - (self._lean @ self.reference.down) * self.reference.down
        if np.linalg.norm(lean) < 1e-3:     # barely moved: nothing to decide on
            return None
        return self._decide(lean)

    def update(self, m: Motion, held: Sequence[Motion] = ()) -> list[tuple[int, Reference]]:
        """Scan a piece; returns ``(index, reference)`` for each change, in order.

        ``held`` are the pieces before it that waited for a level: if this piece
        brings the first one, the movements in them vote now.
        """
        changes: list[tuple[int, Reference]] = []
        lo = 0
        for standing in (*m.standings, None):
            hi = len(m.t) if standing is None else standing.index + 1
            if self.reference is not None and hi > lo:
                self._excursions(m, lo, hi, changes)
            if standing is not None:
                first = self.reference is None
                self._standing(standing, changes)
                if first and self.reference is not None:
                    self._recall(held, m, hi, changes)
            lo = hi
        if not self.decided:
            onsets = np.diff(m.impact.astype(np.int8), prepend=np.int8(self._last_impact)) > 0
            self._jolts += int(np.count_nonzero(onsets & m.known))
            self._flown |= bool(np.any(m.flight & m.known))
        self._last_impact = bool(m.impact[-1])
        return changes

    # -- excursions -------------------------------------------------------------------------

    def _excursions(self, m: Motion, lo: int, hi: int, changes: list) -> None:
        """Follow the tilt from level out to its farthest point and back; a return votes.

        Tilts are compared as cosines (gravity . level), so the common case, a
        foot near level or a known direction with no large excursion, costs one
        dot product per sample.
        """
        d = self.reference.down
        g = m.gravity_live[lo:hi]
        cos = g.dot(d)
        vote_cos = self._cos_strong if self.decided else self._cos_weak
        out = cos <= vote_cos
        away = bool(out.any())
        if not self.decided and away:
            c = _cross_rows(d, g[out])
            size = np.sqrt((c * c).sum(axis=1))
            self._lean += (size[:, None] * c).sum(axis=0)
        if self._far_cross is None and not away:
            return
        flight, impact = m.flight[lo:hi], m.impact[lo:hi]
        j = 0
        while j < len(cos):
            if self._far_cross is None:
                away = np.flatnonzero(out[j:])
                if len(away) == 0:
                    return
                j += int(away[0])
                self._far_cos, self._flew, self._knocked = 1.0, False, False
                self._out_s = float(m.t[lo + j])
                self._far_cross = _cross_rows(d, g[j:j + 1])[0]
            back = np.flatnonzero(cos[j:] >= self._cos_return)
            stop = len(cos) if len(back) == 0 else j + int(back[0])
            if stop > j:
                k = j + int(np.argmin(cos[j:stop]))
                if cos[k] < self._far_cos:
                    self._far_cos, self._far_cross = float(cos[k]), _cross_rows(d, g[k:k + 1])[0]
                self._flew = self._flew or bool(flight[j:stop].any())
                self._knocked = self._knocked or bool(impact[j:stop + 1].any())
            if len(back) == 0:
                return
            # free fall is a hop or a run: no evidence of anything. Impacts are not:
            # a knock at the top, the heel landing, even walking's heel strikes leave the
            # far side of a large excursion where it was; but a small one with a jolt in
            # it may be a heel strike's toes-up, and a quick small one a toe tap: those
            # do not vote
            strong = self._far_cos <= self._cos_strong
            weak = not self._knocked and \
                float(m.t[lo + min(stop, len(cos) - 1)]) - self._out_s >= self.params.weak_vote_s
            if not self._flew and (strong or weak):
                self._vote(lo + stop, self._far_cross, strong, changes)
            self._far_cross = None
            j = stop + 1

    def _recall(self, held: Sequence[Motion], m: Motion, hi: int, changes: list) -> None:
        """The first level is known: the excursions that came before it vote now.

        A stream may start mid-set, the foot never still for a second until the set
        ends; its raises are as good evidence of the direction as later ones, and
        what waited with them is measured once the direction is known.
        """
        found: list = []
        for piece in held:
            self._excursions(piece, 0, len(piece.t), found)
        self._excursions(m, 0, hi, found)
        self._far_cross = None      # still out when the standing began: it was not
        if found:
            changes.append((hi - 1, self.reference))

    # -- decisions --------------------------------------------------------------------------

    def _standing(self, s: Standing, changes: list) -> None:
        """A still second: level (the first, or a better one), or a check of the reference."""
        p = self.params
        size = float(np.linalg.norm(s.accel_g))
        if s.spread_g > p.still_accel_std_g or not (
                p.gravity_range_g[0] <= size <= p.gravity_range_g[1]):
            return
        down = s.accel_g / size
        ref = self.reference
        # walking, hops, the sensor handled: more than a knock or a heel landing
        disturbed = self._flown or self._jolts > self.params.knocks_max
        if ref is None or self._after_gap or (not self.decided and disturbed):
            axis = None
            if ref is not None and ref.axis is not None and \
                    _angle_deg(down, ref.down) <= p.dorsiflex_max_deg:
                axis = _across(ref.axis, down)     # the same mounting, after a gap
            self._set(s.index, Reference(s.accel_g, down, axis), changes)
        elif self.decided:
            roll = math.degrees(math.asin(min(1.0, abs(float(down @ ref.axis)))))
            pitch = float(ref.pitch_deg(down[None, :])[0])
            if roll > p.roll_max_deg or _angle_deg(down, ref.down) > p.max_raise_deg:
                # clipped on anew: learn it all again from here
                self._tally[:] = 0.0
                self._set(s.index, Reference(s.accel_g, down, None), changes)
            elif not self.calibrated and pitch < -p.dorsiflex_max_deg:
                # no foot dorsiflexes this far: that "level" was a raised foot
                self._set(s.index, Reference(s.accel_g, down, _across(ref.axis, down)),
                          changes)
        self.stood = True
        self._after_gap = False
        self._jolts, self._flown = 0, False

    def _set(self, j: int, ref: Reference, changes: list) -> None:
        """A new level: the excursion under way and the evidence for the old one go."""
        if ref.axis is None:
            self._votes, self._lean = [], np.zeros(3)
        self._far_cross = None
        self.reference = ref
        changes.append((j, ref))

    def _vote(self, j: int, cross: np.ndarray, strong: bool, changes: list) -> None:
        """An excursion came back at sample ``j``; its far side was heel-up."""
        ref = self.reference
        vote = _across(cross, ref.down)
        if not self.decided:
            if strong:
                changes.append((j, self._decide(vote)))
                return
            if self._votes and float(vote @ self._votes[0]) < 0.0:
                self._votes = []        # disagreeing small excursions: start counting again
            self._votes.append(vote)
            if len(self._votes) >= self.params.weak_votes:
                changes.append((j, self._decide(np.sum(self._votes, axis=0))))
            return
        if not strong:
            return
        self._since += 1
        if self._since > self.params.settled_votes and \
                _angle_deg(vote, ref.axis) > self.params.foreign_vote_deg:
            vote = float(vote @ ref.axis) * ref.axis     # its side only
        self._tally += vote
        axis = _across(self._tally, ref.down)
        if float(self._tally @ ref.axis) < 0.0:
            # more large excursions now went the other way: that side is heel-up
            self.reference = Reference(ref.baseline_g, ref.down, axis)
            self._tally = axis.copy()
            changes.append((j, self.reference))
        elif _angle_deg(axis, ref.axis) > self.params.refine_axis_deg:
            # the same way, a little truer: a refinement, not a new frame
            self.reference = Reference(ref.baseline_g, ref.down, axis, fresh=False)
            changes.append((j, self.reference))

    def _decide(self, axis: np.ndarray) -> Reference:
        ref = self.reference
        self.reference = Reference(ref.baseline_g, ref.down, _across(axis, ref.down))
        self._tally = self.reference.axis.copy()
        self._since = 0
        self._votes = []
        return self.reference
