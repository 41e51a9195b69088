"""Both feet side by side: every-day symmetry with a sensor on each shoe.

A person with two sensors logs a set on both feet twice, once a device (the coaching
counts it once, :func:`~.progression.person_sets`), and single-leg sets one foot after
the other. Here they are put back together: a *pair* is a bilateral set both sensors saw
(their spans overlap), or a single-leg set on one foot followed within minutes by one on
the other foot. Each pair carries each foot's mean height and tempo, so the dashboard
shows them side by side and the coaching can point out a foot that keeps rising less or
rushing more.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from statistics import fmean

from ..pipeline.calibration import DEFAULT_LEVER_CM
from .store import SetRow

SAME_SHARE = 0.5
"""Two devices' sets overlapping by this share of the shorter are one bilateral set."""
NEXT_LEG_S = 300.0
"""A single-leg set on the other foot starting within this of one ending is its pair."""

SetKey = tuple[str, "str | None", "int | None"]
"""(device, session, set index): how a rep names the set it belongs to."""


def _numbers(rows: Sequence[Mapping], key: str) -> list[float]:
    return [float(r[key]) for r in rows if isinstance(r.get(key), int | float)
            and not isinstance(r.get(key), bool)]


def foot(s: SetRow, heights_cm: Sequence[float] = ()) -> dict:
    """One foot's figures in one set: reps, mean height (cm) and rise / lowering (s).

    ``heights_cm`` are the set's reps' heights as the device measured them (its own
    lever); without them the height comes from each rep's peak pitch and the default lever.
    """
    detail = s.payload.get("rep_detail") or []
    heights = list(heights_cm) or [DEFAULT_LEVER_CM * math.sin(math.radians(max(0.0, d)))
                                   for d in _numbers(detail, "peak_deg")]
    ups, downs = _numbers(detail, "up_s"), _numbers(detail, "down_s")
    return {"set_id": s.id, "reps": s.reps,
            "height_cm": round(fmean(heights), 2) if heights else None,
            "up_s": round(fmean(ups), 2) if ups else None,
            "down_s": round(fmean(downs), 2) if downs else None,
            "tempo_compliance": s.tempo_compliance}


def overlap_share(a: SetRow, b: SetRow) -> float:
    """How much two sets' spans overlap, as a share of the shorter one."""
    start, end = max(a.start_time, b.start_time), min(a.time, b.time)
    shorter = min((a.time - a.start_time).total_seconds(),
                  (b.time - b.start_time).total_seconds())
    overlap = (end - start).total_seconds()
    if shorter <= 0:
        return 1.0 if overlap >= 0 else 0.0
    return max(0.0, overlap) / shorter


def pairs(sets: Sequence[SetRow], heights: Mapping[SetKey, Sequence[float]] | None = None,
          *, single_leg_stages: Collection[int] = (), same_share: float = SAME_SHARE,
          next_leg_s: float = NEXT_LEG_S) -> list[dict]:
    """The sets of two devices that go together, oldest first.

    Each pair: ``kind`` "bilateral" (both feet in one set) or "alternating" (in a stage
    of ``single_leg_stages``, one foot's set, then the other's), ``day``, ``time`` (the
    later end), ``ids`` (both sets'), ``shown_on`` (the ids of the rows that show the pair)
    and ``feet`` (device -> :func:`foot`).
    """
    heights = heights or {}
    ordered = sorted(sets, key=lambda s: (s.start_time, s.id))
    used: set[str] = set()
    out: list[dict] = []
    for i, a in enumerate(ordered):
        if a.id in used:
            continue
        twin, kind = None, ""
        for b in ordered[i + 1:]:
            if (b.start_time - a.time).total_seconds() > next_leg_s:
                break           # sorted by start: no later set can go with this one
            if b.id in used or b.device == a.device:
                continue
            if overlap_share(a, b) >= same_share:
                twin, kind = b, "bilateral"
            elif (b.start_time >= a.time and b.stage == a.stage
                  and a.stage in single_leg_stages):
                twin, kind = b, "alternating"
            if twin is not None:
                break
        if twin is None:
            continue
        used.update((a.id, twin.id))
        later = max((a, twin), key=lambda s: (s.time, s.id))
        out.append({
            "kind": kind, "day": later.day, "time": later.time, "ids": (a.id, twin.id),
            # a bilateral set is one row (whichever the log keeps); of two single-leg
            # sets the later one shows the pair, once both feet are done
            "shown_on": (a.id, twin.id) if kind == "bilateral" else (later.id,),
            "feet": {s.device: foot(s, heights.get((s.device, s.session, s.index), ()))
                     for s in (a, twin)}})
    return sorted(out, key=lambda p: (p["time"], p["ids"]))


def side_by_side(pair: dict) -> dict:
    """A pair as the dashboard's set row carries it: the kind, and each foot's figures."""
    return {"kind": pair["kind"],
            "feet": {name: {k: v for k, v in f.items() if k != "set_id"}
                     for name, f in sorted(pair["feet"].items())}}


def asymmetry(recent: Sequence[dict], key: str, *, min_sets: int, min_gap_pct: float,
              min_consistent_share: float) -> dict | None:
    """The foot whose ``key`` (``height_cm``, ``up_s``) is lower by at least ``min_gap_pct``
    in at least ``min_consistent_share`` of the ``recent`` pairs that have it in both feet,
    when there are ``min_sets`` of those; None when no foot is consistently lower."""
    usable = [p for p in recent if len(p["feet"]) == 2
              and all(isinstance(f.get(key), int | float) for f in p["feet"].values())]
    if len(usable) < min_sets:
        return None
    lower: dict[str, list[tuple[float, float]]] = {}
    for p in usable:
        (lo_name, lo), (_, hi) = sorted(p["feet"].items(), key=lambda kv: kv[1][key])
        if hi[key] > 0 and 100.0 * (hi[key] - lo[key]) / hi[key] >= min_gap_pct:
            lower.setdefault(lo_name, []).append((lo[key], hi[key]))
    if not lower:
        return None
    name, found = max(lower.items(), key=lambda kv: len(kv[1]))
    if len(found) / len(usable) < min_consistent_share:
        return None
    other = next(n for n in usable[-1]["feet"] if n != name)
    lo_mean = fmean(p["feet"][name][key] for p in usable)
    hi_mean = fmean(p["feet"][other][key] for p in usable)
    return {"lower": name, "higher": other, "sets": len(found), "total": len(usable),
            "lower_mean": lo_mean, "higher_mean": hi_mean,
            "gap_pct": 100.0 * (hi_mean - lo_mean) / hi_mean if hi_mean else 0.0}
