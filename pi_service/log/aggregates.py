"""Retained summaries the log republishes, so a dashboard shows history without SQL.

Each is a JSON object with ``"v": 1`` on ``heelraise/log/<device>/<kind>``,
retained, so any MQTT client (the dashboard, Home Assistant, ``mosquitto_sub``)
gets the current picture the moment it subscribes, however late it opens.

The log is one person's: every device's topics carry that person's summaries (a
bilateral set two sensors saw counts once), and "done today" is the coaching's own
(:func:`~pi_service.log.progression.evaluate`), so the page, Home Assistant and
``heelraise progress`` cannot disagree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from statistics import fmean

from ..heelrise.outcomes import norms
from ..heelrise.protocol import load_test_protocol
from ..protocol import Protocol
from ..topics import ROOT, check_device
from .feet import side_by_side
from .heelrise import heel_rise_summary
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
from .store import SetRow, Store, utc_now_iso

KINDS = ("today", "last_session", "week", "stage_progress", "progress", "heel_rise")

WEEKS = 12
"""Calendar weeks in the week aggregate's ``weeks`` list: a rehab runs 12 weeks or more."""


def aggregate_topic(device: str, kind: str) -> str:
    """``heelraise/log/<device>/<kind>``."""
    if kind not in KINDS:
        raise ValueError(f"unknown aggregate {kind!r} (known: {', '.join(KINDS)})")
    return f"{ROOT}/log/{check_device(device)}/{kind}"


def aggregates(store: Store, device: str, today: date, *, protocol: Protocol,
               rules: Rules, insertional: bool = False) -> dict[str, dict]:
    """Every aggregate published for ``device`` as of ``today`` (its person's), keyed by kind."""
    history = load_history(store, protocol=protocol)
    shown = {i: side_by_side(p) for p in history.feet for i in p["shown_on"]}
    progress = evaluate(history, today, protocol=protocol, rules=rules, insertional=insertional)
    sessions = group_sessions(history.sets, rules.session_gap_min)
    head = {"v": 1, "device": device, "time": utc_now_iso()}
    by_day = _by_day(sessions)
    pain = daily_max(history.pain)
    stiffness = {r.day: r.value for r in history.stiffness}
    days = [{"date": d.isoformat(), **_totals([d], by_day, pain, stiffness)}
            for d in (today - timedelta(days=n) for n in range(6, -1, -1))]
    return {
        "today": {**head, **days[-1], "target": progress.dose_today.get("target"),
                  "sessions_allowed": progress.dose_today.get("sessions_allowed"),
                  "sessions_at_dose": progress.dose_today.get("sessions_at_dose", 0),
                  "done": progress.dose_today.get("done", False),
                  "activity": progress.dose_today.get("activity"),
                  "set_list": [_set_row(s, shown.get(s.id))
                               for d in by_day.get(today, ()) for s in d.sets]},
        "last_session": {**head, **_last_session(sessions[-1] if sessions else None)},
        "week": {**head, "from": days[0]["date"], "to": days[-1]["date"], "days": days,
                 "sessions": sum(d["sessions"] for d in days),
                 "sets": sum(d["sets"] for d in days), "reps": sum(d["reps"] for d in days),
                 "holds": sum(d["holds"] for d in days),
                 "tempo_compliance": progress.compliance.get("window"),
                 "weeks": _weeks(sessions, today, by_day, pain, stiffness)},
        "stage_progress": {**head, **_stage_progress(progress)},
        "progress": {**progress.to_json(), "time": head["time"]},
        "heel_rise": {**head, **heel_rise_summary(history.tests, today),
                      "norms": norms(load_test_protocol(), 10.0)},
    }


def _by_day(sessions: Sequence[Session]) -> dict[date, list[Session]]:
    days: dict[date, list[Session]] = defaultdict(list)
    for session in sessions:
        days[session.day].append(session)
    return days


def _totals(days: Sequence[date], by_day: dict[date, list[Session]],
            pain: dict[date, float], stiffness: dict[date, float]) -> dict:
    """One chart row: a day's or a week's training, ratings and load.

    Pain is the worst of the period (the rules stop on a bad day, not a bad average);
    stiffness and load are means over the mornings rated and the sets done (five sets
    at 10 kg and one at 5 kg read 9.17 kg), so one heavy set does not look like a step up.
    """
    sessions = [session for d in days for session in by_day.get(d, ())]
    sets = [s for session in sessions for s in session.sets]
    pains = [pain[d] for d in days if d in pain]
    stiffs = [stiffness[d] for d in days if d in stiffness]
    loads = [s.load_kg for s in sets if s.load_kg is not None]
    return {"sessions": len(sessions), "sets": len(sets), "reps": sum(s.reps for s in sets),
            "ok_reps": sum(s.ok_reps for s in sets), "holds": sum(s.holds for s in sets),
            "tempo_compliance": _round(tempo_compliance(sets)),
            "pain_max": max(pains, default=None),
            "stiffness": _round(fmean(stiffs)) if stiffs else None,
            "load_kg": _round(fmean(loads)) if loads else None}


def _weeks(sessions: Sequence[Session], today: date, by_day: dict[date, list[Session]],
           pain: dict[date, float], stiffness: dict[date, float]) -> list[dict]:
    """ISO weeks (Monday first) from the first session's, at most :data:`WEEKS`, to today's.

    A week with no training still gets its row (zero sets, null rates), so a gap in the
    rehab shows as a gap on the chart; the current week counts up to ``today``, and
    nothing logged after ``today`` counts.
    """
    if not sessions:
        return []
    monday = today - timedelta(days=today.weekday())
    first = sessions[0].day - timedelta(days=sessions[0].day.weekday())
    count = min(WEEKS, (monday - first).days // 7 + 1)
    rows = []
    for start in (monday - timedelta(weeks=n) for n in range(count - 1, -1, -1)):
        year, week, _ = start.isocalendar()
        days = [start + timedelta(days=n) for n in range(7) if start + timedelta(days=n) <= today]
        rows.append({"week": f"{year}-W{week:02d}", "monday": start.isoformat(),
                     **_totals(days, by_day, pain, stiffness)})
    return rows


def _set_row(s: SetRow, feet: dict | None = None) -> dict:
    """One of today's sets as the dashboard's table shows it (after a reload too); with
    two sensors, ``feet`` is both feet's heights and tempo side by side (feet.py)."""
    return {"id": s.id, "device": s.device, "session": s.session, "index": s.index,
            "time": _iso(s.time), "stage": s.stage, "reps": s.reps, "ok_reps": s.ok_reps,
            "target_reps": None if s.target_reps is None else list(s.target_reps),
            "tempo_compliance": s.tempo_compliance, "holds": s.holds, "load_kg": s.load_kg,
            "pain": s.pain, "feet": feet}


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
