"""Pitch for a sensor clipped on any way round: level from a still standing anywhere, the
raise direction from physics, bounded memory, and the real recordings that hold no raise."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest
from real_data import real_recordings
from scipy.spatial.transform import Rotation

from calibration.file import load_calibration, save_calibration
from pi_service.pipeline import Calibration, Pipeline, analyze
from pi_service.pipeline.params import DetectorParams
from pi_service.pipeline.pitch import Frame, PitchTracker
from pi_service.samples import SampleBlock
from pi_service.sources.recording import read_recording
from pi_service.sources.simulator import simulate
from pi_service.stages import load_stage


def _frames(block: SampleBlock) -> tuple[np.ndarray, np.ndarray]:
    tracker = PitchTracker(DetectorParams())
    frames = [f for b in block.split(10) for f in tracker.feed(b) if isinstance(f, Frame)]
    frames += [f for f in tracker.finish() if isinstance(f, Frame)]
    return (np.concatenate([f.t for f in frames]), np.concatenate([f.pitch_deg for f in frames]))


def _count(sim, stage: int | None = None) -> tuple[int, int]:
    stage = stage or sim.truth.meta["stage"]
    result = analyze(sim.block.split(10), load_stage(stage), hold_stage=load_stage(1))
    return len(result.reps), sum(not r.optional for r in sim.truth.reps)


@pytest.mark.parametrize(("mount", "gyro"), [("laces", False), ("heel", False), ("laces", True)])
def test_pitch_follows_the_foot_for_any_mounting(mount, gyro):
    sim = simulate(3, 2, 100.0, "lsm6dsox", mount, walking=False, n_sets=1, heel_drop=True,
                   gyro=gyro)
    t, pitch = _frames(sim.block)
    delay_s = 0.075   # the live low-pass lags slow movements by about this much
    lagged = np.interp(t - delay_s, sim.block.t, sim.pitch_deg)
    assert np.median(np.abs(pitch - lagged)) < 1.0
    assert np.all(pitch[lagged > 20] > 10)
    dropped = lagged < -8
    assert dropped.any() and np.all(pitch[dropped] < -3)


def test_a_stream_that_never_stands_still_has_no_reps_and_says_why():
    sim = simulate(2, 1, 100.0, walking=False, n_sets=1)
    moving = sim.block.t >= sim.truth.reps[0].start_s + 0.5
    keep = moving & (sim.block.t < sim.truth.reps[0].end_s + 0.1)
    result = analyze(sim.block[int(np.argmax(keep)):int(np.flatnonzero(keep)[-1])],
                     load_stage(2))
    assert result.reps == []
    assert [w["kind"] for w in result.warnings] == ["no_standing"]


@pytest.mark.parametrize("start", ["settling", "walking", "mid_set"])
def test_the_first_still_standing_anywhere_calibrates(start):
    """People shift their weight, walk to the step, or the recording starts mid-set."""
    sim = simulate(2, 31, 100.0, gyro=True, n_sets=1, start=start)
    found, true = _count(sim)
    assert found == true > 5


@pytest.mark.parametrize("hang", ["first", "between"])
def test_a_heel_lowered_below_the_step_first_does_not_invert_the_pitch(hang):
    """The first clear movement is a heel drop here: the raises still count, as raises."""
    sim = simulate(3, 12, 100.0, gyro=True, n_sets=1, hang=hang, heel_drop=True)
    result = analyze(sim.block.split(10), load_stage(3))
    assert len(result.reps) == len(sim.truth.reps)
    assert all(r.up_s is None or r.up_s > 0.5 for r in result.reps)    # not "0.0 s up"
    assert all(r.peak_deg > 15 for r in result.reps)


def _pitched(moves: list[tuple[float, float]], rate_hz: float = 100.0) -> SampleBlock:
    """A still accelerometer turned about one axis through minimum-jerk moves
    ``(to_deg, seconds)`` after 3 s standing (a move to where it is: staying there)."""
    parts = [np.zeros(int(3 * rate_hz))]
    for to_deg, seconds in moves:
        tau = np.arange(1, int(seconds * rate_hz) + 1) / int(seconds * rate_hz)
        parts.append(parts[-1][-1] + (to_deg - parts[-1][-1]) * tau**3 * (10 - 15 * tau
                                                                          + 6 * tau**2))
    pitch = np.radians(np.concatenate(parts))
    accel = np.column_stack([np.sin(pitch), 0 * pitch, np.cos(pitch)])
    accel += np.random.default_rng(1).normal(0, 0.002, accel.shape)
    return SampleBlock(np.arange(len(pitch)) / rate_hz, accel, None)


def test_toe_taps_before_the_first_raise_do_not_decide_which_way_is_up():
    """Toes up and down in a quarter second, three times (a fidget), are no small raises:
    taken as votes they turned the pitch over and the first raise was lost."""
    taps = [(-12.0, 0.15), (0.0, 0.12), (0.0, 0.3)] * 3 + [(0.0, 3.0)]
    raises = [(30.0, 2.0), (30.0, 1.0), (0.0, 2.0), (0.0, 2.0)] * 3 + [(0.0, 3.0)]
    result = analyze(_pitched(taps + raises).split(10), load_stage(2))
    assert len(result.reps) == 3 and all(abs(r.peak_deg - 30.0) < 3.0 for r in result.reps)


def test_a_set_under_way_before_the_first_still_second_counts_once_the_foot_rests():
    """A recording started mid-set on a loaded stage: the foot sways between raises and is
    never still for a second until the set ends. Its raises say which way is up as
    well as any later ones, so they count, reported once the level is known."""
    sway = [(2.0, 0.4), (-1.0, 0.4), (0.0, 0.3)]
    raises = ([(30.0, 1.0), (30.0, 0.8), (0.0, 1.0), (0.0, 0.6)] + sway) * 4 + [(0.0, 3.0)]
    block = _pitched(raises)
    block = block[int(3 * 100.0) - 60:]     # of the standing the helper starts with, 0.6 s
    result = analyze(block.split(10), load_stage(2))
    assert len(result.reps) == 4 and all(abs(r.peak_deg - 30.0) < 3.0 for r in result.reps)


def _tilts(moves: list[tuple[float, float, float, bool]], rate_hz: float = 100.0
           ) -> SampleBlock:
    """Accelerometer samples of a foot turned through minimum-jerk moves ``(to_pitch_deg,
    to_roll_deg, seconds, jolt)`` after 3 s standing; ``jolt`` rings 2 g at the move's end
    (a foot landing on a step)."""
    pitch, roll, jolts = [np.zeros(int(3 * rate_hz))], [np.zeros(int(3 * rate_hz))], []
    for to_pitch, to_roll, seconds, jolt in moves:
        n = int(seconds * rate_hz)
        tau = np.arange(1, n + 1) / n
        shape = tau**3 * (10 - 15 * tau + 6 * tau**2)
        pitch.append(pitch[-1][-1] + (to_pitch - pitch[-1][-1]) * shape)
        roll.append(roll[-1][-1] + (to_roll - roll[-1][-1]) * shape)
        if jolt:
            jolts.append(sum(len(p) for p in pitch))
    p, r = np.radians(np.concatenate(pitch)), np.radians(np.concatenate(roll))
    accel = np.column_stack([np.sin(p) * np.cos(r), -np.sin(r), np.cos(p) * np.cos(r)])
    ring = 2.0 * np.exp(-np.arange(8) / 3.0) * np.cos(np.pi * 0.6 * np.arange(8))
    for k in jolts:
        accel[k:k + 8, 2] += ring[:len(accel[k:k + 8])]
    accel += np.random.default_rng(2).normal(0, 0.002, accel.shape)
    return SampleBlock(np.arange(len(p)) / rate_hz, accel, None)


def test_steps_onto_a_box_do_not_turn_the_raise_axis():
    """Step-ups between sets turn the foot about other axes too: they must not pull the
    raise axis off, or every raise after reads too low."""
    raise_ = [(30.0, 0.0, 2.0, False), (30.0, 0.0, 1.0, False), (0.0, 0.0, 2.0, False),
              (0.0, 0.0, 2.0, False)]
    step = [(25.0, 30.0, 0.6, True), (0.0, 0.0, 0.6, True), (0.0, 0.0, 0.8, False)]
    block = _tilts(raise_ * 3 + step * 20 + [(0.0, 0.0, 3.0, False)] + raise_ * 3)
    result = analyze(block.split(10), load_stage(2))
    assert len(result.reps) == 6
    assert all(abs(r.peak_deg - 30.0) < 3.0 for r in result.reps[3:])


def test_a_calibrated_axis_is_not_handed_to_the_first_steps_of_a_session():
    """With the person's calibration the axis is known from the start: a session that
    begins with steps onto a box keeps it, and the raises after read their height."""
    raise_ = [(30.0, 0.0, 2.0, False), (30.0, 0.0, 1.0, False), (0.0, 0.0, 2.0, False),
              (0.0, 0.0, 2.0, False)]
    step = [(25.0, 30.0, 0.6, True), (0.0, 0.0, 0.6, True), (0.0, 0.0, 0.8, False)]
    calibration = analyze(_tilts(raise_ * 3), load_stage(2)).calibration
    block = _tilts(step * 6 + [(0.0, 0.0, 3.0, False)] + raise_ * 3)
    result = analyze(block.split(10), load_stage(2), calibration)
    assert len(result.reps) == 3 and all(abs(r.peak_deg - 30.0) < 3.0 for r in result.reps)


def test_a_foot_tilted_sideways_at_its_top_is_no_raise():
    """A raise turns the foot about the ball of the foot; a movement that tilts it 35 deg
    sideways as it pitches 25 (a step onto a box, a lunge's back foot) is something else,
    however its pitch alone looks."""
    raise_ = [(30.0, 0.0, 2.0, False), (30.0, 0.0, 1.0, False), (0.0, 0.0, 2.0, False),
              (0.0, 0.0, 2.0, False)]
    sideways = [(25.0, 35.0, 1.0, False), (25.0, 35.0, 0.5, False), (0.0, 0.0, 1.0, False),
                (0.0, 0.0, 2.0, False)]
    result = analyze(_tilts(raise_ * 5 + sideways * 3).split(10), load_stage(2))
    assert len(result.reps) == 5 and all(r.start_s < 36.0 for r in result.reps)


@pytest.mark.parametrize("seed", [3, 4])
def test_upside_down_or_on_the_heel_counter_the_direction_comes_out_right(seed):
    rotation = (Rotation.from_euler("z", 40 * seed, degrees=True)
                * Rotation.from_euler("x", 180, degrees=True)).as_matrix()
    sim = simulate(2, seed, 100.0, mount="heel", walking=True, n_sets=1,
                   mount_rotation=rotation)
    result = analyze(sim.block.split(10), load_stage(2))
    assert len(result.reps) == len(sim.truth.reps)
    assert all(r.peak_deg > 15 for r in result.reps)


def test_a_learned_calibration_round_trips_and_lets_a_session_start_moving(tmp_path):
    sim = simulate(2, 1, 100.0, walking=False, n_sets=1)
    learned = analyze(sim.block, load_stage(2)).calibration
    assert learned is not None and learned.typical_peak_deg is not None
    assert learned.typical_peak_deg == pytest.approx(sim.truth.meta["peak_deg"], abs=4.0)
    path = tmp_path / "sensor.json"
    save_calibration(learned, path)
    loaded = load_calibration(path)
    assert loaded == learned
    assert Calibration.from_dict(json.loads(path.read_text())) == learned
    # a session that starts mid-raise, and never stands still, needs the calibration
    moving = sim.block.t >= sim.truth.reps[1].start_s - 0.5
    block = sim.block[int(np.argmax(moving)):]
    again = analyze(block, load_stage(2), loaded)
    assert len(again.reps) == len(sim.truth.reps) - 1


@pytest.mark.parametrize("kind", ["shelf", "fidgeting"])
def test_memory_stays_bounded_while_nobody_exercises(kind):
    """The Pi on the shelf all day: a still sensor, or small movements that decide nothing."""
    rng = np.random.default_rng(2)
    rate, minutes = 100.0, 20
    pipeline = Pipeline(load_stage(2))
    tracemalloc.start()
    peaks = []
    for minute in range(minutes):
        t = minute * 60 + np.arange(int(60 * rate)) / rate
        tilt = np.radians(3.0 * np.sin(2 * np.pi * t / 7.0)) if kind == "fidgeting" else 0 * t
        accel = np.column_stack([np.sin(tilt), 0 * t, np.cos(tilt)])
        accel += rng.normal(0, 0.003, accel.shape)
        for block in SampleBlock(t, accel).split(10):
            pipeline.feed(block)
        peaks.append(tracemalloc.get_traced_memory()[0])
    tracemalloc.stop()
    # what is held after a few minutes does not grow with the time spent waiting
    assert max(peaks[5:]) - peaks[4] < 2_000_000


def test_the_real_recordings_hold_no_raise_and_none_is_refused():
    for path in real_recordings():
        result = analyze(read_recording(path).split(10), load_stage(2))
        assert result.reps == [], path.name
        assert result.holds == [], path.name
