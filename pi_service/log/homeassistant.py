"""Home Assistant MQTT discovery, so the coach appears in HA with no YAML.

One retained device-based discovery message per device, on
``homeassistant/device/heelraise/<device>/config`` (HA 2024.11 on): the device and
origin once, then each entity under ``cmps`` with its platform (``p``), a
``unique_id`` and a ``default_entity_id`` (HA 2025.10 deprecates ``object_id``;
2026.4 drops it). Each entity's state comes from a retained aggregate, the service's
status, or each rep as an ``event``, through a ``value_template``.

Availability follows whoever keeps the state: the log's summaries are available while
the log is (``heelraise/log/status``), so they still read true when the service is off;
the rep events while the service is online; "sensor online" is always available, and
says OFF when the service's last will does.

The log once published one config per entity (``homeassistant/sensor/heelraise_<device>/
<entity>/config``); the log clears those topics once (an empty retained payload removes
the old entity, :func:`legacy_topics`), waits a moment, and the device config creates
the entities again with the same unique ids and entity ids. Its topic differs from the
old ones (``heelraise/<device>``, not ``heelraise_<device>``), so HA's discovery keys
differ too and clearing an old topic can never remove a new entity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import metadata

from ..pipeline.events import Verdict
from ..topics import LOG_STATUS, check_device, topic
from .aggregates import aggregate_topic

DISCOVERY_PREFIX = "homeassistant"

_ONLINE = {"value_template": "{{ value_json.state }}", "payload_available": "online",
           "payload_not_available": "offline"}


@dataclass(frozen=True)
class Entity:
    """One HA entity: its platform, where its state is and how it is read."""

    object_id: str
    platform: str         # "sensor", "binary_sensor" or "event"
    name: str
    source: str           # an aggregate kind, or "status" / "rep" (the service's topics)
    value_template: str
    extra: tuple[tuple[str, object], ...] = ()


REP_EVENT_TYPES = tuple(v.value for v in Verdict)
"""A rep event's type is its tempo verdict (``ok``, ``too_fast_up``, ...)."""

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
    Entity("done_today", "binary_sensor", "Training done today", "today",
           "{{ 'ON' if value_json.done else 'OFF' }}",
           (("payload_on", "ON"), ("payload_off", "OFF"), ("icon", "mdi:check-circle"))),
    Entity("sensor_online", "binary_sensor", "Sensor online", "status",
           "{{ 'ON' if value_json.state == 'online' and value_json.sensor == 'ok' "
           "else 'OFF' }}",
           (("device_class", "connectivity"), ("payload_on", "ON"), ("payload_off", "OFF"))),
    Entity("rep", "event", "Rep", "rep",
           "{{ {'event_type': value_json.verdict, 'index': value_json.index, "
           "'up_s': value_json.up_s, 'hold_s': value_json.hold_s, "
           "'down_s': value_json.down_s, 'peak_deg': value_json.peak_deg} | tojson }}",
           (("event_types", list(REP_EVENT_TYPES)), ("icon", "mdi:foot-print"))),
)

LEGACY = (("sensor", "reps_today"), ("sensor", "last_set_reps"), ("sensor", "stage"),
          ("sensor", "tempo_compliance"), ("binary_sensor", "sensor_online"))
"""The per-entity configs earlier versions published (platform, entity)."""


def node_id(device: str) -> str:
    return f"heelraise_{check_device(device)}"


def _version() -> str:
    try:
        return metadata.version("heelraise")
    except metadata.PackageNotFoundError:
        return "unknown"


def _availability(device: str, source: str) -> list[dict] | None:
    if source == "status":
        return None                      # the will itself says OFF
    return [{"topic": topic(device, "status") if source == "rep" else LOG_STATUS, **_ONLINE}]


def legacy_topics(device: str, prefix: str = DISCOVERY_PREFIX) -> list[str]:
    """The old per-entity config topics of ``device``, to clear (empty, retained) once."""
    return [f"{prefix}/{platform}/{node_id(device)}/{entity}/config"
            for platform, entity in LEGACY]


def discovery_messages(device: str, prefix: str = DISCOVERY_PREFIX) -> dict[str, dict]:
    """Config topic -> retained device-based config for ``device`` (one entry)."""
    node = node_id(device)
    version = _version()
    components = {}
    for e in ENTITIES:
        state = topic(device, e.source) if e.source in ("status", "rep") else \
            aggregate_topic(device, e.source)
        config: dict = {"p": e.platform, "name": e.name, "unique_id": f"{node}_{e.object_id}",
                        "default_entity_id": f"{e.platform}.{node}_{e.object_id}",
                        "state_topic": state, "value_template": e.value_template,
                        **dict(e.extra)}
        availability = _availability(device, e.source)
        if availability is not None:
            config["availability"] = availability
        components[e.object_id] = config
    return {f"{prefix}/device/heelraise/{check_device(device)}/config": {
        "dev": {"ids": [node], "name": f"Heel-raise coach ({device})", "mf": "heelraise",
                "mdl": "Heel-raise coach", "sw": version},
        "o": {"name": "heelraise log", "sw": version},
        "cmps": components,
        "qos": 1,
    }}


def encode(config: dict) -> bytes:
    return json.dumps(config, separators=(",", ":")).encode()
