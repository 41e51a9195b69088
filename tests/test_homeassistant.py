"""Home Assistant MQTT discovery: configs HA accepts, retained, pointing at topics that exist."""

from __future__ import annotations

import json
import re
import time

import paho.mqtt.client as mqtt
import pytest
from mqtt_helpers import wait_until
from paho.mqtt.enums import CallbackAPIVersion

from pi_service import builders, mqtt_docs, payloads
from pi_service.log.homeassistant import discovery_messages
from pi_service.log.store import Store
from pi_service.log.subscriber import LogSubscriber

CONFIG_TOPIC = re.compile(r"^homeassistant/(sensor|binary_sensor)/([A-Za-z0-9_-]+)/"
                          r"([A-Za-z0-9_-]+)/config$")


def test_every_entity_has_what_home_assistant_needs():
    configs = discovery_messages("left")
    assert {t.split("/")[3] for t in configs} == {
        "reps_today", "last_set_reps", "stage", "tempo_compliance", "sensor_online"}
    unique_ids = [c["unique_id"] for c in configs.values()]
    assert len(set(unique_ids)) == len(unique_ids)
    assert discovery_messages("right").keys().isdisjoint(configs.keys())
    for config_topic, config in configs.items():
        match = CONFIG_TOPIC.match(config_topic)
        assert match, config_topic
        component, node, object_id = match.groups()
        assert node == "heelraise_left" and config["unique_id"] == f"{node}_{object_id}"
        for key in ("name", "state_topic", "value_template", "availability", "device"):
            assert config[key], (config_topic, key)
        assert config["device"]["identifiers"] == ["heelraise_left"]
        assert config["availability"] == [{
            "topic": "heelraise/left/status", "value_template": "{{ value_json.state }}",
            "payload_available": "online", "payload_not_available": "offline"}]
        if component == "binary_sensor":
            assert config["state_topic"] == "heelraise/left/status"
            assert (config["payload_on"], config["payload_off"]) == ("ON", "OFF")
        else:
            assert config["state_topic"].startswith("heelraise/log/left/")


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


def _resolve(template: str, body: dict) -> list:
    """Every ``value_json.a.b`` a template reads must exist in the state payload."""
    values = []
    for path in re.findall(r"value_json((?:\.[a-z_]+)+)", template):
        node = body
        for key in path.strip(".").split("."):
            assert isinstance(node, dict) and key in node, (template, key, body)
            node = node[key]
        values.append(node)
    return values


def test_discovery_is_retained_and_points_at_live_state(broker, tmp_path):
    status = builders.status_payload("left", state="online", sensor="ok", source="simulator",
                                     stage=2, running=True)
    with Store(tmp_path / "log.sqlite3") as store, LogSubscriber(
            store, host=broker.host, port=broker.port, coalesce_s=0.05) as logger:
        assert logger.wait_subscribed()
        service = mqtt.Client(CallbackAPIVersion.VERSION2)
        service.connect(broker.host, broker.port)
        service.loop_start()
        service.publish("heelraise/left/status", json.dumps(status), qos=1,
                        retain=True).wait_for_publish(5)
        service.publish("heelraise/left/set", json.dumps(mqtt_docs.examples()["set"]),
                        qos=1).wait_for_publish(5)
        service.disconnect()
        service.loop_stop()
        deadline = time.monotonic() + 5
        while store.count("sets") < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        logger.flush()

    got = _collect(broker, ["homeassistant/#", "heelraise/#"], 5 + 5 + 1)
    configs = {t: json.loads(m.payload) for t, m in got.items() if t.startswith("homeassistant/")}
    assert configs == discovery_messages("left")
    assert all(got[t].retain for t in configs)
    for config in configs.values():
        state = got.get(config["state_topic"])
        assert state is not None and state.retain, config["state_topic"]
        values = _resolve(config["value_template"], json.loads(state.payload))
        assert values and all(v is not None for v in values), config["name"]
        _resolve(config["availability"][0]["value_template"],
                 json.loads(got[config["availability"][0]["topic"]].payload))


def test_discovery_is_announced_again_when_home_assistant_restarts(broker, tmp_path):
    config_topic = "homeassistant/sensor/heelraise_left/reps_today/config"

    def announced() -> bool:
        return config_topic in _collect(broker, [config_topic], 1, timeout_s=0.3)

    ha = mqtt.Client(CallbackAPIVersion.VERSION2)
    ha.connect(broker.host, broker.port)
    ha.loop_start()
    with Store(tmp_path / "log.sqlite3") as store:
        store.add_set(mqtt_docs.examples()["set"])
        with LogSubscriber(store, host=broker.host, port=broker.port, coalesce_s=0.05) as logger:
            assert logger.wait_subscribed()
            assert wait_until(announced, 5.0), "devices already in the log are announced at start"
            # The retained configs are lost (a broker without persistence restarted);
            # Home Assistant comes back and says so.
            ha.publish(config_topic, b"", qos=1, retain=True).wait_for_publish(5)
            assert not announced()
            ha.publish("homeassistant/status", b"online", qos=1).wait_for_publish(5)
            assert wait_until(announced, 5.0)
    ha.disconnect()
    ha.loop_stop()


def _eventually(condition, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
    return False
