"""Home Assistant MQTT discovery, held to what HA documents, retained, pointing at real state.

A current Home Assistant needs a newer Python than this project's 3.11, so HA itself is
not run. Instead each config is checked against the rules of HA's MQTT integration
documentation for device-based discovery (``homeassistant/device/<node>/<object>/config``,
``dev`` + ``o`` + ``cmps``, each component with ``p`` and ``unique_id``; since 2025.10
``default_entity_id`` as ``<platform>.<object id>`` instead of the deprecated
``object_id``; an ``event`` entity lists its ``event_types`` and its state is JSON with
an ``event_type``), and every ``value_template`` is rendered with Jinja2, the template
engine HA uses, against the payloads the log and the service really send.
"""

from __future__ import annotations

import json
import re
import time
from datetime import date

import jinja2
import paho.mqtt.client as mqtt
import pytest
from mqtt_helpers import wait_until
from paho.mqtt.enums import CallbackAPIVersion

from pi_service import builders, mqtt_docs, payloads
from pi_service.log.aggregates import aggregates
from pi_service.log.homeassistant import REP_EVENT_TYPES, discovery_messages, legacy_topics
from pi_service.log.progression import load_rules
from pi_service.log.store import Store
from pi_service.log.subscriber import LogSubscriber
from pi_service.stages import load_protocol
from pi_service.topics import LOG_STATUS

# HA's discovery topic matcher (homeassistant/components/mqtt/discovery.py), prefix removed
TOPIC = re.compile(r"(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?"
                   r"(?P<object_id>[a-zA-Z0-9_-]+)/config")
ENTITY_ID = re.compile(r"(?P<platform>[a-z_]+)\.(?P<object>[a-z0-9_]+)")
PLATFORMS = {"sensor", "binary_sensor", "event"}
SHARED = {"availability", "state_topic", "command_topic", "qos", "encoding"}


def _check_device_config(topic: str, config: dict) -> dict[str, dict]:
    """The documented device-discovery rules; returns the components, shared options merged."""
    assert topic.startswith("homeassistant/")
    match = TOPIC.fullmatch(topic.removeprefix("homeassistant/"))
    assert match and match["component"] == "device", topic
    assert set(config) <= {"dev", "o", "cmps"} | SHARED, set(config)
    dev, origin, cmps = config["dev"], config["o"], config["cmps"]
    assert dev["ids"] and all(isinstance(i, str) for i in dev["ids"]) and dev["name"]
    assert origin["name"]
    assert isinstance(cmps, dict) and cmps
    merged = {}
    for cid, comp in cmps.items():
        assert re.fullmatch(r"[a-zA-Z0-9_-]+", cid)
        assert comp["p"] in PLATFORMS, comp
        assert "object_id" not in comp, "deprecated since HA 2025.10: default_entity_id"
        entity = ENTITY_ID.fullmatch(comp["default_entity_id"])
        assert entity and entity["platform"] == comp["p"], comp["default_entity_id"]
        assert isinstance(comp["unique_id"], str) and comp["unique_id"]
        full = {k: v for k, v in config.items() if k in SHARED} | comp
        assert isinstance(full["state_topic"], str) and "+" not in full["state_topic"]
        for avail in full.get("availability", []):
            assert set(avail) <= {"topic", "value_template", "payload_available",
                                  "payload_not_available"} and avail["topic"]
        if comp["p"] == "event":
            assert full["event_types"] and all(isinstance(t, str) for t in full["event_types"])
        if comp["p"] == "binary_sensor":
            assert {full["payload_on"], full["payload_off"]} == {"ON", "OFF"}
        merged[cid] = full
    unique = [c["unique_id"] for c in merged.values()]
    assert len(set(unique)) == len(unique)
    return merged


def _render(template: str, payload: dict) -> str:
    """A value_template as HA renders it: ``value_json`` is the decoded payload."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    return env.from_string(template).render(value_json=payload, value=json.dumps(payload))


def _states(tmp_path) -> dict[str, dict]:
    """Every topic an entity reads, with the payload the log or the service sends there."""
    with Store(tmp_path / "states.sqlite3") as store:
        store.add_set({**mqtt_docs.examples()["set"], "time": builders.iso_utc(time.time()),
                       "start_time": builders.iso_utc(time.time() - 60)})
        bodies = aggregates(store, "left", date.today(), protocol=load_protocol(),
                            rules=load_rules())
    examples = mqtt_docs.examples()
    return {**{f"heelraise/log/left/{kind}": body for kind, body in bodies.items()},
            "heelraise/left/status": examples["status"], "heelraise/left/rep": examples["rep"],
            LOG_STATUS: mqtt_docs.log_status_example()}


def test_every_entity_meets_the_documented_schema_and_renders(tmp_path):
    [(topic, config)] = discovery_messages("left").items()
    assert topic == "homeassistant/device/heelraise/left/config"
    components = _check_device_config(topic, config)
    assert set(components) == {"reps_today", "last_set_reps", "stage", "tempo_compliance",
                               "done_today", "sensor_online", "rep"}
    states = _states(tmp_path)
    for cid, comp in components.items():
        state = states[comp["state_topic"]]
        shown = _render(comp["value_template"], state)
        if comp["p"] == "sensor":
            assert shown == "None" or float(shown) >= 0, (cid, shown)
        elif comp["p"] == "binary_sensor":
            assert shown in ("ON", "OFF"), (cid, shown)
        else:
            event = json.loads(shown)
            assert event["event_type"] in comp["event_types"] == list(REP_EVENT_TYPES)
            assert event["index"] == states["heelraise/left/rep"]["index"]
        for avail in comp.get("availability", []):
            assert _render(avail["value_template"], states[avail["topic"]]) in (
                avail["payload_available"], avail["payload_not_available"])
    # the log's summaries are available with the log, not with the service
    assert components["reps_today"]["availability"][0]["topic"] == LOG_STATUS
    assert components["rep"]["availability"][0]["topic"] == "heelraise/left/status"
    assert "availability" not in components["sensor_online"]    # its will says OFF
    assert _render(components["sensor_online"]["value_template"],
                   {**states["heelraise/left/status"], "state": "offline"}) == "OFF"


def test_bad_device_names_are_refused():
    with pytest.raises(payloads.PayloadError):
        discovery_messages("left/+")


def _collect(broker, patterns: list[str], expect: int,
             timeout_s: float = 5.0) -> dict[str, mqtt.MQTTMessage]:
    got: dict[str, mqtt.MQTTMessage] = {}
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, m: got.__setitem__(m.topic, m)
    client.connect(broker.host, broker.port)
    for pattern in patterns:
        client.subscribe(pattern, qos=1)
    client.loop_start()
    deadline = time.monotonic() + timeout_s
    while len(got) < expect and time.monotonic() < deadline:
        time.sleep(0.02)
    client.disconnect()
    client.loop_stop()
    return got


def _publish(broker, topic: str, payload: bytes | str, retain: bool = False) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def test_discovery_is_retained_replaces_the_old_configs_and_points_at_live_state(broker,
                                                                                 tmp_path):
    old = legacy_topics("left")[0]
    _publish(broker, old, json.dumps({"name": "Reps today", "object_id": "x"}), retain=True)
    status = builders.status_payload("left", state="online", sensor="ok", source="simulator",
                                     stage=2, running=True)
    _publish(broker, "heelraise/left/status", json.dumps(status), retain=True)
    with Store(tmp_path / "log.sqlite3") as store, LogSubscriber(
            store, host=broker.host, port=broker.port, coalesce_s=0.05) as logger:
        assert logger.wait_subscribed()
        _publish(broker, "heelraise/left/set", json.dumps(mqtt_docs.examples()["set"]))
        assert wait_until(lambda: store.count("sets") == 1)
        logger.flush()
        got = _collect(broker, ["homeassistant/#", "heelraise/#"], 1 + 5 + 2)
    configs = {t: json.loads(m.payload) for t, m in got.items() if t.startswith("homeassistant/")}
    assert configs == discovery_messages("left")          # the old per-entity config is gone
    assert old not in got
    [(topic, config)] = configs.items()
    assert got[topic].retain
    for comp in _check_device_config(topic, config).values():
        if comp["p"] != "event":                     # a rep is an event, not retained state
            assert got[comp["state_topic"]].retain, comp["state_topic"]


def test_discovery_is_announced_again_when_home_assistant_restarts(broker, tmp_path):
    config_topic = "homeassistant/device/heelraise/left/config"

    def announced() -> bool:
        return config_topic in _collect(broker, [config_topic], 1, timeout_s=0.3)

    with Store(tmp_path / "log.sqlite3") as store:
        store.add_set(mqtt_docs.examples()["set"])
        with LogSubscriber(store, host=broker.host, port=broker.port, coalesce_s=0.05) as logger:
            assert logger.wait_subscribed()
            assert wait_until(announced, 5.0), "devices already in the log are announced at start"
            # The retained configs are lost (a broker without persistence restarted);
            # Home Assistant comes back and says so.
            _publish(broker, config_topic, b"", retain=True)
            assert not announced()
            _publish(broker, "homeassistant/status", b"online")
            assert wait_until(announced, 5.0)
