"""The log's SQLite store: each id once, ratings, rejected counters, schema version, export."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import uuid
from datetime import UTC, datetime

import pytest

from pi_service import builders, mqtt_docs
from pi_service import payloads as P
from pi_service.errors import InputError
from pi_service.log.export import export
from pi_service.log.store import KEEP_REJECTS, SCHEMA_VERSION, Refused, Store
from pi_service.pipeline.events import Hold, SetSummary
from pi_service.stages import load_stage

SET = mqtt_docs.examples()["set"]
REP = mqtt_docs.examples()["rep"]
HOLD = mqtt_docs.examples()["hold"]


def a_set(**changes) -> dict:
    return {**SET, "id": uuid.uuid4().hex, **changes}


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "log.sqlite3") as s:
        yield s


def test_each_id_is_stored_once(store):
    first = a_set(reps=15)
    assert store.add_set(first) is True
    assert store.add_set(first) is False
    with pytest.raises(Refused, match="set: id '.*' is already stored with other content"):
        store.add_set({**first, "reps": 3})              # a conflict never overwrites
    assert store.add_rep(REP) is True and store.add_rep(REP) is False
    assert store.add_hold(HOLD) is True and store.add_hold(HOLD) is False
    assert [s.reps for s in store.sets()] == [15]
    assert (store.count("sets"), store.count("reps"), store.count("holds")) == (1, 1, 1)


def test_a_hold_a_gap_cut_short_is_stored_with_its_length_unknown(store):
    # what the service publishes for it: the hold and its set, with nulls, not guesses
    t0 = datetime(2026, 3, 2, 6, 30, tzinfo=UTC).timestamp()
    ctx = builders.Context("heelraise", "run-1", load_stage(1), builders.offset_clock(t0))
    hold = P.validate("hold", builders.hold_payload(ctx, Hold(60.0, None, None, 28.0, None)))
    summary = SetSummary(index=1, stage=1, start_s=59.0, end_s=75.0, reps=0,
                         target_reps=(1, 1), ok_reps=0, tempo_compliance=None,
                         rest_before_s=None, holds=1, hold_s=(None,))
    a_set_of_it = P.validate("set", builders.set_payload(ctx, summary))
    assert store.add_hold(hold) is True and store.add_set(a_set_of_it) is True
    [stored] = store.holds()
    assert stored["hold_s"] is None and stored["verdict"] is None and stored["end_s"] is None
    [row] = store.sets()
    assert row.holds == 1 and row.tempo_compliance is None


def test_log_survives_reopening_and_is_wal_with_a_schema_version(tmp_path):
    path = tmp_path / "log.sqlite3"
    with Store(path) as s:
        s.add_set(SET)
        s.count_rejected("set: 'id' is missing", "heelraise/left/set", "set: 'id' is missing")
        s.close()   # idempotent
    with Store(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert [row.id for row in s.sets()] == [SET["id"]]
        assert s.sets()[0].payload == SET
        assert s.rejected() == {"set: 'id' is missing": 1}
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_newer_schema_is_refused_without_touching_it(tmp_path):
    path = tmp_path / "log.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(InputError, match="newer than this program"):
        Store(path)
    with pytest.raises(InputError, match="not a usable log database"):
        (tmp_path / "junk").write_bytes(b"not sqlite at all" * 100)
        Store(tmp_path / "junk")


def test_pain_for_a_set_lands_on_the_set(store):
    store.add_set(SET)
    store.record_pain(3, device="left", set_id=SET["id"], rating_id="r1")
    assert store.record_pain(3, device="left", set_id=SET["id"], rating_id="r1") is False
    assert store.sets()[0].pain == 3
    assert [r.value for r in store.pain("left")] == [3]


def test_a_resent_rating_with_another_value_is_a_conflict_and_changes_nothing(store):
    store.add_set(SET)
    store.record_pain(3, device="left", set_id=SET["id"], rating_id="r1",
                      time="2026-01-31T07:20:00.000Z")
    with pytest.raises(Refused, match="rating id 'r1' is already stored with another value"):
        store.record_pain(8, device="left", set_id=SET["id"], rating_id="r1")
    assert store.sets()[0].pain == 3 and [r.value for r in store.pain("left")] == [3]
    # a later rating of the same set (its own id) is the set's pain from then on
    store.record_pain(5, device="left", set_id=SET["id"], rating_id="r2",
                      time="2026-01-31T07:30:00.000Z")
    store.record_pain(1, device="left", set_id=SET["id"], rating_id="r0",
                      time="2026-01-31T07:10:00.000Z")              # arrives late, is older
    assert store.sets()[0].pain == 5


@pytest.mark.parametrize(("set_id", "device", "fault"), [
    ("no-such-set", "left", "'set_id' names no set in the log"),
    (SET["id"], "right", "'set_id' names a set of another device"),
])
def test_a_rating_must_name_a_set_of_its_own_device(store, set_id, device, fault):
    store.add_set(SET)
    with pytest.raises(Refused, match=fault):
        store.record_pain(2, device=device, set_id=set_id, rating_id="r1")
    assert store.count("pain") == 0 and store.sets()[0].pain == SET["pain"]


def test_times_are_stored_in_one_format_and_ordered_as_times(store):
    late = a_set(time="2026-01-31T07:10:00Z", start_time="2026-01-31T07:09:00Z")
    early = a_set(time="2026-01-31T07:09:59.5Z", start_time="2026-01-31T07:09:00.0Z")
    store.add_set(late)
    store.add_set(early)
    rows = store.sets()
    assert [r.id for r in rows] == [early["id"], late["id"]]
    names, table = store.rows("sets")
    stored = {row[0]: dict(zip(names, row, strict=True)) for row in table}
    assert stored[early["id"]]["time"] == "2026-01-31T07:09:59.500Z"
    assert stored[late["id"]]["start_time"] == "2026-01-31T07:09:00.000Z"


def test_sets_from_a_clock_never_set_are_kept_and_marked_unsynchronised(store):
    never_set = a_set(time="1970-01-01T00:03:10.000Z", start_time="1970-01-01T00:02:00Z")
    says_so, fine = a_set(clock_synced=False), a_set()
    for payload in (never_set, says_so, fine):
        store.add_set(payload)
    synced = {r.id: r.synced for r in store.sets()}
    assert synced == {never_set["id"]: False, says_so["id"]: False, fine["id"]: True}


def test_simulated_sets_are_kept_but_left_out_of_the_persons_history(store):
    real, played = a_set(source="mpu6050"), a_set(source="simulator")
    store.add_set(real)
    store.add_set(played)
    store.add_rep({**REP, "source": "simulator"})
    assert [r.id for r in store.sets()] == [real["id"]]
    assert {r.id for r in store.sets(simulated=True)} == {real["id"], played["id"]}
    assert store.reps() == [] and store.count("reps") == 1
    assert store.last_set_id("left", store.sets()[0].day) == real["id"]


def test_rejected_messages_are_kept_whole_up_to_a_limit(store):
    for i in range(KEEP_REJECTS + 5):
        store.count_rejected("set: payload is not JSON", "heelraise/a/set", "set: ...",
                             f"junk {i}".encode())
    with sqlite3.connect(store.path) as db:
        kept = [r[0] for r in db.execute("SELECT payload FROM rejects ORDER BY seq")]
    assert len(kept) == KEEP_REJECTS and kept[-1] == f"junk {KEEP_REJECTS + 4}".encode()
    assert store.rejected() == {"set: payload is not JSON": KEEP_REJECTS + 5}


def test_stiffness_is_one_rating_per_day(store):
    from datetime import date

    store.record_stiffness(4, device="left", day=date(2026, 2, 1))
    store.record_stiffness(2, device="left", day=date(2026, 2, 1))
    store.record_stiffness(3, device="left", day=date(2026, 2, 2))
    assert [(r.day.isoformat(), r.value) for r in store.stiffness("left")] == [
        ("2026-02-01", 2), ("2026-02-02", 3)]


@pytest.mark.parametrize("value", [-1, 10.5, "3", True])
def test_ratings_outside_0_to_10_are_refused(store, value):
    with pytest.raises(ValueError, match="0 to 10"):
        store.record_pain(value, device="left")
    with pytest.raises(ValueError, match="0 to 10"):
        store.record_stiffness(value, device="left")
    assert store.count("pain") == store.count("stiffness") == 0


def test_rejected_counts_are_per_reason(store):
    for _ in range(3):
        store.count_rejected("set: payload is not JSON", "heelraise/a/set", "set: payload ...")
    store.count_rejected("rep: field 'up_s' must be >= 0", "heelraise/a/rep", "rep: ...")
    assert store.rejected() == {"rep: field 'up_s' must be >= 0": 1,
                                "set: payload is not JSON": 3}


def test_export_csv_has_one_row_per_set(store):
    second = a_set(reps=12, ok_reps=12, tempo_compliance=1.0, stage=3, target_reps=[12, 15],
                   time="2026-01-31T07:10:00.000Z")
    store.add_set(SET)
    store.add_set(second)
    out = io.StringIO()
    assert export(store, "csv", out) == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["id"] for r in rows] == [SET["id"], second["id"]]     # oldest first
    by_id = {r["id"]: r for r in rows}
    assert by_id[second["id"]]["reps"] == "12" and by_id[second["id"]]["stage"] == "3"
    assert by_id[second["id"]]["target_lo"] == "12" and by_id[second["id"]]["target_hi"] == "15"
    assert by_id[SET["id"]]["tempo_compliance"] == str(SET["tempo_compliance"])
    assert "payload" not in rows[0]


def test_export_json_holds_payloads_ratings_and_rejections(store):
    from datetime import date

    store.add_set(SET)
    store.add_rep(REP)
    store.record_stiffness(2, device="left", day=date(2026, 2, 1))
    store.count_rejected("set: payload is not JSON", "heelraise/left/set", "bad")
    out = io.StringIO()
    export(store, "json", out)
    doc = json.loads(out.getvalue())
    assert doc["schema_version"] == SCHEMA_VERSION and doc["v"] == 1
    assert doc["sets"] == [SET] and doc["reps"] == [REP] and doc["holds"] == []
    assert doc["stiffness"][0]["stiffness"] == 2 and doc["stiffness"][0]["day"] == "2026-02-01"
    assert doc["rejected"][0]["count"] == 1


def test_export_rejects_unknown_format(store):
    with pytest.raises(ValueError, match="unknown export format 'xml'"):
        export(store, "xml", io.StringIO())


def test_export_command_writes_a_file(tmp_path, capsys):
    import argparse

    from pi_service.log import commands

    db = tmp_path / "log.sqlite3"
    with Store(db) as s:
        s.add_set(SET)
    out = tmp_path / "sets.csv"
    parser = argparse.ArgumentParser()
    commands.configure_export(parser)
    args = parser.parse_args(["--db", str(db), "--format", "csv", "--out", str(out)])
    assert commands.run_export(args) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["id"] for r in rows] == [SET["id"]]
    assert "wrote 1 rows" in capsys.readouterr().err
