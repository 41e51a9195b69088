"""Home Assistant MQTT discovery, so the coach appears in HA with no YAML.

HA reads retained config messages on ``homeassistant/<component>/<node>/<object>/config``
and creates one entity per message, grouped into one device by ``device.identifiers``.
Each entity's state comes from a retained aggregate (or the service's status) through
a ``value_template``; it is available while ``heelraise/<device>/status`` says online.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import metadata

from ..topics import check_device, topic
from .aggregates import aggregate_topic

DISCOVERY_PREFIX = "homeassistant"


@dataclass(frozen=True)
class Entity:
    """One HA entity: which aggregate it reads and how."""

    object_id: str
    component: str        # "sensor" or "binary_sensor"
    name: str
    source: str           # an aggregate kind, or "status"
    value_template: str
    extra: tuple[tuple[str, object], ...] = ()


ENTITIES = (
    Entity("reps_today", "sensor", "Reps today", "today", "{{ value_json.reps }}",
           (("unit_of_measurement", "reps"), ("state_class", "measurement"),
            ("icon", "mdi:shoe-print"))),
    Entity("last_set_reps", "sensor", "Last set", "last_session",
           "{{ value_json.last_set.reps if value_json.last_set else none }}",
           (("unit_of_measurement", "reps"), ("icon", "mdi:counter"))),
    Entity("stage", "sensor", "Rehab stage", "stage_progress", "{{ value_json.stage }}",
           (("icon", "mdi:stairs-up"),)),
    Entity("tempo_compliance", "sensor", "Tempo compliance", "last_session",
           "{{ value_json.tempo_compliance_pct }}",
           (("unit_of_measurement", "%"), ("state_class", "measurement"),
            ("icon", "mdi:metronome"))),
    Entity("sensor_online", "binary_sensor", "Sensor online", "status",
           "{{ 'ON' if value_json.state == 'online' and value_json.sensor == 'ok' "
           "else 'OFF' }}",
           (("device_class", "connectivity"), ("payload_on", "ON"), ("payload_off", "OFF"))),
)


def node_id(device: str) -> str:
    return f"heelraise_{check_device(device)}"


def discovery_messages(device: str, prefix: str = DISCOVERY_PREFIX) -> dict[str, dict]:
    """Config topic -> config payload for every entity of ``device``."""
    node = node_id(device)
    try:
        version = metadata.version("heelraise")
    except metadata.PackageNotFoundError:
        version = "unknown"
    info = {"identifiers": [node], "name": f"Heel-raise coach ({device})",
            "manufacturer": "heelraise", "model": "Heel-raise coach", "sw_version": version}
    status = topic(device, "status")
    out = {}
    for e in ENTITIES:
        state = status if e.source == "status" else aggregate_topic(device, e.source)
        out[f"{prefix}/{e.component}/{node}/{e.object_id}/config"] = {
            "name": e.name,
            "unique_id": f"{node}_{e.object_id}",
            "object_id": f"{node}_{e.object_id}",
            "state_topic": state,
            "value_template": e.value_template,
            "availability": [{"topic": status, "value_template": "{{ value_json.state }}",
                              "payload_available": "online",
                              "payload_not_available": "offline"}],
            "device": info,
            "origin": {"name": "heelraise log", "sw_version": version},
            **dict(e.extra),
        }
    return out


def encode(config: dict) -> bytes:
    return json.dumps(config, separators=(",", ":")).encode()
