"""The durable outbox: sets and holds live here from the moment they exist until acked.

A set is a morning's rehab work: losing it to a broker outage, a Wi-Fi drop or a
power cut would make the log (and the progression advice built on it) wrong.
So each durable message is committed to SQLite, with its final id and topic,
before anyone tries to send it, and its row is deleted only after the broker's
PUBACK. WAL with ``synchronous=FULL`` makes the commit survive a power cut, not
just a crash. Rows keep their insertion order (``seq``), so a drain after an
outage delivers oldest first, and a redelivery carries the same id, which is
what lets subscribers drop duplicates.
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
)
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
            self._db.execute(_SCHEMA)
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
