"""What the clip-on publishes: its two topics and the schema of its status payload.

Kept apart from pi_service/payloads.py (the service's own topics) until the schema
engine there can take them; docs/wireless.md documents both topics from here.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ...errors import HeelRaiseError

IMU_QOS = 0       # frames: a lost one is a reported gap, not worth a retransmission
SENSOR_QOS = 0    # status: retained, sent every 30 s and on change; its will is QoS 1
STATES = ("online", "offline")
IMU_STATES = ("ok", "lost", "missing")

_INT = (int,)
_NUM = (int, float)
#: field -> (accepted JSON types, None allowed, required when online, description)
SENSOR_FIELDS: dict[str, tuple[tuple[type, ...], bool, bool, str]] = {
    "v": (_INT, False, True, "format version, 1"),
    "id": ((str,), False, True, "unique message id: the boot id and a counter"),
    "device": ((str,), False, True, "device name, as in the topic"),
    "state": ((str,), False, True, "online, or offline (the last will, retained)"),
    "boot_id": ((str,), False, True, "8 hex digits, new at every boot (as in the frames)"),
    "firmware": ((str,), False, True, "firmware version"),
    "uptime_s": (_INT, False, True, "seconds since boot"),
    "imu": ((str,), False, True, "ok, lost (stopped answering) or missing (never found)"),
    "chip": ((str,), True, True, "the IMU found: MPU-6050, LSM6DSOX, ..., or null"),
    "rate_hz": (_NUM, True, True, "sample rate configured, Hz"),
    "battery_v": (_NUM, True, True, "battery voltage, V (null: no reading)"),
    "battery_pct": (_INT, True, True, "charge left, %, from a LiPo curve"),
    "battery_low": ((bool,), False, True, "below the board's LOW_BATTERY_V: charge it"),
    "rssi_dbm": (_INT, True, True, "Wi-Fi signal, dBm"),
    "ring_frames": (_INT, False, True, "frames waiting in the board's RAM ring"),
    "ring_capacity": (_INT, False, True, "frames the ring holds"),
    "ring_dropped": (_INT, False, True, "frames dropped since boot because the ring was full"),
    "fifo_restarts": (_INT, False, True, "IMU FIFO restarts since boot (overflow, bus error)"),
    "frames_sent": (_INT, False, True, "frames published since boot"),
    "seq": (_INT, False, True, "the next frame's sequence number"),
}
#: fields every status carries, the offline will too (the others: when online)
ALWAYS = ("v", "id", "device", "state", "boot_id", "firmware")
_BOOT_ID = re.compile(r"^[0-9a-f]{8}$")


class SensorStatusError(HeelRaiseError, ValueError):
    """A sensor status payload that does not follow the schema (the message names the key)."""


def imu_topic(device: str) -> str:
    return f"heelraise/{device}/imu"


def sensor_topic(device: str) -> str:
    return f"heelraise/{device}/sensor"


def parse_sensor_status(payload: bytes) -> dict[str, Any]:
    """Validate the clip-on's status once, at the door; unknown fields are kept."""
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SensorStatusError(f"sensor status is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise SensorStatusError("sensor status must be a JSON object")
    online = obj.get("state") == "online"
    for key, (types, nullable, required, _) in SENSOR_FIELDS.items():
        if key not in obj:
            if required and (online or key in ALWAYS):
                raise SensorStatusError(f"sensor status: field '{key}' is missing")
            continue
        value = obj[key]
        if value is None and nullable:
            continue
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            raise SensorStatusError(f"sensor status: field '{key}' has the wrong type")
    if obj["v"] != 1:
        raise SensorStatusError(f"sensor status: version {obj['v']} unknown")
    if obj["state"] not in STATES:
        raise SensorStatusError(f"sensor status: field 'state' must be one of {STATES}")
    if online and obj["imu"] not in IMU_STATES:
        raise SensorStatusError(f"sensor status: field 'imu' must be one of {IMU_STATES}")
    if not _BOOT_ID.match(obj["boot_id"]):
        raise SensorStatusError("sensor status: field 'boot_id' must be 8 hex digits")
    return obj
