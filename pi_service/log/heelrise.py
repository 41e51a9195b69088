"""Heel-rise tests in the log: legs paired into tests, their symmetry, and the history.

The service publishes one message a leg (each is durable on its own); a test is the
legs that share a ``test_id``. Symmetry needs both legs and to know which is involved,
so a test with one leg, or none marked involved, has no symmetry, never an invented one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from ..heelrise.outcomes import symmetry
from .store import local_day

HISTORY = 52
"""Tests in the retained history: a year of monthly tests, or a rehab of weekly ones."""

_LEG = ("valid_reps", "peak_height_cm", "total_displacement_cm", "work_j", "cadence_per_min",
        "on_beat_share", "stop_reason", "involved", "incline_deg", "calibrated", "time",
        "source")


def paired(tests: Sequence[dict]) -> list[dict]:
    """Each test (its legs by name, the symmetry where it can be had), oldest first."""
    out: dict[str, dict] = {}
    for p in tests:
        test = out.setdefault(p["test_id"], {"test_id": p["test_id"], "legs": {}})
        test["legs"][p["leg"]] = {k: p.get(k) for k in _LEG}
        test["time"] = max(test.get("time", p["time"]), p["time"])
        test["date"] = local_day(test["time"]).isoformat()
    for test in out.values():
        legs = test["legs"]
        involved = next((leg for leg, r in legs.items() if r["involved"]), None)
        other = next((leg for leg, r in legs.items() if r["involved"] is False), None)
        test["symmetry"] = (symmetry({"leg": involved, **legs[involved]},
                                     {"leg": other, **legs[other]})
                            if involved and other else None)
    return sorted(out.values(), key=lambda t: t["time"])


def heel_rise_summary(tests: Sequence[dict], today: date) -> dict:
    """The retained ``heel_rise`` aggregate's body: the latest test and the history."""
    done = [t for t in paired(tests) if date.fromisoformat(t["date"]) <= today]
    history = [{"date": t["date"], "test_id": t["test_id"],
                **({k: v for k, v in t["symmetry"].items() if k != "involved"}
                   if t["symmetry"] else {"reps_pct": None, "height_pct": None,
                                          "work_pct": None})}
               for t in done[-HISTORY:]]
    return {"latest": done[-1] if done else None, "history": history}
