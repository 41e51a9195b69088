"""``heelraise run`` end to end: simulated sensor → service → real Mosquitto → a subscriber.

The service runs as its own process, as systemd runs it, so that killing it is
a real SIGKILL and SIGTERM is a real signal.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from mqtt_helpers import Collector, wait_until

from pi_service.broker import LocalBroker, free_port, port_open
from pi_service.outbox import Outbox
from pi_service.pipeline import analyze
from pi_service.samples import SampleBlock
from pi_service.sources.recording import write_recording
from pi_service.sources.simulator import simulate
from pi_service.stages import load_stage

DEVICE = "e2e"


def start_service(port: int, state: Path, *args: str, config: Path | None = None,
                  speed: float = 1000, seed: int = 5, env: dict | None = None
                  ) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "pi_service.cli", "run", "--device", DEVICE,
           "--port", str(port), "--state-dir", str(state), "--quiet",
           "--speed", str(speed), "--seed", str(seed), *args]
    if config is not None:
        cmd += ["--config", str(config)]
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock", "OPENBLAS_NUM_THREADS": "1",
           **(env or {})}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


def finish(proc: subprocess.Popen, timeout_s: float = 60) -> str:
    _, err = proc.communicate(timeout=timeout_s)
    assert proc.returncode == 0, err
    return err


@pytest.fixture(scope="module")
def expected():
    """What the detector finds in the session the service will play (seed 5, stage 2)."""
    sim = simulate(2, 5)
    return analyze(sim.block, load_stage(2))


def test_every_rep_and_set_arrives_once_in_order_with_the_detectors_verdicts(
        broker, tmp_path, expected):
    sub = Collector(broker, f"heelraise/{DEVICE}/#")
    try:
        finish(start_service(broker.port, tmp_path, "--source", "simulator"))
        sub.flush()
        reps, sets = sub.of("rep"), sub.of("set")
    finally:
        sub.close()
    assert [(r["index"], r["verdict"]) for r in reps] == \
        [(r.index, r.verdict.value) for r in expected.reps]
    assert [r["up_s"] for r in reps] == pytest.approx([r.up_s for r in expected.reps], abs=1e-3)
    assert [s["reps"] for s in sets] == [s.reps for s in expected.sets]
    assert [s["index"] for s in sets] == list(range(1, len(expected.sets) + 1))
    ids = [m["id"] for m in reps + sets]
    assert len(ids) == len(set(ids))
    statuses = sub.of("status")
    assert statuses[0]["state"] == "online" and statuses[0]["source"] == "simulator"
    assert statuses[-1]["state"] == "offline"


def test_broker_killed_mid_session_every_set_still_arrives_exactly_once(
        saved_broker, tmp_path, expected):
    sub = Collector(saved_broker, f"heelraise/{DEVICE}/set", client_id="e2e-log",
                    clean_session=False)
    try:
        saved_broker.stop()      # a graceful restart saves the subscriber's session
        saved_broker.start()
        assert wait_until(lambda: sub.subacks == 2)
        proc = start_service(saved_broker.port, tmp_path, "--source", "simulator", speed=60)
        assert wait_until(lambda: len(sub.of("set")) >= 1, timeout_s=30)
        saved_broker.kill()
        wait_until(lambda: False, timeout_s=3)   # the session goes on without a broker
        saved_broker.start()
        finish(proc)
        assert wait_until(lambda: len(sub.of("set")) >= len(expected.sets), timeout_s=15)
        sub.flush()
        sets = sub.of("set")
    finally:
        sub.close()
    assert [s["index"] for s in sets] == list(range(1, len(expected.sets) + 1))
    assert len({s["id"] for s in sets}) == len(sets)


def test_service_killed_mid_session_loses_no_completed_set(tmp_path):
    port = free_port()
    config = tmp_path / "heelraise.toml"
    config.write_text('[broker]\nstart_local = "never"\n')
    proc = start_service(port, tmp_path, "--source", "simulator", config=config, speed=100)
    outbox = tmp_path / "outbox.sqlite3"
    try:
        assert wait_until(lambda: outbox.exists() and len(Outbox(outbox)) >= 1, timeout_s=30)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with Outbox(outbox) as box:
        waiting = [json.loads(row.payload)["id"] for row in box.after(0)]
    assert waiting
    still = tmp_path / "still.csv"
    t = np.arange(0, 3, 0.01)
    write_recording(still, SampleBlock(t, np.tile([0.0, 0.0, 1.0], (len(t), 1))))
    with LocalBroker(port=port) as broker:
        sub = Collector(broker, f"heelraise/{DEVICE}/set")
        try:
            finish(start_service(port, tmp_path, "--recording", str(still), config=config))
            sub.flush()
            arrived = [s["id"] for s in sub.of("set")]
        finally:
            sub.close()
    assert arrived[: len(waiting)] == waiting


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
def test_sigterm_or_sighup_closes_the_open_set_and_says_offline(broker, tmp_path, signum):
    """systemd stops with SIGTERM; closing the terminal sends SIGHUP: the set is kept."""
    sub = Collector(broker, f"heelraise/{DEVICE}/#")
    try:
        proc = start_service(broker.port, tmp_path, "--source", "simulator", speed=40)
        assert wait_until(lambda: len(sub.of("rep")) >= 3, timeout_s=30)
        assert not sub.of("set")
        proc.send_signal(signum)
        finish(proc)
        sub.flush()
        reps, sets = sub.of("rep"), sub.of("set")
        statuses = sub.of("status")
    finally:
        sub.close()
    assert len(sets) == 1 and sets[0]["reps"] == len(reps)
    assert statuses[-1]["state"] == "offline"


def test_commands_change_the_stage_and_stop_the_session(broker, tmp_path):
    sub = Collector(broker, f"heelraise/{DEVICE}/status")
    proc = start_service(broker.port, tmp_path, "--source", "simulator", speed=20)
    try:
        assert wait_until(lambda: sub.of("status"), timeout_s=30)
        sub.client.publish(f"heelraise/{DEVICE}/cmd/stage", '{"stage": 3}', qos=1)
        assert wait_until(lambda: sub.of("status")[-1]["stage"] == 3, timeout_s=10)
        sub.client.publish(f"heelraise/{DEVICE}/cmd/stop", "{}", qos=1)
        assert wait_until(lambda: sub.of("status")[-1]["running"] is False, timeout_s=10)
        sub.client.publish(f"heelraise/{DEVICE}/cmd/stage", '{"stage": 9}', qos=1)
        sub.client.publish(f"heelraise/{DEVICE}/cmd/start", "{}", qos=1)
        assert wait_until(lambda: sub.of("status")[-1]["running"] is True, timeout_s=10)
        assert sub.of("status")[-1]["stage"] == 3     # stage 9 does not exist: ignored
    finally:
        proc.send_signal(signal.SIGTERM)
        err = finish(proc)
        sub.close()
    assert "no stage 9" in err


def test_a_config_error_is_one_line_naming_file_line_and_key(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('device = "left"\n\n[sensor]\nrate_hz = "fast"\n')
    proc = start_service(free_port(), tmp_path, config=config)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert err.strip() == f"heelraise: {config}:4: 'sensor.rate_hz' must be a number, got string"


def test_tells_systemd_it_is_ready_pings_the_watchdog_and_says_stopping(broker, tmp_path):
    import socket

    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(30)
        env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"}
        proc = start_service(broker.port, tmp_path, "--source", "simulator", speed=5, env=env)
        seen = []
        try:
            while "WATCHDOG=1" not in seen or seen.count("WATCHDOG=1") < 3:
                seen.append(sock.recv(256).decode())
            proc.send_signal(signal.SIGTERM)
            while "STOPPING=1" not in seen:
                seen.append(sock.recv(256).decode())
        finally:
            proc.send_signal(signal.SIGTERM)
            finish(proc)
    assert seen[0] == "READY=1"


def run_in_process(broker, tmp_path, source, feedback, stage, started) -> list[dict]:
    """The Service in this process on ``source`` against the broker (``started(service)``
    lets the test's clock stop it); the online statuses a subscriber saw, in order."""
    from pi_service.config import ServiceConfig
    from pi_service.publish import Publisher
    from pi_service.service import Service

    sub = Collector(broker, f"heelraise/{DEVICE}/status")
    with Publisher(DEVICE, broker.host, broker.port, tmp_path / "outbox.sqlite3",
                   source=source.kind) as publisher:
        assert wait_until(lambda: publisher.connected)
        service = Service(ServiceConfig(device=DEVICE), stage, feedback, publisher, None,
                          source.kind)
        started(service)
        service.run(source)
        assert publisher.wait_idle(5)
        sub.flush()
    sub.close()
    source.close()
    return [s for s in sub.of("status") if s["state"] == "online"]


def test_an_unplugged_sensor_is_reported_lost_and_back_with_the_led_pattern(broker, tmp_path):
    """Fake I2C chip → I2CSource → Service → real broker and gpiozero mock LED."""
    import time

    from fake_i2c import FakeClock, FakeMPU6050
    from fake_smbus import FakeBus
    from gpiozero.pins.mock import MockFactory

    from pi_service.feedback import Feedback, FeedbackConfig
    from pi_service.sources.i2c import I2CSource

    clock = FakeClock()
    bus = FakeBus(clock)
    bus.attach(0x68, FakeMPU6050())
    factory = MockFactory()
    led_while_lost = []
    plan = {1005.0: "unplug", 1015.0: "replug", 1020.0: "stop"}

    running: list = []                    # the service, once started

    def sleep(dt_s: float) -> None:
        clock.advance(dt_s)
        if running[0].sensor == "lost":
            time.sleep(0.02)              # real time for gpiozero's blink thread
            led_while_lost.append(factory.pin(17).state)
        for at in sorted(plan):
            if clock() >= at:
                action = plan.pop(at)
                if action == "stop":
                    running[0].stopping = True
                else:
                    getattr(bus, action)(0x68)

    source = I2CSource(bus, chip="mpu6050", clock=clock, sleep=sleep)
    stage = load_stage(2)
    with Feedback(FeedbackConfig.from_dict({"led": 17}, "test"), stage,
                  pin_factory=factory) as feedback:
        online = run_in_process(broker, tmp_path, source, feedback, stage, running.append)
    sensors = [s["sensor"] for s in online]
    assert "lost" in sensors and sensors.index("ok") < sensors.index("lost")
    assert sensors[-1] == "ok"
    assert True in led_while_lost     # the sensor-lost pattern lit the LED


def test_a_configured_wired_sensor_without_a_bus_is_waited_for_never_simulated(
        broker, tmp_path):
    """I2C not enabled on a new Pi (no /dev/i2c-*): the service waits and says so."""
    config = tmp_path / "heelraise.toml"
    config.write_text('[sensor]\nsource = "i2c"\nbus = 250\n')      # no /dev/i2c-250 here
    sub = Collector(broker, f"heelraise/{DEVICE}/#")
    proc = start_service(broker.port, tmp_path, config=config)
    try:
        assert wait_until(lambda: any(s["sensor"] == "lost" for s in sub.of("status")),
                          timeout_s=30), sub.of("status")
        time.sleep(3)                                   # long enough for a simulated rep
        assert proc.poll() is None, "the service gave up instead of waiting"
    finally:
        proc.send_signal(signal.SIGTERM)
        err = finish(proc)
        sub.flush()
        sub.close()
    online = [s for s in sub.of("status") if s["state"] == "online"]
    assert online[-1]["sensor"] == "lost" and online[-1]["source"] == "i2c"
    assert not sub.of("rep") and not sub.of("set") and not sub.of("phase")
    assert "the wired sensor is not there (cannot open /dev/i2c-250" in err
    assert "simulat" not in err.lower()


def test_a_bus_that_appears_later_is_used_and_reported_back(broker, tmp_path):
    """The person enables I2C: the awaited source opens the sensor and the status says ok."""
    from fake_i2c import FakeClock, FakeMPU6050
    from fake_smbus import FakeBus

    from pi_service.errors import SensorError
    from pi_service.feedback import FeedbackConfig, open_feedback
    from pi_service.sources.awaited import AwaitedSource
    from pi_service.sources.i2c import I2CSource

    clock = FakeClock()
    bus = FakeBus(clock)
    bus.attach(0x68, FakeMPU6050())
    tries = []

    def wired() -> I2CSource:
        tries.append(1)
        if len(tries) < 3:
            raise SensorError("cannot open /dev/i2c-1: No such file or directory")
        return I2CSource(bus, chip="mpu6050", clock=clock, sleep=lambda dt: stop(dt))

    running: list = []

    def stop(dt_s: float) -> None:
        clock.advance(dt_s)
        if clock() > 1003.0:
            running[0].stopping = True

    source = AwaitedSource(wired, retry_s=0.05)
    stage = load_stage(2)
    feedback = open_feedback(FeedbackConfig.from_dict({"enabled": False}, "test"), stage)
    online = [(s["sensor"], s["source"])
              for s in run_in_process(broker, tmp_path, source, feedback, stage,
                                      running.append)]
    assert ("lost", "i2c") in online and online[-1] == ("ok", "mpu6050"), online
    assert len(tries) == 3


def test_auto_falls_back_to_the_simulator_and_the_log_keeps_it_out_of_the_history(
        broker, tmp_path):
    """No IMU here: "auto" plays the simulator, says so everywhere, and the log knows."""
    from pi_service.log.aggregates import aggregates
    from pi_service.log.progression import load_rules
    from pi_service.log.store import Store
    from pi_service.log.subscriber import LogSubscriber
    from pi_service.stages import load_protocol

    config = tmp_path / "heelraise.toml"
    config.write_text('[sensor]\nsource = "auto"\nbus = 250\n')
    sub = Collector(broker, f"heelraise/{DEVICE}/#")
    with Store(tmp_path / "log.sqlite3") as store, \
            LogSubscriber(store, host=broker.host, port=broker.port, coalesce_s=0.05,
                          discovery=False) as log:
        assert log.wait_subscribed()
        err = finish(start_service(broker.port, tmp_path, config=config))
        assert wait_until(lambda: store.count("sets") >= 1, timeout_s=20)
        sub.flush()
        assert "using the SIMULATED sensor" in err
        messages = sub.of("status") + sub.of("rep") + sub.of("set")
        assert messages and {m["source"] for m in messages} == {"simulator"}
        assert wait_until(lambda: store.count("sets") == len(sub.of("set")))
        assert store.sets() == [] and store.reps() == []            # not the person's
        assert len(store.sets(simulated=True)) == len(sub.of("set"))
        today = aggregates(store, DEVICE, store.sets(simulated=True)[0].day,
                           protocol=load_protocol(), rules=load_rules())["today"]
        assert today["sets"] == 0 and today["reps"] == 0
    sub.close()


def _children(pid: int) -> list[int]:
    return [int(c) for t in Path(f"/proc/{pid}/task").iterdir()
            for c in (t / "children").read_text().split()]


def _private_broker(port: int, tmp_path: Path) -> tuple[subprocess.Popen, int, Path]:
    """A service that started its own Mosquitto: the service, the broker's pid, its folder."""
    tmp_path.mkdir(exist_ok=True)
    config = tmp_path / "heelraise.toml"
    config.write_text('[broker]\nstart_local = "auto"\n')
    proc = start_service(port, tmp_path, "--source", "simulator", config=config, speed=1)
    assert wait_until(lambda: port_open("127.0.0.1", port), timeout_s=30)
    brokers = [c for c in _children(proc.pid)
               if Path(f"/proc/{c}/comm").read_text().strip() == "mosquitto"]
    assert len(brokers) == 1, _children(proc.pid)
    folder = Path(next(a for a in Path(f"/proc/{brokers[0]}/cmdline").read_text().split("\0")
                       if a.endswith("mosquitto.conf"))).parent
    return proc, brokers[0], folder


def test_the_private_broker_dies_with_the_service_even_on_sigkill(tmp_path):
    port = free_port()
    proc, broker_pid, folder = _private_broker(port, tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert wait_until(lambda: not Path(f"/proc/{broker_pid}").exists()
                      or "Z" in Path(f"/proc/{broker_pid}/stat").read_text().split(")")[1][:3],
                      timeout_s=5), "the private broker outlived its service"
    assert not port_open("127.0.0.1", port)
    assert folder.exists()                     # a SIGKILL leaves no time to tidy up ...
    again, _, second = _private_broker(port, tmp_path / "again")
    try:
        assert not folder.exists()             # ... so the next start removes it
        assert second.exists() and second != folder
    finally:
        again.send_signal(signal.SIGTERM)
        finish(again)
    assert not second.exists() and not port_open("127.0.0.1", port)   # a clean stop tidies
