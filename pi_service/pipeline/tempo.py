"""Movement timing: onsets and offsets from a stroke's middle, and tempo verdicts.

People move a limb point to point along a near minimum-jerk path (zero speed
and acceleration at both ends), which creeps out of rest and into the target.
A threshold crossing therefore fires late at the start and early at the end;
the middle of the stroke is where the signal is strong. So a stroke's onset
and offset are extrapolated from the times it crosses 20 % and 80 % of its
travel, using where those fall on a minimum-jerk stroke.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from ..protocol import Stage
from .events import Verdict


def _minimum_jerk_tau(share: float) -> float:
    """Fraction of a minimum-jerk stroke's duration at which it has covered ``share``."""
    return float(brentq(lambda tau: tau**3 * (10.0 - 15.0 * tau + 6.0 * tau**2) - share,
                        0.0, 1.0))


LOW_SHARE, HIGH_SHARE = 0.2, 0.8
TAU_LOW = _minimum_jerk_tau(LOW_SHARE)
TAU_HIGH = _minimum_jerk_tau(HIGH_SHARE)
PARTIAL_RANGE_SHARE = 0.8   # a counted rep below this share of the usual height is partial-range


def stroke_times(t_low: float, t_high: float) -> tuple[float, float]:
    """Onset and offset of a stroke that crossed 20 % of its travel at ``t_low``, 80 % at
    ``t_high``."""
    duration = max(t_high - t_low, 0.0) / (TAU_HIGH - TAU_LOW)
    onset = t_low - TAU_LOW * duration
    return onset, onset + duration


def crossing_s(t: np.ndarray, x: np.ndarray, level: float, start: int, step: int) -> float:
    """Time ``x`` crosses ``level``, searching from index ``start`` in direction ``step``.

    Moving away from ``start`` (which is past the level), the first sample on the
    other side brackets the crossing, interpolated linearly between samples.
    """
    above = x >= level if x[start] >= level else x <= level
    if step < 0:
        outside = np.flatnonzero(~above[: start + 1])
        if len(outside) == 0:
            return float(t[0])
        k = int(outside[-1])
        i, j = k, k + 1
    else:
        outside = np.flatnonzero(~above[start:])
        if len(outside) == 0:
            return float(t[-1])
        k = start + int(outside[0])
        i, j = k - 1, k
    dx = x[j] - x[i]
    frac = 0.5 if dx == 0 else (level - x[i]) / dx
    return float(t[i] + min(max(frac, 0.0), 1.0) * (t[j] - t[i]))


def predicted_up_s(t_on: float, t_third: float, on_share: float, third_share: float) -> float:
    """Rise time a minimum-jerk stroke would take, given two early crossings of its travel."""
    span = _minimum_jerk_tau(third_share) - _minimum_jerk_tau(on_share)
    return (t_third - t_on) / span if span > 0 else float("inf")


def rep_faults(stage: Stage, up_s: float, hold_s: float, down_s: float,
               range_deg: float, typical_range_deg: float | None) -> tuple[Verdict, ...]:
    """Everything wrong with a rep against ``stage``, most important first."""
    faults: list[Verdict] = []
    if stage.min_up_s is not None:
        fast_up = up_s < stage.min_up_s
        fast_down = down_s < stage.min_down_s
        if fast_up and fast_down:
            faults.append(Verdict.TOO_FAST)
        elif fast_up:
            faults.append(Verdict.TOO_FAST_UP)
        elif fast_down:
            faults.append(Verdict.TOO_FAST_DOWN)
    if typical_range_deg is not None and range_deg < PARTIAL_RANGE_SHARE * typical_range_deg:
        faults.append(Verdict.PARTIAL_RANGE)
    if not stage.isometric and hold_s < stage.hold_min_s:
        faults.append(Verdict.HOLD_TOO_SHORT)
    return tuple(faults)


def hold_verdict(hold_s: float, hold_min_s: float, hold_max_s: float | None) -> str:
    """An isometric hold against its range: "ok", "too_short" or "too_long"."""
    if hold_s < hold_min_s:
        return "too_short"
    if hold_max_s is not None and hold_s > hold_max_s:
        return "too_long"
    return "ok"
