"""The durable outbox: sets and holds live here from the moment they exist until confirmed.

A set is a morning's rehab work: losing it to a broker outage, a Wi-Fi drop or a
power cut would make the log (and the progression advice built on it) wrong.
So each durable message is committed to SQLite, with its final id and topic,
before anyone tries to send it, and its row is deleted only once it is safe:
when the training log says it has stored it (its receipt on
``heelraise/log/<device>/ack``), because Mosquitto acknowledges a message before
it has saved it and a broker crash would otherwise lose it; or, where there is no
log to wait for, on the broker's PUBACK. WAL with ``synchronous=FULL`` makes the
commit survive a power cut, not just a crash. Rows keep their insertion order
(``seq``), so a drain after an outage delivers oldest first, and a redelivery
carries the same id, which is what lets the log drop duplicates.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id  TEXT NOT NULL UNIQUE,
    topic   TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos     INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS facts (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Row:
    """One message waiting for its broker acknowledgement."""

    seq: int
    msg_id: str
    topic: str
    payload: bytes
    qos: int


class Outbox:
    """SQLite queue of messages not yet acknowledged; safe to share between threads.

    Open the same path again after a crash and every unacknowledged row is
    still there, in order, with the same id.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db: sqlite3.Connection | None = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise InputError(self.path, f"cannot open outbox: {exc}") from None
        waiting = len(self)
        if waiting:
            log.info("outbox %s holds %d unacknowledged message(s)", self.path, waiting)

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise ValueError(f"outbox {self.path} is closed")
        return self._db

    def add(self, msg_id: str, topic: str, payload: bytes, qos: int = 1) -> int:
        """Commit one message (durably) and return its sequence number.

        Adding an id that is already waiting returns the existing row's seq, so
        a caller retrying after an error cannot queue a set twice.
        """
        with self._lock:
            db = self._conn()
            cur = db.execute(
                "INSERT OR IGNORE INTO outbox (msg_id, topic, payload, qos) VALUES (?, ?, ?, ?)",
                (msg_id, topic, bytes(payload), qos))
            if cur.rowcount:
                return int(cur.lastrowid)
            return int(db.execute("SELECT seq FROM outbox WHERE msg_id = ?",
                                  (msg_id,)).fetchone()[0])

    def after(self, seq: int = 0, limit: int = 100) -> list[Row]:
        """Up to ``limit`` waiting rows with a sequence number above ``seq``, oldest first."""
        with self._lock:
            rows = self._conn().execute(
                "SELECT seq, msg_id, topic, payload, qos FROM outbox WHERE seq > ? "
                "ORDER BY seq LIMIT ?", (seq, limit)).fetchall()
        return [Row(s, m, t, bytes(p), q) for s, m, t, p, q in rows]

    def remove(self, seqs: Iterable[int]) -> None:
        """Forget acknowledged rows, in one transaction however many there are."""
        batch = [(s,) for s in seqs]
        if not batch:
            return
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("DELETE FROM outbox WHERE seq = ?", batch)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def remove_ids(self, msg_ids: Iterable[str]) -> set[int]:
        """Forget the rows with these message ids (a receipt); the seqs that were there."""
        ids = list(msg_ids)
        if not ids:
            return set()
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                gone = set()
                for start in range(0, len(ids), 500):
                    chunk = ids[start:start + 500]
                    marks = ", ".join("?" * len(chunk))
                    gone |= {r[0] for r in db.execute(
                        f"SELECT seq FROM outbox WHERE msg_id IN ({marks})", chunk)}
                    db.execute(f"DELETE FROM outbox WHERE msg_id IN ({marks})", chunk)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return gone

    def fact(self, name: str) -> str | None:
        """A small fact kept with the outbox (e.g. that a training log has been seen)."""
        with self._lock:
            row = self._conn().execute("SELECT value FROM facts WHERE name = ?",
                                       (name,)).fetchone()
        return None if row is None else row[0]

    def remember(self, name: str, value: str) -> None:
        """Keep ``name = value`` across restarts."""
        with self._lock:
            self._conn().execute("INSERT OR REPLACE INTO facts VALUES (?, ?)", (name, value))

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn().execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            db, self._db = self._db, None
        if db is not None:
            db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
