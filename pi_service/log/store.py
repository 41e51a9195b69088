"""The training log: one SQLite file holding every set, rep, hold and rating.

MQTT QoS 1 delivers at least once, and a set is redelivered from the service's
outbox until the broker acknowledges it, so the same set can arrive many times.
Every message carries a fixed ``id``; it is the primary key and rows go in with
``INSERT OR IGNORE``, so a set is stored once however often it comes. WAL mode
lets ``heelraise progress`` or the dashboard read while the logger writes.

Dates ("which day was this set") are the local calendar date of the event's
UTC time, because a person's training day is the one on their wall clock.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from ..builders import iso_utc
from ..errors import InputError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sets (
    id TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    session TEXT,
    time TEXT NOT NULL,
    start_time TEXT,
    day TEXT NOT NULL,
    set_index INTEGER,
    stage INTEGER NOT NULL,
    reps INTEGER NOT NULL,
    ok_reps INTEGER NOT NULL,
    target_lo INTEGER,
    target_hi INTEGER,
    tempo_compliance REAL,
    holds INTEGER NOT NULL,
    load_kg REAL,
    pain REAL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sets_device_time ON sets (device, time);
CREATE TABLE IF NOT EXISTS reps (
    id TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    session TEXT,
    time TEXT NOT NULL,
    day TEXT NOT NULL,
    stage INTEGER,
    set_index INTEGER,
    rep_index INTEGER,
    up_s REAL,
    hold_s REAL,
    down_s REAL,
    peak_deg REAL,
    bottom_deg REAL,
    verdict TEXT,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reps_device_time ON reps (device, time);
CREATE TABLE IF NOT EXISTS holds (
    id TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    session TEXT,
    time TEXT NOT NULL,
    day TEXT NOT NULL,
    hold_s REAL,
    peak_deg REAL,
    verdict TEXT,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS holds_device_time ON holds (device, time);
CREATE TABLE IF NOT EXISTS pain (
    id TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    time TEXT NOT NULL,
    day TEXT NOT NULL,
    pain REAL NOT NULL,
    set_id TEXT,
    source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS stiffness (
    device TEXT NOT NULL,
    day TEXT NOT NULL,
    stiffness REAL NOT NULL,
    time TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (device, day)
);
CREATE TABLE IF NOT EXISTS rejected (
    reason TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    last_topic TEXT NOT NULL,
    last_error TEXT NOT NULL,
    last_time TEXT NOT NULL
);
"""


def utc_now_iso() -> str:
    """Wall-clock now in the payload format (ISO 8601 UTC with "Z")."""
    return iso_utc(time.time())


def local_day(time_iso: str) -> date:
    """The person's calendar day for an event time in ISO 8601 UTC."""
    return datetime.fromisoformat(time_iso).astimezone().date()


@dataclass(frozen=True)
class SetRow:
    """One stored set, with the columns the coaching reads (the full payload on demand)."""

    id: str
    device: str
    session: str | None
    time: datetime
    start_time: datetime
    day: date
    index: int | None
    stage: int
    reps: int
    ok_reps: int
    target_reps: tuple[int, int] | None
    tempo_compliance: float | None
    holds: int
    load_kg: float | None
    pain: float | None
    raw: str = field(repr=False)

    @property
    def payload(self) -> dict:
        """The set as it arrived (parsed when asked: the coaching reads only the columns)."""
        return json.loads(self.raw)


@dataclass(frozen=True)
class RepRow:
    id: str
    device: str
    time: datetime
    day: date
    stage: int | None
    bottom_deg: float | None
    verdict: str | None


@dataclass(frozen=True)
class Rating:
    """A pain or stiffness rating (0-10) on a day; ``set_id`` when it is about one set."""

    device: str
    time: datetime
    day: date
    value: float
    set_id: str | None = None


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


class Store:
    """The log's SQLite file. Thread-safe: paho's network thread writes, others read.

    ``busy_timeout_s`` is how long a write waits for another process's lock before
    failing. A context manager; :meth:`close` is idempotent.
    """

    def __init__(self, path: str | Path, busy_timeout_s: float = 5.0) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise InputError(path, f"cannot open the log database: {exc}") from None
        try:
            self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise InputError(path, f"log schema version {version} is newer than this "
                                       f"program's ({SCHEMA_VERSION}); upgrade heelraise")
            self._db.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} "
                                   f"PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")
        except sqlite3.Error as exc:
            self._db.close()
            raise InputError(path, f"not a usable log database: {exc}") from None
        except InputError:
            self._db.close()
            raise
        self._closed = False

    # -- resource --------------------------------------------------------------------------

    def close(self) -> None:
        if not getattr(self, "_closed", True):
            self._closed = True
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- writes ----------------------------------------------------------------------------

    def add_set(self, p: dict) -> bool:
        """Store a validated set payload; False when its id was already stored."""
        target = p.get("target_reps")
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO sets VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (p["id"], p["device"], p.get("session"), p["time"], p.get("start_time"),
                 local_day(p["time"]).isoformat(), p.get("index"), p["stage"], p["reps"],
                 p.get("ok_reps", p["reps"]),
                 target[0] if target else None, target[1] if target else None,
                 p.get("tempo_compliance"), p.get("holds") or 0, p.get("load_kg"),
                 p.get("pain"), json.dumps(p, separators=(",", ":"))))
            return cur.rowcount == 1

    def add_rep(self, p: dict) -> bool:
        """Store a validated rep payload; False when its id was already stored."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO reps VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (p["id"], p["device"], p.get("session"), p["time"],
                 local_day(p["time"]).isoformat(), p.get("stage"), p.get("set_index"),
                 p.get("index"), p.get("up_s"), p.get("hold_s"), p.get("down_s"),
                 p.get("peak_deg"), p.get("bottom_deg"), p.get("verdict"),
                 json.dumps(p, separators=(",", ":"))))
            return cur.rowcount == 1

    def add_hold(self, p: dict) -> bool:
        """Store a validated stage-1 hold payload; False when its id was already stored."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO holds VALUES (?,?,?,?,?,?,?,?,?)",
                (p["id"], p["device"], p.get("session"), p["time"],
                 local_day(p["time"]).isoformat(), p.get("hold_s"), p.get("peak_deg"),
                 p.get("verdict"), json.dumps(p, separators=(",", ":"))))
            return cur.rowcount == 1

    def record_pain(self, pain: float, *, device: str, set_id: str | None = None,
                    time: str | None = None, rating_id: str | None = None,
                    source: str = "cli") -> bool:
        """Pain during exercise (0-10) for one set, or for the session when no ``set_id``.

        A rating that names a set is also written onto that set's row. ``rating_id``
        makes a redelivered rating count once; False when it was already stored.
        """
        _check_rating("pain", pain)
        time = time or utc_now_iso()
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO pain VALUES (?,?,?,?,?,?,?)",
                (rating_id or uuid.uuid4().hex, device, time, local_day(time).isoformat(),
                 float(pain), set_id, source))
            if set_id is not None:
                db.execute("UPDATE sets SET pain = ? WHERE id = ?", (float(pain), set_id))
            return cur.rowcount == 1

    def record_stiffness(self, stiffness: float, *, device: str, day: date | None = None,
                         time: str | None = None, source: str = "cli") -> None:
        """Next-morning stiffness (0-10) for ``day`` (default: today); a new rating replaces."""
        _check_rating("stiffness", stiffness)
        time = time or utc_now_iso()
        day = day or local_day(time)
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO stiffness VALUES (?,?,?,?,?)",
                       (device, day.isoformat(), float(stiffness), time, source))

    def count_rejected(self, reason: str, topic: str, error: str) -> None:
        """Count one rejected message under ``reason``; the counters survive restarts."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO rejected VALUES (?, 1, ?, ?, ?) ON CONFLICT(reason) DO UPDATE SET "
                "count = count + 1, last_topic = excluded.last_topic, "
                "last_error = excluded.last_error, last_time = excluded.last_time",
                (reason, topic, error, utc_now_iso()))

    # -- reads -----------------------------------------------------------------------------

    def rejected(self) -> dict[str, int]:
        """Rejected-message counts by reason."""
        with self._lock:
            rows = self._db.execute("SELECT reason, count FROM rejected ORDER BY reason")
            return dict(rows.fetchall())

    def devices(self) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT device FROM sets UNION "
                                    "SELECT DISTINCT device FROM reps UNION "
                                    "SELECT DISTINCT device FROM holds ORDER BY 1")
            return [r[0] for r in rows]

    def count(self, table: str) -> int:
        if table not in ("sets", "reps", "holds", "pain", "stiffness"):
            raise ValueError(f"no table {table!r}")
        with self._lock:
            return self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    def sets(self, device: str | None = None, since: date | None = None) -> list[SetRow]:
        """Stored sets in time order, for one device and/or from one day on."""
        sql, args = _filtered("SELECT id, device, session, time, coalesce(start_time, time), "
                              "day, set_index, stage, reps, ok_reps, target_lo, target_hi, "
                              "tempo_compliance, holds, load_kg, pain, payload FROM sets",
                              device, since)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY time, id", args).fetchall()
        return [SetRow(r[0], r[1], r[2], _dt(r[3]), _dt(r[4]), date.fromisoformat(r[5]), r[6],
                       r[7], r[8], r[9], None if r[10] is None else (r[10], r[11]), r[12],
                       r[13], r[14], r[15], r[16]) for r in rows]

    def last_set_id(self, device: str, day: date) -> str | None:
        """The newest set of ``device`` on ``day``: what a rating without a set is about."""
        with self._lock:
            row = self._db.execute("SELECT id FROM sets WHERE device = ? AND day = ? "
                                   "ORDER BY time DESC, id DESC LIMIT 1",
                                   (device, day.isoformat())).fetchone()
        return None if row is None else row[0]

    def reps(self, device: str | None = None, since: date | None = None) -> list[RepRow]:
        sql, args = _filtered("SELECT id, device, time, day, stage, bottom_deg, verdict FROM reps",
                              device, since)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY time, id", args).fetchall()
        return [RepRow(r[0], r[1], _dt(r[2]), date.fromisoformat(r[3]), r[4], r[5], r[6])
                for r in rows]

    def holds(self, device: str | None = None, since: date | None = None) -> list[dict]:
        sql, args = _filtered("SELECT payload FROM holds", device, since)
        with self._lock:
            return [json.loads(r[0]) for r in
                    self._db.execute(sql + " ORDER BY time, id", args).fetchall()]

    def pain(self, device: str | None = None, since: date | None = None) -> list[Rating]:
        """Pain ratings, in time order: those recorded later (CLI, commands) and those a
        set carried when it arrived (unless a later rating of that set replaced it)."""
        sql, args = _filtered("SELECT device, time, day, pain, set_id FROM pain", device, since)
        set_sql, set_args = _filtered("SELECT device, time, day, pain, id FROM sets", device,
                                      since)
        with self._lock:
            rows = self._db.execute(
                f"{sql} UNION ALL {set_sql} {'AND' if set_args else 'WHERE'} pain IS NOT NULL "
                "AND id NOT IN (SELECT set_id FROM pain WHERE set_id IS NOT NULL) ORDER BY 2",
                args + set_args).fetchall()
        return [Rating(r[0], _dt(r[1]), date.fromisoformat(r[2]), r[3], r[4]) for r in rows]

    def stiffness(self, device: str | None = None, since: date | None = None) -> list[Rating]:
        sql, args = _filtered("SELECT device, time, day, stiffness FROM stiffness", device, since)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY day", args).fetchall()
        return [Rating(r[0], _dt(r[1]), date.fromisoformat(r[2]), r[3]) for r in rows]

    def rows(self, table: str) -> tuple[list[str], list[tuple]]:
        """Column names and rows of a table (payload columns left out), for export."""
        if table not in ("sets", "reps", "holds", "pain", "stiffness", "rejected"):
            raise ValueError(f"no table {table!r}")
        with self._lock:
            cur = self._db.execute(f"SELECT * FROM {table} ORDER BY 1, 2")
            names = [d[0] for d in cur.description]
            data = cur.fetchall()
        keep = [i for i, n in enumerate(names) if n != "payload"]
        return [names[i] for i in keep], [tuple(r[i] for i in keep) for r in data]

    def payloads(self, table: str) -> list[dict]:
        """The stored payloads of sets, reps or holds, as they arrived."""
        if table not in ("sets", "reps", "holds"):
            raise ValueError(f"no payloads in {table!r}")
        with self._lock:
            return [json.loads(r[0]) for r in
                    self._db.execute(f"SELECT payload FROM {table} ORDER BY time, id")]


def _check_rating(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 10:
        raise ValueError(f"{name} must be a number from 0 to 10, got {value!r}")


def _filtered(sql: str, device: str | None, since: date | None) -> tuple[str, list]:
    clauses, args = [], []
    if device is not None:
        clauses.append("device = ?")
        args.append(device)
    if since is not None:
        clauses.append("day >= ?")
        args.append(since.isoformat())
    return (sql + (" WHERE " + " AND ".join(clauses) if clauses else "")), args
