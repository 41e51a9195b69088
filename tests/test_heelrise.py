"""The heel-rise test as a clinician runs it: judged raise by raise against the beat and
the best height, its outcomes and the symmetry between legs, offline from a recording and
guided with a (simulated) person.

The judge's tests feed hand-made raises on a 1 s beat with the first "up" beat at 0 s:
raise k rises on beat 2k and is due back down on beat 2k + 2.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pi_service.errors import InputError
from pi_service.heelrise.guided import GuidedTest
from pi_service.heelrise.judge import Miss, Raise, rise_cm
from pi_service.heelrise.judge import TestEnd as End
from pi_service.heelrise.judge import TestJudge as Judge
from pi_service.heelrise.judge import TestRaise as Judged
from pi_service.heelrise.outcomes import (
    G_MPS2,
    leg_result,
    lsi,
    results_json,
    symmetry,
)
from pi_service.heelrise.protocol import TestProtocol as Protocol
from pi_service.heelrise.protocol import load_test_protocol
from pi_service.sources.heelrise_sim import simulate_guided, simulate_test
from pi_service.sources.recording import write_recording

LEVER_CM = 19.0
PROTOCOL = Protocol()          # the packaged defaults: 60 bpm, half the best of five, ...


def judge(protocol: Protocol = PROTOCOL, **kw) -> Judge:
    return Judge(protocol, first_beat_s=0.0, lever_cm=LEVER_CM, **kw)


def raise_(k: int, *, peak_deg: float = 30.0, late_beats: float = 0.0) -> Raise:
    """Raise k of a person keeping the beat (back down just before its beat), or late."""
    return Raise(2 * k + 0.05 + late_beats, 2 * k + 1.9 + late_beats, peak_deg)


def feed(j: Judge, raises) -> list:
    out = []
    for r in raises:
        out += j.on_raise(r)
    return out


def of(events, kind) -> list:
    return [e for e in events if isinstance(e, kind)]


# -- the judge ----------------------------------------------------------------------------

def test_raises_kept_to_the_beat_are_valid_and_a_person_who_stops_ends_on_pace():
    j = judge()
    events = feed(j, [raise_(k) for k in range(8)])
    assert [e.valid for e in of(events, Judged)] == [True] * 8
    assert not of(events, Miss) and j.end is None
    first = j.on_time(20.0)         # cycle 8 was due back down at 18 s: nothing came
    assert [(m.fault, m.in_a_row) for m in of(first, Miss)] == [("pace", 1)]
    assert j.end is None, "the first miss only prompts"
    events = j.on_time(22.0)        # cycle 9, due at 20 s: the second miss in a row
    assert [(m.fault, m.in_a_row) for m in of(events, Miss)] == [("pace", 2)]
    assert of(events, End) == [j.end] and j.end.reason == "pace"
    assert 20.0 <= j.end.t_s <= 21.0, "the end is placed at the missed beat, not when seen"
    assert len(j.valid) == 8


def test_a_late_raise_prompts_a_second_late_one_in_a_row_ends_the_test():
    j = judge()
    events = feed(j, [raise_(k) for k in range(6)] + [raise_(6, late_beats=0.8)])
    late = of(events, Judged)[-1]
    assert late.fault == "pace" and late.off_beats == pytest.approx(0.7, abs=0.05)
    assert [m.in_a_row for m in of(events, Miss)] == [1] and j.end is None
    events = feed(j, [raise_(7)])                   # back on the beat: the count restarts
    assert of(events, Judged)[0].valid and not of(events, Miss)
    events = feed(j, [raise_(8, late_beats=0.8)])
    assert [m.in_a_row for m in of(events, Miss)] == [1] and j.end is None
    events = feed(j, [raise_(9, late_beats=0.9)])
    assert [m.in_a_row for m in of(events, Miss)] == [2]
    assert j.end is not None and j.end.reason == "pace"
    assert len(j.valid) == 7
    assert feed(j, [raise_(10)]) == [], "nothing is judged after the end"


def test_one_late_raise_is_one_miss_even_when_its_cycle_timed_out_before_it_was_seen():
    """A person a beat behind: raise 6 starts just after raise 7's up beat and ends 0.85
    beats after its own beat; the detector reports it after cycle 6's deadline passed."""
    j = judge()
    feed(j, [raise_(k) for k in range(6)])
    late = Raise(14.06, 14.85, 30.0)                 # cycle 6 was due back down at 14 s
    timed_out = j.on_time(late.end_s + 0.25)         # the report comes ~0.2 s after the end
    assert [m.in_a_row for m in of(timed_out, Miss)] == [1]
    events = j.on_raise(late)
    assert of(events, Judged)[0].cycle == 6 and of(events, Judged)[0].fault == "pace"
    assert not of(events, Miss) and j.end is None, "the same lateness, not a second miss"
    events = feed(j, [raise_(7)])
    assert of(events, Judged)[0].valid and j.end is None


def test_a_raise_a_beat_late_is_its_own_cycles_not_an_early_one_for_the_next():
    """Ending a beat after its own beat, a raise is as near the next cycle's: a person
    falling behind, not one who skipped a cycle and came back early. The test ends on
    the second late raise in a row, at its deadline, not on the first."""
    j = judge()
    feed(j, [raise_(k) for k in range(6)])
    late = Raise(13.15, 15.05, 30.0)                 # cycle 6 was due back down at 14 s
    assert [m.in_a_row for m in of(j.on_time(late.end_s + 0.25), Miss)] == [1]
    judged = of(j.on_raise(late), Judged)[0]
    assert (judged.cycle, judged.fault) == (6, "pace")
    assert judged.off_beats == pytest.approx(1.05)
    assert j.end is None, "one person late once is one miss"
    later = Raise(15.15, 17.0, 30.0)                 # cycle 7, due at 16 s: late again
    events = j.on_time(later.end_s + 0.25) + j.on_raise(later)
    assert [m.in_a_row for m in of(events, Miss)] == [2]
    assert j.end is not None and j.end.reason == "pace"
    assert j.end.t_s == pytest.approx(16.5), "at the missed deadline of cycle 7"


def test_an_early_raise_off_the_beat_misses_too():
    j = judge()
    events = feed(j, [raise_(k) for k in range(5)] + [raise_(5, late_beats=-0.8)])
    assert of(events, Judged)[-1].fault == "pace"
    assert of(events, Miss)[0].in_a_row == 1


def test_a_low_raise_prompts_and_two_in_a_row_end_the_test_on_height():
    j = judge()
    best = rise_cm(LEVER_CM, 30.0)
    low = math.degrees(math.asin(0.4 * best / LEVER_CM))       # 40 % of the best height
    events = feed(j, [raise_(k) for k in range(5)]
                  + [raise_(k, peak_deg=22.0) for k in range(5, 9)]   # tiring, still > half
                  + [raise_(9, peak_deg=low)])
    assert [r.valid for r in of(events, Judged)] == [True] * 9 + [False]
    assert of(events, Judged)[-1].fault == "height"
    assert [(m.fault, m.in_a_row) for m in of(events, Miss)] == [("height", 1)]
    assert j.end is None
    events = feed(j, [raise_(10, peak_deg=22.0), raise_(11, peak_deg=low)])
    assert j.end is None, "a valid raise between two low ones restarts the count"
    events = feed(j, [raise_(12, peak_deg=low)])
    assert of(events, Miss)[-1].in_a_row == 2
    assert j.end.reason == "height"
    assert len(j.valid) == 10


def test_the_bar_is_the_share_of_the_best_of_the_first_five_not_of_a_later_higher_raise():
    j = judge()
    feed(j, [raise_(k, peak_deg=20.0) for k in range(5)] + [raise_(5, peak_deg=45.0)])
    bar = 0.5 * rise_cm(LEVER_CM, 20.0)
    just_above = math.degrees(math.asin(1.1 * bar / LEVER_CM))
    events = feed(j, [raise_(6, peak_deg=just_above)])
    assert of(events, Judged)[0].valid      # below half of 45°, above half of the five


def test_a_clinic_sets_both_thresholds_in_the_data_file(tmp_path):
    packaged = Path(load_test_protocol().path).read_text(encoding="utf-8")
    edited = (packaged.replace("height_share = 0.5", "height_share = 0.8")
              .replace("pace_tolerance_beats = 0.5", "pace_tolerance_beats = 0.25")
              .replace("misses_to_stop = 2", "misses_to_stop = 3"))
    path = tmp_path / "clinic.toml"
    path.write_text(edited)
    clinic = load_test_protocol(path)
    assert (clinic.height_share, clinic.pace_tolerance_beats, clinic.misses_to_stop) == \
        (0.8, 0.25, 3)
    j = judge(clinic)
    best = rise_cm(LEVER_CM, 30.0)
    seventy = math.degrees(math.asin(0.7 * best / LEVER_CM))
    events = feed(j, [raise_(k) for k in range(5)] + [raise_(5, peak_deg=seventy),
                                                      raise_(6, late_beats=0.4),
                                                      raise_(7, peak_deg=seventy)])
    assert [r.fault for r in of(events, Judged)][5:] == ["height", "pace", "height"]
    assert j.end is not None and j.end.reason == "height", "three in a row end it"
    assert judge().on_raise(raise_(0, peak_deg=seventy))[0].valid   # the defaults differ

    path.write_text(edited.replace("height_share = 0.8", "height_share = 3"))
    with pytest.raises(InputError, match=r"clinic\.toml.*height_share"):
        load_test_protocol(path)


def test_raises_before_the_first_beat_are_the_count_in_and_not_judged():
    j = Judge(PROTOCOL, first_beat_s=10.0, lever_cm=LEVER_CM)
    assert j.on_raise(Raise(2.0, 4.0, 30.0)) == []
    assert j.raises == []


# -- outcomes -----------------------------------------------------------------------------

def test_height_is_the_heels_vertical_rise_from_standing_on_the_board():
    assert rise_cm(LEVER_CM, 30.0) == pytest.approx(LEVER_CM * 0.5)
    assert rise_cm(LEVER_CM, 0.0, incline_deg=10.0) == pytest.approx(0.0, abs=1e-9)
    # On a 10° board the standing heel is 10° below the ball: a 30° pitch from there
    # ends 20° above level, the heel having risen L (sin 20° + sin 10°).
    on_board = rise_cm(LEVER_CM, 30.0, incline_deg=10.0)
    assert on_board == pytest.approx(LEVER_CM * (math.sin(math.radians(20))
                                                 + math.sin(math.radians(10))))


def judged_leg(heights_deg, *, stop_late: bool = True) -> Judge:
    j = judge()
    feed(j, [raise_(k, peak_deg=d) for k, d in enumerate(heights_deg)])
    if stop_late:
        n = len(heights_deg)
        feed(j, [raise_(n, late_beats=0.8), raise_(n + 1, late_beats=0.8)])
    return j


def test_a_legs_outcomes_count_only_valid_raises_and_the_work_is_mass_g_heights():
    pitches = [30.0, 31.0, 30.0, 29.0, 30.0, 28.0, 27.0, 26.0, 25.0, 24.0]
    result = leg_result(judged_leg(pitches), "left", body_mass_kg=70.0, calibrated=False)
    heights = [rise_cm(LEVER_CM, d) for d in pitches]
    assert result.valid_reps == 10 and len(result.raises) == 12   # the two late ones too
    assert result.peak_height_cm == pytest.approx(max(heights))
    assert result.total_displacement_cm == pytest.approx(sum(heights))
    assert result.work_j == pytest.approx(70.0 * G_MPS2 * sum(heights) / 100.0)
    assert result.cadence_per_min == pytest.approx(30.0, abs=0.5)    # 60 bpm: 30 a minute
    assert result.on_beat_share == pytest.approx(10 / 12)
    assert result.stop_reason == "pace"
    body = result.to_json()
    assert body["valid_reps"] == 10 and body["stop_reason"] == "pace"
    assert [r["valid"] for r in body["raises"]] == [True] * 10 + [False] * 2

    no_mass = leg_result(judged_leg(pitches), "left", body_mass_kg=None, calibrated=False)
    assert no_mass.work_j is None and no_mass.total_displacement_cm == pytest.approx(
        sum(heights))


def test_a_test_that_has_not_ended_has_no_result():
    with pytest.raises(ValueError, match="not ended"):
        leg_result(judged_leg([30.0] * 6, stop_late=False), "left", 70.0, False)


def test_symmetry_is_involved_over_uninvolved_for_reps_height_and_work():
    healthy = leg_result(judged_leg([30.0] * 20), "left", 70.0, False)
    involved = leg_result(judged_leg([24.0] * 15), "right", 70.0, False)
    sym = symmetry(involved, healthy)
    assert sym["involved"] == "right"
    assert sym["reps_pct"] == pytest.approx(75.0, abs=0.1)
    h = 100 * math.sin(math.radians(24)) / math.sin(math.radians(30))
    assert sym["height_pct"] == pytest.approx(h, abs=0.1)
    assert sym["work_pct"] == pytest.approx(0.75 * h, abs=0.2)     # fewer and lower
    assert sym["work_pct"] < sym["reps_pct"], "work shows what the count hides"
    stored = symmetry(involved.to_json(), healthy.to_json())      # as the log pairs them
    assert {k: pytest.approx(v, abs=0.2) for k, v in sym.items() if k != "involved"} == \
        {k: v for k, v in stored.items() if k != "involved"}
    out = results_json([healthy, involved], PROTOCOL, involved="right")
    assert out["symmetry"] == sym and [leg["leg"] for leg in out["legs"]] == ["left", "right"]
    assert results_json([healthy], PROTOCOL, involved="right")["symmetry"] is None


def test_symmetry_has_no_figure_where_there_is_nothing_to_divide_by():
    assert lsi(10, 0) is None
    assert lsi(None, 20.0) is None           # work without a body mass
    assert lsi(0, 20) == 0.0


def test_norms_apply_on_the_10_degree_incline_only():
    healthy = leg_result(judged_leg([30.0] * 6), "left", 70.0, False)
    out = results_json([healthy], PROTOCOL, involved=None)
    assert out["norms"]["median_reps_men"] == 24 and out["norms"]["median_reps_women"] == 21
    assert out["norms"]["comparable"] is False
    j = judged_leg([30.0] * 6)
    j.incline_deg = 10.0
    on_board = leg_result(j, "left", 70.0, False)
    assert results_json([on_board], PROTOCOL, None)["norms"]["comparable"] is True


# -- offline: `heelraise heel-rise-test --recording FILE --leg L --json` ------------------

def heel_rise_test(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pi_service.cli", "heel-rise-test", "--state-dir", str(cwd),
         *args], capture_output=True, text=True, timeout=60, cwd=cwd,
        env={**os.environ, "GPIOZERO_PIN_FACTORY": "mock", "OPENBLAS_NUM_THREADS": "1"})


@pytest.mark.parametrize("seed, stop, incline", [(3, "height", 0.0), (4, "pace", 10.0)])
def test_a_recorded_test_analysed_offline_prints_its_outcomes_as_json(
        tmp_path, seed, stop, incline):
    sim = simulate_test(seed, stop=stop, incline_deg=incline, reps=14)
    path = tmp_path / "test.csv"
    write_recording(path, sim.block)
    proc = heel_rise_test("--recording", str(path), "--leg", "right", "--body-mass", "70",
                          "--incline", f"{incline:g}", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    (leg,) = out["legs"]
    truth = sim.truth
    assert leg["leg"] == "right" and out["warnings"] == []
    assert abs(leg["valid_reps"] - truth.valid_reps) <= 1, leg
    assert leg["stop_reason"] == truth.stop_reason
    true_peak = max(truth.heights_cm)
    assert abs(leg["peak_height_cm"] - true_peak) < 0.15 * true_peak  # uncalibrated lever
    assert leg["work_j"] == pytest.approx(70 * G_MPS2 * leg["total_displacement_cm"] / 100,
                                          rel=0.01)
    assert leg["cadence_per_min"] == pytest.approx(30, abs=2)
    assert leg["incline_deg"] == incline and leg["calibrated"] is False
    assert sum(r["valid"] for r in leg["raises"]) == leg["valid_reps"]
    assert not any("verdict" in r for r in leg["raises"]), "test raises get no tempo verdict"
    assert abs(leg["stop_s"] - truth.stop_s) <= truth.beat_s + 0.5
    assert out["symmetry"] is None and out["norms"]["comparable"] is (incline == 10.0)


def test_a_simulated_recording_from_the_cli_and_its_truth_agree_with_the_analysis(tmp_path):
    """What a person without a sensor does: simulate a test, then analyse it."""
    path = tmp_path / "t.csv"
    made = subprocess.run(
        [sys.executable, "-m", "pi_service.cli", "simulate", "--heel-rise-test", "--seed", "8",
         "--incline", "10", "--stop", "height", "--out", str(path)],
        capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    truth = json.loads((tmp_path / "t.truth.json").read_text())
    proc = heel_rise_test("--recording", str(path), "--leg", "right", "--body-mass", "72",
                          "--incline", "10", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (leg,) = json.loads(proc.stdout)["legs"]
    assert abs(leg["valid_reps"] - truth["valid_reps"]) <= 1
    assert leg["stop_reason"] == truth["stop_reason"] == "height"
    assert abs(leg["peak_height_cm"] - truth["peak_height_cm"]) < 1.5


def test_offline_without_a_body_mass_reports_no_work_and_says_why(tmp_path):
    sim = simulate_test(5, stop="height", reps=8)
    path = tmp_path / "test.csv"
    write_recording(path, sim.block)
    proc = heel_rise_test("--recording", str(path), "--leg", "left", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["legs"][0]["work_j"] is None and out["legs"][0]["valid_reps"] > 0
    assert any("body mass" in w for w in out["warnings"])


def test_offline_needs_the_leg_and_a_recording_with_a_test(tmp_path):
    path = tmp_path / "still.csv"
    import numpy as np

    from pi_service.samples import SampleBlock

    t = np.arange(0, 20, 0.01)
    write_recording(path, SampleBlock(t, np.tile([0.0, 0.0, 1.0], (len(t), 1))))
    proc = heel_rise_test("--recording", str(path), "--json", cwd=tmp_path)
    assert proc.returncode != 0 and "--leg" in proc.stderr
    proc = heel_rise_test("--recording", str(path), "--leg", "left", cwd=tmp_path)
    assert proc.returncode != 0 and "no heel-rise test" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- guided, with a simulated person ------------------------------------------------------

def test_the_guided_test_leads_a_person_through_both_legs_and_judges_each():
    legs, involved = ["left", "right"], "right"
    block, truths = simulate_guided(7, PROTOCOL, legs, involved, rest_s=20.0)
    said: list[str] = []
    cues: list[str] = []
    test = GuidedTest(PROTOCOL, legs, say=said.append, cue=cues.append, body_mass_kg=70.0,
                      rest_s=20.0)
    for i in range(0, len(block), 10):             # as the sensor delivers it
        test.feed(block[i:i + 10])
        if test.done:
            break
    test.finish()
    assert [r.leg for r in test.results] == legs
    for result, truth in zip(test.results, truths, strict=True):
        assert abs(result.valid_reps - truth.valid_reps) <= 1, (result.leg, truth.valid_reps)
        assert result.stop_reason == truth.stop_reason
        assert abs(result.stop_s - truth.stop_s) <= truth.beat_s + 0.5
    text = "\n".join(said)
    assert "Warm-up: 10 raises" in text and "Rest 20 s before the right leg" in text
    assert "Now the LEFT leg" in text and "Now the RIGHT leg" in text
    assert {"beat_up", "beat_down", "test_end", "rest_over"} <= set(cues)
    assert cues.count("test_end") == 2
    first_end = cues.index("test_end")
    assert "test_prompt" in cues[:first_end], "the first miss prompts before the end"
    assert "too_fast" not in text and "verdict" not in text     # no tempo verdicts
    sym = results_json(test.results, PROTOCOL, involved)["symmetry"]
    assert sym["involved"] == "right" and sym["reps_pct"] < 100 and sym["work_pct"] < 100


def test_a_leg_the_sensor_never_learnt_its_place_on_is_not_measured_not_a_zero():
    """Standing still the whole time: the detector never learns which way is heel-up."""
    import numpy as np

    from pi_service.samples import SampleBlock

    t = np.arange(0, 60, 0.01)
    still = SampleBlock(t, np.tile([0.0, 0.0, 1.0], (len(t), 1)))
    said: list[str] = []
    test = GuidedTest(PROTOCOL, ["left"], say=said.append, warm_up=False)
    for i in range(0, len(still), 10):
        test.feed(still[i:i + 10])
    test.finish()
    assert test.results == [] and test.unmeasured == ["left"]
    assert any("not measured" in s and "--leg left" in s for s in said)
