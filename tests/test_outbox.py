"""The durable outbox: order, acknowledgement, and surviving a killed process."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from pi_service.errors import InputError
from pi_service.outbox import Outbox


def test_rows_come_back_oldest_first_and_leave_only_when_removed(tmp_path):
    with Outbox(tmp_path / "o.db") as box:
        seqs = [box.add(f"id{i}", "heelraise/left/set", f"p{i}".encode()) for i in range(5)]
        assert seqs == sorted(seqs)
        assert [r.msg_id for r in box.after()] == ["id0", "id1", "id2", "id3", "id4"]
        assert [r.msg_id for r in box.after(seqs[1], limit=2)] == ["id2", "id3"]
        box.remove([seqs[0], seqs[2]])
        rows = box.after()
        assert [r.msg_id for r in rows] == ["id1", "id3", "id4"]
        assert (rows[0].topic, rows[0].payload, rows[0].qos) == ("heelraise/left/set", b"p1", 1)
        assert len(box) == 3


def test_adding_an_id_twice_queues_it_once(tmp_path):
    with Outbox(tmp_path / "o.db") as box:
        first = box.add("same", "t", b"a")
        box.add("other", "t", b"b")
        assert box.add("same", "t", b"a") == first
        assert [r.msg_id for r in box.after()] == ["same", "other"]


def test_unacknowledged_rows_survive_reopening_with_their_ids_and_order(tmp_path):
    path = tmp_path / "sub" / "o.db"
    with Outbox(path) as box:
        seqs = [box.add(f"id{i}", "t", b"x") for i in range(4)]
        box.remove([seqs[1]])
    with Outbox(path) as box:
        assert [r.msg_id for r in box.after()] == ["id0", "id2", "id3"]
        # New rows still sort after the old ones.
        box.add("id4", "t", b"x")
        assert [r.msg_id for r in box.after()][-1] == "id4"


def test_rows_survive_a_sigkilled_process(tmp_path):
    path = tmp_path / "o.db"
    script = (
        "import os, signal, sys\n"
        "from pi_service.outbox import Outbox\n"
        "box = Outbox(sys.argv[1])\n"
        "for i in range(20):\n"
        "    box.add(f'id{i}', 'heelraise/left/set', b'{}')\n"
        "box.remove([1, 2])\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(path)], timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with Outbox(path) as box:
        assert [r.msg_id for r in box.after(limit=100)] == [f"id{i}" for i in range(2, 20)]


def test_close_is_idempotent_and_a_closed_outbox_says_so(tmp_path):
    box = Outbox(tmp_path / "o.db")
    box.close()
    box.close()
    with pytest.raises(ValueError, match="is closed"):
        box.add("a", "t", b"")


def test_a_file_that_is_not_an_outbox_is_named_in_the_error(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is not sqlite at all, just some text " * 20)
    with pytest.raises(InputError, match=r"notes\.db: cannot open outbox: "):
        Outbox(path)
