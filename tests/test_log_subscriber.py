"""``heelraise log`` against a real Mosquitto: exactly-once storage, persistent session,
rejection of bad messages, ratings from commands and the CLI, retained aggregates."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from datetime import date, datetime
from datetime import time as clock
from pathlib import Path
from urllib.request import Request, urlopen

import paho.mqtt.client as mqtt
import pytest
from mqtt_helpers import wait_until
from paho.mqtt.enums import CallbackAPIVersion

from pi_service import builders, mqtt_docs
from pi_service.log import commands
from pi_service.log.store import Store
from pi_service.log.subscriber import LogSubscriber

ROOT = Path(__file__).resolve().parent.parent
DAY = date(2026, 3, 2)
SET = mqtt_docs.examples()["set"]


def at(hour: int, minute: int = 0) -> str:
    """A moment on DAY, local wall clock, as payloads carry it."""
    return builders.iso_utc(datetime.combine(DAY, clock(hour, minute)).astimezone().timestamp())


def a_set(**changes) -> dict:
    return {**SET, "id": uuid.uuid4().hex, "time": at(9), "start_time": at(9), **changes}


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "log.sqlite3", busy_timeout_s=0.2) as s:
        yield s


def send(client, topic: str, payload) -> None:
    raw = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    client.publish(topic, raw, qos=1).wait_for_publish(timeout=5)


def start_logger(store, broker, **kw) -> LogSubscriber:
    logger = LogSubscriber(store, host=broker.host, port=broker.port, today=lambda: DAY,
                           coalesce_s=0.05, **kw).start()
    assert logger.wait_subscribed(), "the log never subscribed"
    return logger


def retained(broker, pattern: str, expect: int) -> dict[str, mqtt.MQTTMessage]:
    """The retained messages under ``pattern``, as a new dashboard would see them."""
    got: dict[str, mqtt.MQTTMessage] = {}
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, m: got.__setitem__(m.topic, m)
    client.connect(broker.host, broker.port)
    client.subscribe(pattern, qos=1)
    client.loop_start()
    wait_until(lambda: len(got) >= expect, 5)
    client.disconnect()
    client.loop_stop()
    return got


def test_each_set_is_stored_once_however_often_it_arrives(store, broker, publisher):
    first, second = a_set(), a_set(reps=14)
    with start_logger(store, broker) as logger:
        for payload in (first, first, second, first, second):   # outbox redeliveries
            send(publisher, "heelraise/left/set", payload)
        assert wait_until(lambda: logger.counts.stored + logger.counts.duplicates == 5)
    assert sorted(s.id for s in store.sets()) == sorted([first["id"], second["id"]])
    assert (logger.counts.stored, logger.counts.duplicates) == (2, 3)


def test_a_failing_database_stops_the_log_loudly_and_the_broker_keeps_the_set(
        store, broker, publisher, caplog):
    one = a_set()
    blocker = sqlite3.connect(store.path, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")           # another process holds the database
    with caplog.at_level(logging.ERROR), start_logger(store, broker) as logger:
        send(publisher, "heelraise/left/set", one)
        assert logger.failed.wait(10), "the log went on with a database it cannot write"
        assert "the log database failed: database is locked" in str(logger.failure)
        assert "the log stops" in caplog.text
    blocker.rollback()
    blocker.close()
    assert store.count("sets") == 0
    # Back up: the broker redelivers the unacknowledged set (a QoS 1 duplicate), and the
    # service's outbox sends it once more for good measure; it is stored once.
    with start_logger(store, broker) as logger:
        send(publisher, "heelraise/left/set", one)
        assert wait_until(lambda: logger.counts.stored + logger.counts.duplicates == 2)
    assert [s.id for s in store.sets()] == [one["id"]]


def test_sets_published_while_the_logger_is_down_arrive_when_it_is_back(
        store, broker, publisher):
    start_logger(store, broker).close()          # the broker now knows our session
    missed = [a_set(index=n, time=at(9, n)) for n in range(1, 4)]
    for payload in missed:
        send(publisher, "heelraise/left/set", payload)
    assert store.count("sets") == 0
    with start_logger(store, broker):
        assert wait_until(lambda: store.count("sets") == 3)
    assert [s.id for s in store.sets()] == [p["id"] for p in missed]


BAD = [
    ("heelraise/left/set", b"{not json"),
    ("heelraise/left/set", b"[1, 2]"),
    ("heelraise/left/set", {k: v for k, v in SET.items() if k != "id"}),
    ("heelraise/left/set", {**SET, "id": "r1", "reps": -1}),
    ("heelraise/left/set", {**SET, "id": "r2", "tempo_compliance": 1.5}),
    ("heelraise/left/set", {**SET, "id": "r3", "pain": 11}),
    ("heelraise/left/set", {**SET, "id": "r4", "time": "yesterday"}),
    ("heelraise/right/set", {**SET, "id": "r5"}),                    # device differs
    ("heelraise/left/rep", {**mqtt_docs.examples()["rep"], "verdict": "great"}),
    ("heelraise/left/cmd/pain", b"12"),
    ("heelraise/left/cmd/stiffness", {"stiffness": 2, "date": "31/01/2026"}),
    ("heelraise/left/set", b"\xff\xfe"),
]


def test_bad_messages_are_rejected_counted_and_the_logger_keeps_going(
        store, broker, publisher, caplog):
    before = a_set()
    after = a_set(time=at(10))
    with caplog.at_level(logging.WARNING), start_logger(store, broker) as logger:
        send(publisher, "heelraise/left/set", before)
        for topic, payload in BAD:
            send(publisher, topic, payload)
        send(publisher, "heelraise/left/set", after)
        assert wait_until(lambda: store.count("sets") == 2)
    assert [s.id for s in store.sets()] == [before["id"], after["id"]]
    assert store.sets()[0].payload == before                       # untouched
    assert store.count("reps") == store.count("pain") == store.count("stiffness") == 0
    assert logger.counts.rejected == len(BAD)
    reasons = store.rejected()
    assert sum(reasons.values()) == len(BAD)
    assert reasons["set: payload is not JSON"] == 1
    assert reasons["set: payload must be a JSON object"] == 1
    assert reasons["set: payload is not UTF-8"] == 1
    assert reasons["set: 'reps' must be in 0..100000"] == 1
    assert reasons["set: 'tempo_compliance' must be in 0..1"] == 1
    assert reasons["set: 'id' is missing"] == 1
    assert reasons["set: 'device' differs from the topic's device"] == 1
    assert reasons["cmd/pain: 'pain' must be in 0..10"] == 1
    assert "rejected message on heelraise/right/set" in caplog.text


def poison() -> list[bytes]:
    """The set messages that once stalled the log for good (issue 8), about twenty."""
    good = json.dumps(a_set())
    deep = "[" * 100_000 + "]" * 100_000
    return [
        *(good.replace('"reps": 3', f'"reps": {deep[:n]}{deep[-n:]}').encode()
          for n in (50, 1000, 30_000)),
        good.replace('"reps": 3', '"reps": ' + "9" * 400).encode(),
        good.replace('"reps": 3', '"reps": ' + "9" * 20).encode(),
        good.replace('"index": 1', '"index": ' + "1" * 20).encode(),
        good.replace('"load_kg": 0.0', '"load_kg": 1e308').encode(),
        good.replace('"load_kg": 0.0', '"load_kg": 1.7e308').encode(),
        *(json.dumps(a_set(time=t, start_time=t)).encode() for t in (
            "0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59Z",
            "20260131T070000Z", "2026-01-31T07:00:00+01:00", "2026-02-30T07:00:00Z")),
        json.dumps(a_set(session="\ud800")).encode(),
        json.dumps(a_set(id="x" * 10_000)).encode(),
        json.dumps({**a_set(), "extra": json.loads("[" * 40 + "]" * 40)}).encode(),
        b'{"v": 1, "v": 2}',
        json.dumps(a_set(rep_detail=[SET["rep_detail"][0]] * 5000)).encode(),
        b"\x00" * 100,
    ]


def test_poison_messages_are_rejected_and_acked_and_valid_sets_behind_them_stored(
        store, broker, publisher, monkeypatch):
    monkeypatch.setenv("TZ", "America/Los_Angeles")    # a Pi not set to UTC
    time.tzset()
    try:
        valid = [a_set(index=n, time=at(9, n)) for n in range(1, 6)]
        with start_logger(store, broker) as logger:
            for raw in poison():
                send(publisher, "heelraise/left/set", raw)
            for payload in valid:
                send(publisher, "heelraise/left/set", payload)
            assert wait_until(lambda: store.count("sets") == 5, timeout_s=20)
            assert logger.counts.rejected == len(poison())
            assert not logger.failed.is_set()
        # nothing was left unacknowledged: a restarted log gets nothing back
        with start_logger(store, broker) as logger:
            send(publisher, "heelraise/left/set", valid[0])
            assert wait_until(lambda: logger.counts.duplicates == 1)
            assert logger.counts.rejected == 0
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert sorted(s.id for s in store.sets()) == sorted(p["id"] for p in valid)
    assert sum(store.rejected().values()) == len(poison())


def test_huge_loads_are_refused_so_the_aggregates_keep_updating(store, broker, publisher):
    with start_logger(store, broker) as logger:
        for load in (1e308, 1.7e308):
            send(publisher, "heelraise/left/set", a_set(load_kg=load))
        send(publisher, "heelraise/left/set", a_set(reps=12, time=at(10)))
        assert wait_until(lambda: store.count("sets") == 1)
        logger.flush()
    today = json.loads(retained(broker, "heelraise/log/left/today", 1)[
        "heelraise/log/left/today"].payload)
    assert (today["sets"], today["reps"]) == (1, 12)
    assert store.rejected() == {"set: 'load_kg' must be in 0..500": 2}


def test_pain_and_stiffness_arrive_on_command_topics(store, broker, publisher):
    first, last = a_set(time=at(9)), a_set(time=at(9, 5))
    with start_logger(store, broker) as logger:
        send(publisher, "heelraise/left/set", first)
        send(publisher, "heelraise/left/set", last)
        send(publisher, "heelraise/left/cmd/pain", b"3")                  # bare number
        send(publisher, "heelraise/left/cmd/pain", {"pain": 1, "set_id": first["id"]})
        send(publisher, "heelraise/left/cmd/stiffness", {"stiffness": 4, "date": "2026-03-01"})
        send(publisher, "heelraise/left/cmd/stiffness", b"2")
        assert wait_until(lambda: logger.counts.ratings == 4)
    sets = {s.id: s.pain for s in store.sets()}
    assert sets == {first["id"]: 1, last["id"]: 3}     # no set_id: today's last set
    assert [(r.day.isoformat(), r.value) for r in store.stiffness("left")] == [
        ("2026-03-01", 4), (DAY.isoformat(), 2)]


def _cli(configure, run, argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    configure(parser)
    return run(parser.parse_args(argv))


def test_cli_ratings_reach_the_log_over_mqtt_or_directly(
        store, broker, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HEELRAISE_DB", raising=False)
    net = ["--host", broker.host, "--port", str(broker.port), "--device", "left"]
    with start_logger(store, broker) as logger:
        assert _cli(commands.configure_pain, commands.run_pain, ["5", *net]) == 0
        assert _cli(commands.configure_stiffness, commands.run_stiffness,
                    ["3", "--date", "2026-03-01", *net]) == 0
        assert wait_until(lambda: logger.counts.ratings == 2)
    assert [r.value for r in store.pain("left")] == [5]
    assert [(r.day.isoformat(), r.value) for r in store.stiffness("left")] == [("2026-03-01", 3)]

    db = tmp_path / "direct.sqlite3"
    with Store(db) as direct:
        direct.add_set(SET)                          # device "left" is the only one
    assert _cli(commands.configure_pain, commands.run_pain,
                ["2", "--db", str(db), "--set", SET["id"]]) == 0
    assert _cli(commands.configure_stiffness, commands.run_stiffness,
                ["1", "--db", str(db), "--date", "2026-02-01"]) == 0
    with Store(db) as direct:
        assert direct.sets()[0].pain == 2
        assert [r.value for r in direct.stiffness("left")] == [1]
    assert "pain 2/10 recorded for set" in capsys.readouterr().out


def test_aggregates_are_retained_and_add_up(store, broker, publisher):
    sets = [a_set(index=n, reps=r, ok_reps=r - 1, tempo_compliance=(r - 1) / r, time=at(9, n))
            for n, r in ((1, 15), (2, 15), (3, 12))]
    with start_logger(store, broker) as logger:
        for payload in sets:
            send(publisher, "heelraise/left/set", payload)
        assert wait_until(lambda: store.count("sets") == 3)
        logger.flush()
    got = retained(broker, "heelraise/log/left/#", 6)
    assert set(got) == {f"heelraise/log/left/{k}" for k in
                        ("today", "last_session", "week", "stage_progress", "progress",
                         "heel_rise")}
    assert all(m.retain for m in got.values())
    body = {t.rsplit("/", 1)[1]: json.loads(m.payload) for t, m in got.items()}
    assert all(b["v"] == 1 and b["device"] == "left" for b in body.values())
    today = body["today"]
    assert (today["date"], today["sets"], today["reps"], today["ok_reps"]) == (
        DAY.isoformat(), 3, 42, 39)
    assert today["tempo_compliance"] == pytest.approx(39 / 42, abs=1e-3)
    last = body["last_session"]
    assert last["last_set"]["id"] == sets[-1]["id"] and last["last_set"]["reps"] == 12
    assert last["reps_per_set"] == [15, 15, 12] and last["tempo_compliance_pct"] == 93
    assert body["week"]["days"][-1]["reps"] == 42 and body["week"]["reps"] == 42
    assert [(w["week"], w["monday"], w["reps"]) for w in body["week"]["weeks"]] == [
        ("2026-W10", DAY.isoformat(), 42)]
    assert body["stage_progress"]["stage"] == 2 and body["stage_progress"]["ready"] is False
    assert body["progress"]["dose_today"]["reps_per_set"] == [15, 15, 12]
    # 12 reps in the third set: short of 3 x 15, so the day is not done, and no part says so
    assert today["done"] is False and body["progress"]["dose_today"]["done"] is False
    assert not any(a["id"] == "second_session" for a in body["progress"]["advice"])
    # the page's Today table, after a reload: every set of today, oldest first
    assert [(s["id"], s["reps"]) for s in today["set_list"]] == [
        (p["id"], p["reps"]) for p in sets]


def test_logger_rides_out_a_broker_restart(store, broker):
    with start_logger(store, broker) as logger:
        broker.kill()
        assert wait_until(lambda: not logger.wait_subscribed(0))
        broker.start()
        assert logger.wait_subscribed(15), "the log did not come back"
        client = mqtt.Client(CallbackAPIVersion.VERSION2)
        client.connect(broker.host, broker.port)
        client.loop_start()
        send(client, "heelraise/left/set", SET)
        assert wait_until(lambda: store.count("sets") == 1)
        client.disconnect()
        client.loop_stop()


# --------------------------------------------------------------------------- the web page


class LogProcess:
    """``heelraise log --http 0 ...`` as systemd runs it, its output collected as it comes."""

    def __init__(self, argv: list[str], cwd) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pi_service.cli", "log", *argv], cwd=cwd,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"})
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)

    def url(self) -> str:
        """The page's address, once the log says it serves it."""
        def found():
            return next((m for line in self.lines
                         if (m := re.search(r"dashboard on (http://\S+)", line))), None)
        assert wait_until(found, 20), "no dashboard:\n" + "".join(self.lines)
        return found().group(1)

    def stop(self) -> int:
        self.process.terminate()
        code = self.process.wait(timeout=20)
        self._reader.join(timeout=5)
        return code


def _secrets(tmp_path) -> tuple[Path, Path]:
    own, dashboard = tmp_path / "log.password", tmp_path / "dashboard.password"
    own.write_text("the-logs-own-writable-secret\n")
    dashboard.write_text("read-only-secret\n")
    return own, dashboard


def _log_argv(broker, tmp_path, page_dir) -> list[str]:
    config = tmp_path / "heelraise.toml"
    config.write_text('device = "left"\n')
    return ["--config", str(config), "--host", broker.host, "--port", str(broker.port),
            "--db", str(tmp_path / "log.sqlite3"), "--username", "heelraise-log",
            "--http", "0", "--http-host", "127.0.0.1", "--dist", str(page_dir),
            "--ws-port", "9123"]


def test_pain_entered_on_the_page_is_stored_and_republished_at_once(
        broker, publisher, tmp_path, page_dir):
    """The Pi's deployment: one ``heelraise log --http`` process, the page beside the log;
    a rating entered on the page reaches the log over MQTT."""
    own, dashboard = _secrets(tmp_path)
    today: list[dict] = []
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2)
    watcher.on_message = lambda c, u, m: today.append(json.loads(m.payload))
    watcher.connect(broker.host, broker.port)
    watcher.subscribe("heelraise/log/left/today", qos=1)
    watcher.loop_start()
    logger = LogProcess([*_log_argv(broker, tmp_path, page_dir), "--password-file", str(own),
                         "--dashboard-password-file", str(dashboard)], tmp_path)
    try:
        url = logger.url()
        now = builders.iso_utc(time.time())
        done = a_set(time=now, start_time=now, pain=None)
        # Sent again (the same set, stored once) until the log has subscribed and taken it.
        assert wait_until(lambda: send(publisher, "heelraise/left/set", done)
                        or any(t["sets"] == 1 for t in today)), today
        assert today[-1]["pain_max"] is None

        with urlopen(url + "config.json", timeout=5) as reply:
            raw = reply.read().decode()
        served = json.loads(raw)
        assert (served["device"], served["ws_port"], served["username"], served["password"],
                served["entry"]) == ("left", 9123, "dashboard", "read-only-secret", True)
        assert served["stages"]["2"]["reps"] == [15, 15]
        assert "the-logs-own-writable-secret" not in raw and "heelraise-log" not in raw

        # This broker takes anyone (the shipped one checks the login: test_web_security.py).
        request = Request(url + "api/pain", data=b'{"pain": 4}', method="POST",
                          headers={"Content-Type": "application/json",
                                   "Authorization": "Basic cmF0aW5nOnNlY3JldA=="})
        with urlopen(request, timeout=5) as reply:
            assert reply.status == 202 and json.loads(reply.read())["pain"] == 4
        # Stored on today's last set and republished now, not at the next periodic
        # refresh (ten minutes away).
        assert wait_until(lambda: today[-1]["pain_max"] == 4, 5), today[-1]
        assert today[-1]["sets"] == 1
    finally:
        code = logger.stop()
        watcher.loop_stop()
        watcher.disconnect()
    assert code == 0, "".join(logger.lines)[-3000:]
    with Store(tmp_path / "log.sqlite3") as stored:
        assert [(r.value, r.set_id) for r in stored.pain("left")] == [(4.0, done["id"])]
        assert stored.sets()[0].pain == 4


def test_log_gives_the_page_no_writable_login_and_keeps_logging(
        broker, publisher, tmp_path, page_dir):
    """Its own password as the page's, by mistake: no page, but the log still stores sets."""
    own, _ = _secrets(tmp_path)
    logger = LogProcess([*_log_argv(broker, tmp_path, page_dir), "--password-file", str(own),
                         "--dashboard-password-file", str(own)], tmp_path)
    try:
        assert wait_until(lambda: any("no dashboard page" in line for line in logger.lines), 20)
        assert any("log.password: is the log's own MQTT password" in line
                   for line in logger.lines), logger.lines
        one = a_set()
        with Store(tmp_path / "log.sqlite3") as stored:
            assert wait_until(lambda: send(publisher, "heelraise/left/set", one)
                            or stored.count("sets") == 1)
    finally:
        code = logger.stop()
    assert code == 0, "".join(logger.lines)[-3000:]
    assert not any("dashboard on" in line for line in logger.lines)
