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
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .errors import PayloadError
from .pipeline.events import Phase, Verdict
from .schema import (
    Field,
    SchemaError,
    array,
    boolean,
    check,
    day,
    decode_json,
    integer,
    number,
    optional,
    pair,
    shown,
    string,
    table,
    type_name,
    utc_time,
)
from .topics import COMMAND_NAMES, DEVICE_PATTERN, ROOT, split_topic

VERSION = 1
MAX_PAYLOAD_BYTES = 64 * 1024
"""Largest payload accepted; a 20-rep set is about 2 KB."""

HOLD_VERDICTS = ("ok", "too_short", "too_long")
STATES = ("online", "offline")
SENSOR_STATES = ("ok", "lost", "none")
CALIBRATION_STATES = ("calibrating", "learning", "ready")

_VERDICTS = tuple(v.value for v in Verdict)

ID_PATTERN = r"[A-Za-z0-9_.:-]{1,64}"
"""Message, session and set ids: uuid4 hex from us, anything id-like from other tools."""

MAX_DETAIL = 200
"""Reps listed in a set's ``rep_detail`` (and holds in ``hold_s``): a longer set lists its
first 200, so the largest set stays far below :data:`MAX_PAYLOAD_BYTES`."""

_T_S = (-1e10, 1e10)          # sensor-clock seconds: monotonic, or Unix time in a recording
_DURATION_S = (0, 86_400)     # a phase or hold lasts less than a day
_DEG = (-180, 180)
_COUNT = (0, 100_000)         # reps, holds, sets, indices


def _id(doc: str, **kw) -> Field:
    return string(doc, pattern=ID_PATTERN, max_len=64, **kw)


def _t(doc: str, **kw) -> Field:
    return number(doc, *_T_S, **kw)


def _duration(doc: str, **kw) -> Field:
    return number(doc, *_DURATION_S, **kw)


def _deg(doc: str, **kw) -> Field:
    return number(doc, *_DEG, **kw)


def _count(doc: str, lo: int = 0, **kw) -> Field:
    return integer(doc, lo, _COUNT[1], **kw)


_COMMON = {
    "v": integer("payload format version", VERSION, VERSION),
    "id": _id("unique message id (uuid4 hex); redeliveries keep it"),
    "device": string("device name, as in the topic", pattern=DEVICE_PATTERN, max_len=64),
    "time": utc_time("wall clock of the event, RFC 3339 UTC"),
}
_EVENT = {
    **_COMMON,
    "session": _id("id of the service run that produced it"),
    "t_s": _t("sensor-clock seconds of the event"),
}
_TARGET = {
    "up_s": _duration("target rise", nullable=True),
    "min_up_s": _duration("shortest rise that is not too fast", nullable=True),
    "hold_s": _duration("target hold at the top", nullable=True),
    "hold_min_s": _duration("shortest hold that is not too short", nullable=True),
    "down_s": _duration("target lowering", nullable=True),
    "min_down_s": _duration("shortest lowering that is not too fast", nullable=True),
}
_REP_DETAIL = {
    "index": _count("rep number within the session", 1),
    "up_s": _duration("rise duration; null where a gap hid it", nullable=True),
    "hold_s": _duration("hold at the top; null where a gap hid it", nullable=True),
    "down_s": _duration("lowering duration; null where a gap hid it", nullable=True),
    "peak_deg": _deg("foot pitch at the top"),
    "verdict": string("tempo verdict", choices=_VERDICTS),
}


_SOURCE = {"source": string("sample source: mpu6050, lsm6dsox, wireless, simulator, "
                            "recording, ...; the log keeps simulated ones out of the "
                            "person's history",
                            max_len=32, required=False)}


def _payload(doc: str, fields: dict[str, Field]) -> Field:
    """A payload's schema: members it does not name are ignored (payloads are additive)."""
    return table(doc, fields, extra="ignore")


SCHEMAS: dict[str, Field] = {
    "status": _payload("the device's retained status", {
        **_COMMON,
        "state": string("online, or offline (last will / clean shutdown)", choices=STATES),
        "sensor": string("IMU state", choices=SENSOR_STATES),
        "source": string("sample source: mpu6050, lsm6dsox, wireless, simulator, recording, ...",
                         max_len=32),
        "stage": integer("protocol stage reps are judged against", 1, 99),
        "running": boolean("a session is running (start/stop commands)"),
        "calibration": string("calibrating (waiting for a second of standing still), "
                              "learning (waiting for a raise to show which way is heel-up) "
                              "or ready", choices=CALIBRATION_STATES, required=False),
    }),
    "live": _payload("what the coach is doing now", {
        **_COMMON,
        "session": _id("id of the service run"),
        "source": _SOURCE["source"],
        "stage": integer("stage reps are judged against", 1, 99),
        "running": boolean("a session is running (start/stop commands)"),
        "set_index": _count("the set in progress, or the next one (1-based in the session)", 1),
        "set_open": boolean("a set is in progress: reps or holds since the last set ended"),
        "reps": _count("reps in that set so far"),
        "holds": _count("holds in that set so far"),
        "sets_done": _count("sets completed in this session"),
        "rest_from": utc_time("the last set ended then, and the rest timer runs from it; null "
                              "while a set is open and before the first", nullable=True),
        "rest_s": _duration("the stage's rest between sets", nullable=True),
        "last_rep": table("the newest rep, as on the rep topic (null before the first)", {
            "index": _count("rep number within the session", 1),
            "time": utc_time("when it ended"),
            "verdict": string("headline tempo verdict", choices=_VERDICTS),
            "faults": array("every fault found", string("", choices=_VERDICTS),
                            max_items=len(_VERDICTS)),
            "up_s": _duration("rise; null where a gap hid it", nullable=True),
            "hold_s": _duration("hold at the top; null likewise", nullable=True),
            "down_s": _duration("lowering; null likewise", nullable=True),
            "peak_deg": _deg("foot pitch at the top"),
            "bottom_deg": _deg("lowest pitch after the top", nullable=True),
            "height_cm": number("estimated heel-rise height", -100, 100),
            "target": table("the stage's tempo targets", _TARGET, extra="ignore"),
        }, extra="ignore", nullable=True),
        "last_hold": table("the newest isometric hold (null before the first)", {
            "time": utc_time("when it ended (when it began, if a gap cut it)"),
            "hold_s": _duration("hold duration; null where a gap cut it", nullable=True),
            "verdict": string("against the stage's hold range; null likewise",
                              choices=HOLD_VERDICTS, nullable=True),
        }, extra="ignore", nullable=True),
    }),
    "phase": _payload("a live phase change", {
        **_EVENT,
        "phase": string("phase the foot entered", choices=tuple(p.value for p in Phase)),
        "pitch_deg": _deg("foot pitch when detected"),
    }),
    "rep": _payload("a completed rep", {
        **_EVENT,
        "stage": integer("stage the rep was judged against", 1, 99),
        "set_index": _count("set this rep belongs to (1-based in the session)", 1),
        "index": _count("rep number within the session (1-based)", 1),
        "start_s": _t("heel starts to rise (sensor clock); null where a gap hid it",
                      nullable=True),
        "top_s": _t("top reached; null where a gap hid it", nullable=True),
        "lower_s": _t("lowering starts; null where a gap hid it", nullable=True),
        "end_s": _t("back at rest; null where a gap hid it", nullable=True),
        "up_s": _duration("rise duration; null where a gap hid either end", nullable=True),
        "hold_s": _duration("hold at the top; null likewise", nullable=True),
        "down_s": _duration("lowering duration; null likewise", nullable=True),
        "peak_deg": _deg("foot pitch at the top"),
        "bottom_deg": _deg("lowest pitch after the top; negative = heel drop; null where "
                           "a gap hid it", nullable=True),
        "gaps": _count("gaps in the samples during the rep (up to a second each is "
                       "bridged)", required=False),
        "knocks": _count("impacts at the top that did not end the rep", required=False),
        "height_cm": number("estimated heel-rise height", -100, 100),
        "verdict": string("headline tempo verdict", choices=_VERDICTS),
        "faults": array("every fault found", string("", choices=_VERDICTS),
                        max_items=len(_VERDICTS)),
        "target": table("the stage's tempo targets; null where it has none (stage 1)",
                        _TARGET, extra="ignore"),
        **_SOURCE,
    }),
    "set": _payload("a completed set", {
        **_EVENT,
        "time": utc_time("wall clock at the end of the set, RFC 3339 UTC"),
        "start_time": utc_time("wall clock at the start of the set"),
        "t_s": _t("sensor-clock seconds at the end of the set"),
        "start_s": _t("first rep starts (sensor clock)"),
        "end_s": _t("last rep ends"),
        "index": _count("set number within the session (1-based)", 1),
        "stage": integer("stage the set was judged against", 1, 99),
        "reps": _count("reps counted"),
        "target_reps": pair("the stage's [low, high] reps per set", _count("")),
        "ok_reps": _count("reps with verdict ok"),
        "tempo_compliance": number("ok reps / reps (holds in range / holds judged); null "
                                   "when none could be judged (a hold a gap cut short)",
                                   0, 1, nullable=True),
        "rest_before_s": number("rest since the previous set; null for the first",
                                0, 1e7, nullable=True),
        "holds": _count("isometric holds in the set (stage 1)"),
        "hold_s": array(f"each hold's duration (the first {MAX_DETAIL}; null where a gap "
                        "cut it)", _duration("", nullable=True), max_items=MAX_DETAIL),
        "load_kg": number("added load", 0, 500),
        "pain": number("pain during the set, 0..10; null until rated", 0, 10, nullable=True),
        "rep_detail": array(f"per-rep summary (the first {MAX_DETAIL} reps)",
                            table("", _REP_DETAIL, extra="ignore"), max_items=MAX_DETAIL),
        **_SOURCE,
        "clock_synced": boolean("the wall clock was synchronised (false: its times are not "
                                "to be trusted; the log marks the set)", nullable=True,
                                required=False),
    }),
    "hold": _payload("an isometric hold", {
        **_EVENT,
        "start_s": _t("rise to the top (sensor clock)"),
        "end_s": _t("lowering starts; null where a gap over a second cut the hold",
                    nullable=True),
        "hold_s": _duration("hold duration; null likewise", nullable=True),
        "peak_deg": _deg("foot pitch at the top"),
        "verdict": string("against the stage's hold range; null likewise",
                          choices=HOLD_VERDICTS, nullable=True),
        **_SOURCE,
    }),
}

TEST_STOPS = ("height", "pace", "ended")
LEGS = ("left", "right")
SCHEMAS["test"] = _payload("one leg's heel-rise endurance test (not a training set)", {
    **_EVENT,
    "t_s": _t("sensor-clock seconds when the test stopped"),
    "test_id": _id("the same for both legs of one test: the log pairs them for symmetry"),
    "leg": string("the leg tested", choices=LEGS),
    "involved": boolean("the leg tested is the involved side; null where none was set",
                        nullable=True),
    "start_time": utc_time("wall clock at the first beat"),
    "start_s": _t("first beat (sensor clock)"),
    "valid_reps": _count("raises on the beat and at least the height share of the best"),
    "peak_height_cm": number("best heel-rise height; null with no valid raise", 0, 100,
                             nullable=True),
    "total_displacement_cm": number("sum of the valid raises' heights", 0, 1e5),
    "work_j": number("positive work, body mass x g x the total displacement; null without "
                     "a body mass", 0, 1e6, nullable=True),
    "body_mass_kg": number("body mass the work is computed with", 20, 400, nullable=True),
    "cadence_per_min": number("valid raises a minute, first to last", 0, 600, nullable=True),
    "on_beat_share": number("share of the raises that ended on their beat", 0, 1,
                            nullable=True),
    "stop_reason": string("height (raises below the share of the best), pace (the beat "
                          "lost) or ended (stopped before either)", choices=TEST_STOPS),
    "bpm": number("metronome", 20, 240),
    "incline_deg": number("incline board under the forefoot (0: level floor)", 0, 30),
    "lever_cm": number("heel to ball of the foot, for the heights", 5, 40),
    "calibrated": boolean("the lever came from a calibration file, not the default"),
    "heights_cm": array(f"each valid raise's height (the first {MAX_DETAIL})",
                        number("", 0, 100), max_items=MAX_DETAIL),
    **_SOURCE,
})

MAX_RECEIPTS = 400
"""Ids in each list of one receipt: two lists of 400 of the longest ids are 54 KB, inside
:data:`MAX_PAYLOAD_BYTES`; a longer backlog is confirmed in several receipts."""

RECEIPTS = {
    "ack": _payload("the log's receipt", {
        **_COMMON,
        "stored": array("ids of sets, holds and tests stored (or already stored): forget them",
                        _id(""), max_items=MAX_RECEIPTS),
        "rejected": array("ids the log refused and keeps aside: do not send them again",
                          _id(""), max_items=MAX_RECEIPTS),
    }),
    "log_status": _payload("the log's retained status", {
        "v": _COMMON["v"], "id": _COMMON["id"], "time": _COMMON["time"],
        "state": string("online, or offline (last will / clean shutdown)", choices=STATES),
    }),
}
"""What the log sends back: receipts per device and its own retained status."""

_RATING = {"id": _id("the rating's own id: a redelivery counts once", required=False)}

COMMANDS: dict[str, Field] = {
    "stage": _payload("", {"stage": integer("stage to judge reps against", 1, 99)}),
    "pain": _payload("", {
        "pain": number("pain rating 0..10", 0, 10),
        "set_id": _id("set the rating is for; default: the last set", required=False),
        **_RATING,
    }),
    "stiffness": _payload("", {
        "stiffness": number("morning stiffness 0..10", 0, 10),
        "date": day("day it is for, YYYY-MM-DD; default: today", required=False),
        **_RATING,
    }),
    "start": _payload("", {}),
    "stop": _payload("", {}),
    "activity": _payload("", {
        "activity": number("the day's walking and standing besides the exercises, 0 (resting) "
                           "..10 (on my feet all day)", 0, 10),
        "date": day("day it is for, YYYY-MM-DD; default: today", required=False),
        **_RATING,
    }),
}
"""Commands on ``heelraise/<device>/cmd/<name>``; stage/pain/stiffness/activity accept a bare
number."""

IMU_STATES = ("ok", "lost", "missing")
_TALLY = (0, 10 ** 15)        # the clip-on's counters: unbounded ints on the board, JSON-safe here

SENSOR_ALWAYS = {
    "v": _COMMON["v"],
    "id": _id("unique message id: the boot id and a counter"),
    "device": _COMMON["device"],
    "state": string("online, or offline (the last will, retained)", choices=STATES),
    "boot_id": string("8 hex digits, new at every boot (as in the frames)",
                      pattern="[0-9a-f]{8}", max_len=8),
    "firmware": string("firmware version", max_len=32),
}
"""What every clip-on status carries, its offline will too."""

SENSOR_ONLINE = {
    # ticks_diff() wraps negative after half the board's tick period (days): still a status
    "uptime_s": integer("seconds since boot", -(10 ** 9), 10 ** 15),
    "imu": string("ok, lost (stopped answering) or missing (never found)", choices=IMU_STATES),
    "chip": string("the IMU found: MPU-6050, LSM6DSOX, ..., or null", max_len=32,
                   nullable=True),
    "rate_hz": number("sample rate configured, Hz", 0, 10_000, nullable=True),
    "battery_v": number("battery voltage, V (null: no reading)", 0, 20, nullable=True),
    "battery_pct": integer("charge left, %, from a LiPo curve", 0, 100, nullable=True),
    "battery_low": boolean("below the board's LOW_BATTERY_V: charge it"),
    "rssi_dbm": integer("Wi-Fi signal, dBm", -200, 100, nullable=True),
    "ring_frames": integer("frames waiting in the board's RAM ring", *_TALLY),
    "ring_capacity": integer("frames the ring holds", *_TALLY),
    "ring_dropped": integer("frames dropped since boot because the ring was full", *_TALLY),
    "fifo_restarts": integer("IMU FIFO restarts since boot (overflow, bus error)", *_TALLY),
    "frames_sent": integer("frames published since boot", *_TALLY),
    "seq": integer("the next frame's sequence number", *_TALLY),
}
"""What a clip-on that is online also says (its will, sent by the broker, cannot)."""


def _online_complete(obj: object) -> tuple[str, str] | None:
    if obj.get("state") == "online":  # type: ignore[union-attr]
        for name in SENSOR_ONLINE:
            if name not in obj:  # type: ignore[operator]
                return name, "is missing (the clip-on says it is online)"
    return None


CLIP = {
    "sensor": table("the clip-on's retained status", {
        **SENSOR_ALWAYS,
        **optional(SENSOR_ONLINE),
    }, extra="ignore", checks=(_online_complete,)),
}
"""What the wireless clip-on publishes as JSON: its status on ``heelraise/<device>/sensor``
(its frames on ``.../imu`` are binary: :mod:`.sources.wireless.frame`)."""


assert tuple(COMMANDS) == COMMAND_NAMES, "topics.COMMAND_NAMES must list the commands"


def validate(kind: str, payload: bytes | str | Mapping) -> dict:
    """The payload as a dict if it meets ``kind``'s schema, else a one-line PayloadError.

    Unknown fields are allowed (receivers ignore them), known ones must be right.
    """
    schema = SCHEMAS.get(kind) or RECEIPTS.get(kind) or CLIP.get(kind)
    if schema is None:
        raise PayloadError(f"unknown payload kind {kind!r} "
                           f"(known: {', '.join([*SCHEMAS, *RECEIPTS, *CLIP])})")
    return _checked(kind, schema, lambda: _decoded(payload))


def message_id(payload: bytes) -> str | None:
    """The ``id`` of a message that may be invalid otherwise (to refuse it by name), or None."""
    try:
        obj = decode_json(payload, MAX_PAYLOAD_BYTES)
        check(_COMMON["id"], obj.get("id") if isinstance(obj, dict) else None)
    except SchemaError:
        return None
    return obj["id"]


def _decoded(payload: bytes | str | Mapping) -> object:
    return dict(payload) if isinstance(payload, Mapping) else \
        decode_json(payload, MAX_PAYLOAD_BYTES)


def _checked(what: str, schema: Field, value: Callable[[], object]) -> dict:
    """``value()`` checked against ``schema``; any fault is a PayloadError prefixed ``what``."""
    try:
        obj = value()
        if not isinstance(obj, dict):
            raise SchemaError("", "payload must be a JSON object", type_name(obj))
        check(schema, obj)
    except SchemaError as exc:
        raise PayloadError(f"{what}: {exc}", reason=f"{what}: {exc.reason}") from None
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
    """One command received on ``cmd/<name>``; ``value`` is the stage, pain or stiffness.

    ``id`` is the sender's own message id, when it gave one (a redelivered rating
    then counts once).
    """

    name: str
    value: int | float | None = None
    set_id: str | None = None
    date: str | None = None
    id: str | None = None


def parse_command(topic_suffix: str, payload: bytes | str | Mapping) -> Command:
    """The command for ``cmd/<topic_suffix>`` (or a full topic) with its payload.

    Accepts a JSON object, a bare number for stage/pain/stiffness ("3"), and an
    empty payload for start/stop.
    """
    name = split_topic(topic_suffix)[1] if topic_suffix.startswith(ROOT + "/") else topic_suffix
    name = name.removeprefix("cmd/")
    schema = COMMANDS.get(name)
    if schema is None:
        raise PayloadError(f"cmd: unknown command {shown(name)} (known: {', '.join(COMMANDS)})",
                           reason="cmd: unknown command")

    def value() -> object:
        if isinstance(payload, bytes | str) and not payload.strip():
            return {}
        obj = _decoded(payload)
        bare = isinstance(obj, int | float) and not isinstance(obj, bool)
        return {name: obj} if bare and name in (schema.fields or {}) else obj

    obj = _checked(f"cmd/{name}", schema, value)
    return Command(name, obj.get(name), set_id=obj.get("set_id"), date=obj.get("date"),
                   id=obj.get("id"))
