"""The MQTT payloads in data: each topic's schema, and validating, encoding and commands.

Publisher, log, dashboard tests and docs/mqtt.md (:mod:`.mqtt_docs`) all read the
schemas below, so what we send, what we accept and what we document cannot
drift apart. The topic tree is in :mod:`.topics`, the payload builders in
:mod:`.builders`, and the checks that hold a value to a schema in :mod:`.schema`.

Payloads are additive: a receiver ignores fields it does not know, so adding a
field keeps ``"v": 1``; renaming or removing one means ``"v": 2``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from .errors import PayloadError
from .pipeline.events import Phase, Verdict
from .schema import Field, check_fields, decode, integer, number, type_name
from .topics import COMMAND_NAMES, DEVICE_PATTERN, ROOT, split_topic

VERSION = 1
MAX_PAYLOAD_BYTES = 64 * 1024
"""Largest payload accepted; a 20-rep set is about 2 KB."""

HOLD_VERDICTS = ("ok", "too_short", "too_long")
STATES = ("online", "offline")
SENSOR_STATES = ("ok", "lost", "none")

_VERDICTS = tuple(v.value for v in Verdict)

_COMMON = {
    "v": Field("integer", "payload format version", choices=(VERSION,)),
    "id": Field("string", "unique message id (uuid4 hex); redeliveries keep it"),
    "device": Field("string", "device name, as in the topic"),
    "time": Field("time", "wall clock of the event, ISO 8601 UTC"),
}
_EVENT = {
    **_COMMON,
    "session": Field("string", "id of the service run that produced it"),
    "t_s": number("sensor-clock seconds of the event"),
}
_TARGET = {
    "up_s": number("target rise", 0, nullable=True),
    "min_up_s": number("shortest rise that is not too fast", 0, nullable=True),
    "hold_s": number("target hold at the top", 0, nullable=True),
    "hold_min_s": number("shortest hold that is not too short", 0, nullable=True),
    "down_s": number("target lowering", 0, nullable=True),
    "min_down_s": number("shortest lowering that is not too fast", 0, nullable=True),
}
_REP_DETAIL = {
    "index": integer("rep number within the session", 1),
    "up_s": number("rise duration", 0),
    "hold_s": number("hold at the top", 0),
    "down_s": number("lowering duration", 0),
    "peak_deg": number("foot pitch at the top"),
    "verdict": Field("string", "tempo verdict", choices=_VERDICTS),
}

SCHEMAS: dict[str, dict[str, Field]] = {
    "status": {
        **_COMMON,
        "state": Field("string", "online, or offline (last will / clean shutdown)",
                       choices=STATES),
        "sensor": Field("string", "IMU state", choices=SENSOR_STATES),
        "source": Field("string", "sample source: mpu6050, lsm6dsox, simulator, recording, ..."),
        "stage": integer("protocol stage reps are judged against", 1),
        "running": Field("boolean", "a session is running (start/stop commands)"),
    },
    "phase": {
        **_EVENT,
        "phase": Field("string", "phase the foot entered", choices=tuple(p.value for p in Phase)),
        "pitch_deg": number("foot pitch when detected"),
    },
    "rep": {
        **_EVENT,
        "stage": integer("stage the rep was judged against", 1),
        "set_index": integer("set this rep belongs to (1-based in the session)", 1),
        "index": integer("rep number within the session (1-based)", 1),
        "start_s": number("heel starts to rise (sensor clock)"),
        "top_s": number("top reached"),
        "lower_s": number("lowering starts"),
        "end_s": number("back at rest"),
        "up_s": number("rise duration", 0),
        "hold_s": number("hold at the top", 0),
        "down_s": number("lowering duration", 0),
        "peak_deg": number("foot pitch at the top"),
        "bottom_deg": number("lowest pitch after the top; negative = heel drop"),
        "height_cm": number("estimated heel-rise height"),
        "verdict": Field("string", "headline tempo verdict", choices=_VERDICTS),
        "faults": Field("array", "every fault found",
                        items=Field("string", choices=_VERDICTS)),
        "target": Field("object", "the stage's tempo targets; null where it has none (stage 1)",
                        fields=_TARGET),
    },
    "set": {
        **_EVENT,
        "time": Field("time", "wall clock at the end of the set, ISO 8601 UTC"),
        "start_time": Field("time", "wall clock at the start of the set"),
        "t_s": number("sensor-clock seconds at the end of the set"),
        "start_s": number("first rep starts (sensor clock)"),
        "end_s": number("last rep ends"),
        "index": integer("set number within the session (1-based)", 1),
        "stage": integer("stage the set was judged against", 1),
        "reps": integer("reps counted", 0),
        "target_reps": Field("array", "the stage's [low, high] reps per set",
                             items=integer("", 0), size=2),
        "ok_reps": integer("reps with verdict ok", 0),
        "tempo_compliance": number("ok reps / reps (holds in range / holds)", 0, 1),
        "rest_before_s": number("rest since the previous set; null for the first", 0,
                              nullable=True),
        "holds": integer("isometric holds in the set (stage 1)", 0),
        "hold_s": Field("array", "each hold's duration", items=number("", 0)),
        "load_kg": number("added load", 0),
        "pain": number("pain during the set, 0..10; null until rated", 0, 10, nullable=True),
        "rep_detail": Field("array", "per-rep summary",
                            items=Field("object", fields=_REP_DETAIL)),
    },
    "hold": {
        **_EVENT,
        "start_s": number("rise to the top (sensor clock)"),
        "end_s": number("lowering starts"),
        "hold_s": number("hold duration", 0),
        "peak_deg": number("foot pitch at the top"),
        "verdict": Field("string", "against the stage's hold range", choices=HOLD_VERDICTS),
    },
}

COMMANDS: dict[str, dict[str, Field]] = {
    "stage": {"stage": integer("stage to judge reps against", 1)},
    "pain": {
        "pain": number("pain rating 0..10", 0, 10),
        "set_id": Field("string", "set the rating is for; default: the last set",
                        required=False),
    },
    "stiffness": {
        "stiffness": number("morning stiffness 0..10", 0, 10),
        "date": Field("string", "day it is for, YYYY-MM-DD; default: today", required=False),
    },
    "start": {},
    "stop": {},
}
"""Commands on ``heelraise/<device>/cmd/<name>``; stage/pain/stiffness accept a bare number."""


assert tuple(COMMANDS) == COMMAND_NAMES, "topics.COMMAND_NAMES must list the commands"


def validate(kind: str, payload: bytes | str | Mapping) -> dict:
    """The payload as a dict if it meets ``kind``'s schema, else a one-line PayloadError.

    Unknown fields are allowed (receivers ignore them), known ones must be right.
    """
    schema = SCHEMAS.get(kind)
    if schema is None:
        raise PayloadError(f"unknown payload kind {kind!r} (known: {', '.join(SCHEMAS)})")
    try:
        obj = decode(payload, MAX_PAYLOAD_BYTES)
        if not isinstance(obj, dict):
            raise PayloadError(f"payload is not a JSON object, got {type_name(obj)}")
        check_fields("", schema, obj)
        if not re.fullmatch(DEVICE_PATTERN, obj["device"]):
            raise PayloadError(f"field 'device' must match {DEVICE_PATTERN}, got {obj['device']!r}")
    except PayloadError as exc:
        raise PayloadError(f"{kind}: {exc}") from None
    return obj


def encode(kind: str, payload: Mapping) -> bytes:
    """Validated compact UTF-8 JSON, as it goes on the wire."""
    obj = validate(kind, payload)
    raw = json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"{kind}: payload too large ({len(raw)} bytes > {MAX_PAYLOAD_BYTES})")
    return raw


@dataclass(frozen=True)
class Command:
    """One command received on ``cmd/<name>``; ``value`` is the stage, pain or stiffness."""

    name: str
    value: int | float | None = None
    set_id: str | None = None
    date: str | None = None


def parse_command(topic_suffix: str, payload: bytes | str | Mapping) -> Command:
    """The command for ``cmd/<topic_suffix>`` (or a full topic) with its payload.

    Accepts a JSON object, a bare number for stage/pain/stiffness ("3"), and an
    empty payload for start/stop.
    """
    name = split_topic(topic_suffix)[1] if topic_suffix.startswith(ROOT + "/") else topic_suffix
    name = name.removeprefix("cmd/")
    schema = COMMANDS.get(name)
    if schema is None:
        raise PayloadError(f"cmd/{name}: unknown command (known: {', '.join(COMMANDS)})")
    try:
        empty = isinstance(payload, bytes | str) and not bytes(
            payload.encode() if isinstance(payload, str) else payload).strip()
        obj = {} if empty else decode(payload, MAX_PAYLOAD_BYTES)
        if isinstance(obj, int | float) and not isinstance(obj, bool) and name in schema:
            obj = {name: obj}
        if not isinstance(obj, dict):
            raise PayloadError(f"payload must be a JSON object or a number, got {type_name(obj)}")
        check_fields("", schema, obj)
        if name == "stiffness" and "date" in obj:
            _check_date(obj["date"])
    except PayloadError as exc:
        raise PayloadError(f"cmd/{name}: {exc}") from None
    return Command(name, obj.get(name), set_id=obj.get("set_id"), date=obj.get("date"))


def _check_date(text: str) -> None:
    try:
        if len(text) != 10:
            raise ValueError
        date.fromisoformat(text)
    except ValueError:
        raise PayloadError(f"field 'date' must be YYYY-MM-DD, got {text!r}") from None
