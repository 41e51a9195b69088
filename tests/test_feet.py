"""Every-day symmetry with a sensor on each shoe: the sets both saw are put back together,
each foot's height and tempo side by side in today's list, and a foot that keeps rising
less (or faster) is pointed out by the coaching, with its reasoning.

Sets and reps go into a real store as the logger stores them, on fixed dates.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

import pytest

from pi_service import builders, mqtt_docs
from pi_service.log.aggregates import aggregates
from pi_service.log.progression import evaluate, load_history, load_rules
from pi_service.log.store import Store
from pi_service.stages import load_protocol

TODAY = date(2026, 11, 25)
SET, REP = mqtt_docs.examples()["set"], mqtt_docs.examples()["rep"]


def _iso(day: date, at: time, plus_s: float = 0.0) -> str:
    return builders.iso_utc(datetime.combine(day, at).astimezone().timestamp() + plus_s)


def add_set(store: Store, device: str, day: date, at: time, *, height_cm: float,
            up_s: float = 3.0, stage: int = 2, reps: int = 15, length_s: float = 100.0,
            with_reps: bool = True, index: int = 1) -> str:
    """A set of ``reps`` raises of ``height_cm`` rising in ``up_s``, its reps stored too."""
    session = f"{device}-{day.isoformat()}"
    detail = [{"index": i, "up_s": up_s, "hold_s": 0.5, "down_s": 3.0,
               "peak_deg": 30.0, "verdict": "ok"} for i in range(1, reps + 1)]
    set_id = uuid.uuid4().hex
    store.add_set({**SET, "id": set_id, "device": device, "session": session, "index": index,
                   "stage": stage, "reps": reps, "ok_reps": reps, "tempo_compliance": 1.0,
                   "start_time": _iso(day, at), "time": _iso(day, at, length_s),
                   "rep_detail": detail, "pain": None})
    if with_reps:
        for i in range(1, reps + 1):
            store.add_rep({**REP, "id": uuid.uuid4().hex, "device": device,
                           "session": session, "set_index": index, "index": i,
                           "time": _iso(day, at, i * 6.0), "height_cm": height_cm,
                           "up_s": up_s})
    return set_id


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "log.sqlite3") as s:
        yield s


def today_list(store: Store) -> list[dict]:
    return aggregates(store, "left", TODAY, protocol=load_protocol(),
                      rules=load_rules())["today"]["set_list"]


def advice(store: Store) -> list:
    return evaluate(load_history(store), TODAY, rules=load_rules()).advice


def test_a_bilateral_set_both_sensors_saw_is_one_row_with_both_feet_side_by_side(store):
    add_set(store, "left", TODAY, time(9), height_cm=9.2, up_s=3.1)
    add_set(store, "right", TODAY, time(9, 0, 1), height_cm=7.9, up_s=2.4)
    (row,) = today_list(store)
    assert row["feet"]["kind"] == "bilateral"
    feet = row["feet"]["feet"]
    assert list(feet) == ["left", "right"]
    assert feet["left"]["height_cm"] == pytest.approx(9.2)
    assert feet["right"]["height_cm"] == pytest.approx(7.9)
    assert feet["left"]["up_s"] == pytest.approx(3.1) and feet["right"]["up_s"] == \
        pytest.approx(2.4)
    assert feet["left"]["reps"] == feet["right"]["reps"] == 15


def test_single_leg_sets_one_foot_then_the_other_are_a_pair_shown_on_the_second(store):
    add_set(store, "left", TODAY, time(9), height_cm=9.0, stage=3, reps=12)
    add_set(store, "right", TODAY, time(9, 3), height_cm=8.1, stage=3, reps=12)
    first, second = today_list(store)
    assert first["feet"] is None, "the pair is shown once both feet are done"
    assert second["feet"]["kind"] == "alternating"
    assert second["feet"]["feet"]["right"]["height_cm"] == pytest.approx(8.1)
    assert second["feet"]["feet"]["left"]["height_cm"] == pytest.approx(9.0)


def test_one_sensor_or_sets_far_apart_pair_nothing(store):
    add_set(store, "left", TODAY, time(9), height_cm=9.0, stage=3)
    add_set(store, "left", TODAY, time(9, 3), height_cm=9.0, stage=3)
    add_set(store, "right", TODAY, time(15), height_cm=8.0, stage=3)   # hours later
    assert [r["feet"] for r in today_list(store)] == [None, None, None]


def test_without_the_reps_a_foots_height_comes_from_its_sets_peak_pitch(store):
    add_set(store, "left", TODAY, time(9), height_cm=9.0, with_reps=False)
    add_set(store, "right", TODAY, time(9), height_cm=9.0, with_reps=False)
    (row,) = today_list(store)
    for foot in row["feet"]["feet"].values():     # 30° on the default 18.98 cm lever
        assert foot["height_cm"] == pytest.approx(9.49, abs=0.05)


def _weeks_of_sets(store: Store, right_cm, right_up_s=3.0, days: int = 6) -> None:
    for n in range(days):
        day = TODAY - timedelta(days=n)
        add_set(store, "left", day, time(9), height_cm=9.5, up_s=3.0)
        add_set(store, "right", day, time(9), height_cm=right_cm(n), up_s=right_up_s)


def test_a_foot_that_keeps_rising_less_is_pointed_out_with_the_figures(store):
    _weeks_of_sets(store, lambda n: 8.0 if n != 2 else 9.4)    # 5 of 6 sets lower
    found = [a for a in advice(store) if a.id == "feet_asymmetry"]
    assert len(found) == 1
    assert found[0].title.startswith("Your right heel rises") and "than your left" in \
        found[0].title
    assert "5 of your last 6 sets" in found[0].reasoning
    assert "8.2 against 9.5 cm" in found[0].reasoning


def test_an_occasional_or_small_difference_is_not_an_asymmetry(store):
    _weeks_of_sets(store, lambda n: 8.0 if n % 2 else 9.4)     # half the sets only
    assert not [a for a in advice(store) if a.id == "feet_asymmetry"]


def test_too_few_paired_sets_say_nothing_yet(store):
    _weeks_of_sets(store, lambda n: 7.0, days=2)
    assert not [a for a in advice(store) if a.id == "feet_asymmetry"]


def test_heights_even_but_one_foot_rushed_is_the_tempo_asymmetry(store):
    _weeks_of_sets(store, lambda n: 9.4, right_up_s=2.0)
    (found,) = [a for a in advice(store) if a.id == "feet_asymmetry"]
    assert found.title == "Your right foot rises faster than your left"
    assert "2.0 s on average against 3.0 s" in found.reasoning
