"""The training log: one SQLite file holding every set, rep, hold and rating.

MQTT QoS 1 delivers at least once, and a set is redelivered from the service's
outbox until the log confirms it, so the same set can arrive many times. Every
message carries a fixed ``id``; it is the primary key and rows go in with
``INSERT OR IGNORE``, so a set is stored once however often it comes, and the
same id with *other* content is refused as a conflict, never half-applied. WAL
mode lets ``heelraise progress`` or the dashboard read while the logger writes.

Times are stored in one format, RFC 3339 UTC with milliseconds (what
:func:`~pi_service.schema.format_time` writes), so ordering the text orders the
times. Dates ("which day was this set") are the local calendar date of the
event, because a person's training day is the one on their wall clock.

The schema is the sum of its migrations: a new file runs them all, an older one
the ones it lacks, in one transaction, so a log written by one version opens in
every later one (and a newer file is refused, untouched).
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
from datetime import UTC, date, datetime
from pathlib import Path

from ..builders import iso_utc
from ..errors import InputError, PayloadError
from ..schema import format_time, parse_time

log = logging.getLogger(__name__)

SYNCED_SINCE = datetime(2025, 1, 1, tzinfo=UTC)
"""A set stamped before this came from a clock that was never set (a Pi without network
time starts near 1970, or at its last saved time): kept, and marked unsynchronised."""

SIMULATED = "simulator"
"""The ``source`` of sets from the simulated sensor: kept, but out of the person's history."""

KEEP_REJECTS = 1000
"""Rejected messages kept whole (the newest), so a bug that rejects real sets loses none."""

_V1 = """
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
"""Version 1, as heelraise first wrote it; never edited (later versions migrate from it)."""

_V2 = """
ALTER TABLE sets ADD COLUMN source TEXT;
ALTER TABLE sets ADD COLUMN synced INTEGER NOT NULL DEFAULT 1;
ALTER TABLE reps ADD COLUMN source TEXT;
ALTER TABLE holds ADD COLUMN source TEXT;
CREATE TABLE rejects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    error TEXT NOT NULL,
    payload BLOB NOT NULL
);
UPDATE sets SET time = rfc3339(time), start_time = rfc3339(start_time);
UPDATE sets SET synced = time >= rfc3339('{since}');
UPDATE reps SET time = rfc3339(time);
UPDATE holds SET time = rfc3339(time);
UPDATE pain SET time = rfc3339(time);
UPDATE stiffness SET time = rfc3339(time);
"""
"""Version 2: the sample source and clock state of each set, one time format, rejects kept."""

_V3 = """
ALTER TABLE sets ADD COLUMN struck TEXT;
ALTER TABLE sets ADD COLUMN struck_reason TEXT;
CREATE TABLE activity (
    device TEXT NOT NULL,
    day TEXT NOT NULL,
    activity REAL NOT NULL,
    time TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (device, day)
);
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
"""Version 3: sets struck from the history (kept, flagged), the day's activity rating (load
outside the exercises), and facts about the log itself (a simulated person's log)."""

_V4 = """
CREATE TABLE heel_rise_tests (
    id TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    session TEXT,
    test_id TEXT NOT NULL,
    time TEXT NOT NULL,
    day TEXT NOT NULL,
    leg TEXT NOT NULL,
    involved INTEGER,
    valid_reps INTEGER NOT NULL,
    peak_height_cm REAL,
    total_displacement_cm REAL NOT NULL,
    work_j REAL,
    stop_reason TEXT NOT NULL,
    incline_deg REAL,
    source TEXT,
    payload TEXT NOT NULL
);
CREATE INDEX heel_rise_tests_time ON heel_rise_tests (time);
"""
"""Version 4: heel-rise tests (one row a leg, paired by test_id), apart from training."""

MIGRATIONS = (_V1, _V2.format(since=format_time(SYNCED_SINCE)), _V3, _V4)
"""Version n is MIGRATIONS[:n] applied in order."""
SCHEMA_VERSION = len(MIGRATIONS)


def _rfc3339(text: str | None) -> str | None:
    """An older row's time in the one format (left as it is when it cannot be read)."""
    if text is None:
        return None
    try:
        return format_time(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return text


class Refused(PayloadError):
    """The log will not store this: the same id with other content, or a rating for a set
    it does not have (or that belongs to another device)."""


def is_database_failure(exc: BaseException) -> bool:
    """True when SQLite itself failed (disk, lock, corruption), not the data handed to it."""
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(
        exc, sqlite3.IntegrityError | sqlite3.DataError | sqlite3.ProgrammingError)


def utc_now_iso() -> str:
    """Wall-clock now in the payload format (RFC 3339 UTC with "Z")."""
    return iso_utc(time.time())


def local_day(time_iso: str) -> date:
    """The person's calendar day for an event time in RFC 3339 UTC."""
    return parse_time(time_iso).astimezone().date()


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
    source: str | None = None        # None: sent before sets said where they came from
    synced: bool = True              # False: stamped by a clock that was never set
    struck: str | None = None        # when it was struck from the history (kept, flagged)

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
    return parse_time(text)


class Store:
    """The log's SQLite file. Thread-safe: paho's network thread writes, others read.

    ``busy_timeout_s`` is how long a write waits for another process's lock before
    failing. ``create=False`` refuses a file that is not there (a typo in ``--db`` must
    not leave an empty log behind). ``simulated_person=True`` makes a new log the
    simulated person's own (``heelraise start`` with no sensor): it says so in its
    ``meta`` table, and then its simulated sets are that person's history, since no
    real person's are in it. A context manager; :meth:`close` is idempotent.
    """

    def __init__(self, path: str | Path, busy_timeout_s: float = 5.0, *, create: bool = True,
                 simulated_person: bool = False) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        memory = str(path) == ":memory:"
        if not create and not memory and not self.path.is_file():
            raise InputError(path, "no training log here (run `heelraise log`, or check --db)")
        try:
            if not memory:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise InputError(path, f"cannot open the log database: {exc}") from None
        try:
            self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a stored set is confirmed to the service, which then forgets it, so the
            # commit must survive a power cut, not only a crash.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.create_function("rfc3339", 1, _rfc3339, deterministic=True)
            self._migrate()
            if simulated_person:
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('person', 'simulated')")
            person = self._db.execute("SELECT value FROM meta WHERE key = 'person'").fetchone()
        except sqlite3.Error as exc:
            self._db.close()
            raise InputError(path, f"not a usable log database: {exc}") from None
        except InputError:
            self._db.close()
            raise
        self._closed = False
        self.simulated_person = person is not None and person[0] == "simulated"
        """True in a simulated person's log: its simulated rows are the person's history."""

    def _migrate(self) -> None:
        """Bring the file to :data:`SCHEMA_VERSION` in one transaction (nothing if it is)."""
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise InputError(self.path, f"log schema version {version} is newer than this "
                                        f"program's ({SCHEMA_VERSION}); upgrade heelraise")
        if version == SCHEMA_VERSION:
            return
        steps = " ".join(MIGRATIONS[version:])
        self._db.executescript(f"BEGIN IMMEDIATE; {steps} "
                               f"PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")
        if version:
            log.info("log %s migrated from schema %d to %d", self.path, version, SCHEMA_VERSION)

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

    @property
    def data_version(self) -> int:
        """Changes when another connection (``heelraise pain --db``, ``strike``) commits, so
        the running log can republish what a command wrote behind its back."""
        with self._lock:
            return self._db.execute("PRAGMA data_version").fetchone()[0]

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
        """Store a validated set payload; False when its id was already stored, as it is.

        The same id with other content raises :class:`Refused`: a redelivery is the same
        bytes, so anything else is a bug or a forgery and must not overwrite a set.
        """
        target = p.get("target_reps")
        when = _canonical(p["time"])
        synced = p.get("clock_synced") is not False and parse_time(when) >= SYNCED_SINCE
        return self._insert("sets", p, {
            "id": p["id"], "device": p["device"], "session": p.get("session"), "time": when,
            "start_time": _canonical(p.get("start_time")),
            "day": local_day(when).isoformat(), "set_index": p.get("index"),
            "stage": p["stage"], "reps": p["reps"], "ok_reps": p.get("ok_reps", p["reps"]),
            "target_lo": target[0] if target else None,
            "target_hi": target[1] if target else None,
            "tempo_compliance": p.get("tempo_compliance"), "holds": p.get("holds") or 0,
            "load_kg": p.get("load_kg"), "pain": p.get("pain"), "source": p.get("source"),
            "synced": int(synced)})

    def add_rep(self, p: dict) -> bool:
        """Store a validated rep payload; False when its id was already stored, as it is."""
        when = _canonical(p["time"])
        return self._insert("reps", p, {
            "id": p["id"], "device": p["device"], "session": p.get("session"), "time": when,
            "day": local_day(when).isoformat(), "stage": p.get("stage"),
            "set_index": p.get("set_index"), "rep_index": p.get("index"),
            "up_s": p.get("up_s"), "hold_s": p.get("hold_s"), "down_s": p.get("down_s"),
            "peak_deg": p.get("peak_deg"), "bottom_deg": p.get("bottom_deg"),
            "verdict": p.get("verdict"), "source": p.get("source")})

    def add_hold(self, p: dict) -> bool:
        """Store a validated stage-1 hold payload; False when its id was already stored."""
        when = _canonical(p["time"])
        return self._insert("holds", p, {
            "id": p["id"], "device": p["device"], "session": p.get("session"), "time": when,
            "day": local_day(when).isoformat(), "hold_s": p.get("hold_s"),
            "peak_deg": p.get("peak_deg"), "verdict": p.get("verdict"),
            "source": p.get("source")})

    def add_test(self, p: dict) -> bool:
        """Store a validated heel-rise test payload (one leg); False when already stored."""
        when = _canonical(p["time"])
        return self._insert("heel_rise_tests", p, {
            "id": p["id"], "device": p["device"], "session": p.get("session"),
            "test_id": p["test_id"], "time": when, "day": local_day(when).isoformat(),
            "leg": p["leg"], "involved": None if p.get("involved") is None else
            int(p["involved"]), "valid_reps": p["valid_reps"],
            "peak_height_cm": p.get("peak_height_cm"),
            "total_displacement_cm": p["total_displacement_cm"], "work_j": p.get("work_j"),
            "stop_reason": p["stop_reason"], "incline_deg": p.get("incline_deg"),
            "source": p.get("source")})

    def tests(self, simulated: bool = False) -> list[dict]:
        """The person's heel-rise tests (a payload a leg), oldest first; simulated ones
        only in a simulated person's log or when ``simulated``."""
        sql, args = self._filtered("SELECT payload FROM heel_rise_tests", None, None,
                                   simulated)
        with self._lock:
            return [json.loads(r[0]) for r in
                    self._db.execute(sql + " ORDER BY time, id", args).fetchall()]

    def _insert(self, table: str, payload: dict, row: dict) -> bool:
        row["payload"] = json.dumps(payload, separators=(",", ":"))
        names = ", ".join(row)
        with self._tx() as db:
            cur = db.execute(f"INSERT OR IGNORE INTO {table} ({names}) VALUES "
                             f"({', '.join('?' * len(row))})", tuple(row.values()))
            if cur.rowcount == 1:
                return True
            stored = db.execute(f"SELECT payload FROM {table} WHERE id = ?",
                                (row["id"],)).fetchone()[0]
        if json.loads(stored) != payload:
            kind = {"heel_rise_tests": "test"}.get(table, table.removesuffix("s"))
            raise Refused(f"{kind}: id {row['id']!r} is already stored with other content",
                          reason=f"{kind}: id already stored with other content")
        return False

    def record_pain(self, pain: float, *, device: str, set_id: str | None = None,
                    time: str | None = None, rating_id: str | None = None,
                    source: str = "cli") -> bool:
        """Pain during exercise (0-10) for one set, or for the session when no ``set_id``.

        A set named must be in the log and belong to ``device`` (else :class:`Refused`).
        The set's own ``pain`` follows its newest rating. ``rating_id`` makes a
        redelivered rating count once (False); the same id with another value or set
        is refused as a conflict.
        """
        _check_rating("pain", pain)
        time = _canonical(time or utc_now_iso())
        rating_id = rating_id or uuid.uuid4().hex
        with self._tx() as db:
            if set_id is not None:
                owner = db.execute("SELECT device FROM sets WHERE id = ?", (set_id,)).fetchone()
                if owner is None or owner[0] != device:
                    fault = "names no set in the log" if owner is None else \
                        "names a set of another device"
                    raise Refused(f"cmd/pain: 'set_id' {fault}, got {set_id!r}",
                                  reason=f"cmd/pain: 'set_id' {fault}")
            cur = db.execute("INSERT OR IGNORE INTO pain VALUES (?,?,?,?,?,?,?)",
                             (rating_id, device, time, local_day(time).isoformat(),
                              float(pain), set_id, source))
            if cur.rowcount == 0:
                old = db.execute("SELECT device, pain, set_id FROM pain WHERE id = ?",
                                 (rating_id,)).fetchone()
                if tuple(old) != (device, float(pain), set_id):
                    raise Refused(f"cmd/pain: rating id {rating_id!r} is already stored with "
                                  "another value or set",
                                  reason="cmd/pain: rating id already stored with other content")
                return False
            if set_id is not None:
                db.execute("UPDATE sets SET pain = (SELECT pain FROM pain WHERE set_id = ? "
                           "ORDER BY time DESC, id DESC LIMIT 1) WHERE id = ?",
                           (set_id, set_id))
            return True

    def record_stiffness(self, stiffness: float, *, device: str, day: date | None = None,
                         time: str | None = None, source: str = "cli") -> None:
        """Next-morning stiffness (0-10) for ``day`` (default: today); a new rating replaces."""
        self._record_daily("stiffness", stiffness, device, day, time, source)

    def record_activity(self, activity: float, *, device: str, day: date | None = None,
                        time: str | None = None, source: str = "cli") -> None:
        """The day's load outside the exercises (0 resting - 10 on my feet all day), for
        ``day`` (default: today); a new rating replaces the day's."""
        self._record_daily("activity", activity, device, day, time, source)

    def _record_daily(self, table: str, value: float, device: str, day: date | None,
                      time: str | None, source: str) -> None:
        _check_rating(table, value)
        time = _canonical(time or utc_now_iso())
        day = day or local_day(time)
        with self._tx() as db:
            db.execute(f"INSERT OR REPLACE INTO {table} VALUES (?,?,?,?,?)",
                       (device, day.isoformat(), float(value), time, source))

    def fact(self, key: str) -> str | None:
        """A fact the log keeps about itself (``meta``), or None."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def remember(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def strike(self, set_id: str, reason: str = "", *, undo: bool = False) -> SetRow:
        """Strike a set logged by mistake from the history (or put it back with ``undo``).

        The set stays in the log and in every export, flagged with when and why; the
        coaching and the summaries leave it out. Raises :class:`Refused` for an unknown id.
        """
        with self._tx() as db:
            cur = db.execute("UPDATE sets SET struck = ?, struck_reason = ? WHERE id = ?",
                             (None if undo else utc_now_iso(), None if undo else reason[:200],
                              set_id))
            if cur.rowcount == 0:
                raise Refused(f"strike: no set {set_id!r} in {self.path}",
                              reason="strike: no such set")
        return next(s for s in self.sets(struck=True, simulated=True) if s.id == set_id)

    def count_rejected(self, reason: str, topic: str, error: str, payload: bytes = b"") -> None:
        """Count one rejected message under ``reason`` and keep it whole (the newest
        :data:`KEEP_REJECTS`); counters and messages survive restarts."""
        now = utc_now_iso()
        with self._tx() as db:
            db.execute(
                "INSERT INTO rejected VALUES (?, 1, ?, ?, ?) ON CONFLICT(reason) DO UPDATE SET "
                "count = count + 1, last_topic = excluded.last_topic, "
                "last_error = excluded.last_error, last_time = excluded.last_time",
                (reason, topic, error, now))
            cur = db.execute("INSERT INTO rejects (time, topic, reason, error, payload) "
                             "VALUES (?, ?, ?, ?, ?)", (now, topic, reason, error,
                                                        bytes(payload)))
            db.execute("DELETE FROM rejects WHERE seq <= ?", (cur.lastrowid - KEEP_REJECTS,))

    # -- reads -----------------------------------------------------------------------------

    def rejected(self) -> dict[str, int]:
        """Rejected-message counts by reason."""
        with self._lock:
            rows = self._db.execute("SELECT reason, count FROM rejected ORDER BY reason")
            return dict(rows.fetchall())

    def _filtered(self, sql: str, device: str | None, since: date | None,
                  simulated: bool = False) -> tuple[str, list]:
        """``sql`` with WHERE clauses for a device, a first day, and real rows only (all
        rows in a simulated person's log)."""
        return _filtered(sql, device, since, simulated or self.simulated_person)

    def devices(self) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT device FROM sets UNION "
                                    "SELECT DISTINCT device FROM reps UNION "
                                    "SELECT DISTINCT device FROM holds ORDER BY 1")
            return [r[0] for r in rows]

    def count(self, table: str) -> int:
        if table not in ("sets", "reps", "holds", "pain", "stiffness", "activity",
                         "heel_rise_tests"):
            raise ValueError(f"no table {table!r}")
        with self._lock:
            return self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    def sets(self, device: str | None = None, since: date | None = None,
             simulated: bool = False, struck: bool = False) -> list[SetRow]:
        """Stored sets in time order, for one device and/or from one day on.

        Simulated sets (the simulator played them, not the person) are left out of the
        person's history unless ``simulated`` is True, and so are struck sets unless
        ``struck`` is True.
        """
        sql, args = self._filtered(
            "SELECT id, device, session, time, coalesce(start_time, time), day, set_index, "
            "stage, reps, ok_reps, target_lo, target_hi, tempo_compliance, holds, load_kg, "
            "pain, payload, source, synced, struck FROM sets", device, since, simulated)
        if not struck:
            sql += " AND struck IS NULL"
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY time, id", args).fetchall()
        return [SetRow(r[0], r[1], r[2], _dt(r[3]), _dt(r[4]), date.fromisoformat(r[5]), r[6],
                       r[7], r[8], r[9], None if r[10] is None else (r[10], r[11]), r[12],
                       r[13], r[14], r[15], r[16], r[17], bool(r[18]), r[19]) for r in rows]

    def last_set_id(self, device: str | None, day: date) -> str | None:
        """The person's newest set on ``day`` (of ``device``, or of any of the person's
        devices when None): what an unaimed rating is about."""
        sql, args = self._filtered("SELECT id FROM sets", device, day)
        with self._lock:
            row = self._db.execute(sql + " AND day = ? AND struck IS NULL ORDER BY time DESC, "
                                   "id DESC LIMIT 1", [*args, day.isoformat()]).fetchone()
        return None if row is None else row[0]

    def reps(self, device: str | None = None, since: date | None = None) -> list[RepRow]:
        """The person's stored reps in time order (simulated ones left out)."""
        sql, args = self._filtered("SELECT id, device, time, day, stage, bottom_deg, verdict "
                                   "FROM reps", device, since)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY time, id", args).fetchall()
        return [RepRow(r[0], r[1], _dt(r[2]), date.fromisoformat(r[3]), r[4], r[5], r[6])
                for r in rows]

    def rep_heights(self, since: date | None = None) -> dict[tuple, list[float]]:
        """The person's reps' heights (cm, as each device measured them) by the set they
        belong to, ``(device, session, set index)``, oldest first."""
        sql, args = self._filtered(
            "SELECT device, session, set_index, json_extract(payload, '$.height_cm') "
            "FROM reps", None, since)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY time, id", args).fetchall()
        out: dict[tuple, list[float]] = {}
        for device, session, index, height in rows:
            if isinstance(height, int | float):
                out.setdefault((device, session, index), []).append(float(height))
        return out

    def holds(self, device: str | None = None, since: date | None = None) -> list[dict]:
        """The person's stored holds in time order (simulated ones left out)."""
        sql, args = self._filtered("SELECT payload FROM holds", device, since)
        with self._lock:
            return [json.loads(r[0]) for r in
                    self._db.execute(sql + " ORDER BY time, id", args).fetchall()]

    def pain(self, device: str | None = None, since: date | None = None) -> list[Rating]:
        """Pain ratings, in time order: those recorded later (CLI, commands) and those a
        set carried when it arrived (unless a later rating of that set replaced it)."""
        sql, args = _filtered("SELECT device, time, day, pain, set_id FROM pain", device, since,
                              simulated=True)
        set_sql, set_args = self._filtered("SELECT device, time, day, pain, id FROM sets",
                                           device, since)
        with self._lock:
            rows = self._db.execute(
                f"{sql} UNION ALL {set_sql} AND pain IS NOT NULL AND struck IS NULL "
                "AND id NOT IN (SELECT set_id FROM pain WHERE set_id IS NOT NULL) ORDER BY 2",
                args + set_args).fetchall()
        return [Rating(r[0], _dt(r[1]), date.fromisoformat(r[2]), r[3], r[4]) for r in rows]

    def stiffness(self, device: str | None = None, since: date | None = None) -> list[Rating]:
        """Morning stiffness, one rating a day (a person rating from two devices' pages
        the same morning gave one answer: the newest counts)."""
        return self._daily("stiffness", device, since)

    def activity(self, device: str | None = None, since: date | None = None) -> list[Rating]:
        """The day's load outside the exercises, one rating a day (the newest)."""
        return self._daily("activity", device, since)

    def _daily(self, table: str, device: str | None, since: date | None) -> list[Rating]:
        sql, args = self._filtered(f"SELECT device, time, day, {table} FROM {table}", device,
                                   since)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY day, time", args).fetchall()
        newest = {r[2]: r for r in rows}
        return [Rating(r[0], _dt(r[1]), date.fromisoformat(r[2]), r[3]) for r in newest.values()]

    def rows(self, table: str) -> tuple[list[str], list[tuple]]:
        """Column names and rows of a table (payload columns left out), oldest first, for
        export (struck sets included, with the ``struck`` column saying so)."""
        order = _ORDER.get(table)
        if order is None:
            raise ValueError(f"no table {table!r}")
        with self._lock:
            cur = self._db.execute(f"SELECT * FROM {table} ORDER BY {order}")
            names = [d[0] for d in cur.description]
            data = cur.fetchall()
        keep = [i for i, n in enumerate(names) if n != "payload"]
        return [names[i] for i in keep], [tuple(r[i] for i in keep) for r in data]

    def payloads(self, table: str) -> list[dict]:
        """The stored payloads of sets, reps or holds, as they arrived."""
        if table not in ("sets", "reps", "holds", "heel_rise_tests"):
            raise ValueError(f"no payloads in {table!r}")
        with self._lock:
            return [json.loads(r[0]) for r in
                    self._db.execute(f"SELECT payload FROM {table} ORDER BY time, id")]


def _canonical(text: str | None) -> str | None:
    """A validated RFC 3339 UTC time in the one stored format (so text order is time order)."""
    return None if text is None else format_time(parse_time(text))


def _check_rating(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 10:
        raise ValueError(f"{name} must be a number from 0 to 10, got {value!r}")


_ORDER = {"sets": "time, id", "reps": "time, id", "holds": "time, id", "pain": "time, id",
          "stiffness": "day, device", "activity": "day, device",
          "heel_rise_tests": "time, id",
          "rejected": "last_time, reason"}
"""The exportable tables and their order: oldest first, as a spreadsheet reads a diary."""

_REAL = f"coalesce(source, '') != '{SIMULATED}'"
"""SQL: a row the person did, not the simulator."""


def _filtered(sql: str, device: str | None, since: date | None,
              simulated: bool = False) -> tuple[str, list]:
    """``sql`` with WHERE clauses for a device, a first day, and real rows only."""
    clauses, args = ["1"] if simulated else [_REAL], []
    if device is not None:
        clauses.append("device = ?")
        args.append(device)
    if since is not None:
        clauses.append("day >= ?")
        args.append(since.isoformat())
    return f"{sql} WHERE {' AND '.join(clauses)}", args
