"""Heel-rise tests from the sensor to the log, through a real Mosquitto: each leg published
durably, stored once in its own table, exported, summed up in the retained ``heel_rise``
aggregate, and never taken for training (no set, no rep, no tempo verdict)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import date, datetime
from datetime import time as clock
from pathlib import Path

import paho.mqtt.client as mqtt
from mqtt_helpers import Collector, wait_until
from paho.mqtt.enums import CallbackAPIVersion

from pi_service import builders
from pi_service.heelrise.guided import GuidedTest
from pi_service.heelrise.protocol import load_test_protocol
from pi_service.log.export import export
from pi_service.log.store import Store
from pi_service.log.subscriber import LogSubscriber
from pi_service.outbox import Outbox
from pi_service.publish import Publisher
from pi_service.sources.heelrise_sim import simulate_guided

DEVICE = "calf"


def logger(store: Store, broker, today: date | None = None) -> LogSubscriber:
    log = LogSubscriber(store, host=broker.host, port=broker.port, coalesce_s=0.05,
                        discovery=False, **({"today": lambda: today} if today else {}))
    log.start()
    assert log.wait_subscribed(), "the log did not subscribe"
    return log


def test_a_guided_test_reaches_the_log_once_a_leg_in_its_own_table_and_the_export(
        broker, tmp_path):
    """`heelraise heel-rise-test` as a person runs it (here the simulated person, since
    no sensor is attached), publishing to the broker the config names."""
    cfg = tmp_path / "heelraise.toml"
    cfg.write_text(f'device = "{DEVICE}"\nstate_dir = "{tmp_path}"\n[broker]\n'
                   f'host = "127.0.0.1"\nport = {broker.port}\nstart_local = "never"\n')
    sub = Collector(broker, f"heelraise/{DEVICE}/#")
    try:
        with Store(tmp_path / "log.sqlite3") as store, logger(store, broker):
            proc = subprocess.run(
                [sys.executable, "-m", "pi_service.cli", "heel-rise-test", "--config",
                 str(cfg), "--source", "simulator", "--seed", "3", "--speed", "1000",
                 "--rest", "10", "--involved", "left", "--body-mass", "68", "--json"],
                capture_output=True, text=True, timeout=60,
                env={**os.environ, "GPIOZERO_PIN_FACTORY": "mock",
                     "OPENBLAS_NUM_THREADS": "1"})
            assert proc.returncode == 0, proc.stderr
            printed = json.loads(proc.stdout)
            assert wait_until(lambda: store.count("heel_rise_tests") == 2, timeout_s=15)
            sub.flush()
            tests = store.tests(simulated=True)
            assert sorted(t["leg"] for t in tests) == ["left", "right"]
            assert len({t["test_id"] for t in tests}) == 1, "one test, two legs"
            by_leg = {t["leg"]: t for t in tests}
            assert by_leg["left"]["involved"] is True and by_leg["right"]["involved"] is False
            for leg in printed["legs"]:
                stored = by_leg[leg["leg"]]
                assert stored["valid_reps"] == leg["valid_reps"]
                assert stored["stop_reason"] == leg["stop_reason"]
                assert stored["body_mass_kg"] == 68 and stored["source"] == "simulator"
            # Test raises are not training: nothing published or stored as a set or a rep.
            assert sub.of("set") == [] and sub.of("rep") == []
            assert store.count("sets") == 0 and store.count("reps") == 0
            assert store.tests() == [], "a simulated person's test is not the person's"
            # Exported, as a table of its own and in the whole-log JSON.
            out = io.StringIO()
            assert export(store, "csv", out, "heel_rise_tests") == 2
            rows = list(csv.DictReader(io.StringIO(out.getvalue())))
            assert {r["leg"] for r in rows} == {"left", "right"}
            assert {r["valid_reps"] for r in rows} == {str(leg["valid_reps"])
                                                      for leg in printed["legs"]}
            out = io.StringIO()
            export(store, "json", out)
            assert len(json.loads(out.getvalue())["heel_rise_tests"]) == 2
    finally:
        sub.close()
    with Outbox(tmp_path / "outbox.sqlite3") as box:
        assert len(box) == 0, "the log stored the legs: the outbox let them go"


def at(day: date, hour: int = 10) -> float:
    return datetime.combine(day, clock(hour)).astimezone().timestamp()


def both_legs(seed: int, involved: str) -> list:
    """Both legs of a simulated person's guided test (the judge's results)."""
    protocol = load_test_protocol()
    block, _ = simulate_guided(seed, protocol, ["right", "left"], involved, rest_s=5.0,
                               warm_up=False)
    test = GuidedTest(protocol, ["right", "left"], say=lambda s: None, body_mass_kg=75.0,
                      warm_up=False, rest_s=5.0)
    for i in range(0, len(block), 25):          # as a sensor delivers it
        test.feed(block[i:i + 25])
    test.finish()
    assert len(test.results) == 2
    return test.results


def test_tests_over_the_weeks_give_the_retained_heel_rise_aggregate(broker, tmp_path):
    weeks = [date(2026, 3, 2), date(2026, 3, 16)]
    with Store(tmp_path / "log.sqlite3") as store, logger(store, broker, today=weeks[-1]):
        for i, day in enumerate(weeks):
            with Publisher(DEVICE, broker.host, broker.port, tmp_path / f"outbox{i}.sqlite3",
                           source="mpu6050",
                           iso_time=lambda t, d=day: builders.iso_utc(at(d) + t)) as pub:
                assert wait_until(lambda p=pub: p.connected)
                for result in both_legs(11 + i, "left"):
                    pub.publish_test(result, test_id=f"test-{i}", involved="left", bpm=60.0)
                assert pub.wait_idle(10)
        assert wait_until(lambda: store.count("heel_rise_tests") == 4, timeout_s=15)
        got: dict[str, dict] = {}
        client = mqtt.Client(CallbackAPIVersion.VERSION2)
        client.on_message = lambda c, u, m: got.__setitem__(m.topic, json.loads(m.payload))
        client.connect(broker.host, broker.port)
        client.subscribe(f"heelraise/log/{DEVICE}/heel_rise", qos=1)
        client.loop_start()
        topic = f"heelraise/log/{DEVICE}/heel_rise"
        assert wait_until(lambda: topic in got and got[topic]["latest"] and len(
            got[topic]["history"]) == 2, timeout_s=10), got
        client.disconnect()
        client.loop_stop()
    body = got[topic]
    assert [h["date"] for h in body["history"]] == [d.isoformat() for d in weeks]
    latest = body["latest"]
    assert latest["test_id"] == "test-1" and set(latest["legs"]) == {"left", "right"}
    assert latest["symmetry"]["involved"] == "left"
    for h in body["history"]:
        assert 0 < h["reps_pct"] and 0 < h["height_pct"] and 0 < h["work_pct"]
    assert body["history"][-1]["work_pct"] == latest["symmetry"]["work_pct"]
    assert body["norms"]["median_reps_men"] == 24
    assert store_sets_empty(tmp_path)


def store_sets_empty(tmp_path: Path) -> bool:
    with Store(tmp_path / "log.sqlite3") as store:
        return store.count("sets") == 0 and store.sets() == []
