"""Pitch and calibration: any mounting, self-calibration, calibration files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from calibration.file import load_calibration, save_calibration
from pi_service.errors import HeelRaiseError, InputError
from pi_service.pipeline import Calibration, CalibrationError, Pipeline, analyze
from pi_service.pipeline.pitch import PitchTracker
from pi_service.sources.simulator import simulate
from pi_service.stages import load_stage


def _pitch(sim):
    tracker = PitchTracker()
    parts = [out for block in sim.block.split(10) if (out := tracker.feed(block))]
    t = np.concatenate([p[0] for p in parts])
    return t, np.concatenate([p[1] for p in parts]), tracker


@pytest.mark.parametrize("mount", ["laces", "heel"])
def test_pitch_follows_the_foot_for_any_mounting(mount):
    sim = simulate(3, 2, 100.0, "lsm6dsox", mount, walking=False, n_sets=1, heel_drop=True)
    t, pitch, _ = _pitch(sim)
    true = np.interp(t, sim.block.t, sim.pitch_deg)
    delay_s = 0.08   # the low-pass lags slow movements by about this much
    lagged = np.interp(t - delay_s, sim.block.t, sim.pitch_deg)
    assert np.median(np.abs(pitch - lagged)) < 1.0
    raised = true > 20
    assert np.all(pitch[raised] > 10)
    dropped = true < -8
    assert dropped.any() and np.all(pitch[dropped] < -3)


def test_no_still_start_is_a_clear_error():
    sim = simulate(2, 1, 100.0, walking=False, n_sets=1)
    moving = sim.block.t >= sim.truth.reps[0].start_s + 0.5
    block = sim.block[int(np.argmax(moving)):]
    with pytest.raises(CalibrationError, match="no still standing at the start") as info:
        analyze(block, load_stage(2))
    assert isinstance(info.value, HeelRaiseError) and isinstance(info.value, ValueError)


def test_a_stream_too_short_to_calibrate_is_an_error_at_finish():
    sim = simulate(2, 1, 100.0, walking=False, n_sets=1)
    pipeline = Pipeline(load_stage(2))
    assert pipeline.feed(sim.block[:30]) == []
    with pytest.raises(CalibrationError):
        pipeline.finish()


def test_calibration_is_learned_and_lets_a_session_start_moving(tmp_path):
    sim = simulate(2, 1, 100.0, walking=False, n_sets=1)
    first = analyze(sim.block, load_stage(2))
    learned = first.calibration
    assert learned is not None and learned.typical_peak_deg is not None
    assert learned.typical_peak_deg == pytest.approx(sim.truth.meta["peak_deg"], abs=4.0)
    path = tmp_path / "sensor.json"
    save_calibration(learned, path)
    loaded = load_calibration(path)
    assert loaded == learned
    assert Calibration.from_dict(json.loads(path.read_text())) == learned
    # a second session that starts mid-raise needs the calibration
    moving = sim.block.t >= sim.truth.reps[1].start_s - 0.5
    block = sim.block[int(np.argmax(moving)):]
    again = analyze(block, load_stage(2), loaded)
    assert len(again.reps) == len(sim.truth.reps) - 1


def test_a_missing_calibration_file_names_the_file(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        load_calibration(tmp_path / "nope.json")
