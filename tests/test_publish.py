"""The publisher against a real Mosquitto: delivery, status and will, outages, restarts."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from mqtt_helpers import Collector, wait_until
from paho.mqtt.enums import CallbackAPIVersion

from pi_service import builders, mqtt_docs
from pi_service import payloads as P
from pi_service.broker import LocalBroker
from pi_service.errors import ConfigError
from pi_service.outbox import Outbox
from pi_service.pipeline.events import Hold, Phase, PhaseChange, Rep, SetSummary, Verdict
from pi_service.publish import Publisher, TLSOptions
from pi_service.stages import load_stage

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 3, 2, 6, 30, tzinfo=UTC).timestamp()


def a_set(index: int, device: str = "left") -> dict:
    return {**mqtt_docs.examples()["set"], "device": device, "id": builders.new_id(),
            "index": index}


def open_publisher(broker: LocalBroker, path: Path, **kwargs) -> Publisher:
    return Publisher("left", broker.host, broker.port, path / "outbox.db",
                     source="simulator", reconnect_max_s=1, **kwargs)


CHILD = """
import sys, time
from pi_service import builders, mqtt_docs
from pi_service.publish import Publisher
port, outbox, sets = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
pub = Publisher("child", "127.0.0.1", port, outbox, source="recording", stage=3)
if not sets:
    deadline = time.monotonic() + 10
    while not pub.connected and time.monotonic() < deadline:
        time.sleep(0.01)
base = mqtt_docs.examples()["set"]
for i in range(sets):
    print(pub.publish_set({**base, "device": "child", "id": builders.new_id(), "index": i + 1}),
          flush=True)
print("ready", flush=True)
time.sleep(60)
"""


def run_child(broker: LocalBroker, outbox: Path, sets: int) -> tuple[subprocess.Popen, list[str]]:
    """A publisher in its own process, to be SIGKILLed; returns it and the set ids it queued."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(broker.port), str(outbox),
                             str(sets)], stdout=subprocess.PIPE, text=True, env=env)
    ids = []
    for line in proc.stdout:
        if line.strip() == "ready":
            return proc, ids
        ids.append(line.strip())
    raise AssertionError(f"child publisher exited early ({proc.wait()})")


def sigkill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()


# ------------------------------------------------------------------ delivery


def test_reps_and_sets_arrive_once_with_their_payloads(broker, collect, tmp_path):
    sub = collect(broker)
    ex = mqtt_docs.examples()
    with open_publisher(broker, tmp_path) as pub:
        assert wait_until(lambda: pub.connected)
        rep_id = pub.publish_rep(ex["rep"])
        set_id = pub.publish_set(ex["set"])
        hold_id = pub.publish_hold(ex["hold"])
        assert pub.publish_phase(ex["phase"])
        assert pub.drain(5)
        assert pub.pending == 0
    sub.flush()
    assert sub.of("rep") == [ex["rep"]] and rep_id == ex["rep"]["id"]
    assert [p for p in sub.of("set") if p["id"] == set_id] == [ex["set"]]
    assert sub.of("hold") == [ex["hold"]] and hold_id == ex["hold"]["id"]
    assert sub.of("phase") == [ex["phase"]]


def test_pipeline_events_become_payloads_with_session_clock_and_set_numbering(
        broker, collect, tmp_path):
    sub = collect(broker)
    stage = load_stage(2)

    def rep(index: int, start_s: float) -> Rep:
        return Rep(index=index, start_s=start_s, top_s=start_s + 3, lower_s=start_s + 3.5,
                   end_s=start_s + 6.5, up_s=3.0, hold_s=0.5, down_s=3.0, peak_deg=30.0,
                   bottom_deg=-2.0, height_cm=9.0, verdict=Verdict.OK)

    def summary(index: int, reps: list[Rep]) -> SetSummary:
        return SetSummary(index=index, stage=2, start_s=reps[0].start_s, end_s=reps[-1].end_s,
                          reps=len(reps), target_reps=(15, 15), ok_reps=len(reps),
                          tempo_compliance=1.0, rest_before_s=None if index == 1 else 60.0,
                          rep_indices=tuple(r.index for r in reps))

    first, second, restarted = [rep(1, 0.0), rep(2, 8.0)], [rep(3, 80.0)], [rep(1, 200.0)]
    with open_publisher(broker, tmp_path, session="run-7",
                        iso_time=builders.offset_clock(T0)) as pub:
        assert wait_until(lambda: pub.connected)
        assert pub.publish_phase(PhaseChange(t_s=0.5, phase=Phase.RISING, pitch_deg=2.0))
        for reps, index in ((first, 1), (second, 2), (restarted, 1)):
            for r in reps:
                pub.publish_rep(r, stage)
            pub.publish_set(summary(index, reps), stage, pain=1)
        pub.publish_hold(Hold(start_s=300.0, end_s=335.0, hold_s=35.0, peak_deg=26.0,
                              verdict="ok"))
        assert pub.drain(5)
    sub.flush()
    reps_out, sets_out = sub.of("rep"), sub.of("set")
    assert [(p["index"], p["set_index"]) for p in reps_out] == [(1, 1), (2, 1), (3, 2), (1, 1)]
    assert [[d["index"] for d in p["rep_detail"]] for p in sets_out] == [[1, 2], [3], [1]]
    assert {p["session"] for p in reps_out + sets_out + sub.of("hold") + sub.of("phase")} == \
        {"run-7"}
    assert sets_out[0]["time"] == "2026-03-02T06:30:14.500Z" and sets_out[0]["pain"] == 1
    assert reps_out[0]["target"]["min_up_s"] == stage.min_up_s
    assert sub.of("hold")[0]["hold_s"] == 35.0
    assert sub.of("phase")[0]["time"] == "2026-03-02T06:30:00.500Z"


def test_invalid_or_foreign_payloads_are_refused_and_nothing_is_queued(broker, tmp_path):
    with open_publisher(broker, tmp_path) as pub:
        with pytest.raises(P.PayloadError, match="set: 'pain' must be in 0..10, got 12"):
            pub.publish_set({**a_set(1), "pain": 12})
        with pytest.raises(P.PayloadError, match="this publisher is 'left'"):
            pub.publish_set(a_set(1, device="right"))
        assert pub.pending == 0
        with pytest.raises(P.PayloadError, match="status: 'stage' must be in 1..99, got 0"):
            pub.publish_status(stage=0)


# ------------------------------------------------------------------ status and will


def test_status_is_retained_online_and_close_says_offline_without_a_will(broker, collect,
                                                                         tmp_path):
    pub = open_publisher(broker, tmp_path, stage=3)
    assert wait_until(lambda: pub.connected)
    assert pub.wait_idle(5)
    late = collect(broker, "heelraise/left/status")
    assert wait_until(lambda: late.of("status"))
    online = late.messages[0]
    assert online[2] is True, "status must be retained"
    assert (online[1]["state"], online[1]["source"], online[1]["stage"]) == \
        ("online", "simulator", 3)

    pub.publish_status(sensor="lost", running=True)
    assert wait_until(lambda: len(late.of("status")) == 2)
    assert (late.of("status")[1]["sensor"], late.of("status")[1]["running"]) == ("lost", True)

    pub.close()
    pub.close()   # idempotent
    late.flush()
    states = [p["state"] for p in late.of("status")]
    assert states == ["online", "online", "offline"], "one explicit offline, and no will"
    assert late.of("status")[-1]["sensor"] == "lost"
    later = collect(broker, "heelraise/left/status")
    assert wait_until(lambda: later.of("status"))
    assert later.of("status")[0]["state"] == "offline"


def test_will_reports_offline_when_the_publisher_process_dies(broker, collect, tmp_path):
    sub = collect(broker, "heelraise/child/status")
    proc, _ = run_child(broker, tmp_path / "child.db", sets=0)
    assert wait_until(lambda: [p["state"] for p in sub.of("status")] == ["online"])
    sigkill(proc)
    assert wait_until(lambda: len(sub.of("status")) == 2)
    will = sub.of("status")[1]
    assert (will["state"], will["source"], will["stage"]) == ("offline", "recording", 3)
    P.validate("status", will)
    late = collect(broker, "heelraise/child/status")
    assert wait_until(lambda: late.of("status"))
    assert late.of("status")[0]["state"] == "offline"


def test_a_refused_connection_is_not_a_connection(tmp_path, caplog):
    with LocalBroker(allow_anonymous=False) as locked:
        with open_publisher(locked, tmp_path) as pub:
            assert wait_until(lambda: "refused" in caplog.text)
            assert not pub.connected
            assert pub.publish_phase(mqtt_docs.examples()["phase"]) is False
            pub.publish_set(a_set(1))
            assert not pub.drain(0.2)
            assert pub.pending == 1


def test_username_and_password_get_through_an_authenticating_broker(tmp_path):
    passwords = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "pi", "s3cret"],
                   check=True, capture_output=True)
    passwords.chmod(0o600)
    with LocalBroker(allow_anonymous=False,
                     extra_config=f"password_file {passwords}") as locked:
        with open_publisher(locked, tmp_path, username="pi", password="s3cret") as pub:
            pub.publish_set(a_set(1))
            assert pub.drain(5) and pub.connected


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a cert")
def test_tls_with_a_self_signed_broker_certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    with LocalBroker(extra_config=f"certfile {cert}\nkeyfile {key}") as secure:
        with open_publisher(secure, tmp_path, tls=TLSOptions(ca_certs=str(cert))) as pub:
            pub.publish_set(a_set(1))
            assert pub.drain(5) and pub.connected


def test_unusable_tls_files_are_a_config_error_naming_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"missing\.pem: cannot use TLS settings"):
        Publisher("left", "127.0.0.1", 1, tmp_path / "o.db",
                  tls=TLSOptions(ca_certs=str(tmp_path / "missing.pem")))


def test_close_with_the_broker_down_keeps_the_sets_and_returns(broker, tmp_path):
    broker.stop()
    pub = open_publisher(broker, tmp_path)
    ids = [pub.publish_set(a_set(i)) for i in range(1, 4)]
    pub.close()
    with Outbox(tmp_path / "outbox.db") as box:
        assert [r.msg_id for r in box.after()] == ids


# ------------------------------------------------------------------ outages and restarts


def test_sets_published_while_the_broker_is_down_are_not_lost(saved_broker, tmp_path):
    sub = Collector(saved_broker, "heelraise/left/set", client_id="log", clean_session=False)
    try:
        saved_broker.stop()
        with open_publisher(saved_broker, tmp_path) as pub:
            ids = [pub.publish_set(a_set(i)) for i in range(1, 6)]
            assert pub.publish_phase(mqtt_docs.examples()["phase"]) is False
            assert pub.pending == 5
            saved_broker.start()
            assert pub.drain(10)
        assert wait_until(lambda: len(sub.of("set")) >= 5)
        assert [p["id"] for p in sub.of("set")] == ids
    finally:
        sub.close()


def test_broker_killed_mid_stream_every_set_arrives_once_and_in_order(saved_broker, tmp_path):
    sub = Collector(saved_broker, "heelraise/left/set", client_id="log", clean_session=False)
    try:
        # A graceful restart saves the subscriber's session, so the crash cannot forget it.
        saved_broker.stop()
        saved_broker.start()
        assert wait_until(lambda: sub.subacks == 2)   # live again: nothing waits in memory
        with open_publisher(saved_broker, tmp_path) as pub:
            assert wait_until(lambda: pub.connected)
            ids = []
            for i in range(1, 61):
                ids.append(pub.publish_set(a_set(i)))
                if i == 30:
                    saved_broker.kill()
            assert pub.pending > 0
            saved_broker.start()
            assert pub.drain(15), f"{pub.pending} sets still waiting"
        assert wait_until(lambda: {p["id"] for p in sub.of("set")} >= set(ids))
        first_seen = list(dict.fromkeys(p["id"] for p in sub.of("set")))
        assert first_seen == ids
    finally:
        sub.close()


def test_rows_paho_still_holds_are_not_handed_over_again_after_a_reconnect(
        saved_broker, tmp_path):
    sub = Collector(saved_broker, "heelraise/left/set", client_id="log", clean_session=False)
    try:
        saved_broker.stop()
        saved_broker.start()
        assert wait_until(lambda: sub.subacks == 2)
        with open_publisher(saved_broker, tmp_path) as pub:
            assert wait_until(lambda: pub.connected) and pub.wait_idle(5)
            # A frozen broker reads nothing: the sets sit in paho, sent and unacknowledged.
            os.kill(saved_broker.pid, signal.SIGSTOP)
            ids = [pub.publish_set(a_set(i)) for i in range(1, 11)]
            assert wait_until(lambda: pub.in_flight == 10)
            saved_broker.kill()
            saved_broker.start()
            ids += [pub.publish_set(a_set(i)) for i in range(11, 16)]
            assert pub.drain(10)
        sub.flush()
        assert [p["id"] for p in sub.of("set")] == ids, "each set once, in order"
    finally:
        sub.close()


def test_killed_publisher_process_leaves_sets_a_new_one_delivers_with_same_ids(
        saved_broker, tmp_path):
    sub = Collector(saved_broker, "heelraise/child/set", client_id="log", clean_session=False)
    try:
        saved_broker.stop()
        outbox = tmp_path / "child.db"
        proc, ids = run_child(saved_broker, outbox, sets=8)
        sigkill(proc)
        saved_broker.start()
        with Publisher("child", saved_broker.host, saved_broker.port, outbox,
                       reconnect_max_s=1) as pub:
            assert pub.pending == 8
            assert pub.drain(10)
        assert wait_until(lambda: len(sub.of("set")) >= 8)
        assert [p["id"] for p in sub.of("set")] == ids
    finally:
        sub.close()


# ------------------------------------------------------------------ commands


def test_commands_reach_the_callback_and_bad_ones_are_logged_and_dropped(
        broker, tmp_path, caplog):
    got: list[P.Command] = []

    def handler(command: P.Command) -> None:
        if command.name == "stop":
            raise RuntimeError("handler bug")
        got.append(command)

    caplog.set_level(logging.WARNING, logger="pi_service.publish")
    with open_publisher(broker, tmp_path) as pub:
        pub.on_command(handler)
        assert wait_until(lambda: pub.connected)
        cmd = mqtt.Client(CallbackAPIVersion.VERSION2)
        cmd.connect(broker.host, broker.port)
        cmd.loop_start()
        try:
            assert pub.wait_idle(5)   # includes the SUBACK for cmd/#
            for suffix, body in [("pain", b"12"), ("stage", b"three"), ("jump", b"1"),
                                 ("stop", b""), ("stage", b"3"),
                                 ("pain", b'{"pain": 2, "set_id": "abc"}')]:
                cmd.publish(f"heelraise/left/cmd/{suffix}", body, qos=1).wait_for_publish(5)
            assert wait_until(lambda: len(got) == 2)
        finally:
            cmd.disconnect()
            cmd.loop_stop()
        assert pub.connected
    assert got == [P.Command("stage", 3), P.Command("pain", 2, set_id="abc")]
    assert "ignoring command on heelraise/left/cmd/pain: cmd/pain: 'pain' must be " \
           "in 0..10, got 12" in caplog.text
    assert "heelraise/left/cmd/stage: cmd/stage: payload is not JSON" in caplog.text
    assert "heelraise/left/cmd/jump: cmd: unknown command 'jump'" in caplog.text
    assert "command handler failed on heelraise/left/cmd/stop" in caplog.text
