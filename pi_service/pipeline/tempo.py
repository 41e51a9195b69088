"""Tempo verdicts: each rep's phases against the stage's targets, and the mid-rise pace.

A phase a gap hid (None) is not judged: nothing is said about what was not seen.
"""

from __future__ import annotations

from scipy.optimize import brentq

from ..protocol import Stage
from .events import Verdict

PARTIAL_RANGE_SHARE = 0.8   # a counted rep below this share of the usual height is partial-range


def _minimum_jerk_tau(share: float) -> float:
    """Fraction of a minimum-jerk stroke's duration at which it has covered ``share``."""
    return float(brentq(lambda tau: tau**3 * (10.0 - 15.0 * tau + 6.0 * tau**2) - share,
                        0.0, 1.0))


def predicted_up_s(t_on: float, t_third: float, on_share: float, third_share: float) -> float:
    """Rise time a minimum-jerk stroke would take, given two early crossings of its travel."""
    span = _minimum_jerk_tau(third_share) - _minimum_jerk_tau(on_share)
    return (t_third - t_on) / span if span > 0 else float("inf")


def rep_faults(stage: Stage, up_s: float | None, hold_s: float | None, down_s: float | None,
               range_deg: float, typical_range_deg: float | None) -> tuple[Verdict, ...]:
    """Everything wrong with a rep against ``stage``, most important first."""
    faults: list[Verdict] = []
    if stage.min_up_s is not None:
        fast_up = up_s is not None and up_s < stage.min_up_s
        fast_down = down_s is not None and down_s < stage.min_down_s
        if fast_up and fast_down:
            faults.append(Verdict.TOO_FAST)
        elif fast_up:
            faults.append(Verdict.TOO_FAST_UP)
        elif fast_down:
            faults.append(Verdict.TOO_FAST_DOWN)
    if typical_range_deg is not None and range_deg < PARTIAL_RANGE_SHARE * typical_range_deg:
        faults.append(Verdict.PARTIAL_RANGE)
    if not stage.isometric and hold_s is not None and hold_s < stage.hold_min_s:
        faults.append(Verdict.HOLD_TOO_SHORT)
    return tuple(faults)


def hold_verdict(hold_s: float, hold_min_s: float, hold_max_s: float | None) -> str:
    """An isometric hold against its range: "ok", "too_short" or "too_long"."""
    if hold_s < hold_min_s:
        return "too_short"
    if hold_max_s is not None and hold_s > hold_max_s:
        return "too_long"
    return "ok"
