"""Retained summaries the log republishes, so a dashboard shows history without SQL.

Each is a JSON object with ``"v": 1`` on ``heelraise/log/<device>/<kind>``,
retained, so any MQTT client (the dashboard, Home Assistant, ``mosquitto_sub``)
gets the current picture the moment it subscribes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from ..payloads import ROOT, check_device
from ..stages import Protocol
from .progression import (
    Progress,
    Rules,
    Session,
    daily_max,
    evaluate,
    group_sessions,
    load_history,
    tempo_compliance,
)
from .store import Store, utc_now_iso

KINDS = ("today", "last_session", "week", "stage_progress", "progress")


def aggregate_topic(device: str, kind: str) -> str:
    """``heelraise/log/<device>/<kind>``."""
    if kind not in KINDS:
        raise ValueError(f"unknown aggregate {kind!r} (known: {', '.join(KINDS)})")
    return f"{ROOT}/log/{check_device(device)}/{kind}"


def aggregates(store: Store, device: str, today: date, *, protocol: Protocol,
               rules: Rules, insertional: bool = False) -> dict[str, dict]:
    """Every aggregate for ``device`` as of ``today``, keyed by kind."""
    history = load_history(store, device)
    progress = evaluate(history, today, protocol=protocol, rules=rules, insertional=insertional)
    sessions = group_sessions(history.sets, rules.session_gap_min)
    head = {"v": 1, "device": device, "time": utc_now_iso()}
    pain = daily_max(history.pain)
    stiffness = {r.day: r.value for r in history.stiffness}
    days = [_day(d, [s for s in sessions if s.day == d], pain, stiffness)
            for d in (today - timedelta(days=n) for n in range(6, -1, -1))]
    return {
        "today": {**head, **days[-1], "target": progress.dose_today.get("target"),
                  "sessions_allowed": progress.dose_today.get("sessions_allowed"),
                  "done": progress.dose_today.get("done", False)},
        "last_session": {**head, **_last_session(sessions[-1] if sessions else None)},
        "week": {**head, "from": days[0]["date"], "to": days[-1]["date"], "days": days,
                 "sessions": sum(d["sessions"] for d in days),
                 "sets": sum(d["sets"] for d in days), "reps": sum(d["reps"] for d in days),
                 "holds": sum(d["holds"] for d in days),
                 "tempo_compliance": progress.compliance.get("window")},
        "stage_progress": {**head, **_stage_progress(progress)},
        "progress": {**progress.to_json(), "time": head["time"]},
    }


def _day(day: date, sessions: list[Session], pain: dict, stiffness: dict) -> dict:
    sets = [s for session in sessions for s in session.sets]
    reps = sum(s.reps for s in sets)
    ok = sum(s.ok_reps for s in sets)
    return {"date": day.isoformat(), "sessions": len(sessions), "sets": len(sets),
            "reps": reps, "ok_reps": ok, "holds": sum(s.holds for s in sets),
            "tempo_compliance": _round(tempo_compliance(sets)), "pain_max": pain.get(day),
            "stiffness": stiffness.get(day),
            "load_kg": max((s.load_kg for s in sets if s.load_kg is not None), default=None)}


def _last_session(session: Session | None) -> dict:
    if session is None:
        return {"date": None, "sets": 0, "reps": 0, "holds": 0, "last_set": None,
                "tempo_compliance": None, "tempo_compliance_pct": None}
    last = session.sets[-1]
    compliance = session.tempo_compliance
    pains = [s.pain for s in session.sets if s.pain is not None]
    return {
        "date": session.day.isoformat(), "session": last.session,
        "start_time": _iso(session.sets[0].start_time), "end_time": _iso(last.time),
        "stage": session.stage, "sets": len(session.sets),
        "reps": session.reps, "reps_per_set": [s.reps for s in session.sets],
        "ok_reps": sum(s.ok_reps for s in session.sets), "holds": session.holds,
        "tempo_compliance": _round(compliance),
        "tempo_compliance_pct": None if compliance is None else round(100 * compliance),
        "pain_max": max(pains, default=None), "load_kg": last.load_kg,
        "last_set": {"id": last.id, "time": _iso(last.time), "index": last.index,
                     "reps": last.reps, "ok_reps": last.ok_reps, "holds": last.holds,
                     "tempo_compliance": last.tempo_compliance},
    }


def _stage_progress(progress: Progress) -> dict:
    stage = progress.to_json()["stage"]
    if stage is None:
        return {"stage": None, "ready": False, "criteria": []}
    return {"stage": stage["number"], "name": stage["name"], "since": stage["since"],
            "days": stage["days"], "week": stage["week"],
            "typical_weeks": stage["typical_weeks"],
            "ready": bool(progress.criteria) and all(c.met for c in progress.criteria),
            "criteria": [{"name": c.name, "met": c.met, "detail": c.detail}
                         for c in progress.criteria]}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
