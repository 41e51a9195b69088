"""The week aggregate's weekly rows, from a constructed multi-week log on fixed dates.

Sets go into a real store as the logger stores them; ``today`` is passed in, so the
rows are the same whatever day the test runs.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

import pytest

from pi_service import builders, mqtt_docs
from pi_service.log.aggregates import WEEKS, aggregates
from pi_service.log.progression import load_rules
from pi_service.log.store import Store
from pi_service.stages import load_protocol

TODAY = date(2026, 11, 25)   # a Wednesday in ISO week 2026-W48
BASE_SET = mqtt_docs.examples()["set"]


def _iso(day: date, at: time) -> str:
    """A local wall-clock moment as the payloads carry it (UTC, "Z")."""
    return builders.iso_utc(datetime.combine(day, at).astimezone().timestamp())


def add_set(store: Store, day: date, at: time, *, reps: int = 15, ok_reps: int | None = None,
            load_kg: float = 0.0, stage: int = 2, pain: float | None = None) -> None:
    ok_reps = reps if ok_reps is None else ok_reps
    store.add_set({**BASE_SET, "id": uuid.uuid4().hex, "device": "left",
                   "time": _iso(day, at), "start_time": _iso(day, at), "stage": stage,
                   "reps": reps, "ok_reps": ok_reps, "tempo_compliance": ok_reps / reps,
                   "holds": 0, "load_kg": load_kg, "pain": pain})


def week_of(store: Store, today: date = TODAY) -> dict:
    return aggregates(store, "left", today, protocol=load_protocol(),
                      rules=load_rules())["week"]


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "log.sqlite3") as s:
        yield s


def test_weeks_from_the_first_set_to_today_with_an_empty_week_kept(store):
    # W45: two sessions, 3 sets each; pain rated once; stiffness on two mornings.
    for day, ok in ((date(2026, 11, 5), 12), (date(2026, 11, 7), 15)):
        for n in range(3):
            add_set(store, day, time(10, 5 * n), ok_reps=ok)
    store.record_pain(3, device="left", time=_iso(date(2026, 11, 5), time(11)))
    store.record_stiffness(4, device="left", day=date(2026, 11, 5))
    store.record_stiffness(2, device="left", day=date(2026, 11, 7))
    # W46: no training, one stiffness rating.
    store.record_stiffness(5, device="left", day=date(2026, 11, 10))
    # Sunday late (W47) and Monday just after midnight (W48): separate weeks.
    add_set(store, date(2026, 11, 22), time(22, 0), reps=10, load_kg=10.0, stage=4, pain=2)
    add_set(store, date(2026, 11, 23), time(1, 0), reps=10, ok_reps=5, load_kg=5.0, stage=4)
    add_set(store, date(2026, 11, 23), time(1, 5), reps=10, load_kg=10.0, stage=4)
    add_set(store, TODAY, time(9), reps=12, ok_reps=9, load_kg=9.0, stage=4)
    store.record_pain(5, device="left", time=_iso(TODAY, time(11)))
    store.record_stiffness(6, device="left", day=TODAY)
    # After today: counted nowhere.
    add_set(store, TODAY + timedelta(days=1), time(9), reps=20, load_kg=40.0, stage=4, pain=9)

    week = week_of(store)
    rows = {r["week"]: r for r in week["weeks"]}
    assert list(rows) == ["2026-W45", "2026-W46", "2026-W47", "2026-W48"]
    assert [r["monday"] for r in week["weeks"]] == [
        "2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"]

    w45 = rows["2026-W45"]
    assert (w45["sessions"], w45["sets"], w45["reps"], w45["ok_reps"]) == (2, 6, 90, 81)
    assert w45["tempo_compliance"] == pytest.approx(0.9)
    assert (w45["pain_max"], w45["stiffness"], w45["load_kg"]) == (3, 3.0, 0.0)

    assert rows["2026-W46"] == {
        "week": "2026-W46", "monday": "2026-11-09", "sessions": 0, "sets": 0, "reps": 0,
        "ok_reps": 0, "holds": 0, "tempo_compliance": None, "pain_max": None,
        "stiffness": 5.0, "load_kg": None}

    w47 = rows["2026-W47"]
    assert (w47["sets"], w47["reps"], w47["tempo_compliance"]) == (1, 10, 1.0)
    assert (w47["pain_max"], w47["stiffness"], w47["load_kg"]) == (2, None, 10.0)

    w48 = rows["2026-W48"]   # Monday to today (Wednesday); the Thursday set is not in it
    assert (w48["sessions"], w48["sets"], w48["reps"], w48["ok_reps"]) == (2, 3, 32, 24)
    assert w48["tempo_compliance"] == pytest.approx(24 / 32)
    assert (w48["pain_max"], w48["stiffness"]) == (5, 6.0)
    assert w48["load_kg"] == pytest.approx((5.0 + 10.0 + 9.0) / 3)

    # The day rows carry the day's mean load too; the 7-day fields are as before.
    days = {d["date"]: d for d in week["days"]}
    assert (week["from"], week["to"]) == ("2026-11-19", "2026-11-25")
    assert days["2026-11-22"]["load_kg"] == 10.0
    assert days["2026-11-23"]["load_kg"] == 7.5 and days["2026-11-23"]["sets"] == 2
    assert days["2026-11-24"]["load_kg"] is None and days["2026-11-24"]["sets"] == 0
    assert days["2026-11-25"]["load_kg"] == 9.0
    assert (week["sessions"], week["sets"], week["reps"]) == (3, 4, 42)


def test_weeks_stop_at_twelve_and_cross_the_new_year(store):
    today = date(2026, 1, 7)
    add_set(store, today - timedelta(weeks=20), time(10), reps=7)   # too old to show
    add_set(store, today - timedelta(weeks=WEEKS - 1), time(10), reps=11, load_kg=2.5)
    add_set(store, today, time(10), reps=13)

    weeks = week_of(store, today)["weeks"]
    assert len(weeks) == WEEKS == 12
    assert weeks[0]["monday"] == "2025-10-20" and weeks[0]["week"] == "2025-W43"
    assert [w["week"] for w in weeks[-3:]] == ["2025-W52", "2026-W01", "2026-W02"]
    assert weeks[-2]["monday"] == "2025-12-29"   # ISO week 1 of 2026 starts in 2025
    assert [w["reps"] for w in weeks] == [11] + [0] * 10 + [13]
    assert weeks[0]["load_kg"] == 2.5
    assert all(w["load_kg"] is None for w in weeks[1:-1])


def test_no_sets_means_no_weeks_and_empty_days(store):
    store.record_stiffness(3, device="left", day=TODAY)
    week = week_of(store)
    assert week["weeks"] == []   # the dashboard then draws the days
    assert [d["sets"] for d in week["days"]] == [0] * 7
    assert week["days"][-1]["stiffness"] == 3.0 and week["days"][-1]["load_kg"] is None
