"""End to end: the same simulated movement through the wired and the wireless path.

Wired: register-level fake MPU-6050 → smbus2 adapter → I2CSource. Wireless: the same
fake chip under MicroPython → the clip-on's firmware → umqtt → a real Mosquitto →
WirelessSource, and `heelraise run --source wireless` as a process. The pipeline must
count the same reps either way, from the very same samples.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest
from clip_rig import DEVICE, need_micropython, run_clip
from fake_i2c import FakeClock, FakeMPU6050, TableMotion
from fake_smbus import FakeBus
from mqtt_helpers import Collector, wait_until

from pi_service.pipeline import analyze
from pi_service.samples import SampleBlock
from pi_service.sources.i2c import I2CSource
from pi_service.sources.simulator import simulate
from pi_service.sources.wireless.source import WirelessSource
from pi_service.stages import load_stage


@pytest.fixture(scope="module")
def movement() -> np.ndarray:
    """One stage-2 set of 15 raises, as the sensor feels it (g, deg/s), at 100 Hz."""
    need_micropython()
    sim = simulate(2, 7, gyro=True, n_sets=1, walking=False)
    return np.hstack([sim.block.accel_g, sim.block.gyro_dps])


@pytest.fixture(scope="module")
def wired(movement) -> SampleBlock:
    rows = [tuple(float(v) for v in r) for r in movement.astype("<f4")]
    clock = FakeClock()
    bus = FakeBus(clock)
    chip = bus.attach(0x68, FakeMPU6050(TableMotion(rows, 100.0)))
    blocks = []
    with I2CSource(bus, chip="mpu6050", clock=clock, sleep=clock.sleep) as source:
        for block in itertools.takewhile(lambda _: chip.samples_made < len(rows), source):
            blocks.append(block)
    return SampleBlock.concat(blocks)


def counts(block: SampleBlock) -> tuple[int, list[int], list[tuple[float, float, float]]]:
    result = analyze(block, load_stage(2))
    return (len(result.reps), [s.reps for s in result.sets],
            [(r.up_s, r.hold_s, r.down_s) for r in result.reps])


def test_the_wireless_path_gives_the_wired_samples_and_the_same_reps(broker, movement, wired):
    blocks: list[SampleBlock] = []
    with WirelessSource(DEVICE, broker.host, broker.port, poll_s=0.05) as source:
        assert wait_until(source._client.is_connected, 5)
        reader = threading.Thread(target=lambda: blocks.extend(
            b for b in source if len(b)), daemon=True)
        reader.start()
        run_clip(broker, motion=movement, events=[[len(movement) / 100 + 1, "stop"]])
        # generous: on a loaded machine the frames queue behind the broker and the reader
        assert wait_until(lambda: sum(len(b) for b in blocks) >= len(wired) - 40, 60)
        source.close()
        reader.join(5)
    wireless = SampleBlock.concat(blocks)
    assert source.sequencer.gaps == [] and not source.sequencer.malformed
    n = min(len(wired), len(wireless))
    assert n > len(movement) - 40
    # the very same samples: accel exactly (1/8192 g is exact in float32), gyro to float32
    np.testing.assert_array_equal(wireless.accel_g[:n], wired.accel_g[:n])
    np.testing.assert_allclose(wireless.gyro_dps[:n], wired.gyro_dps[:n], rtol=1e-6)
    np.testing.assert_allclose(np.diff(wireless.t), 0.01, atol=1e-9)
    reps_wired, sets_wired, phases_wired = counts(wired[:n])
    reps_wireless, sets_wireless, phases_wireless = counts(wireless[:n])
    assert reps_wired >= 10
    assert (reps_wireless, sets_wireless) == (reps_wired, sets_wired)
    np.testing.assert_allclose(phases_wireless, phases_wired, atol=0.02)


def test_heelraise_run_source_wireless_publishes_the_reps_and_reports_the_sensor_lost(
        broker, movement, wired, tmp_path):
    reps_wired, sets_wired, _ = counts(wired)
    status, reps, sets = (Collector(broker, f"heelraise/{DEVICE}/{kind}")
                          for kind in ("status", "rep", "set"))
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock", "OPENBLAS_NUM_THREADS": "1"}
    service = subprocess.Popen(
        [sys.executable, "-m", "pi_service.cli", "run", "--source", "wireless", "--device",
         DEVICE, "--port", str(broker.port), "--state-dir", str(tmp_path), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert wait_until(lambda: any(s["state"] == "online" for s in status.of("status")), 15)
        run_clip(broker, motion=movement, events=[[len(movement) / 100 + 1, "stop"]])
        assert wait_until(lambda: len(reps.of("rep")) >= reps_wired, 20)
        # frames stopped (and the will said offline): the service says the sensor is lost
        assert wait_until(lambda: status.of("status")[-1]["sensor"] == "lost", 10)
        service.send_signal(signal.SIGTERM)
        _, err = service.communicate(timeout=30)
    finally:
        if service.poll() is None:
            service.kill()
    assert service.returncode == 0, err
    for sub in (status, reps, sets):
        sub.flush()
    assert len(reps.of("rep")) == reps_wired
    assert [s["reps"] for s in sets.of("set")] == sets_wired
    sensor = [s["sensor"] for s in status.of("status") if s["state"] == "online"]
    assert "ok" in sensor and sensor[-1] == "lost"
    assert all(s["source"] == "wireless" for s in status.of("status"))
    for sub in (status, reps, sets):
        sub.close()
