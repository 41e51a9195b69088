"""What a heel-rise test measured: per leg, and the symmetry between the legs.

Clinicians judge recovery by height as much as by count (Silbernagel: patients reach
84 % of the healthy side's repetitions but only 61 % of its work), so each leg's
result carries the valid raises, the best height, the total vertical displacement and
the positive work (body mass x g x the sum of the heights), the cadence kept and why
the test stopped; two legs give the limb symmetry index of each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .judge import TestJudge
from .protocol import TestProtocol

G_MPS2 = 9.80665
LEGS = ("left", "right")


@dataclass(frozen=True)
class LegResult:
    """One leg's test. Heights in cm, work in J, times on the sensor clock."""

    leg: str
    valid_reps: int
    peak_height_cm: float | None
    total_displacement_cm: float
    work_j: float | None          # None without a body mass
    cadence_per_min: float | None  # valid raises a minute, from the first to the last
    on_beat_share: float | None   # raises that ended within the tolerance of their beat
    stop_reason: str              # "height", "pace" or "ended"
    start_s: float
    stop_s: float
    body_mass_kg: float | None
    incline_deg: float
    lever_cm: float
    calibrated: bool              # the lever came from a calibration, not the default
    raises: tuple = field(default=(), repr=False)

    def to_json(self) -> dict:
        return {"leg": self.leg, "valid_reps": self.valid_reps,
                "peak_height_cm": _r(self.peak_height_cm, 2),
                "total_displacement_cm": _r(self.total_displacement_cm, 1),
                "work_j": _r(self.work_j, 1), "cadence_per_min": _r(self.cadence_per_min, 1),
                "on_beat_share": _r(self.on_beat_share, 3), "stop_reason": self.stop_reason,
                "start_s": _r(self.start_s, 3), "stop_s": _r(self.stop_s, 3),
                "body_mass_kg": self.body_mass_kg, "incline_deg": self.incline_deg,
                "lever_cm": _r(self.lever_cm, 2), "calibrated": self.calibrated,
                "raises": [r.to_json() for r in self.raises]}


STOP_WORDS = {"height": "the heel no longer rose to half the best height",
              "pace": "the beat was lost", "ended": "stopped before the criteria ended it"}
"""Why a test stopped, as a person reads it (the height share comes from heelrise.toml)."""


def leg_result(judge: TestJudge, leg: str, body_mass_kg: float | None,
               calibrated: bool) -> LegResult:
    """The outcomes of a judged (ended) test."""
    if judge.end is None:
        raise ValueError("the test has not ended")
    valid = judge.valid
    heights = [r.height_cm for r in valid]
    total = sum(heights)
    cadence = None
    if len(valid) >= 2:
        span_s = valid[-1].start_s - valid[0].start_s
        cadence = 60.0 * (len(valid) - 1) / span_s if span_s > 0 else None
    paced = [r for r in judge.raises if abs(r.off_beats) <= judge.protocol.pace_tolerance_beats]
    return LegResult(
        leg=leg, valid_reps=len(valid), peak_height_cm=max(heights, default=None),
        total_displacement_cm=total,
        work_j=None if body_mass_kg is None else body_mass_kg * G_MPS2 * total / 100.0,
        cadence_per_min=cadence,
        on_beat_share=len(paced) / len(judge.raises) if judge.raises else None,
        stop_reason=judge.end.reason, start_s=judge.first_beat_s, stop_s=judge.end.t_s,
        body_mass_kg=body_mass_kg, incline_deg=judge.incline_deg, lever_cm=judge.lever_cm,
        calibrated=calibrated, raises=tuple(judge.raises))


def lsi(involved: float | None, uninvolved: float | None) -> float | None:
    """Limb symmetry index, involved / uninvolved x 100 %; None where the uninvolved side
    has nothing to divide by (or a figure is missing: work without a body mass)."""
    return None if involved is None or not uninvolved else round(100.0 * involved / uninvolved, 1)


SYMMETRY = (("reps_pct", "valid_reps"), ("height_pct", "peak_height_cm"), ("work_pct", "work_j"))
"""Each symmetry figure and the per-leg outcome it divides."""


def symmetry(involved: LegResult | dict, uninvolved: LegResult | dict) -> dict:
    """The limb symmetry index for reps, height and work, from two legs' results (or
    their stored payloads)."""
    def get(leg: LegResult | dict, key: str) -> float | None:
        return leg[key] if isinstance(leg, dict) else getattr(leg, key)

    return {"involved": get(involved, "leg"),
            **{name: lsi(get(involved, key), get(uninvolved, key)) for name, key in SYMMETRY}}


def norms(protocol: TestProtocol, incline_deg: float) -> dict:
    """The healthy adults' figures shown beside a result, and whether they apply (they were
    measured on the 10° incline)."""
    return {"source": protocol.norms_source, "median_reps_men": protocol.median_reps_men,
            "median_reps_women": protocol.median_reps_women,
            "comparable": abs(incline_deg - 10.0) <= 2.0}


def describe(result: LegResult, protocol: TestProtocol, involved: str | None) -> list[str]:
    """A leg's result as a person reads it in a terminal."""
    role = "" if involved is None else (" (involved)" if result.leg == involved
                                        else " (uninvolved)")
    peak = "-" if result.peak_height_cm is None else f"{result.peak_height_cm:.1f} cm"
    work = "-" if result.work_j is None else f"{result.work_j:.0f} J"
    cadence = "-" if result.cadence_per_min is None else f"{result.cadence_per_min:.0f}/min"
    why = STOP_WORDS[result.stop_reason].replace(
        "half", f"{protocol.height_share:.0%} of")
    return [f"{result.leg} leg{role}: {result.valid_reps} valid raises, peak {peak}, "
            f"total {result.total_displacement_cm:.0f} cm, work {work}, cadence {cadence}",
            f"  stopped: {why}"]


def describe_symmetry(sym: dict, context: dict) -> list[str]:
    """The symmetry and the norms, as a person reads them."""
    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.0f} %"
    lines = [f"symmetry (involved {sym['involved']} / other): reps {pct(sym['reps_pct'])}, "
             f"height {pct(sym['height_pct'])}, work {pct(sym['work_pct'])}"]
    return lines + norm_lines(context)


def norm_lines(context: dict) -> list[str]:
    note = "" if context["comparable"] else " (measured on a 10° incline; yours was not)"
    return [f"healthy adults: median {context['median_reps_men']:g} raises for men, "
            f"{context['median_reps_women']:g} for women{note}; {context['source']}"]


def _r(x: float | None, digits: int) -> float | None:
    return None if x is None else round(float(x), digits)


def check_leg(leg: str) -> str:
    """``leg`` if it names a leg."""
    if leg not in LEGS:
        raise ValueError(f"leg must be one of {', '.join(LEGS)}, got {leg!r}")
    return leg


def results_json(results: Sequence[LegResult], protocol: TestProtocol,
                 involved: str | None) -> dict:
    """Every leg tested, their symmetry where both were, and the norms."""
    by_leg = {r.leg: r for r in results}
    sym = None
    if involved is not None and len(by_leg) == 2:
        other = next(leg for leg in by_leg if leg != involved)
        sym = symmetry(by_leg[involved], by_leg[other])
    incline = results[0].incline_deg if results else 0.0
    return {"legs": [r.to_json() for r in results], "involved": involved, "symmetry": sym,
            "norms": norms(protocol, incline)}
