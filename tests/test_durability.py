"""Durable end to end: a set leaves the service's outbox only once the log has stored it.

The shipped broker config (its persistence and autosave as deployed) runs with logins
and the ACL; the service runs as its own process with the Pi's ``confirm = "log"``;
the log is the real subscriber. The broker is SIGKILLed after it acknowledged sets
that the log, offline, never saw: Mosquitto acknowledges before it saves, so those
may be gone from the broker, and must still reach the log, once each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pytest
import shipped
from mqtt_helpers import wait_until

from pi_service import builders
from pi_service.log.store import Store
from pi_service.log.subscriber import LogSubscriber
from pi_service.mqtt_docs import examples
from pi_service.outbox import Outbox
from pi_service.payloads import MAX_DETAIL, MAX_PAYLOAD_BYTES, MAX_RECEIPTS, encode
from pi_service.pipeline import analyze
from pi_service.publish import Publisher
from pi_service.samples import SampleBlock
from pi_service.sources.recording import write_recording
from pi_service.sources.simulator import simulate
from pi_service.stages import load_stage

DEVICE = "durable"
USERS = (DEVICE, "heelraise-log")


@pytest.fixture
def broker():
    with shipped.shipped_broker(USERS) as b:
        yield b


def config(tmp_path: Path, broker, confirm: str = "log") -> Path:
    secret = tmp_path / "device.password"
    secret.write_text(broker.passwords[DEVICE] + "\n")
    path = tmp_path / "heelraise.toml"
    path.write_text(f'device = "{DEVICE}"\nstate_dir = "{tmp_path}"\n[broker]\n'
                    f'host = "127.0.0.1"\nport = {broker.port}\nusername = "{DEVICE}"\n'
                    f'password_file = "{secret}"\nstart_local = "never"\nconfirm = "{confirm}"\n')
    return path


def run_service(cfg: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "pi_service.cli", "run", "--config", str(cfg), "--quiet", *args],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "GPIOZERO_PIN_FACTORY": "mock", "OPENBLAS_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def logger(store: Store, broker) -> LogSubscriber:
    log = LogSubscriber(store, host="127.0.0.1", port=broker.port, username="heelraise-log",
                        password=broker.passwords["heelraise-log"], coalesce_s=0.05,
                        discovery=False)
    log.start()
    assert log.wait_subscribed(), "the log did not subscribe"
    return log


def still_recording(tmp_path: Path) -> Path:
    """A few seconds of standing still: a service run that makes no set of its own."""
    path = tmp_path / "still.csv"
    t = np.arange(0, 3, 0.01)
    write_recording(path, SampleBlock(t, np.tile([0.0, 0.0, 1.0], (len(t), 1))))
    return path


def test_sets_the_broker_lost_in_a_crash_reach_the_offline_log_once(broker, tmp_path):
    expected = len(analyze(simulate(2, 5).block, load_stage(2)).sets)
    cfg = config(tmp_path, broker)
    with Store(tmp_path / "log.sqlite3") as store:
        logger(store, broker).close()            # the broker now keeps the log's session
        run_service(cfg, "--source", "simulator", "--seed", "5", "--speed", "1000")
        with Outbox(tmp_path / "outbox.sqlite3") as box:   # acknowledged, not confirmed
            made = [json.loads(row.payload)["id"] for row in box.after(0, 1000)]
        assert len(made) == expected
        broker.broker.kill()                     # kill -9: whatever it had not saved is gone
        broker.broker.start()
        log = logger(store, broker)
        time.sleep(1.0)
        from_broker = store.count("sets")        # what the broker still had for the log
        # The next run of the service sends every set the log has not confirmed.
        run_service(cfg, "--recording", str(still_recording(tmp_path)))
        assert wait_until(lambda: store.count("sets") == expected, timeout_s=20), \
            f"{store.count('sets')} of {expected} stored ({from_broker} from the broker)"
        log.close()
        assert sorted(s.id for s in store.sets(simulated=True)) == sorted(made)  # once each
    with Outbox(tmp_path / "outbox.sqlite3") as box:
        assert len(box) == 0, "the outbox kept sets the log had confirmed"


def test_an_unconfirmed_set_goes_again_after_a_reconnect_and_leaves_on_the_receipt(
        broker, tmp_path):
    """Without a restart: the broker is killed under a running service and comes back."""
    with Store(tmp_path / "log.sqlite3") as store, \
            Publisher(DEVICE, "127.0.0.1", broker.port, tmp_path / "outbox.sqlite3",
                      username=DEVICE, password=broker.passwords[DEVICE], confirm="log",
                      reconnect_max_s=1) as pub:
        logger(store, broker).close()
        assert wait_until(lambda: pub.connected)
        set_id = pub.publish_set({**examples()["set"], "device": DEVICE, "id": "one-set"})
        assert pub.wait_idle(5) and pub.pending == 1      # the broker has it; no receipt yet
        broker.broker.kill()
        broker.broker.start()
        log = logger(store, broker)
        assert pub.wait_confirmed(20), "the set never reached the log"
        log.close()
        assert [s.id for s in store.sets()] == [set_id]


def test_auto_waits_for_receipts_once_a_log_has_been_seen_and_remembers_it(broker, tmp_path):
    outbox = tmp_path / "outbox.sqlite3"

    def publisher() -> Publisher:
        return Publisher(DEVICE, "127.0.0.1", broker.port, outbox, username=DEVICE,
                         password=broker.passwords[DEVICE], confirm="auto")

    with publisher() as pub:                       # no log on this broker yet
        assert wait_until(lambda: pub.connected)
        pub.publish_set({**examples()["set"], "device": DEVICE, "id": "before"})
        assert pub.wait_confirmed(5) and not pub.confirmed_by_log   # the PUBACK sufficed
    with Store(tmp_path / "log.sqlite3") as store:
        logger(store, broker).close()              # its retained status says it exists
        with publisher() as pub:
            assert wait_until(lambda: pub.confirmed_by_log)
            pub.publish_set({**examples()["set"], "device": DEVICE, "id": "after"})
            assert pub.wait_idle(5) and pub.pending == 1
        with publisher() as pub:                   # remembered, even before a connect
            assert pub.confirmed_by_log
            log = logger(store, broker)
            assert pub.wait_confirmed(20)
            log.close()
        assert [s.id for s in store.sets()] == ["after"]


def test_a_set_the_log_refuses_leaves_the_outbox_and_is_kept_by_the_log(broker, tmp_path):
    good = {**examples()["set"], "device": DEVICE, "id": "same-id"}
    with Store(tmp_path / "log.sqlite3") as store:
        store.add_set(good)
        log = logger(store, broker)
        with Publisher(DEVICE, "127.0.0.1", broker.port, tmp_path / "outbox.sqlite3",
                       username=DEVICE, password=broker.passwords[DEVICE],
                       confirm="log") as pub:
            pub.publish_set({**good, "reps": 2})          # the same id, other content
            assert pub.wait_confirmed(20)
        log.close()
        assert store.sets()[0].reps == good["reps"]
        assert store.rejected() == {"set: id already stored with other content": 1}


def test_the_broker_limits_sit_above_the_largest_payload():
    """Under MQTT 3.1.1 an oversized message is acknowledged and dropped: never ours."""
    set_ = examples()["set"]
    detail = {"index": 100_000, "up_s": 86399.999, "hold_s": 86399.999, "down_s": 86399.999,
              "peak_deg": -179.999, "verdict": "hold_too_short"}
    biggest_set = {**set_, "id": "x" * 64, "session": "y" * 64, "device": "d" * 64,
                   "rep_detail": [detail] * MAX_DETAIL, "hold_s": [86399.999] * MAX_DETAIL,
                   "source": "lsm6ds3tr-c"}
    receipt = builders.ack_payload("d" * 64, ["x" * 64] * MAX_RECEIPTS, ["x" * 64] * MAX_RECEIPTS)
    for payload, kind in ((biggest_set, "set"), (receipt, "ack")):
        assert len(encode(kind, payload)) <= MAX_PAYLOAD_BYTES
    limit = int(shipped.shipped_setting("message_size_limit"))
    assert limit >= 2 * MAX_PAYLOAD_BYTES
    assert int(shipped.shipped_setting("max_queued_messages")) >= 100_000
    assert int(shipped.shipped_setting("autosave_interval")) <= 10
    assert shipped.shipped_setting("autosave_on_changes") == "false"


def test_the_shipped_broker_drops_what_is_over_its_limit_and_passes_the_largest(broker):
    """The limit is real: a payload just over it never arrives, one of our size does."""
    got: list[int] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.username_pw_set("heelraise-log", broker.passwords["heelraise-log"])
    sub.on_message = lambda c, u, m: got.append(len(m.payload))
    sub.connect("127.0.0.1", broker.port)
    sub.loop_start()
    sub.subscribe(f"heelraise/{DEVICE}/set", qos=1)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub.username_pw_set(DEVICE, broker.passwords[DEVICE])
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    try:
        time.sleep(0.3)
        limit = int(shipped.shipped_setting("message_size_limit"))
        for size in (10 * 1024 * 1024, limit + 1, MAX_PAYLOAD_BYTES):
            pub.publish(f"heelraise/{DEVICE}/set", b"x" * size, qos=1).wait_for_publish(10)
        assert wait_until(lambda: got, timeout_s=10)
        time.sleep(0.3)
        assert got == [MAX_PAYLOAD_BYTES]
    finally:
        for client in (pub, sub):
            client.loop_stop()
            client.disconnect()
