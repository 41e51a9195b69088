"""The log's SQLite store: each id once, ratings, rejected counters, schema version, export."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import uuid

import pytest

from pi_service import mqtt_docs
from pi_service.errors import InputError
from pi_service.log.export import export
from pi_service.log.store import SCHEMA_VERSION, Store

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
    assert store.add_set({**first, "reps": 3}) is False   # a redelivery never overwrites
    assert store.add_rep(REP) is True and store.add_rep(REP) is False
    assert store.add_hold(HOLD) is True and store.add_hold(HOLD) is False
    assert [s.reps for s in store.sets()] == [15]
    assert (store.count("sets"), store.count("reps"), store.count("holds")) == (1, 1, 1)


def test_log_survives_reopening_and_is_wal_with_a_schema_version(tmp_path):
    path = tmp_path / "log.sqlite3"
    with Store(path) as s:
        s.add_set(SET)
        s.count_rejected("set: missing field 'id'", "heelraise/left/set", "set: missing ...")
        s.close()   # idempotent
    with Store(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert [row.id for row in s.sets()] == [SET["id"]]
        assert s.sets()[0].payload == SET
        assert s.rejected() == {"set: missing field 'id'": 1}
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
    assert [r["id"] for r in rows] == sorted([SET["id"], second["id"]])
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
