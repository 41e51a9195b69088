"""The MQTT contract in code: topic tree, payload builders, schemas and validators.

Publisher, log, dashboard tests and docs/mqtt.md all read the schemas below, so
what we send, what we accept and what we document cannot drift apart. The
schemas are plain data (field -> :class:`Field`), checked by a few lines here
rather than a jsonschema dependency that a Pi Zero would have to carry.

Payloads are additive: a receiver ignores fields it does not know, so adding a
field keeps ``"v": 1``; renaming or removing one means ``"v": 2``.
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from .errors import HeelRaiseError
from .pipeline.events import Hold, Phase, PhaseChange, Rep, SetSummary, Verdict
from .protocol import Stage
from .stages import load_stage

VERSION = 1
ROOT = "heelraise"
MAX_PAYLOAD_BYTES = 64 * 1024
"""Largest payload accepted; a 20-rep set is about 2 KB."""

KINDS = ("status", "phase", "rep", "set", "hold")
QOS = {"status": 1, "phase": 0, "rep": 1, "set": 1, "hold": 1}
RETAIN = {"status": True, "phase": False, "rep": False, "set": False, "hold": False}
DURABLE = ("set", "hold")
"""Kinds that go through the durable outbox (the log's units)."""

LOG = "log"
LOG_TOPICS = ("today", "last_session", "week", "stage_progress", "progress")
"""Retained aggregates under ``heelraise/log/<device>/``; their payloads belong to the log."""

HOLD_VERDICTS = ("ok", "too_short", "too_long")
STATES = ("online", "offline")
SENSOR_STATES = ("ok", "lost", "none")

_DEVICE = re.compile(r"[A-Za-z0-9_-]+")


class PayloadError(HeelRaiseError, ValueError):
    """A payload, topic or command that breaks the contract; the message is one line."""


# --------------------------------------------------------------------------- topics


def check_device(device: str) -> str:
    """The device name, if it is safe as one MQTT topic level."""
    if not isinstance(device, str) or not _DEVICE.fullmatch(device):
        raise PayloadError(f"device name {device!r} must match [A-Za-z0-9_-]+")
    if device == LOG:
        raise PayloadError(f"device name {LOG!r} is reserved for {ROOT}/{LOG}/...")
    return device


def topic(device: str, kind: str) -> str:
    """``heelraise/<device>/<kind>`` for a kind in :data:`KINDS` or ``cmd/<name>``."""
    if kind not in KINDS and not (kind.startswith("cmd/") and kind[4:] in COMMANDS):
        raise PayloadError(f"unknown topic kind {kind!r} (known: {', '.join(KINDS)}, cmd/...)")
    return f"{ROOT}/{check_device(device)}/{kind}"


def log_topic(device: str, name: str) -> str:
    """``heelraise/log/<device>/<name>``: the retained aggregates the log republishes."""
    if name not in LOG_TOPICS:
        raise PayloadError(f"unknown log topic {name!r} (known: {', '.join(LOG_TOPICS)})")
    return f"{ROOT}/{LOG}/{check_device(device)}/{name}"


def subscription(kind: str, device: str | None = None) -> str:
    """Topic filter for one kind from one device, or every device (``+``) when None."""
    if kind not in KINDS and kind != "cmd/#":
        raise PayloadError(f"unknown topic kind {kind!r} (known: {', '.join(KINDS)}, cmd/#)")
    return f"{ROOT}/{'+' if device is None else check_device(device)}/{kind}"


def split_topic(name: str) -> tuple[str, str]:
    """``(device, kind)`` of a topic in our tree, e.g. ``("left", "cmd/pain")``."""
    parts = name.split("/", 2)
    if len(parts) != 3 or parts[0] != ROOT or not _DEVICE.fullmatch(parts[1]):
        raise PayloadError(f"topic {name!r} is not {ROOT}/<device>/<kind>")
    return parts[1], parts[2]


# --------------------------------------------------------------------------- schemas


@dataclass(frozen=True)
class Field:
    """One payload field: its JSON type and the values it may take.

    ``type`` is one of string, integer, number, boolean, time (ISO 8601 UTC with
    "Z"), array, object. ``lo``/``hi`` bound numbers (inclusive); ``choices``
    lists allowed values; ``items`` types array elements, ``size`` fixes an
    array's length; ``fields`` types an object's members.
    """

    type: str
    doc: str = ""
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()
    nullable: bool = False
    required: bool = True
    items: Field | None = None
    size: int | None = None
    fields: Mapping[str, Field] | None = None


def _num(doc: str, lo: float | None = None, hi: float | None = None, **kw) -> Field:
    return Field("number", doc, lo=lo, hi=hi, **kw)


def _int(doc: str, lo: float | None = None, hi: float | None = None, **kw) -> Field:
    return Field("integer", doc, lo=lo, hi=hi, **kw)


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
    "t_s": _num("sensor-clock seconds of the event"),
}
_TARGET = {
    "up_s": _num("target rise", 0, nullable=True),
    "min_up_s": _num("shortest rise that is not too fast", 0, nullable=True),
    "hold_s": _num("target hold at the top", 0, nullable=True),
    "hold_min_s": _num("shortest hold that is not too short", 0, nullable=True),
    "down_s": _num("target lowering", 0, nullable=True),
    "min_down_s": _num("shortest lowering that is not too fast", 0, nullable=True),
}
_REP_DETAIL = {
    "index": _int("rep number within the session", 1),
    "up_s": _num("rise duration", 0),
    "hold_s": _num("hold at the top", 0),
    "down_s": _num("lowering duration", 0),
    "peak_deg": _num("foot pitch at the top"),
    "verdict": Field("string", "tempo verdict", choices=_VERDICTS),
}

SCHEMAS: dict[str, dict[str, Field]] = {
    "status": {
        **_COMMON,
        "state": Field("string", "online, or offline (last will / clean shutdown)",
                       choices=STATES),
        "sensor": Field("string", "IMU state", choices=SENSOR_STATES),
        "source": Field("string", "sample source: mpu6050, lsm6dsox, simulator, recording, ..."),
        "stage": _int("protocol stage reps are judged against", 1),
        "running": Field("boolean", "a session is running (start/stop commands)"),
    },
    "phase": {
        **_EVENT,
        "phase": Field("string", "phase the foot entered", choices=tuple(p.value for p in Phase)),
        "pitch_deg": _num("foot pitch when detected"),
    },
    "rep": {
        **_EVENT,
        "stage": _int("stage the rep was judged against", 1),
        "set_index": _int("set this rep belongs to (1-based in the session)", 1),
        "index": _int("rep number within the session (1-based)", 1),
        "start_s": _num("heel starts to rise (sensor clock)"),
        "top_s": _num("top reached"),
        "lower_s": _num("lowering starts"),
        "end_s": _num("back at rest"),
        "up_s": _num("rise duration", 0),
        "hold_s": _num("hold at the top", 0),
        "down_s": _num("lowering duration", 0),
        "peak_deg": _num("foot pitch at the top"),
        "bottom_deg": _num("lowest pitch after the top; negative = heel drop"),
        "height_cm": _num("estimated heel-rise height"),
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
        "t_s": _num("sensor-clock seconds at the end of the set"),
        "start_s": _num("first rep starts (sensor clock)"),
        "end_s": _num("last rep ends"),
        "index": _int("set number within the session (1-based)", 1),
        "stage": _int("stage the set was judged against", 1),
        "reps": _int("reps counted", 0),
        "target_reps": Field("array", "the stage's [low, high] reps per set",
                             items=_int("", 0), size=2),
        "ok_reps": _int("reps with verdict ok", 0),
        "tempo_compliance": _num("ok reps / reps (holds in range / holds)", 0, 1),
        "rest_before_s": _num("rest since the previous set; null for the first", 0,
                              nullable=True),
        "holds": _int("isometric holds in the set (stage 1)", 0),
        "hold_s": Field("array", "each hold's duration", items=_num("", 0)),
        "load_kg": _num("added load", 0),
        "pain": _num("pain during the set, 0..10; null until rated", 0, 10, nullable=True),
        "rep_detail": Field("array", "per-rep summary",
                            items=Field("object", fields=_REP_DETAIL)),
    },
    "hold": {
        **_EVENT,
        "start_s": _num("rise to the top (sensor clock)"),
        "end_s": _num("lowering starts"),
        "hold_s": _num("hold duration", 0),
        "peak_deg": _num("foot pitch at the top"),
        "verdict": Field("string", "against the stage's hold range", choices=HOLD_VERDICTS),
    },
}

COMMANDS: dict[str, dict[str, Field]] = {
    "stage": {"stage": _int("stage to judge reps against", 1)},
    "pain": {
        "pain": _num("pain rating 0..10", 0, 10),
        "set_id": Field("string", "set the rating is for; default: the last set",
                        required=False),
    },
    "stiffness": {
        "stiffness": _num("morning stiffness 0..10", 0, 10),
        "date": Field("string", "day it is for, YYYY-MM-DD; default: today", required=False),
    },
    "start": {},
    "stop": {},
}
"""Commands on ``heelraise/<device>/cmd/<name>``; stage/pain/stiffness accept a bare number."""


# --------------------------------------------------------------------------- validation


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _check(where: str, spec: Field, value: object) -> None:
    """Raise PayloadError naming ``where`` if ``value`` breaks ``spec``."""
    if value is None:
        if spec.nullable:
            return
        raise PayloadError(f"field '{where}' must not be null")
    kind = spec.type
    if kind in ("integer", "number"):
        is_bool = isinstance(value, bool)
        if kind == "integer" and (is_bool or not isinstance(value, int)):
            raise PayloadError(f"field '{where}' must be an integer, got {_type_name(value)}")
        if is_bool or not isinstance(value, int | float):
            raise PayloadError(f"field '{where}' must be a number, got {_type_name(value)}")
        if not math.isfinite(value):
            raise PayloadError(f"field '{where}' must be a finite number, got {value}")
        if (spec.lo is not None and value < spec.lo) or (spec.hi is not None and value > spec.hi):
            lo = "" if spec.lo is None else f"{spec.lo:g}"
            hi = "" if spec.hi is None else f"{spec.hi:g}"
            bound = f">= {lo}" if spec.hi is None else f"<= {hi}" if spec.lo is None else \
                f"in {lo}..{hi}"
            raise PayloadError(f"field '{where}' must be {bound}, got {value}")
    elif kind in ("string", "time"):
        if not isinstance(value, str):
            raise PayloadError(f"field '{where}' must be a string, got {_type_name(value)}")
        if not value:
            raise PayloadError(f"field '{where}' must not be empty")
        if kind == "time" and not _is_utc_time(value):
            raise PayloadError(
                f"field '{where}' must be ISO 8601 UTC like 2026-01-31T07:05:00.250Z, "
                f"got {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise PayloadError(f"field '{where}' must be true or false, got {_type_name(value)}")
    elif kind == "array":
        if not isinstance(value, list):
            raise PayloadError(f"field '{where}' must be an array, got {_type_name(value)}")
        if spec.size is not None and len(value) != spec.size:
            raise PayloadError(
                f"field '{where}' must have {spec.size} items, got {len(value)}")
        if spec.items is not None:
            for i, item in enumerate(value):
                _check(f"{where}[{i}]", spec.items, item)
    elif kind == "object":
        if not isinstance(value, dict):
            raise PayloadError(f"field '{where}' must be an object, got {_type_name(value)}")
        _check_fields(where + ".", spec.fields or {}, value)
    if spec.choices and value not in spec.choices:
        allowed = ", ".join(str(c) for c in spec.choices)
        if len(spec.choices) == 1:
            raise PayloadError(f"field '{where}' must be {allowed}, got {value!r}")
        raise PayloadError(f"field '{where}' must be one of {allowed}; got {value!r}")


def _check_fields(prefix: str, schema: Mapping[str, Field], obj: dict) -> None:
    for name, spec in schema.items():
        if name not in obj:
            if spec.required:
                raise PayloadError(f"missing field '{prefix}{name}'")
            continue
        _check(prefix + name, spec, obj[name])


def _is_utc_time(text: str) -> bool:
    if not text.endswith("Z") or "T" not in text:
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _load(payload: bytes | str | Mapping) -> object:
    """The decoded JSON value of a payload (dicts pass through)."""
    if isinstance(payload, Mapping):
        return dict(payload)
    raw = payload.encode() if isinstance(payload, str) else bytes(payload)
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"payload too large ({len(raw)} bytes > {MAX_PAYLOAD_BYTES})")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("payload is not UTF-8") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"payload is not JSON ({exc.msg} at char {exc.pos})") from None


def validate(kind: str, payload: bytes | str | Mapping) -> dict:
    """The payload as a dict if it meets ``kind``'s schema, else a one-line PayloadError.

    Unknown fields are allowed (receivers ignore them), known ones must be right.
    """
    schema = SCHEMAS.get(kind)
    if schema is None:
        raise PayloadError(f"unknown payload kind {kind!r} (known: {', '.join(SCHEMAS)})")
    try:
        obj = _load(payload)
        if not isinstance(obj, dict):
            raise PayloadError(f"payload is not a JSON object, got {_type_name(obj)}")
        _check_fields("", schema, obj)
        if not _DEVICE.fullmatch(obj["device"]):
            raise PayloadError(f"field 'device' must match [A-Za-z0-9_-]+, got {obj['device']!r}")
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


# --------------------------------------------------------------------------- commands


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
        obj = {} if empty else _load(payload)
        if isinstance(obj, int | float) and not isinstance(obj, bool) and name in schema:
            obj = {name: obj}
        if not isinstance(obj, dict):
            raise PayloadError(f"payload must be a JSON object or a number, got {_type_name(obj)}")
        _check_fields("", schema, obj)
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


# --------------------------------------------------------------------------- builders


def iso_utc(epoch_s: float) -> str:
    """Unix seconds as ISO 8601 UTC with milliseconds and "Z"."""
    text = datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def offset_clock(offset_s: float) -> Callable[[float], str]:
    """Map sensor seconds to wall time: ``epoch = t_s + offset_s``.

    The service measures ``offset_s = time.time() - t_s`` once at the first
    sample, so every payload of a run maps sensor time the same way.
    """
    return lambda t_s: iso_utc(t_s + offset_s)


def anchored_clock(now: Callable[[], float] = time.time) -> Callable[[float], str]:
    """Like :func:`offset_clock`, with the offset taken from the first ``t_s`` it stamps."""
    offset: list[float] = []

    def iso_time(t_s: float) -> str:
        if not offset:
            offset.append(now() - t_s)
        return iso_utc(t_s + offset[0])

    return iso_time


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Context:
    """What a pipeline event needs to become a payload: who, which run, which stage, when.

    ``iso_time`` maps sensor seconds to ISO 8601 UTC (see :func:`offset_clock`).
    Replace it (``dataclasses.replace``) when the stage or load changes.
    """

    device: str
    session: str
    stage: Stage | None      # needed for reps (targets) and sets (default load)
    iso_time: Callable[[float], str]
    load_kg: float | None = None   # None: the stage's default load
    new_id: Callable[[], str] = field(default=new_id, repr=False)

    def __post_init__(self) -> None:
        check_device(self.device)


def _r(x: float) -> float:
    """Floats go out at millisecond / milli-degree resolution: more is noise."""
    return round(float(x), 3)


def _head(ctx: Context, t_s: float) -> dict:
    return {"v": VERSION, "id": ctx.new_id(), "device": ctx.device, "session": ctx.session,
            "time": ctx.iso_time(t_s), "t_s": _r(t_s)}


def phase_payload(ctx: Context, event: PhaseChange) -> dict:
    return {**_head(ctx, event.t_s), "phase": Phase(event.phase).value,
            "pitch_deg": _r(event.pitch_deg)}


def target(stage: Stage) -> dict:
    """The tempo targets a rep was judged against (None where the stage has none)."""
    def opt(x: float | None) -> float | None:
        return None if x is None else _r(x)
    return {"up_s": opt(stage.up_s), "min_up_s": opt(stage.min_up_s),
            "hold_s": opt(stage.hold_s), "hold_min_s": opt(stage.hold_min_s),
            "down_s": opt(stage.down_s), "min_down_s": opt(stage.min_down_s)}


def _stage(ctx: Context, what: str) -> Stage:
    if ctx.stage is None:
        raise ValueError(f"a {what} payload needs the stage it was judged against")
    return ctx.stage


def rep_payload(ctx: Context, rep: Rep, set_index: int) -> dict:
    """A completed rep; ``set_index`` is the set in progress (1-based)."""
    stage = _stage(ctx, "rep")
    return {
        **_head(ctx, rep.end_s),
        "stage": stage.number, "set_index": set_index, "index": rep.index,
        "start_s": _r(rep.start_s), "top_s": _r(rep.top_s), "lower_s": _r(rep.lower_s),
        "end_s": _r(rep.end_s), "up_s": _r(rep.up_s), "hold_s": _r(rep.hold_s),
        "down_s": _r(rep.down_s), "peak_deg": _r(rep.peak_deg),
        "bottom_deg": _r(rep.bottom_deg), "height_cm": _r(rep.height_cm),
        "verdict": Verdict(rep.verdict).value,
        "faults": [Verdict(f).value for f in rep.faults],
        "target": target(stage),
    }


def set_payload(ctx: Context, summary: SetSummary, reps: Iterable[Rep] = (),
                pain: float | None = None) -> dict:
    """A completed set; ``reps`` may be every rep so far: those in the set are kept."""
    wanted = set(summary.rep_indices)
    detail = [{"index": r.index, "up_s": _r(r.up_s), "hold_s": _r(r.hold_s),
               "down_s": _r(r.down_s), "peak_deg": _r(r.peak_deg),
               "verdict": Verdict(r.verdict).value}
              for r in reps if r.index in wanted]
    load_kg = _stage(ctx, "set").load_kg if ctx.load_kg is None else ctx.load_kg
    return {
        **_head(ctx, summary.end_s),
        "start_time": ctx.iso_time(summary.start_s),
        "start_s": _r(summary.start_s), "end_s": _r(summary.end_s),
        "index": summary.index, "stage": summary.stage, "reps": summary.reps,
        "target_reps": list(summary.target_reps), "ok_reps": summary.ok_reps,
        "tempo_compliance": round(float(summary.tempo_compliance), 4),
        "rest_before_s": None if summary.rest_before_s is None else _r(summary.rest_before_s),
        "holds": summary.holds, "hold_s": [_r(h) for h in summary.hold_s],
        "load_kg": _r(load_kg), "pain": pain, "rep_detail": detail,
    }


def hold_payload(ctx: Context, hold: Hold) -> dict:
    return {**_head(ctx, hold.end_s), "start_s": _r(hold.start_s), "end_s": _r(hold.end_s),
            "hold_s": _r(hold.hold_s), "peak_deg": _r(hold.peak_deg), "verdict": hold.verdict}


def status_payload(device: str, *, state: str, sensor: str, source: str, stage: int,
                   running: bool, time: str | None = None, msg_id: str | None = None) -> dict:
    """The retained status; ``time`` defaults to now."""
    return {"v": VERSION, "id": msg_id or new_id(), "device": check_device(device),
            "time": time or iso_utc(datetime.now(UTC).timestamp()), "state": state,
            "sensor": sensor, "source": source, "stage": stage, "running": running}


# --------------------------------------------------------------------------- docs


def examples() -> dict[str, dict]:
    """One realistic payload per kind, built by the builders (docs/mqtt.md shows these)."""
    ids = iter(uuid.uuid5(uuid.NAMESPACE_URL, f"heelraise-example-{i}").hex for i in range(99))
    stage = load_stage(2)
    ctx = Context("left", "20260131T070000-3f9a", stage,
                  offset_clock(datetime(2026, 1, 31, 7, 0, tzinfo=UTC).timestamp()),
                  new_id=lambda: next(ids))
    reps = [Rep(index=i, start_s=10.0 + 8 * i, top_s=13.1 + 8 * i, lower_s=13.7 + 8 * i,
                end_s=16.6 + 8 * i, up_s=3.1, hold_s=0.6, down_s=2.9, peak_deg=31.4,
                bottom_deg=-6.2, height_cm=9.4, verdict=Verdict.OK) for i in (1, 2)]
    reps.append(Rep(index=3, start_s=34.0, top_s=35.2, lower_s=35.5, end_s=38.4, up_s=1.2,
                    hold_s=0.3, down_s=2.9, peak_deg=29.8, bottom_deg=-5.0, height_cm=9.0,
                    verdict=Verdict.TOO_FAST_UP, faults=(Verdict.TOO_FAST_UP,)))
    summary = SetSummary(index=1, stage=2, start_s=18.0, end_s=38.4, reps=3,
                         target_reps=stage.reps, ok_reps=2, tempo_compliance=2 / 3,
                         rest_before_s=None, rep_indices=(1, 2, 3))
    hold_ctx = Context("left", ctx.session, load_stage(1), ctx.iso_time, new_id=ctx.new_id)
    return {
        "status": status_payload("left", state="online", sensor="ok", source="mpu6050",
                                 stage=2, running=True, time="2026-01-31T07:00:00.000Z",
                                 msg_id=next(ids)),
        "phase": phase_payload(ctx, PhaseChange(t_s=34.0, phase=Phase.RISING, pitch_deg=1.8)),
        "rep": rep_payload(ctx, reps[2], set_index=1),
        "set": set_payload(ctx, summary, reps, pain=2),
        "hold": hold_payload(hold_ctx, Hold(start_s=60.0, end_s=96.5, hold_s=36.5,
                                            peak_deg=27.5, verdict="ok")),
    }


_COMMAND_EXAMPLES = {"stage": '{"stage": 3}', "pain": '{"pain": 2, "set_id": "<set id>"}',
                     "stiffness": '{"stiffness": 3, "date": "2026-02-01"}', "start": "{}",
                     "stop": "{}"}


def _describe(spec: Field) -> str:
    kind = spec.type
    if kind == "array" and spec.items is not None:
        kind = f"array of {spec.items.type}" + (f" ({spec.size})" if spec.size else "")
    parts = [kind]
    if spec.choices:
        parts.append("one of " + ", ".join(f"`{c}`" for c in spec.choices))
    if spec.lo is not None or spec.hi is not None:
        parts.append(f"{'' if spec.lo is None else f'{spec.lo:g}'}.."
                     f"{'' if spec.hi is None else f'{spec.hi:g}'}")
    if spec.nullable:
        parts.append("or null")
    if not spec.required:
        parts.append("optional")
    return ", ".join(parts)


def _table(schema: Mapping[str, Field], prefix: str = "") -> list[str]:
    rows = []
    for name, spec in schema.items():
        doc = spec.doc.replace("|", "/")
        rows.append(f"| `{prefix}{name}` | {_describe(spec)} | {doc} |")
        nested = spec.fields if spec.type == "object" else (
            spec.items.fields if spec.items is not None and spec.items.type == "object" else None)
        if nested:
            sub = f"{prefix}{name}." if spec.type == "object" else f"{prefix}{name}[]."
            rows += _table(nested, sub)
    return rows


def reference(device: str = "<device>") -> str:
    """The generated part of docs/mqtt.md: every topic's schema and example."""
    out: list[str] = []
    for kind, example in examples().items():
        name = f"{ROOT}/{device}/{kind}"
        out += [f"### `{name}`", "",
                f"QoS {QOS[kind]}, {'retained' if RETAIN[kind] else 'not retained'}"
                + (", through the durable outbox" if kind in DURABLE else "") + ".", "",
                "| field | type | meaning |", "|---|---|---|", *_table(SCHEMAS[kind]), "",
                "```json", json.dumps(example, indent=2), "```", ""]
    out += ["### Commands", "", "| topic | payload | fields |", "|---|---|---|"]
    for name, example in _COMMAND_EXAMPLES.items():
        fields_doc = "; ".join(f"`{f}`: {_describe(s)}" for f, s in COMMANDS[name].items())
        out.append(f"| `{ROOT}/{device}/cmd/{name}` | `{example}` | {fields_doc or '-'} |")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the generated reference (paste between the markers in docs/mqtt.md)."""
    sys.stdout.write(reference())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
