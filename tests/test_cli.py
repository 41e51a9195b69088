"""The ``heelraise`` command as a person uses it: files in, a table or JSON out, one-line errors."""

from __future__ import annotations

import json

import pytest

from pi_service.cli import main
from pi_service.sources.simulator import simulate, write_simulation


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "stage2.csv"
    sim = simulate(2, seed=11, rate_hz=100, n_sets=2, walking=False)
    write_simulation(path, sim)
    return path, sim.truth


def test_analyze_json_has_the_design_shape_and_finds_the_reps(session, capsys):
    path, truth = session
    assert main(["analyze", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"reps", "partials", "holds", "sets", "gaps", "warnings"} == set(result)
    assert len(result["reps"]) == len(truth.reps)
    rep = result["reps"][0]
    for key in ("start_s", "top_s", "lower_s", "end_s", "up_s", "hold_s", "down_s",
                "peak_deg", "bottom_deg", "verdict"):
        assert key in rep
    assert rep["up_s"] == pytest.approx(truth.reps[0].up_s, abs=0.4)
    assert [s["reps"] for s in result["sets"]] == [s.reps for s in truth.sets]


def test_analyze_table_lists_each_rep_with_its_verdict(session, capsys):
    path, truth = session
    assert main(["analyze", str(path), "--stage", "3"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert len(lines) == len(truth.reps)
    assert "set 1:" in out


def test_calibrate_then_analyze_with_the_calibration(session, tmp_path, capsys):
    path, truth = session
    cal = tmp_path / "cal.json"
    assert main(["calibrate", str(path), "--out", str(cal)]) == 0
    assert f"calibration written to {cal}" in capsys.readouterr().out
    assert main(["analyze", str(path), "--calibration", str(cal), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["reps"]) == len(truth.reps)


@pytest.mark.parametrize("content, fault", [
    ("t,ax,ay\n0,0,0\n", "missing column"),
    ("t,ax,ay,az\n0,0,0,1\n0.01,0,x,1\n", ":3: column 'ay'"),
    ("t,ax,ay,az\n0,0,0,1\n0.01,0,0,1\n0.005,0,0,1\n", "backwards"),
    ("", "empty"),
    ("t,ax,ay,az\n" + "".join(f"{i / 100},0,0,9.81\n" for i in range(60)), "m/s"),
])
def test_bad_recordings_give_one_line_naming_file_and_fault(tmp_path, capsys, content, fault):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert main(["analyze", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(path) in err
    assert fault in err


def test_recording_that_never_stands_still_has_no_reps_and_says_why(tmp_path, capsys):
    walk = simulate(2, seed=3, walking=True)
    start = next(w.start_s for w in walk.truth.walking)
    block = walk.block
    keep = (block.t >= start) & (block.t <= next(w.end_s for w in walk.truth.walking))
    from pi_service.samples import SampleBlock
    from pi_service.sources.recording import write_recording

    path = tmp_path / "moving.csv"
    write_recording(path, SampleBlock(block.t[keep], block.accel_g[keep]))
    assert main(["analyze", str(path), "--json"]) == 0       # no reps is the answer
    result = json.loads(capsys.readouterr().out)
    assert result["reps"] == [] and [w["kind"] for w in result["warnings"]] == ["no_standing"]
    assert main(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    assert "no still standing found" in out and "no reps found" in out


def test_a_file_with_unreadable_values_is_analysed_and_says_what_it_dropped(tmp_path, capsys):
    sim = simulate(2, seed=11, rate_hz=100, n_sets=1, walking=False)
    import numpy as np

    from pi_service.sources.perturb import spikes
    from pi_service.sources.recording import write_recording
    path = tmp_path / "spiky.csv"
    write_recording(path, spikes(sim.block, np.random.default_rng(1), 3, "huge"))
    assert main(["analyze", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["reps"]) == len(sim.truth.reps)
    [warning] = result["warnings"]
    assert warning["kind"] == "bad_samples" and warning["count"] == 3


def test_a_file_with_a_sensor_reading_all_zeros_drops_them_without_a_warning_on_stderr(
        tmp_path, capsys):
    # an MPU-6050 asleep after a brown-out reads 0, 0, 0 until it is set up again
    import dataclasses

    from pi_service.sources.recording import write_recording
    sim = simulate(2, seed=11, rate_hz=100, n_sets=1, walking=False)
    accel = sim.block.accel_g.copy()
    first = sim.truth.reps[0].start_s
    quiet = (sim.block.t > first - 1.6) & (sim.block.t < first - 1.5)
    accel[quiet] = 0.0
    path = tmp_path / "zeros.csv"
    write_recording(path, dataclasses.replace(sim.block, accel_g=accel))
    assert main(["analyze", str(path), "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert len(result["reps"]) == len(sim.truth.reps)
    [warning] = result["warnings"]
    assert warning["kind"] == "bad_samples" and warning["count"] == int(quiet.sum())
    assert "RuntimeWarning" not in captured.err


def test_simulate_writes_the_recording_and_its_truth(tmp_path, capsys):
    out = tmp_path / "s.csv.gz"
    assert main(["simulate", "--stage", "1", "--out", str(out), "--seed", "4"]) == 0
    truth = json.loads((tmp_path / "s.truth.json").read_text())
    assert truth["holds"] and out.stat().st_size > 1000


def test_demo_plays_a_session_live_and_summarises(capsys):
    assert main(["demo", "--speed", "100000", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "rep   1" in out and "session:" in out


def test_guided_calibration_on_the_live_sensor_writes_a_usable_file(tmp_path, capsys):
    out = tmp_path / "sensor.json"
    assert main(["calibrate", "--source", "simulator", "--seed", "11", "--speed", "100000",
                 "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "Stand still" in said and "raise 3:" in said
    from calibration import load_calibration

    calibration = load_calibration(out)
    peak = simulate(2, seed=11).truth.meta["peak_deg"]
    assert calibration.typical_peak_deg == pytest.approx(peak, abs=4.0)


def test_an_isometric_session_lists_each_hold_against_30_to_45_s(tmp_path, capsys):
    path = tmp_path / "stage1.csv"
    sim = simulate(1, seed=3)
    write_simulation(path, sim)
    assert main(["analyze", str(path), "--stage", "1"]) == 0
    holds = [line for line in capsys.readouterr().out.splitlines() if line.startswith("hold:")]
    assert len(holds) == len(sim.truth.holds)
    for line, true in zip(holds, sim.truth.holds, strict=True):
        expected = "ok" if 30 <= true.hold_s <= 45 else "too "
        assert expected in line.split("(")[-1]
