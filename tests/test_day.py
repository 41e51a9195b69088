"""A patient's day that reads right: one answer to "done today?" everywhere, one person with
two sensors, a set struck by mistake, and the day's activity tempering the advice."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import date, datetime, time, timedelta

import pytest

from pi_service import builders, mqtt_docs
from pi_service.log.aggregates import aggregates
from pi_service.log.export import export
from pi_service.log.progression import evaluate, load_history, load_rules
from pi_service.log.store import Store
from pi_service.stages import load_protocol

DAY = date(2026, 3, 2)
BASE = mqtt_docs.examples()["set"]


def _at(day: date, hour: int, minute: int = 0) -> str:
    return builders.iso_utc(datetime.combine(day, time(hour, minute)).astimezone().timestamp())


def _set(store: Store, day: date, minute: int, *, reps: int = 15, device: str = "left",
         stage: int = 2, length_min: int = 2, pain: float | None = None) -> dict:
    payload = {**BASE, "id": uuid.uuid4().hex, "device": device, "stage": stage,
               "time": _at(day, 9, minute + length_min), "start_time": _at(day, 9, minute),
               "reps": reps, "ok_reps": reps, "tempo_compliance": 1.0, "pain": pain}
    store.add_set(payload)
    return payload


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "log.sqlite3") as s:
        yield s


def _views(store: Store, today: date = DAY) -> tuple[bool, bool, bool, bool]:
    """"Done today" as the coaching, the today aggregate, the advice and the text say it."""
    protocol, rules = load_protocol(), load_rules()
    progress = evaluate(load_history(store), today, protocol=protocol, rules=rules)
    agg = aggregates(store, "left", today, protocol=protocol, rules=rules)
    advised = any(a["id"] == "second_session" for a in agg["progress"]["advice"])
    text = "Today's training is done" in progress.to_text()
    return progress.dose_today.get("done", False), agg["today"]["done"], advised, text


def test_done_today_is_one_answer_across_partial_and_complete_days(store):
    assert _views(store) == (False, False, False, False)          # nothing yet
    _set(store, DAY, 0)
    assert _views(store) == (False, False, False, False)          # 1 of 3 sets: not done
    _set(store, DAY, 5)
    assert _views(store) == (False, False, False, False)          # 2 of 3
    _set(store, DAY, 10, reps=12)
    assert _views(store) == (False, False, False, False)          # 3 sets, one short
    _set(store, DAY, 15)
    assert _views(store) == (True, True, True, True)              # the dose: done
    assert _views(store, DAY + timedelta(days=1)) == (False, False, False, False)


def test_a_bilateral_set_two_sensors_saw_counts_once_and_single_leg_sets_both(store):
    for minute in (0, 5, 10):
        _set(store, DAY, minute, device="left")
        _set(store, DAY, minute, device="right", reps=14)       # the same set, other foot
    history = load_history(store)
    assert [(s.device, s.reps) for s in history.sets] == [("left", 15)] * 3
    assert _views(store)[:2] == (True, True)
    day = DAY + timedelta(days=1)
    _set(store, day, 0, device="left", stage=3, reps=12)        # single leg: left, then right
    _set(store, day, 3, device="right", stage=3, reps=12)
    assert [s.device for s in load_history(store).sets[-2:]] == ["left", "right"]


def test_pain_and_the_day_are_the_persons_whichever_sensor_rated(store):
    left = _set(store, DAY, 0, device="left")
    _set(store, DAY, 0, device="right")
    store.record_pain(5, device="right", time=_at(DAY, 10))
    store.record_pain(1, device="left", set_id=left["id"], time=_at(DAY, 10))
    progress = evaluate(load_history(store), DAY)
    assert progress.trends["pain"]["recent_max"] == 5
    assert any(a.id == "pain_limit" for a in progress.advice)


def test_a_set_struck_by_mistake_leaves_the_history_but_not_the_export(store):
    kept = _set(store, DAY, 0)
    mistake = _set(store, DAY, 5, reps=40)
    row = store.strike(mistake["id"], "the cat stood on it")
    assert row.struck is not None
    assert [s.id for s in load_history(store).sets] == [kept["id"]]
    out = io.StringIO()
    assert export(store, "csv", out) == 2
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(out.getvalue()))}
    assert rows[mistake["id"]]["struck"] and rows[mistake["id"]]["struck_reason"] == \
        "the cat stood on it" and not rows[kept["id"]]["struck"]
    out = io.StringIO()
    export(store, "json", out, "sets")
    doc = json.loads(out.getvalue())
    assert set(doc) == {"v", "schema_version", "sets", "struck"}
    assert [s["id"] for s in doc["sets"]] == [kept["id"], mistake["id"]]
    assert [s["id"] for s in doc["struck"]] == [mistake["id"]]
    store.strike(mistake["id"], undo=True)
    assert len(load_history(store).sets) == 2


def test_export_is_oldest_first_and_json_holds_only_the_table_asked_for(store):
    later = _set(store, DAY, 30)
    earlier = _set(store, DAY, 0)
    out = io.StringIO()
    export(store, "csv", out, "sets")
    assert [r["id"] for r in csv.DictReader(io.StringIO(out.getvalue()))] == [
        earlier["id"], later["id"]]
    store.add_rep({**mqtt_docs.examples()["rep"], "id": "r2", "time": _at(DAY, 11)})
    store.add_rep({**mqtt_docs.examples()["rep"], "id": "r1", "time": _at(DAY, 10)})
    out = io.StringIO()
    export(store, "json", out, "reps")
    doc = json.loads(out.getvalue())
    assert set(doc) == {"v", "schema_version", "reps"}
    assert [r["id"] for r in doc["reps"]] == ["r1", "r2"]


def _ready(store: Store, start: date, days: int) -> None:
    for n in range(days):
        for minute in (0, 5, 10):
            _set(store, start + timedelta(days=n), minute, pain=1)


def test_a_high_load_day_tempers_the_advice_and_says_why(store):
    _ready(store, DAY, 9)
    today = DAY + timedelta(days=8)
    ready = evaluate(load_history(store), today)
    assert next(a for a in ready.advice if a.id == "progress").level == "progress"
    store.record_activity(8, device="left", day=today)
    busy = evaluate(load_history(store), today)
    held = next(a for a in busy.advice if a.id == "progress")
    assert held.level == "info" and "not on a day this busy" in held.title
    assert "8/10 today" in held.reasoning
    load = next(a for a in busy.advice if a.id == "high_load_day")
    assert load.level == "caution" and "8/10 today" in load.reasoning
    assert busy.dose_today["activity"] == 8
    assert "Activity today: 8/10" in busy.to_text()
    store.record_activity(3, device="left", day=today)           # a new rating replaces it
    calm = evaluate(load_history(store), today)
    assert not any(a.id == "high_load_day" for a in calm.advice)


def test_an_unrated_pain_is_not_ticked_as_met(store):
    _set(store, DAY, 0)
    progress = evaluate(load_history(store), DAY)
    pain = next(c for c in progress.criteria if c.name == "pain")
    assert not pain.met and "not rated" in pain.detail
    assert "[ ] pain: not rated" in progress.to_text()


def test_a_simulated_persons_log_counts_its_simulated_sets(tmp_path):
    with Store(tmp_path / "sim.sqlite3", simulated_person=True) as sim:
        sim.add_set({**BASE, "source": "simulator"})
        assert len(load_history(sim).sets) == 1
    with Store(tmp_path / "sim.sqlite3") as again:                 # it says so in the file
        assert again.simulated_person and len(load_history(again).sets) == 1
    with Store(tmp_path / "person.sqlite3") as person:
        person.add_set({**BASE, "source": "simulator"})
        assert load_history(person).sets == []
