"""The guided calibration, as a person meets it: ``heelraise calibrate`` on a recording, the
wired sensor (register-level fake MPU-6050 behind smbus2's calls) and the wireless
clip-on (its firmware under MicroPython, through a real Mosquitto), ``--check``, and the
pieces it measures with, each on a hand-made or simulated trace whose truth is known.
"""

from __future__ import annotations

import itertools
import json
import re
import threading

import numpy as np
import pytest
from fake_i2c import FakeClock, FakeMPU6050, TableMotion
from fake_smbus import FakeBus
from mqtt_helpers import wait_until
from scipy.spatial.transform import Rotation

from calibration import faces, raises, shoe, standing
from calibration.command import from_source, guide_through
from calibration.file import load_calibration
from calibration.guided import CalibrationError, GuidedCalibration
from pi_service.cli import main
from pi_service.pipeline import analyze
from pi_service.samples import SampleBlock
from pi_service.sources import perturb
from pi_service.sources.calibration_session import simulate_calibration
from pi_service.sources.recording import write_recording
from pi_service.sources.simulator import simulate, write_simulation
from pi_service.stages import load_stage

SEED = 21


def _angle_deg(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.degrees(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b),
                                              -1, 1))))


@pytest.fixture(scope="module")
def person(tmp_path_factory):
    """A stage-2 session and its person's calibration recording (six faces first), on
    the same simulated MPU-6050, mounting and foot."""
    folder = tmp_path_factory.mktemp("person")
    session = simulate(2, SEED, n_sets=1, walking=False, gyro=True)
    meta = session.truth.meta
    cal = simulate_calibration(SEED, foot_cm=meta["foot_cm"], peak_deg=meta["peak_deg"],
                               faces=True, gyro=True)
    write_simulation(folder / "session.csv", session)
    write_recording(folder / "calibration.csv", cal.block)
    return folder, session, cal


def _tilt(block: SampleBlock, deg: float) -> np.ndarray:
    """A rotation that tilts the standing gravity of ``block`` (its first second) by ``deg``."""
    down = block.accel_g[block.t < block.t[0] + 1.0].mean(axis=0)
    axis = np.cross(down, [1.0, 0.0, 0.0])
    return Rotation.from_rotvec(np.radians(deg) * axis / np.linalg.norm(axis)).as_matrix()


# --- the pieces ----------------------------------------------------------------------------

def test_six_faces_give_each_axis_offset_and_scale_even_laid_a_little_askew():
    offset, scale = np.array([0.03, -0.05, 0.08]), np.array([1.02, 0.97, 1.01])
    rng = np.random.default_rng(1)
    means = {}
    for face in faces.FACES:
        up = np.zeros(3)
        up["xyz".index(face[1])] = 1.0 if face[0] == "+" else -1.0
        tilt = Rotation.from_rotvec(rng.normal(0, np.radians(3), 3))
        means[face] = scale * tilt.apply(up) + offset
        assert faces.face_of(means[face]) == face
    got = faces.solve(means)
    np.testing.assert_allclose(got.offset_g, offset, atol=2e-3)
    np.testing.assert_allclose(got.scale, scale, atol=2e-3)
    with pytest.raises(faces.FacesError, match="faces missing: -z"):
        faces.solve({k: v for k, v in means.items() if k != "-z"})
    with pytest.raises(faces.FacesError, match="beyond any supported chip"):
        faces.solve({k: v + 0.4 for k, v in means.items()})
    assert faces.face_of(np.array([0.7, 0.7, 0.1])) is None       # on an edge, not a face


def test_slow_raises_give_the_axis_and_the_range():
    sim = simulate_calibration(3, chip="ideal", foot_cm=26.0, peak_deg=30.0)
    b, truth = sim.block, sim.truth
    level = b.accel_g[b.t < 2.0].mean(axis=0)
    windows = [b[int(np.searchsorted(b.t, r.start_s - 0.5)):
                 int(np.searchsorted(b.t, r.end_s + 0.5))] for r in truth.reps]
    got = raises.fit(level, windows)
    mounted = np.asarray(truth.meta["mount_rotation"])
    assert _angle_deg(np.abs(got.axis), np.abs(mounted @ [0.0, 1.0, 0.0])) < 0.5
    np.testing.assert_allclose(got.peaks_deg, [r.peak_deg for r in truth.reps], atol=0.5)
    assert got.spread_deg < 2.0


@pytest.mark.parametrize("size, cm", [("EU 42", 26.5), ("42", 26.5), ("UK 8", 26.25),
                                      ("US 9", 26.25), ("us 8w", 24.55), ("270mm", 27.0)])
def test_shoe_sizes_become_foot_lengths(size, cm):
    assert shoe.foot_cm(size) == pytest.approx(cm, abs=0.01)
    assert shoe.lever_cm(cm) == pytest.approx(0.73 * cm)


def test_a_standing_is_held_to_its_own_chips_datasheet():
    sim = simulate_calibration(4, chip="mpu6050", gyro=True)
    still = standing.measure(sim.block[: int(np.searchsorted(sim.block.t, 2.5))])
    assert standing.check(still, "MPU-6050") == []
    # the same readings claimed to be an LSM6DSOX's: far too noisy, gravity off
    kinds = {f.kind for f in standing.check(still, "lsm6dsox")}
    assert "noise" in kinds
    quiet = sim.block[:250]
    loose = SampleBlock(quiet.t, quiet.accel_g  # rattling: 15 mg of scatter, 5x the chip's
                        + np.random.default_rng(2).normal(0, 0.015, (250, 3)))
    assert [f.kind for f in standing.check(standing.measure(loose), "mpu6050")] == ["noise"]


def test_clipping_at_full_scale_is_counted():
    t = np.arange(100) / 100.0
    a = np.tile([0.0, 0.0, 1.0], (100, 1))
    assert standing.clipped(SampleBlock(t, a)) == 0
    a[40:44, 0] = 1.99994        # a knock held at the +2 g rail for four samples
    assert standing.clipped(SampleBlock(t, a)) == 3


# --- the guided flow on recordings, through the command ----------------------------------

def test_calibrating_from_a_recording_gives_the_sensor_and_heights_within_the_bar(
        person, capsys):
    folder, session, cal = person
    out = folder / "cal.json"
    assert main(["calibrate", str(folder / "calibration.csv"), "--faces", "--shoe-size",
                 f"EU {round(1.5 * (session.truth.meta['foot_cm'] + 1.5))}",
                 "--chip", "mpu6050", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "Six faces: offsets" in said and "raise 3:" in said and "warning" not in said
    calibration = load_calibration(out)
    np.testing.assert_allclose(calibration.accel_offset_g, cal.truth.meta["accel_offset_g"],
                               atol=2e-3)
    np.testing.assert_allclose(calibration.accel_scale, cal.truth.meta["accel_scale"],
                               atol=2e-3)
    assert calibration.typical_peak_deg == pytest.approx(session.truth.meta["peak_deg"],
                                                         abs=2.0)
    assert main(["analyze", str(folder / "session.csv"), "--calibration", str(out),
                 "--json"]) == 0
    reps = json.loads(capsys.readouterr().out)["reps"]
    assert len(reps) == len(session.truth.reps)
    errors = [abs(r["height_cm"] - t.height_cm) for r, t in zip(reps, session.truth.reps,
                                                                 strict=True)]
    assert max(errors) < 0.8


def test_check_says_whether_a_file_still_fits_the_sensor(person, tmp_path, capsys):
    folder, _, _ = person
    cal = tmp_path / "cal.json"
    assert main(["calibrate", str(folder / "calibration.csv"), "--faces", "--out",
                 str(cal)]) == 0
    capsys.readouterr()
    assert main(["calibrate", "--check", str(cal), str(folder / "session.csv")]) == 0
    assert "fits: standing" in capsys.readouterr().out
    # clipped on again, turned 10 degrees: the file no longer fits
    again = simulate(2, SEED, n_sets=1, walking=False, gyro=True).block
    moved, _ = perturb.rotate(again, _tilt(again, 10.0))
    write_recording(tmp_path / "moved.csv", moved)
    assert main(["calibrate", "--check", str(cal), str(tmp_path / "moved.csv")]) == 1
    said = capsys.readouterr().out
    turned = re.search(r"does not fit: the sensor sits ([\d.]+) deg differently", said)
    assert turned and float(turned.group(1)) == pytest.approx(10.0, abs=0.5), said
    assert f"calibrate again: heelraise calibrate --out {cal}" in said


def test_quick_raises_are_not_counted_and_the_command_says_why(tmp_path, capsys):
    path = tmp_path / "quick.csv"
    write_recording(path, simulate(3, 5, n_sets=1, walking=False, fast_fraction=1.0).block)
    assert main(["calibrate", str(path), "--out", str(tmp_path / "cal.json")]) == 2
    captured = capsys.readouterr()
    assert "Not counted" in captured.out and "quick" in captured.out
    err = captured.err.strip()
    assert err == (f"heelraise: {path}: found 0 of 3 slow, full raises: record standing "
                   "still, then the raises; no calibration written")
    assert not (tmp_path / "cal.json").exists()


def test_a_sensor_that_shifts_on_the_shoe_is_warned_about(tmp_path, capsys):
    sim = simulate_calibration(6, foot_cm=25.0, peak_deg=28.0)
    b, end = sim.block, sim.truth.reps[-1].end_s + 0.3
    after = b.t > end
    turned, _ = perturb.rotate(b[int(np.argmax(after)):], _tilt(b, 6.0))
    path = tmp_path / "shifted.csv"
    write_recording(path, SampleBlock.concat([b[: int(np.argmax(after))], turned]))
    assert main(["calibrate", str(path), "--out", str(tmp_path / "cal.json")]) == 0
    moved = re.search(r"warning: standing level moved ([\d.]+) deg during the raises: the "
                      "sensor shifted on the shoe", capsys.readouterr().out)
    assert moved and float(moved.group(1)) == pytest.approx(6.0, abs=0.5)


@pytest.mark.parametrize("args, fault", [
    (["--shoe-size", "huge"], "calibrate: shoe size 'huge': give it like EU 42"),
    (["--shoe-size", "EU 90"], "is a 58.5 cm foot"),
    (["--check", "x.json"], "give --out FILE to calibrate, or --check FILE"),
])
def test_bad_options_are_one_line(tmp_path, capsys, args, fault):
    argv = ["calibrate", "--source", "simulator", *args]
    if "--check" not in args:
        argv += ["--out", str(tmp_path / "cal.json")]
    else:
        argv += ["--out", str(tmp_path / "also.json")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert fault in err and "\n" not in err


def test_a_recording_with_no_standing_cannot_calibrate():
    walk = simulate(2, 3, walking=True)
    w = walk.truth.walking[0]
    block = walk.block[int(np.searchsorted(walk.block.t, w.start_s)):
                       int(np.searchsorted(walk.block.t, w.end_s))]
    guide = GuidedCalibration()
    guide.feed(block)
    with pytest.raises(CalibrationError, match="no still standing found"):
        guide.finish()


# --- live: the wired sensor and the wireless clip-on --------------------------------------

@pytest.fixture(scope="module")
def movement() -> tuple[np.ndarray, object]:
    """A person's calibration as the sensor feels it (g, deg/s) at 100 Hz, and its truth."""
    sim = simulate_calibration(8, chip="ideal", gyro=True, foot_cm=27.0, peak_deg=32.0)
    return np.hstack([sim.block.accel_g, sim.block.gyro_dps]), sim.truth


def _check_learned(guide: GuidedCalibration, truth) -> None:
    assert guide.done
    c = guide.calibration
    mounted = np.asarray(truth.meta["mount_rotation"])
    assert _angle_deg(c.baseline_g, mounted @ [0.0, 0.0, 1.0]) < 0.5
    assert _angle_deg(np.abs(c.raise_axis), np.abs(mounted @ [0.0, 1.0, 0.0])) < 1.0
    assert c.typical_peak_deg == pytest.approx(32.0, abs=2.5)


def test_the_wired_sensor_is_calibrated_live(movement):
    from pi_service.sources.i2c import I2CSource

    rows, truth = movement
    clock = FakeClock()
    bus = FakeBus(clock)
    chip = bus.attach(0x68, FakeMPU6050(TableMotion([tuple(r) for r in rows], 100.0)))
    said: list[str] = []
    guide = GuidedCalibration(lever_cm=shoe.lever_cm(27.0))
    with I2CSource(bus, chip="mpu6050", clock=clock, sleep=clock.sleep) as source:
        blocks = itertools.takewhile(lambda _: chip.samples_made < len(rows),
                                     from_source(source, said.append))
        guide_through(guide, blocks, said.append)
    _check_learned(guide, truth)
    assert guide.chip_name == "mpu6050"          # held to its datasheet
    assert said[-1].startswith("Calibrated: raises of")


def test_the_wireless_clip_on_is_calibrated_live(broker, movement):
    from clip_rig import DEVICE, need_micropython, run_clip

    from pi_service.sources.wireless.source import WirelessSource

    need_micropython()
    rows, truth = movement
    said: list[str] = []
    guide = GuidedCalibration(lever_cm=shoe.lever_cm(27.0))
    with WirelessSource(DEVICE, broker.host, broker.port, poll_s=0.05) as source:
        assert wait_until(source._client.is_connected, 5)
        worker = threading.Thread(target=guide_through, daemon=True,
                                  args=(guide, from_source(source, said.append), said.append))
        worker.start()
        run_clip(broker, motion=rows, events=[[len(rows) / 100 + 1, "stop"]])
        assert wait_until(lambda: guide.done, 20), said
        source.close()
        worker.join(5)
    _check_learned(guide, truth)
    assert guide.chip_name == "MPU-6050"          # from the clip-on's own status


def test_the_service_keeps_the_six_face_correction_when_it_starts_a_new_pipeline(
        person, tmp_path, capsys):
    """A stage command starts a new pipeline from what the old one learnt, which is in
    corrected readings: the file's correction must go on with it, or every reading after
    the command would be measured uncorrected against a corrected level."""
    from pi_service.config import ServiceConfig
    from pi_service.feedback import FeedbackConfig, open_feedback
    from pi_service.payloads import Command
    from pi_service.service import Service

    folder, session, _ = person
    cal = tmp_path / "cal.json"
    assert main(["calibrate", str(folder / "calibration.csv"), "--faces", "--out",
                 str(cal)]) == 0
    stage = load_stage(2)
    feedback = open_feedback(FeedbackConfig.from_dict({"enabled": False}, "test"), stage)
    service = Service(ServiceConfig(calibration=str(cal)), stage, feedback, None, None, "test")
    reps = [e for b in session.block[:3000].split(10) for e in service._feed(b)]
    assert service.pipeline.calibration is not None
    service.command(Command("stage", 3))
    service._apply_commands()
    given = service.pipeline._given
    assert given.accel_offset_g == load_calibration(cal).accel_offset_g
    assert given.raise_axis == pytest.approx(load_calibration(cal).raise_axis, abs=0.02)
    assert reps


def test_the_six_face_correction_is_applied_to_every_reading_of_a_session():
    """An accelerometer 80 mg off and 4 % out on each axis (an ideal one, bent): with its
    six faces calibrated, heights are as an ideal sensor's; uncorrected, ~0.7 cm off."""
    offset, scale = np.array([0.08, -0.08, 0.08]), np.array([1.04, 0.96, 1.03])

    def bent(b: SampleBlock) -> SampleBlock:
        return SampleBlock(b.t, b.accel_g * scale + offset, b.gyro_dps)

    session = simulate(2, SEED, chip="ideal", n_sets=1, walking=False)
    meta = session.truth.meta
    cal = simulate_calibration(SEED, chip="ideal", foot_cm=meta["foot_cm"],
                               peak_deg=meta["peak_deg"], faces=True)
    guide = GuidedCalibration(lever_cm=shoe.lever_cm(meta["foot_cm"]), faces=True)
    guide.feed(bent(cal.block))
    assert guide.done
    np.testing.assert_allclose(guide.calibration.accel_offset_g, offset, atol=2e-3)
    reps = analyze(bent(session.block).split(10), load_stage(2), guide.calibration).reps
    assert len(reps) == len(session.truth.reps)
    errors = [abs(r.height_cm - t.height_cm) for r, t in zip(reps, session.truth.reps,
                                                             strict=True)]
    assert max(errors) < 0.1
