"""The Pi's side of the clip-on: frame codec, sequencing, clock mapping, the source.

The sequencer and the clock map are pure, so they are fed hand-made frames and
fuzzed with hypothesis; the source is tested over a real broker.
"""

from __future__ import annotations

import json
import random
import struct
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mqtt_helpers import wait_until

from pi_service.errors import PayloadError
from pi_service.payloads import validate
from pi_service.sources.wireless.clock import ClockMap
from pi_service.sources.wireless.frame import (
    FLAG_GYRO,
    FLAG_RESTART,
    FrameError,
    frame_bytes,
    pack_header,
    unpack_header,
)
from pi_service.sources.wireless.sequencer import FrameSequencer
from pi_service.sources.wireless.source import WirelessSource

PERIOD_NS = 10_000_000
N = 20
A_LSB, G_LSB = 1 / 8192, 1 / 16.4


def raw_at(index: int, n: int) -> np.ndarray:
    """Sample k's raw values, a function of k alone: any sample is recognisable."""
    k = np.arange(index, index + n)
    return np.stack([k % 30000, -(k % 20000), k % 8192 + 8000, k % 1000, 7 * (k % 4000),
                     -(k % 32000)], axis=1).astype("<i2")


def make_frame(seq: int, index: int | None = None, n: int = N, boot: int = 0xB007,
               flags: int = FLAG_GYRO, dropped: int = 0, period_ns: int = PERIOD_NS) -> bytes:
    index = seq * n if index is None else index
    buf = bytearray(frame_bytes(n))
    pack_header(buf, flags, boot, seq, index, period_ns, n, dropped, A_LSB, G_LSB)
    buf[32:] = raw_at(index, n).tobytes()
    return bytes(buf)


def samples(blocks) -> tuple[np.ndarray, np.ndarray]:
    t = np.concatenate([b.t for b in blocks]) if blocks else np.empty(0)
    a = np.concatenate([b.accel_g for b in blocks]) if blocks else np.empty((0, 3))
    return t, a


def index_of(t: np.ndarray) -> np.ndarray:
    return np.rint(t / (PERIOD_NS * 1e-9)).astype(int)


# -- the codec ------------------------------------------------------------------------

def test_a_frame_round_trips_and_its_samples_decode_to_g_and_dps():
    payload = make_frame(3)
    assert len(payload) == 32 + 12 * N
    flags, boot, seq, index, period, n, dropped, a, g = unpack_header(payload)
    assert (flags, boot, seq, index, period, n, dropped) == (FLAG_GYRO, 0xB007, 3, 60,
                                                             PERIOD_NS, N, 0)
    assert a == A_LSB and g == pytest.approx(G_LSB, rel=1e-7)   # float32 on the wire
    blocks = FrameSequencer().feed(payload, 1.0)
    np.testing.assert_allclose(blocks[0].accel_g, raw_at(60, N)[:, :3] * A_LSB)
    np.testing.assert_allclose(blocks[0].gyro_dps, raw_at(60, N)[:, 3:] * g)
    np.testing.assert_allclose(blocks[0].t, np.arange(60, 80) * 0.01)


def test_the_worked_example_in_the_docs_is_what_the_codec_writes():
    """docs/wireless.md shows a frame byte by byte; it must be the codec's own output."""
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "wireless.md").read_text()
    hex_block = doc.split("<!-- example frame -->")[1].split("```")[1]
    shown = bytes.fromhex("".join(line.split("|")[0] for line in hex_block.splitlines()))
    buf = bytearray(frame_bytes(2))
    pack_header(buf, FLAG_GYRO, 0x1A2B3C4D, 7, 140, 10_000_000, 2, 0, 1 / 8192, 1 / 16.4)
    struct.pack_into("<12h", buf, 32, 41, -20, 8190, 3, -1, 2, 45, -18, 8195, 250, 4, -3)
    assert shown == bytes(buf)


@pytest.mark.parametrize("mangle, reason", [
    (lambda p: p[:20], "short"),
    (lambda p: b"XX" + p[2:], "magic"),
    (lambda p: p[:2] + b"\x02" + p[3:], "version"),
    (lambda p: p[:3] + b"\x81" + p[4:], "flags"),
    (lambda p: p[:-1], "length"),
    (lambda p: p + b"\0" * 12, "length"),
    (lambda p: p[:20] + b"\0\0" + p[22:32], "empty"),
    (lambda p: p[:16] + struct.pack("<I", 5) + p[20:], "period"),
    (lambda p: p[:24] + struct.pack("<f", float("nan")) + p[28:], "scale"),
])
def test_malformed_frames_are_rejected_counted_and_logged_with_their_reason(mangle, reason,
                                                                             caplog):
    payload = mangle(make_frame(0))
    with pytest.raises(FrameError) as err:
        unpack_header(payload)
    assert err.value.reason == reason
    seq = FrameSequencer()
    assert seq.feed(payload, 0.0) == [] and seq.malformed[reason] == 1
    assert reason in caplog.text


# -- sequencing -----------------------------------------------------------------------

def test_in_order_frames_give_every_sample_once_on_the_sensor_clock():
    seq = FrameSequencer()
    blocks = [b for i in range(10) for b in seq.feed(make_frame(i), 0.2 * i + 0.25)]
    t, a = samples(blocks)
    np.testing.assert_array_equal(index_of(t), np.arange(200))
    np.testing.assert_allclose(a, raw_at(0, 200)[:, :3] * A_LSB)
    assert seq.gaps == [] and seq.stats["samples"] == 200


def test_a_lost_frame_is_a_reported_gap_after_the_reorder_window_never_invented():
    seq = FrameSequencer(reorder_s=0.3)
    out = seq.feed(make_frame(0), 0.25) + seq.feed(make_frame(2), 0.65)
    assert len(out) == 1                          # frame 2 waits for frame 1...
    out += seq.poll(0.8)
    assert len(out) == 1
    out += seq.poll(0.96)                         # ...no longer than the window
    t, _ = samples(out)
    np.testing.assert_array_equal(index_of(t), list(range(20)) + list(range(40, 60)))
    assert [(g.samples, g.reason) for g in seq.gaps] == [(20, "frames lost")]
    assert seq.gaps[0].after_s == pytest.approx(0.19) and seq.gaps[0].before_s == 0.4
    assert seq.feed(make_frame(1), 1.0) == [] and seq.stats["late"] == 1


def test_duplicates_are_dropped_and_reordering_is_undone():
    seq = FrameSequencer()
    order = [0, 2, 1, 1, 3, 0, 5, 4, 4]
    out = [b for k, i in enumerate(order) for b in seq.feed(make_frame(i), 0.01 * k)]
    t, a = samples(out)
    np.testing.assert_array_equal(index_of(t), np.arange(120))
    assert seq.stats["duplicate"] == 3 and seq.gaps == []


def test_a_reboot_is_a_new_epoch_after_the_old_one_and_stale_frames_are_dropped():
    seq = FrameSequencer()
    out = [b for i in range(5) for b in seq.feed(make_frame(i, boot=1), 0.2 * i + 0.2)]
    # the board reboots: 3 s later its frames start again at seq 0, index 0
    out += [b for i in range(3) for b in seq.feed(make_frame(i, boot=2), 4.0 + 0.2 * i)]
    out += seq.feed(make_frame(5, boot=1), 4.7)                      # a straggler
    t, _ = samples(out)
    assert np.all(np.diff(t) > 0)
    assert t[100] - t[99] == pytest.approx(4.0 - 1.0 - 0.19, abs=0.02)
    assert [g.reason for g in seq.gaps] == ["reboot"] and seq.stats["stale"] == 1


def test_a_sensor_restart_on_the_board_is_a_gap_of_the_skipped_samples():
    seq = FrameSequencer()
    out = seq.feed(make_frame(0, index=0), 0.2)
    out += seq.feed(make_frame(1, index=20 + 130, flags=FLAG_GYRO | FLAG_RESTART), 1.7)
    t, _ = samples(out)
    assert t[20] - t[19] == pytest.approx(1.31)
    assert [(g.samples, g.reason) for g in seq.gaps] == [(130, "sensor restart")]


frame_stream = st.lists(st.tuples(
    st.sampled_from(["ok", "ok", "ok", "dup", "drop", "late", "garbage", "boot"]),
    st.floats(0.0, 0.5), st.binary(max_size=80)), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(frame_stream, st.randoms(use_true_random=False))
def test_fuzzed_streams_never_crash_never_repeat_a_sample_never_go_back(events, rnd):
    """Any mix of lost, duplicated, delayed, foreign and rebooted frames: time only goes
    forward, every sample given is the board's own at its own time (checked for the
    first boot, whose clock is the stream's), none twice; with nothing lost, all come."""
    seq = FrameSequencer(reorder_s=0.3)
    sent = []   # (arrival, payload)
    boot, i, now = 1, 0, 0.0
    kinds = set()
    for kind, delay, junk in events:
        kinds.add(kind)
        now += 0.2
        if kind == "boot":
            boot, i = boot + 1, 0
        payload = make_frame(i, boot=boot)
        if kind == "garbage":
            sent.append((now, junk + payload[len(junk):] if rnd.random() < 0.5 else junk))
        elif kind != "drop":
            sent.append((now + (delay if kind == "late" else 0.0), payload))
            if kind == "dup":
                sent.append((now + delay, payload))
        i += 1
    sent.sort(key=lambda x: x[0])
    out = []
    for arrival, payload in sent:
        out += seq.feed(payload, arrival)
        out += seq.poll(arrival)
    out += seq.poll(now + 10)
    if not out:
        return
    t, a = samples(out)
    assert np.all(np.diff(t) > 0)
    reboots = [g.before_s for g in seq.gaps if g.reason == "reboot"]
    first = t < reboots[0] if reboots else np.ones(len(t), bool)
    raw = np.rint(a[first] / A_LSB).astype(int)
    np.testing.assert_array_equal(raw, raw_at_many(index_of(t[first]))[:, :3])
    if kinds <= {"ok", "dup"}:
        np.testing.assert_array_equal(index_of(t), np.arange(N * len(events)))


def raw_at_many(index: np.ndarray) -> np.ndarray:
    return np.array([raw_at(int(k), 1)[0] for k in index]).reshape(-1, 6)


# -- the clock ------------------------------------------------------------------------

def test_the_clock_map_follows_drift_where_one_offset_would_not():
    rng = np.random.default_rng(4)
    skew = 150e-6                                   # the Pi runs 150 ppm faster
    s = np.arange(0, 3600, 0.2)                     # an hour of frames
    true_pi = 500.0 + s * (1 + skew)
    arrival = true_pi + 0.004 + rng.exponential(0.03, len(s))      # latency >= 4 ms
    arrival[9000:9050] += np.linspace(10, 0, 50)    # a backlog after an outage
    clock = ClockMap()
    errors, one_offset = [], arrival[0] - s[0]
    for k, (si, ai) in enumerate(zip(s, arrival, strict=True)):
        clock.add(si, ai)
        if k > 100:
            errors.append(clock(si) - true_pi[k])
    errors = np.abs(np.array(errors) - 0.004)
    assert np.percentile(errors, 99) < 0.01 and errors.max() < 0.02
    assert clock.skew_ppm == pytest.approx(150, abs=5)
    assert abs(s[-1] + one_offset - true_pi[-1]) > 0.4        # what one offset would say


# -- the source, over a real broker ---------------------------------------------------

def status(**fields) -> bytes:
    base = {"v": 1, "id": "b007-1", "device": "dev", "state": "online", "boot_id": "0000b007",
            "firmware": "1.0", "uptime_s": 5, "imu": "ok", "chip": "MPU-6050", "rate_hz": 100,
            "battery_v": 3.9, "battery_pct": 67, "battery_low": False, "rssi_dbm": -60,
            "ring_frames": 0, "ring_capacity": 150, "ring_dropped": 0, "fifo_restarts": 0,
            "frames_sent": 3, "seq": 3}
    return json.dumps({**base, **fields}).encode()


def test_the_source_yields_frames_from_the_broker_and_reports_the_sensor_lost(broker,
                                                                               publisher):
    with WirelessSource("dev", broker.host, broker.port, lost_after_s=0.6,
                        poll_s=0.05) as source:
        it = iter(source)
        assert wait_until(lambda: source._client.is_connected(), 5)
        time.sleep(0.2)
        for i in range(5):
            publisher.publish("heelraise/dev/imu", make_frame(i), qos=0)
        got = []
        deadline = time.monotonic() + 5
        while sum(len(b) for b in got) < 100 and time.monotonic() < deadline:
            got.append(next(it))
        assert source.connected
        np.testing.assert_array_equal(index_of(samples(got)[0]), np.arange(100))
        # nothing more: empty blocks keep the service going, then the sensor is lost
        start = time.monotonic()
        while source.connected:
            assert len(next(it)) == 0
        assert 0.5 < time.monotonic() - start < 1.5
        publisher.publish("heelraise/dev/imu", make_frame(5), qos=0)
        assert len(next(b for b in it if len(b))) == 20 and source.connected
        # the clip-on's last will: lost at once, without waiting for silence
        publisher.publish("heelraise/dev/sensor", status(battery_low=True, battery_v=3.4),
                          qos=1)
        publisher.publish("heelraise/dev/sensor", json.dumps(
            {"v": 1, "id": "b007-will", "device": "dev", "state": "offline",
             "boot_id": "0000b007", "firmware": "1.0"}).encode(), qos=1)
        assert wait_until(lambda: next(it) is not None and not source.connected, 2)
        assert source.sensor_status["state"] == "offline"
        publisher.publish("heelraise/dev/sensor", b'{"v": 1}', qos=1)
        assert wait_until(lambda: next(it) is not None and source.status_rejected == 1, 2)
        wall = source.wall_time(0.19)
        assert abs(wall - time.time()) < 10


def test_sensor_status_is_checked_at_the_door_and_names_the_key():
    assert validate("sensor", status())["chip"] == "MPU-6050"
    with pytest.raises(PayloadError, match="'battery_low' must be true or false"):
        validate("sensor", status(battery_low="no"))
    with pytest.raises(PayloadError, match="'ring_frames' is missing"):
        validate("sensor", json.dumps({k: v for k, v in json.loads(status()).items()
                                       if k != "ring_frames"}).encode())
    with pytest.raises(PayloadError, match="'boot_id' must match"):
        validate("sensor", status(boot_id="xyz"))
    with pytest.raises(PayloadError, match="'imu' must be one of ok, lost, missing"):
        validate("sensor", status(imu="fine"))
    # the will carries the head only; unknown fields are kept (payloads are additive)
    will = {"v": 1, "id": "b007-will", "device": "dev", "state": "offline",
            "boot_id": "0000b007", "firmware": "1.0", "newer_field": 3}
    assert validate("sensor", json.dumps(will).encode())["newer_field"] == 3
    with pytest.raises(PayloadError, match="'firmware' is missing"):
        validate("sensor", json.dumps({k: v for k, v in will.items()
                                       if k != "firmware"}).encode())


def test_random_bytes_on_the_imu_topic_never_crash_the_sequencer():
    rnd = random.Random(3)
    seq = FrameSequencer()
    for _ in range(2000):
        payload = bytes(rnd.getrandbits(8) for _ in range(rnd.choice([0, 10, 32, 44, 272])))
        assert seq.feed(payload, 0.0) == []
    assert sum(seq.malformed.values()) == 2000


def test_the_docs_carry_the_generated_sensor_status_section_verbatim():
    from pathlib import Path

    from pi_service import mqtt_docs

    doc = (Path(__file__).parent.parent / "docs" / "wireless.md").read_text()
    assert mqtt_docs.START in doc and mqtt_docs.END in doc, "wireless.md lost its markers"
    section = doc.split(mqtt_docs.START, 1)[1].split(mqtt_docs.END, 1)[0]
    assert section == mqtt_docs.sensor_reference(), \
        "docs/wireless.md is stale: regenerate with python -m pi_service.mqtt_docs --write"
    for key in ("battery_low", "ring_dropped", "boot_id"):
        assert f"| `{key}` |" in section


def test_the_config_file_chooses_the_wireless_source(broker, tmp_path):
    from pi_service.config import load_config
    from pi_service.service import open_source

    path = tmp_path / "heelraise.toml"
    path.write_text(f'device = "left"\n[sensor]\nsource = "wireless"\n'
                    f'[broker]\nport = {broker.port}\n')
    source, name = open_source(load_config(path))
    with source:
        assert name == "wireless" and isinstance(source, WirelessSource)
        assert wait_until(source._client.is_connected, 5)
        assert source._imu == "heelraise/left/imu"
