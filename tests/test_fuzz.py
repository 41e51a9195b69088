"""Fuzzing every parser of outside bytes: recordings, MQTT payloads into the log, ``cmd``
topics into the service, the config, calibration files, HTTP requests to the page's server.

Each property is the same: a clear rejection (the package's own one-line error, or a
4xx) or a correct result; never another exception, a hang, or a changed store. The
inputs are structure-aware (valid messages with one part replaced by anything JSON can
hold, rows of a recording with garbage spliced in) as well as raw bytes, because a
purely random byte string rarely gets past the first check.

Bounded for CI (``HYPOTHESIS_PROFILE=ci``, the default: a few hundred cases in all);
``HYPOTHESIS_PROFILE=long`` runs fifty times as many.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboard" / "test"))
import harness  # noqa: E402

from calibration.file import load_calibration  # noqa: E402
from pi_service.config import load_config, validate  # noqa: E402
from pi_service.errors import HeelRaiseError  # noqa: E402
from pi_service.log.store import Store  # noqa: E402
from pi_service.log.subscriber import LogSubscriber  # noqa: E402
from pi_service.mqtt_docs import examples  # noqa: E402
from pi_service.payloads import COMMANDS, parse_command  # noqa: E402
from pi_service.pipeline import analyze  # noqa: E402
from pi_service.pipeline.params import DetectorParams  # noqa: E402
from pi_service.sources.recording import iter_recording  # noqa: E402
from pi_service.stages import load_stage  # noqa: E402

settings.register_profile("ci", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow])
settings.register_profile("long", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Anything JSON can hold, nested a little, with the awkward corners made likely.
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10 ** 40, max_value=10 ** 40),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([0, -1, 1e308, 2 ** 63]),
    st.text(max_size=30), st.sampled_from(["", "0001-01-01T00:00:00Z", "20260131T070000Z",
                                           "2026-01-31T07:00:00Z", "\ud800", "left/foot"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@st.composite
def mutated(draw, example: dict) -> bytes:
    """A valid message with one field replaced, removed or added, or its bytes cut."""
    message = json.loads(json.dumps(example))
    key = draw(st.sampled_from(sorted(message)))
    change = draw(st.sampled_from(["replace", "remove", "add", "truncate", "nest"]))
    if change == "replace":
        message[key] = draw(values)
    elif change == "remove":
        del message[key]
    elif change == "add":
        message[draw(st.text(max_size=10))] = draw(values)
    elif change == "nest":
        depth = draw(st.integers(1, 200))
        message[key] = json.loads("[" * depth + "]" * depth)
    raw = json.dumps(message).encode()
    if change == "truncate":
        raw = raw[: draw(st.integers(0, len(raw)))]
    return raw


KINDS = ("set", "rep", "hold", "status")
payloads = st.one_of(
    st.binary(max_size=300),
    *(mutated(examples()[kind]) for kind in KINDS),
    st.sampled_from([b"[" * 50_000, b'{"a":' * 2000, b"1" * 5000, b"NaN", b"\xff"]))
topics = st.one_of(
    st.sampled_from([f"heelraise/left/{k}" for k in (*KINDS, "cmd/pain", "cmd/stiffness")]),
    st.sampled_from(["heelraise/log/left/ack", "heelraise/log/status", "heelraise//set",
                     "heelraise/dashboard/set", "homeassistant/status", "heelraise/a+/set"]),
    st.text(max_size=40))

TABLES = ("sets", "reps", "holds", "pain", "stiffness")


@pytest.fixture(scope="module")
def log_on_disk(tmp_path_factory):
    """The real log, not connected: ``handle`` is what its network thread runs per message."""
    store = Store(tmp_path_factory.mktemp("fuzz") / "log.sqlite3")
    store.add_set(examples()["set"])
    logger = LogSubscriber(store, publish_aggregates=False, discovery=False)
    yield store, logger
    logger.close()
    store.close()


@given(topic=topics, payload=payloads)
def test_any_message_into_the_log_is_stored_or_rejected_never_raises(log_on_disk, topic,
                                                                     payload):
    store, logger = log_on_disk
    before = {t: store.count(t) for t in TABLES}
    outcome = logger.handle(topic, payload)
    assert outcome in ("stored", "duplicate", "rated", "seen", "rejected")
    if outcome in ("rejected", "seen", "duplicate"):
        assert {t: store.count(t) for t in TABLES} == before
    for row in store.sets(simulated=True):          # whatever was stored reads back
        assert math.isfinite(row.load_kg or 0) and row.time.year >= 1970


@given(suffix=st.one_of(st.sampled_from([f"cmd/{c}" for c in COMMANDS]), st.text(max_size=20)),
       payload=st.one_of(st.binary(max_size=200), mutated({"pain": 2, "set_id": "a"}),
                         mutated({"stage": 3}), mutated({"stiffness": 1, "date": "2026-01-01"})))
def test_any_command_parses_or_is_refused_and_the_service_applies_it_safely(suffix, payload):
    from pi_service.config import ServiceConfig
    from pi_service.feedback import FeedbackConfig, open_feedback
    from pi_service.service import Service
    from pi_service.stages import load_stage

    try:
        command = parse_command(suffix, payload)
    except HeelRaiseError as exc:
        assert "\n" not in str(exc)
        return
    stage = load_stage(2)
    feedback = open_feedback(FeedbackConfig.from_dict({"enabled": False}, "fuzz"), stage)
    service = Service(ServiceConfig(device="fuzz"), stage, feedback, None, None, "simulator")
    service.command(command)
    service._apply_commands()          # what the loop runs; an unknown stage is ignored
    assert service.stage.number in (1, 2, 3, 4)


CONFIG_KEYS = ["device", "stage", "calibration", "insertional", "sensor", "broker",
               "feedback", "colour"]
SECTION_KEYS = ["source", "bus", "rate_hz", "speed", "port", "host", "confirm", "led",
                "buzzer", "rgb", "patterns", "start_local", "address"]
toml_values = st.one_of(
    st.integers(-10 ** 30, 10 ** 30).map(str), st.floats(allow_nan=True).map(
        lambda f: repr(f).replace("inf", "inf").replace("nan", "nan")),
    st.text(max_size=12).map(json.dumps), st.sampled_from(["true", "false", "1979-05-27",
                                                           "[1, 2]", '{red = 1}', "[[0.1, 0]]",
                                                           '"i2c"', '"auto"', '"left\\n"']))


@st.composite
def toml_texts(draw) -> str:
    lines = [f"{draw(st.sampled_from(CONFIG_KEYS))} = {draw(toml_values)}"
             for _ in range(draw(st.integers(0, 3)))]
    for table in draw(st.lists(st.sampled_from(["sensor", "broker", "feedback",
                                                "feedback.patterns"]), max_size=3,
                               unique=True)):
        lines.append(f"[{table}]")
        lines += [f"{draw(st.sampled_from(SECTION_KEYS))} = {draw(toml_values)}"
                  for _ in range(draw(st.integers(0, 3)))]
    text = "\n".join(lines) + "\n"
    if draw(st.booleans()):
        text = draw(st.text(max_size=60)) + text
    return text


@given(text=toml_texts())
def test_any_config_loads_or_is_one_line_naming_the_file(tmp_path, text):
    path = tmp_path / "heelraise.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        config = load_config(path)
    except HeelRaiseError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        return
    validate(config)                   # what loaded is what the service accepts


calibrations = st.one_of(
    st.binary(max_size=200),
    mutated({"baseline_g": [0.0, 0.0, 1.0], "raise_axis": [0.0, 1.0, 0.0],
             "typical_peak_deg": 30.0, "lever_cm": 19.0}),
    st.fixed_dictionaries({"baseline_g": st.lists(st.floats(-20, 20), min_size=3, max_size=3),
                           "raise_axis": st.lists(st.floats(-2, 2), min_size=3, max_size=3)}
                          ).map(lambda d: json.dumps(d).encode()))


@given(raw=calibrations)
def test_any_calibration_file_loads_or_is_one_line(tmp_path, raw):
    path = tmp_path / "cal.json"
    path.write_bytes(raw)
    try:
        cal = load_calibration(path)
    except HeelRaiseError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        return
    assert 0.8 <= math.hypot(*cal.baseline_g) <= 1.2 and 10 <= cal.lever_cm <= 30


ROW = st.tuples(*[st.floats(-5, 5, allow_nan=False)] * 4).map(
    lambda r: ",".join(f"{x:.3f}" for x in r))
junk = st.sampled_from(["", "nan,1,2,3", "1,2", "a,b,c,d", "1e999,0,0,1", ",,,",
                        "0.5,0,0,1,9,9,9", "\x00", "t,ax,ay,az", "-1,0,0,1"])


@st.composite
def recordings(draw) -> bytes:
    header = draw(st.sampled_from(["t,ax,ay,az", "t,ax,ay,az,gx,gy,gz", "ax,ay,az,t", ""]))
    rows = draw(st.lists(st.one_of(ROW, junk), max_size=30))
    if draw(st.booleans()):
        rows.sort()
    data = ("\n".join([header, *rows]) + "\n").encode()
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.binary(max_size=8)) + data[cut:]
    return data


@given(raw=recordings())
def test_any_recording_reads_as_samples_or_is_one_line_naming_file_and_line(tmp_path, raw):
    path = tmp_path / "rec.csv"
    path.write_bytes(raw)
    try:
        blocks = list(iter_recording(path, block_size=7))
    except HeelRaiseError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        return
    # time never goes back; a t that is no number (inf, NaN) is passed on, to be dropped
    # and counted with the other unreadable samples below
    last = -math.inf
    for block in blocks:
        t = block.t[np.isfinite(block.t)]
        assert (t[:1] >= last).all() and (t[1:] >= t[:-1]).all()
        last = t[-1] if len(t) else last
    # what was read, NaN and 1e308 included, the detector takes: the unreadable samples
    # dropped and counted, never an exception
    result = analyze(blocks, load_stage(2))
    limits = DetectorParams()
    unreadable = 0
    for b in blocks:
        with np.errstate(invalid="ignore"):
            good = (np.abs(b.accel_g) <= limits.accel_limit_g).all(axis=1) & np.isfinite(b.t)
            good &= np.abs(b.accel_g).max(axis=1) > 0.0     # a chip asleep reads zeros
            if b.gyro_dps is not None:
                good &= (np.abs(b.gyro_dps) <= limits.gyro_limit_dps).all(axis=1)
        unreadable += int(np.count_nonzero(~good))
    counted = sum(w["count"] for w in result.warnings if w["kind"] == "bad_samples")
    assert counted == unreadable


@pytest.fixture(scope="module")
def page_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("web")
    dist = tmp / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<title>heel-raise</title>")
    with harness.dashboard_stack(tmp, "left", dist=dist) as stack:
        yield stack


requests = st.builds(
    lambda method, path, host, length, auth, body: (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        + (f"Content-Length: {length}\r\n" if length is not None else "")
        + (f"Authorization: {auth}\r\n" if auth else "") + "Connection: close\r\n\r\n"
    ).encode("utf-8", "surrogatepass") + body,
    st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "G\x00T", "POST "]),
    st.one_of(st.sampled_from(["/", "/config.json", "/api/pain", "/api/stiffness", "/%00",
                               "/../etc/passwd", "*", "/api/pain?x=%ff"]),
              st.text(max_size=30).map(lambda t: "/" + t.replace(" ", "%20"))),
    st.sampled_from(["127.0.0.1", "localhost", "evil.example", "", "[::1]:80"]),
    st.one_of(st.none(), st.sampled_from(["-1", "0", "5", "99999999999999", "abc", "4097"])),
    st.one_of(st.none(), st.sampled_from(["Basic cmF0aW5nOnJhdGluZy1zZWNyZXQ=",
                                          "Basic !!!", "Bearer x", "Basic " + "A" * 500])),
    st.one_of(st.binary(max_size=64), mutated({"pain": 3}), mutated({"stiffness": 2})))


@given(request=requests)
def test_any_http_request_gets_an_answer_never_a_traceback(page_server, request, capfd):
    server = page_server.server
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else None
    assert status is not None and (200 <= status < 300 or 400 <= status < 500
                                   or status == 503), answer[:200]
    assert "Traceback" not in capfd.readouterr().err
