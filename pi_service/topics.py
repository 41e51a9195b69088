"""The MQTT topic tree: ``heelraise/<device>/<kind>`` and the log's ``heelraise/log/...``.

Every topic the service, the log, the dashboard and the tests use is built or
split here, so a device name that would break a topic level (``/``, ``+``,
``#``) is refused once, at the edge, and the two trees cannot collide.
"""

from __future__ import annotations

import re

from .errors import PayloadError

ROOT = "heelraise"

KINDS = ("status", "live", "phase", "rep", "set", "hold", "test")
QOS = {"status": 1, "live": 1, "phase": 0, "rep": 1, "set": 1, "hold": 1, "test": 1}
RETAIN = {"status": True, "live": True, "phase": False, "rep": False, "set": False,
          "hold": False, "test": False}
DURABLE = ("set", "hold", "test")
"""Kinds that go through the durable outbox (the log's units; a test is one leg's
heel-rise test)."""

CLIP_KINDS = ("imu", "sensor")
"""What the wireless clip-on publishes under ``heelraise/<device>/`` (docs/wireless.md):
binary sample frames, and its retained status (payload: :data:`payloads.CLIP`)."""
CLIP_QOS = {"imu": 0, "sensor": 0}
"""Frames go at QoS 0: a lost one is a reported gap, a retransmission would come too late.
The status is retained and repeated every 30 s; only its last will goes at QoS 1."""

COMMAND_NAMES = ("stage", "pain", "stiffness", "start", "stop", "activity")
"""Commands on ``heelraise/<device>/cmd/<name>`` (their payloads: :data:`payloads.COMMANDS`)."""

LOG = "log"
LOG_TOPICS = ("today", "last_session", "week", "stage_progress", "progress", "heel_rise")
"""Retained aggregates under ``heelraise/log/<device>/``; their payloads belong to the log."""

ACK = "ack"
"""``heelraise/log/<device>/ack``: the log's receipts for the sets and holds it stored."""
LOG_STATUS = f"{ROOT}/{LOG}/status"
"""The log's own retained online/offline status: a device's outbox then knows to wait for
its receipts."""

DEVICE_PATTERN = "[A-Za-z0-9_-]+"
_DEVICE = re.compile(DEVICE_PATTERN)

LOGINS = ("heelraise-log", "dashboard", "rating", "sensor", "homeassistant")
"""Broker logins that are not devices (systemd/mosquitto/heelraise.acl). A device logs in
as its own name, so none of these may be a device name."""


def check_device(device: str) -> str:
    """The device name, if it is safe as one MQTT topic level and as a broker login."""
    if not isinstance(device, str) or not _DEVICE.fullmatch(device):
        raise PayloadError(f"device name {device!r} must match {DEVICE_PATTERN}",
                           reason=f"device name must match {DEVICE_PATTERN}")
    if device == LOG:
        raise PayloadError(f"device name {LOG!r} is reserved for {ROOT}/{LOG}/...")
    if device in LOGINS:
        raise PayloadError(f"device name {device!r} is reserved: it is the broker login of "
                           "a part that is not a device", reason="device name is reserved")
    return device


def topic(device: str, kind: str) -> str:
    """``heelraise/<device>/<kind>`` for a kind in :data:`KINDS`, :data:`CLIP_KINDS` or
    ``cmd/<name>``."""
    if kind not in KINDS + CLIP_KINDS and not (kind.startswith("cmd/")
                                               and kind[4:] in COMMAND_NAMES):
        raise PayloadError(f"unknown topic kind {kind!r} "
                           f"(known: {', '.join(KINDS + CLIP_KINDS)}, cmd/...)")
    return f"{ROOT}/{check_device(device)}/{kind}"


def log_topic(device: str, name: str) -> str:
    """``heelraise/log/<device>/<name>``: the retained aggregates the log republishes."""
    if name not in LOG_TOPICS:
        raise PayloadError(f"unknown log topic {name!r} (known: {', '.join(LOG_TOPICS)})")
    return f"{ROOT}/{LOG}/{check_device(device)}/{name}"


def ack_topic(device: str) -> str:
    """``heelraise/log/<device>/ack``, where the log confirms what it stored."""
    return f"{ROOT}/{LOG}/{check_device(device)}/{ACK}"


def subscription(kind: str, device: str | None = None) -> str:
    """Topic filter for one kind from one device, or every device (``+``) when None."""
    if kind not in KINDS and kind != "cmd/#":
        raise PayloadError(f"unknown topic kind {kind!r} (known: {', '.join(KINDS)}, cmd/#)")
    return f"{ROOT}/{'+' if device is None else check_device(device)}/{kind}"


def split_topic(name: str) -> tuple[str, str]:
    """``(device, kind)`` of a topic in our tree, e.g. ``("left", "cmd/pain")``."""
    parts = name.split("/", 2)
    if len(parts) != 3 or parts[0] != ROOT or not _DEVICE.fullmatch(parts[1]):
        raise PayloadError(f"topic {name!r} is not {ROOT}/<device>/<kind>",
                           reason=f"topic outside {ROOT}/<device>/<kind>")
    check_device(parts[1])
    return parts[1], parts[2]
