"""The MQTT contract: topics, builders, validation messages, commands, and the docs."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pi_service import builders, mqtt_docs, topics
from pi_service import payloads as P
from pi_service.errors import HeelRaiseError
from pi_service.pipeline.events import Hold, Phase, PhaseChange, Rep, SetSummary, Verdict
from pi_service.stages import load_stage

DOCS = Path(__file__).resolve().parent.parent / "docs" / "mqtt.md"
T0 = datetime(2026, 3, 2, 6, 30, tzinfo=UTC).timestamp()


def ctx(stage: int = 2) -> builders.Context:
    return builders.Context("right_foot", "s-1", load_stage(stage), builders.offset_clock(T0))


def rep(index: int, start_s: float, verdict: Verdict = Verdict.OK) -> Rep:
    faults = () if verdict is Verdict.OK else (verdict,)
    return Rep(index=index, start_s=start_s, top_s=start_s + 3.0, lower_s=start_s + 3.5,
               end_s=start_s + 6.5, up_s=3.0, hold_s=0.5, down_s=3.0, peak_deg=30.12345,
               bottom_deg=-4.0, height_cm=9.1, verdict=verdict, faults=faults)


# ------------------------------------------------------------------ topics


def test_topics_follow_the_tree():
    assert topics.topic("left", "set") == "heelraise/left/set"
    assert topics.topic("left-2_b", "cmd/pain") == "heelraise/left-2_b/cmd/pain"
    assert topics.subscription("set") == "heelraise/+/set"
    assert topics.subscription("cmd/#", "left") == "heelraise/left/cmd/#"
    assert topics.split_topic("heelraise/left/cmd/stage") == ("left", "cmd/stage")
    assert topics.log_topic("left", "week") == "heelraise/log/left/week"


def test_log_is_not_a_device_name_so_the_trees_cannot_collide():
    with pytest.raises(P.PayloadError, match="device name 'log' is reserved"):
        topics.topic("log", "set")
    with pytest.raises(P.PayloadError, match="unknown log topic 'month'"):
        topics.log_topic("left", "month")


@pytest.mark.parametrize("device", ["", "left/foot", "a+", "#", "left foot", "pé"])
def test_device_names_that_would_break_the_topic_are_rejected(device):
    with pytest.raises(P.PayloadError, match=r"must match \[A-Za-z0-9_-\]\+"):
        topics.topic(device, "set")
    with pytest.raises(P.PayloadError):
        builders.Context(device, "s", load_stage(2), builders.offset_clock(0))


def test_unknown_topic_kinds_and_foreign_topics_are_rejected():
    with pytest.raises(P.PayloadError, match="unknown topic kind 'sets'"):
        topics.topic("left", "sets")
    with pytest.raises(P.PayloadError, match="is not heelraise/<device>/<kind>"):
        topics.split_topic("frigate/left/set")


# ------------------------------------------------------------------ builders


def test_rep_payload_carries_the_rep_its_stage_targets_and_wall_clock():
    r = rep(4, 100.0, Verdict.TOO_FAST_UP)
    p = P.validate("rep", P.encode("rep", builders.rep_payload(ctx(), r, set_index=2)))
    assert p["v"] == 1 and re.fullmatch(r"[0-9a-f]{32}", p["id"])
    assert (p["device"], p["session"], p["stage"], p["set_index"], p["index"]) == \
        ("right_foot", "s-1", 2, 2, 4)
    assert p["t_s"] == 106.5 and p["end_s"] == 106.5 and p["start_s"] == 100.0
    assert p["time"] == "2026-03-02T06:31:46.500Z"
    assert p["peak_deg"] == 30.123
    assert p["verdict"] == "too_fast_up" and p["faults"] == ["too_fast_up"]
    assert p["target"] == {"up_s": 3.0, "min_up_s": 2.0, "hold_s": 0.5, "hold_min_s": 0.0,
                           "down_s": 3.0, "min_down_s": 2.0}


def test_set_payload_keeps_only_its_own_reps_and_maps_both_ends_to_wall_clock():
    reps = [rep(i, 10.0 * i) for i in range(1, 6)]
    summary = SetSummary(index=2, stage=2, start_s=40.0, end_s=56.5, reps=2,
                         target_reps=(15, 15), ok_reps=2, tempo_compliance=1.0,
                         rest_before_s=63.25, rep_indices=(4, 5))
    p = P.validate("set", builders.set_payload(replace(ctx(), load_kg=7.5), summary, reps, pain=3))
    assert [d["index"] for d in p["rep_detail"]] == [4, 5]
    assert p["rep_detail"][0] == {"index": 4, "up_s": 3.0, "hold_s": 0.5, "down_s": 3.0,
                                  "peak_deg": 30.123, "verdict": "ok"}
    assert p["start_time"] == "2026-03-02T06:30:40.000Z"
    assert p["time"] == "2026-03-02T06:30:56.500Z" and p["t_s"] == 56.5
    assert p["target_reps"] == [15, 15] and p["rest_before_s"] == 63.25
    assert p["load_kg"] == 7.5 and p["pain"] == 3


def test_first_set_of_a_stage_1_session_with_holds_uses_the_stage_load():
    summary = SetSummary(index=1, stage=1, start_s=0.0, end_s=120.0, reps=0,
                         target_reps=(1, 1), ok_reps=0, tempo_compliance=0.5,
                         rest_before_s=None, holds=2, hold_s=(31.0, 22.5))
    p = P.validate("set", builders.set_payload(ctx(1), summary))
    assert p["rest_before_s"] is None and p["pain"] is None
    assert p["holds"] == 2 and p["hold_s"] == [31.0, 22.5] and p["rep_detail"] == []
    assert p["load_kg"] == 0.0


def test_hold_phase_and_status_payloads_validate():
    hold = Hold(start_s=5.0, end_s=41.0, hold_s=36.0, peak_deg=25.0, verdict="ok")
    assert P.validate("hold", builders.hold_payload(ctx(1), hold))["hold_s"] == 36.0
    phase = builders.phase_payload(ctx(), PhaseChange(t_s=1.25, phase=Phase.TOP, pitch_deg=29.5))
    assert P.validate("phase", phase)["phase"] == "top"
    status = builders.status_payload("left", state="offline", sensor="lost", source="lsm6dsox",
                              stage=3, running=False)
    assert P.validate("status", status)["time"].endswith("Z")


def test_every_payload_gets_a_fresh_id():
    c = ctx()
    ids = {builders.phase_payload(c, PhaseChange(t_s=1.0, phase=Phase.REST, pitch_deg=0.0))["id"]
           for _ in range(50)}
    assert len(ids) == 50


# ------------------------------------------------------------------ validation


def _example(kind: str) -> dict:
    return json.loads(json.dumps(mqtt_docs.examples()[kind]))


def _without(kind: str, field: str) -> dict:
    d = _example(kind)
    del d[field]
    return d


def _with(kind: str, **changes) -> dict:
    return {**_example(kind), **changes}


def _rep_detail_verdict() -> dict:
    d = _example("set")
    d["rep_detail"][1]["verdict"] = "sloppy"
    return d


REJECTIONS = [
    ("set", b"{not json", "set: payload is not JSON (Expecting property name enclosed in "
                          "double quotes at char 1)"),
    ("set", b"\xff\xfe", "set: payload is not UTF-8"),
    ("set", b"[1, 2]", "set: payload must be a JSON object, got array"),
    ("set", b"x" * (P.MAX_PAYLOAD_BYTES + 1),
     f"set: payload is too large (at most {P.MAX_PAYLOAD_BYTES} bytes), "
     f"got {P.MAX_PAYLOAD_BYTES + 1}"),
    ("set", _without("set", "id"), "set: 'id' is missing"),
    ("rep", _without("rep", "target"), "rep: 'target' is missing"),
    ("set", _with("set", v=2), "set: 'v' must be 1, got 2"),
    ("set", _with("set", id=""), "set: 'id' must not be empty"),
    ("set", _with("set", id=17), "set: 'id' must be a string, got integer"),
    ("set", _with("set", pain=11), "set: 'pain' must be in 0..10, got 11"),
    ("set", _with("set", pain=-1), "set: 'pain' must be in 0..10, got -1"),
    ("set", _with("set", tempo_compliance=1.2),
     "set: 'tempo_compliance' must be in 0..1, got 1.2"),
    ("set", _with("set", reps=-1), "set: 'reps' must be in 0..100000, got -1"),
    ("set", _with("set", reps=2.5), "set: 'reps' must be an integer, got number"),
    ("set", _with("set", reps=True), "set: 'reps' must be an integer, got boolean"),
    ("set", _with("set", reps="12"), "set: 'reps' must be an integer, got string"),
    ("set", _with("set", load_kg=None), "set: 'load_kg' must not be null"),
    ("set", _with("set", target_reps=[8]), "set: 'target_reps' must have 2 items, got 1"),
    ("set", _with("set", hold_s=[30.0, -2.0]), "set: 'hold_s[1]' must be in 0..86400, got -2.0"),
    ("set", _rep_detail_verdict(),
     "set: 'rep_detail[1].verdict' must be one of ok, too_fast_up, too_fast_down, "
     "too_fast, hold_too_short, partial_range, got 'sloppy'"),
    ("set", _with("set", time="2026-01-31 07:00:38"),
     "set: 'time' must be RFC 3339 UTC like 2026-01-31T07:05:00.250Z, "
     "got '2026-01-31 07:00:38'"),
    ("set", _with("set", device="left/foot"),
     "set: 'device' must match [A-Za-z0-9_-]+, got 'left/foot'"),
    ("rep", _with("rep", verdict="slow"),
     "rep: 'verdict' must be one of ok, too_fast_up, too_fast_down, too_fast, "
     "hold_too_short, partial_range, got 'slow'"),
    ("rep", _with("rep", target={"up_s": 3.0}), "rep: 'target.min_up_s' is missing"),
    ("hold", _with("hold", verdict="too_fast"),
     "hold: 'verdict' must be one of ok, too_short, too_long, got 'too_fast'"),
    ("status", _with("status", state="away"),
     "status: 'state' must be one of online, offline, got 'away'"),
    ("status", _with("status", running="yes"),
     "status: 'running' must be true or false, got string"),
    ("phase", _with("phase", phase="jumping"),
     "phase: 'phase' must be one of rest, rising, top, lowering, heel_drop, disturbed, "
     "got 'jumping'"),
]


@pytest.mark.parametrize(("kind", "payload", "message"), REJECTIONS,
                         ids=[m.split(": ", 1)[1][:40] for _, _, m in REJECTIONS])
def test_rejections_name_the_field_and_the_fault_in_one_line(kind, payload, message):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    with pytest.raises(P.PayloadError) as exc:
        P.validate(kind, raw)
    assert str(exc.value) == message
    assert isinstance(exc.value, HeelRaiseError) and isinstance(exc.value, ValueError)


def test_non_finite_numbers_are_rejected():
    raw = json.dumps(_example("set")).replace('"pain": 2', '"pain": NaN').encode()
    with pytest.raises(P.PayloadError, match="set: payload has NaN, which is not JSON"):
        P.validate("set", raw)


def test_unknown_fields_are_accepted_so_v1_can_grow():
    assert P.validate("set", _with("set", mood="fine"))["mood"] == "fine"


def test_unknown_kind_is_rejected():
    with pytest.raises(P.PayloadError, match="unknown payload kind 'sets'"):
        P.validate("sets", {})


def test_encode_round_trips_every_example():
    for kind, example in mqtt_docs.examples().items():
        assert P.validate(kind, P.encode(kind, example)) == example


# ------------------------------------------------------------------ commands


@pytest.mark.parametrize(("suffix", "payload", "expected"), [
    ("stage", b'{"stage": 3}', P.Command("stage", 3)),
    ("stage", b"3", P.Command("stage", 3)),
    ("pain", b" 2.5\n", P.Command("pain", 2.5)),
    ("pain", b'{"pain": 4, "set_id": "abc"}', P.Command("pain", 4, set_id="abc")),
    ("stiffness", b'{"stiffness": 1, "date": "2026-02-01"}',
     P.Command("stiffness", 1, date="2026-02-01")),
    ("stiffness", "6", P.Command("stiffness", 6)),
    ("start", b"", P.Command("start")),
    ("stop", b"{}", P.Command("stop")),
    ("heelraise/left/cmd/stage", b"4", P.Command("stage", 4)),
    ("cmd/stop", b"", P.Command("stop")),
])
def test_commands_parse(suffix, payload, expected):
    assert P.parse_command(suffix, payload) == expected


@pytest.mark.parametrize(("suffix", "payload", "message"), [
    ("jump", b"1",
     "cmd: unknown command 'jump' (known: stage, pain, stiffness, start, stop, activity)"),
    ("pain", b"11", "cmd/pain: 'pain' must be in 0..10, got 11"),
    ("pain", b"", "cmd/pain: 'pain' is missing"),
    ("pain", b"lots", "cmd/pain: payload is not JSON (Expecting value at char 0)"),
    ("stage", b"2.5", "cmd/stage: 'stage' must be an integer, got number"),
    ("stage", b"0", "cmd/stage: 'stage' must be in 1..99, got 0"),
    ("stage", b"true", "cmd/stage: payload must be a JSON object, got boolean"),
    ("start", b"1", "cmd/start: payload must be a JSON object, got integer"),
    ("stiffness", b'{"stiffness": 2, "date": "2026-13-01"}',
     "cmd/stiffness: 'date' must be a date YYYY-MM-DD, got '2026-13-01'"),
    ("pain", b'{"pain": 2, "set_id": ""}', "cmd/pain: 'set_id' must not be empty"),
])
def test_bad_commands_are_rejected_with_the_topic_and_fault(suffix, payload, message):
    with pytest.raises(P.PayloadError) as exc:
        P.parse_command(suffix, payload)
    assert str(exc.value) == message


# ------------------------------------------------------------------ docs


def test_docs_carry_the_generated_reference_verbatim():
    text = DOCS.read_text(encoding="utf-8")
    start, end = mqtt_docs.START, mqtt_docs.END
    assert start in text and end in text, "docs/mqtt.md lost its generated-section markers"
    section = text.split(start, 1)[1].split(end, 1)[0]
    assert section.strip() == mqtt_docs.reference().strip(), \
        "docs/mqtt.md is stale: regenerate with python -m pi_service.mqtt_docs --write"


def test_every_json_example_in_the_docs_validates():
    text = DOCS.read_text(encoding="utf-8")
    found = 0
    for kind, block in re.findall(r"### `heelraise/<device>/(\w+)`.*?```json\n(.*?)```",
                                  text, flags=re.S):
        P.validate(kind, block.encode())
        found += 1
    assert found >= len(topics.KINDS)


def test_anchored_clock_fixes_its_offset_at_the_first_stamp():
    clock = iter([T0 + 100.0, T0 + 999.0])
    iso_time = builders.anchored_clock(now=lambda: next(clock))
    assert iso_time(10.0) == "2026-03-02T06:31:40.000Z"
    assert iso_time(20.25) == "2026-03-02T06:31:50.250Z"


def test_rep_and_set_payloads_need_a_stage():
    c = replace(ctx(), stage=None)
    with pytest.raises(ValueError, match="a rep payload needs the stage"):
        builders.rep_payload(c, rep(1, 0.0), set_index=1)
