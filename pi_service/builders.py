"""Payload builders: pipeline events in, the MQTT payloads of :mod:`.payloads` out.

Wall-clock time enters here only as a function passed in (``iso_time``), so a
payload is a pure function of the event, its context and that clock.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .payloads import MAX_DETAIL, VERSION
from .pipeline.events import Hold, Phase, PhaseChange, Rep, SetSummary, Verdict
from .protocol import Stage
from .topics import check_device

if TYPE_CHECKING:
    from .heelrise.outcomes import LegResult


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
    """A fresh message id (uuid4 hex); a redelivery keeps the id it was given."""
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
    source: str | None = None      # the sample source: "mpu6050", "simulator", ...
    clock_synced: bool | None = None   # the wall clock's state when a set ends

    def __post_init__(self) -> None:
        check_device(self.device)


def _r(x: float | None) -> float | None:
    """Floats go out at millisecond / milli-degree resolution: more is noise. None (a
    boundary a gap hid) stays None."""
    return None if x is None else round(float(x), 3)


def _head(ctx: Context, t_s: float) -> dict:
    return {"v": VERSION, "id": ctx.new_id(), "device": ctx.device, "session": ctx.session,
            "time": ctx.iso_time(t_s), "t_s": _r(t_s)}


def _origin(ctx: Context) -> dict:
    """Where a rep, set or hold came from: the log keeps simulated ones out of history."""
    return {} if ctx.source is None else {"source": ctx.source}


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
        **_head(ctx, rep.end_s if rep.end_s is not None else rep.span_s[1]),
        "stage": stage.number, "set_index": set_index, "index": rep.index,
        "start_s": _r(rep.start_s), "top_s": _r(rep.top_s), "lower_s": _r(rep.lower_s),
        "end_s": _r(rep.end_s), "up_s": _r(rep.up_s), "hold_s": _r(rep.hold_s),
        "down_s": _r(rep.down_s), "peak_deg": _r(rep.peak_deg),
        "bottom_deg": _r(rep.bottom_deg), "height_cm": _r(rep.height_cm),
        "verdict": Verdict(rep.verdict).value,
        "faults": [Verdict(f).value for f in rep.faults],
        "gaps": rep.gaps, "knocks": rep.knocks,
        "target": target(stage), **_origin(ctx),
    }


def set_payload(ctx: Context, summary: SetSummary, reps: Iterable[Rep] = (),
                pain: float | None = None) -> dict:
    """A completed set; ``reps`` may be every rep so far: those in the set are kept."""
    wanted = set(summary.rep_indices)
    detail = [{"index": r.index, "up_s": _r(r.up_s), "hold_s": _r(r.hold_s),
               "down_s": _r(r.down_s), "peak_deg": _r(r.peak_deg),
               "verdict": Verdict(r.verdict).value}
              for r in reps if r.index in wanted][:MAX_DETAIL]
    load_kg = _stage(ctx, "set").load_kg if ctx.load_kg is None else ctx.load_kg
    return {
        **_head(ctx, summary.end_s),
        "start_time": ctx.iso_time(summary.start_s),
        "start_s": _r(summary.start_s), "end_s": _r(summary.end_s),
        "index": summary.index, "stage": summary.stage, "reps": summary.reps,
        "target_reps": list(summary.target_reps), "ok_reps": summary.ok_reps,
        "tempo_compliance": None if summary.tempo_compliance is None
        else round(float(summary.tempo_compliance), 4),
        "rest_before_s": None if summary.rest_before_s is None else _r(summary.rest_before_s),
        "holds": summary.holds, "hold_s": [_r(h) for h in summary.hold_s[:MAX_DETAIL]],
        "load_kg": _r(load_kg), "pain": pain, "rep_detail": detail, **_origin(ctx),
        **({} if ctx.clock_synced is None else {"clock_synced": ctx.clock_synced}),
    }


def hold_payload(ctx: Context, hold: Hold) -> dict:
    # a hold a gap cut short has no end: it is dated by its start
    seen_s = hold.end_s if hold.end_s is not None else hold.start_s
    return {**_head(ctx, seen_s), "start_s": _r(hold.start_s), "end_s": _r(hold.end_s),
            "hold_s": _r(hold.hold_s), "peak_deg": _r(hold.peak_deg), "verdict": hold.verdict,
            **_origin(ctx)}


def test_payload(ctx: Context, result: LegResult, *, test_id: str, involved: str | None,
                 bpm: float) -> dict:
    """One leg's heel-rise test (``involved`` the person's involved side, if set)."""
    heights = [r.height_cm for r in result.raises if r.valid][:MAX_DETAIL]
    return {
        **_head(ctx, result.stop_s), "test_id": test_id, "leg": result.leg,
        "involved": None if involved is None else result.leg == involved,
        "start_time": ctx.iso_time(result.start_s), "start_s": _r(result.start_s),
        "valid_reps": result.valid_reps, "peak_height_cm": _r(result.peak_height_cm),
        "total_displacement_cm": _r(result.total_displacement_cm),
        "work_j": _r(result.work_j), "body_mass_kg": result.body_mass_kg,
        "cadence_per_min": _r(result.cadence_per_min),
        "on_beat_share": _r(result.on_beat_share), "stop_reason": result.stop_reason,
        "bpm": bpm, "incline_deg": result.incline_deg, "lever_cm": _r(result.lever_cm),
        "calibrated": result.calibrated, "heights_cm": [_r(h) for h in heights],
        **_origin(ctx),
    }


def ack_payload(device: str, stored: Iterable[str] = (), rejected: Iterable[str] = ()) -> dict:
    """The log's receipt for ``device``: ids it stored, and ids it refused."""
    return {"v": VERSION, "id": new_id(), "device": check_device(device),
            "time": iso_utc(time.time()), "stored": list(stored), "rejected": list(rejected)}


def log_status_payload(state: str) -> dict:
    """The log's retained status (``online``, or ``offline`` as its last will)."""
    return {"v": VERSION, "id": new_id(), "time": iso_utc(time.time()), "state": state}


LIVE_REP = ("index", "time", "verdict", "faults", "up_s", "hold_s", "down_s", "peak_deg",
            "bottom_deg", "height_cm", "target")
"""What the live state keeps of the newest rep (its rep payload's fields)."""


def live_payload(device: str, session: str, status: dict, live: dict) -> dict:
    """The retained live state: ``status`` the service's (source, stage, running), ``live``
    the set in progress, the rest timer and the newest rep and hold (see payloads)."""
    return {"v": VERSION, "id": new_id(), "device": check_device(device),
            "time": iso_utc(time.time()), "session": session, "source": status["source"],
            "stage": status["stage"], "running": status["running"], **live}


def status_payload(device: str, *, state: str, sensor: str, source: str, stage: int,
                   running: bool, calibration: str | None = None, time: str | None = None,
                   msg_id: str | None = None) -> dict:
    """The retained status; ``time`` defaults to now."""
    return {"v": VERSION, "id": msg_id or new_id(), "device": check_device(device),
            "time": time or iso_utc(datetime.now(UTC).timestamp()), "state": state,
            "sensor": sensor, "source": source, "stage": stage, "running": running,
            **({} if calibration is None else {"calibration": calibration})}
