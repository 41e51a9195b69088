"""The generated parts of docs/mqtt.md and docs/wireless.md: schema tables and examples.

``python -m pi_service.mqtt_docs`` prints docs/mqtt.md's part (``--wireless``: the
clip-on's status table of docs/wireless.md) and ``--write`` puts both in their pages;
tests check that the pages hold them verbatim, so neither page can drift from the
schemas in :mod:`.payloads`.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from .builders import (
    LIVE_REP,
    Context,
    ack_payload,
    hold_payload,
    live_payload,
    log_status_payload,
    offset_clock,
    phase_payload,
    rep_payload,
    set_payload,
    status_payload,
    test_payload,
)
from .heelrise.judge import Raise, TestJudge
from .heelrise.outcomes import LegResult, leg_result
from .heelrise.protocol import TestProtocol
from .payloads import CLIP, COMMANDS, RECEIPTS, SCHEMAS, SENSOR_ALWAYS, validate
from .pipeline.events import Hold, Phase, PhaseChange, Rep, SetSummary, Verdict
from .schema import Field
from .stages import load_stage
from .topics import ACK, DURABLE, LOG, LOG_STATUS, QOS, RETAIN, ROOT


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
    rep = rep_payload(ctx, reps[2], set_index=1)
    live = {"set_index": 1, "set_open": True, "reps": 3, "holds": 0, "sets_done": 0,
            "rest_from": None, "rest_s": stage.rest_between_sets_s,
            "last_rep": {k: rep[k] for k in LIVE_REP}, "last_hold": None}
    status = {"source": "mpu6050", "stage": 2, "running": True}
    return {
        "status": status_payload("left", state="online", sensor="ok", source="mpu6050",
                                 stage=2, running=True, time="2026-01-31T07:00:00.000Z",
                                 msg_id=next(ids)),
        "live": {**live_payload("left", ctx.session, status, live), "id": next(ids),
                 "time": rep["time"]},
        "phase": phase_payload(ctx, PhaseChange(t_s=34.0, phase=Phase.RISING, pitch_deg=1.8)),
        "rep": rep,
        "set": set_payload(ctx, summary, reps, pain=2),
        "hold": hold_payload(hold_ctx, Hold(start_s=60.0, end_s=96.5, hold_s=36.5,
                                            peak_deg=27.5, verdict="ok")),
        "test": test_payload(hold_ctx, test_example(), test_id="5c1e2d3f4a5b6c7d",
                             involved="left", bpm=60.0),
    }


def test_example() -> LegResult:
    """A judged leg: twelve valid raises of a tiring calf, then the beat lost."""
    protocol = TestProtocol()
    judge = TestJudge(protocol, first_beat_s=200.0, lever_cm=19.0, incline_deg=10.0)
    for k in range(14):
        late = 0.0 if k < 12 else 0.8
        judge.on_raise(Raise(200.0 + 2 * k + late, 201.9 + 2 * k + late, 30.0 - 0.6 * k))
    judge.on_time(240.0)
    return leg_result(judge, "left", 72.0, calibrated=True)


_COMMAND_EXAMPLES = {"stage": '{"stage": 3}', "pain": '{"pain": 2, "set_id": "<set id>"}',
                     "stiffness": '{"stiffness": 3, "date": "2026-02-01"}', "start": "{}",
                     "stop": "{}", "activity": '{"activity": 7, "date": "2026-02-01"}'}


def _describe(spec: Field) -> str:
    kind = spec.type
    if kind == "array":
        size = (f"{spec.max_items}" if spec.min_items == spec.max_items
                else f"up to {spec.max_items}")
        kind = f"array of {spec.items.type} ({size})"
    parts = [kind]
    if spec.choices:
        parts.append("one of " + ", ".join(f"`{c}`" for c in spec.choices))
    if spec.type in ("integer", "number"):
        parts.append(f"{spec.lo:g}" if spec.lo == spec.hi else f"{spec.lo:g}..{spec.hi:g}")
    if spec.pattern:
        parts.append(f"`{spec.pattern}`")
    if spec.nullable:
        parts.append("or null")
    if not spec.required:
        parts.append("optional")
    return ", ".join(parts)


def _table(schema: Mapping[str, Field], prefix: str = "") -> list[str]:
    rows = []
    for name, spec in schema.items():
        cells = (f"`{prefix}{name}`", _describe(spec), spec.doc)
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        nested = spec if spec.type == "object" else spec.items if spec.type == "array" else None
        if nested is not None and nested.type == "object" and nested.fields:
            sub = f"{prefix}{name}." if spec.type == "object" else f"{prefix}{name}[]."
            rows += _table(nested.fields, sub)
    return rows


def reference(device: str = "<device>") -> str:
    """The generated part of docs/mqtt.md: every topic's schema and example."""
    out: list[str] = []
    for kind, example in examples().items():
        name = f"{ROOT}/{device}/{kind}"
        out += [f"### `{name}`", "",
                f"QoS {QOS[kind]}, {'retained' if RETAIN[kind] else 'not retained'}"
                + (", through the durable outbox" if kind in DURABLE else "") + ".", "",
                "| field | type | meaning |", "|---|---|---|", *_table(SCHEMAS[kind].fields), "",
                "```json", json.dumps(example, indent=2), "```", ""]
    out += ["### Commands", "", "| topic | payload | fields |", "|---|---|---|"]
    for name, example in _COMMAND_EXAMPLES.items():
        fields_doc = "; ".join(f"`{f}`: {_describe(s)}"
                               for f, s in COMMANDS[name].fields.items())
        out.append(f"| `{ROOT}/{device}/cmd/{name}` | `{example}` | {fields_doc or '-'} |")
    receipts = {"ack": (f"{ROOT}/{LOG}/{device}/{ACK}", "QoS 1, not retained",
                        ack_example()),
                "log_status": (LOG_STATUS, "QoS 1, retained; the log's last will says "
                                           "offline", log_status_example())}
    for kind, (name, delivery, example) in receipts.items():
        out += ["", f"### `{name}`", "", f"{delivery}.", "", "| field | type | meaning |",
                "|---|---|---|", *_table(RECEIPTS[kind].fields), "",
                "```json", json.dumps(example, indent=2), "```"]
    return "\n".join(out) + "\n"


def ack_example() -> dict:
    """A receipt as the log sends it (fixed id and time, for the page)."""
    return {**ack_payload("left", [uuid.uuid5(uuid.NAMESPACE_URL, "heelraise-example-9").hex]),
            "id": uuid.uuid5(uuid.NAMESPACE_URL, "heelraise-ack").hex,
            "time": "2026-01-31T07:00:39.012Z"}


def log_status_example() -> dict:
    return {**log_status_payload("online"),
            "id": uuid.uuid5(uuid.NAMESPACE_URL, "heelraise-log-status").hex,
            "time": "2026-01-31T06:59:00.000Z"}


SENSOR_EXAMPLE = {
    "v": 1, "id": "1a2b3c4d-12", "device": "left", "state": "online", "boot_id": "1a2b3c4d",
    "firmware": "1.0", "uptime_s": 331, "imu": "ok", "chip": "MPU-6050", "rate_hz": 100.0,
    "battery_v": 3.912, "battery_pct": 68, "battery_low": False, "rssi_dbm": -61,
    "ring_frames": 0, "ring_capacity": 150, "ring_dropped": 0, "fifo_restarts": 0,
    "frames_sent": 1650, "seq": 1652}
"""A status as firmware/status.py sends it (docs/wireless.md shows it)."""
SENSOR_WILL = {"v": 1, "id": "1a2b3c4d-will", "device": "left", "state": "offline",
               "boot_id": "1a2b3c4d", "firmware": "1.0"}


def sensor_reference() -> str:
    """The generated part of docs/wireless.md: the clip-on's status fields and examples."""
    rows = []
    for name, spec in CLIP["sensor"].fields.items():
        when = "always" if name in SENSOR_ALWAYS else "online"
        cells = (f"`{name}`", _describe(replace(spec, required=True)), when, spec.doc)
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    examples = [json.dumps(validate("sensor", e), indent=2) for e in (SENSOR_EXAMPLE, SENSOR_WILL)]
    return "\n".join(["| field | type | when | meaning |", "|---|---|---|---|", *rows, "",
                      "Example:", "", "```json", examples[0], "```", "",
                      "The will:", "", "```json", examples[1], "```"]) + "\n"


START = "<!-- generated: python -m pi_service.mqtt_docs -->\n"
END = "<!-- end generated -->"
PAGES = {"docs/mqtt.md": reference, "docs/wireless.md": sensor_reference}
"""Each page with a generated part, and what generates it."""


def write(page: Path, text: str) -> None:
    """Put ``text`` between the page's markers, keeping the rest of the page."""
    head, rest = page.read_text(encoding="utf-8").split(START, 1)
    page.write_text(head + START + text + END + rest.split(END, 1)[1], encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Print a generated part, or with ``--write`` put each between its page's markers.

    ``--write`` alone writes every page of :data:`PAGES` (paths from the repository's
    root); ``--write PAGE`` one of them, found by its name.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] != ["--write"]:
        sys.stdout.write(sensor_reference() if args[:1] == ["--wireless"] else reference())
        return 0
    pages = args[1:] or list(PAGES)
    for page in pages:
        make = next((f for p, f in PAGES.items() if Path(p).name == Path(page).name), None)
        if make is None:
            print(f"mqtt_docs: no generated part for {page} (known: {', '.join(PAGES)})",
                  file=sys.stderr)
            return 2
        write(Path(page), make())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
