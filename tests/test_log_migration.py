"""A log written by an earlier version opens in this one, every row intact.

``tests/data/log-v1.sql`` is a real log written by the first released schema
(dumped from commit 79f35c7, not rebuilt from this code), so a migration that
forgets a column or mangles a row fails here. Each later schema version adds
its own dump beside it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pi_service.log.store import SCHEMA_VERSION, Store

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def v1_log(tmp_path) -> Path:
    path = tmp_path / "log.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript((DATA / "log-v1.sql").read_text())
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    return path


def test_a_version_1_log_migrates_forward_with_every_row(v1_log):
    with Store(v1_log) as store:
        assert store.schema_version == SCHEMA_VERSION
        sets = store.sets()
        assert [(s.index, s.reps) for s in sets] == [(1, 3), (2, 3)]
        assert [s.synced for s in sets] == [True, True]
        assert sets[0].pain == 3                               # the rating it had
        assert (store.count("reps"), store.count("holds")) == (1, 1)
        assert [r.value for r in store.stiffness("left")] == [2]
        assert store.rejected() == {"set: missing field 'id'": 1}
        names, rows = store.rows("sets")
        times = sorted(dict(zip(names, r, strict=True))["time"] for r in rows)
        # the basic-format time v1 accepted is rewritten in the one format, so it orders
        assert times == ["2026-01-31T07:00:38.400Z", "2026-01-31T07:10:00.000Z"]


def test_a_migrated_log_keeps_working_and_opens_again(v1_log):
    from pi_service.mqtt_docs import examples

    with Store(v1_log) as store:
        store.add_set({**examples()["set"], "id": "after-migration", "source": "mpu6050",
                       "time": "2026-02-01T07:00:00.000Z"})
    with Store(v1_log) as store:
        assert [s.id for s in store.sets()][-1] == "after-migration"
        assert store.sets()[-1].source == "mpu6050"
