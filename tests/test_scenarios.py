"""Scenarios: each condition issue 7 names, checked against physics and its own truth.

A wrong simulator makes every accuracy figure wrong, so these tests measure the
samples with methods that do not share the script's code (integrated gyro, gravity
direction, |a| statistics) and check them against the figures the scenario claims.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import cumulative_trapezoid

from pi_service.sources.activities import ACTIVITIES, LOCOMOTION
from pi_service.sources.simulator import SHAPES, simulate, simulate_activities
from pi_service.stages import load_stage

EYE = np.eye(3)


def _pitch_from_gravity(accel_g: np.ndarray) -> np.ndarray:
    """Heel-up angle of a sensor mounted with its axes on the foot's (mount_rotation = I)."""
    return np.degrees(np.arctan2(-accel_g[:, 0], np.hypot(accel_g[:, 1], accel_g[:, 2])))


def _between(t: np.ndarray, a: float, b: float) -> np.ndarray:
    return (t >= a) & (t <= b)


def _magnitude(sim) -> np.ndarray:
    return np.linalg.norm(sim.block.accel_g, axis=1)


@pytest.fixture(scope="module")
def fast():
    return simulate(2, 21, 200.0, "ideal", "laces", gyro=True, mount_rotation=EYE,
                    fast_fraction=1.0, heel_drop=False, walking=False, n_sets=1)


def test_integrated_gyro_equals_the_scripted_pitch_for_every_shape_and_tempo():
    """The gyro is the derivative of the pitch the script wrote, whatever the stroke shape."""
    sim = simulate(3, 4, 100.0, "ideal", gyro=True, mount_rotation=EYE, walking=False,
                   n_sets=1, shapes=SHAPES, fast_fraction=0.3, mocap_fraction=0.3)
    t, rate = sim.block.t, sim.block.gyro_dps[:, 1]
    assert {r.style for r in sim.truth.reps} == {"tempo", "fast", "mocap"}
    for rep in sim.truth.reps:
        inside = np.flatnonzero(_between(t, rep.start_s - 0.05, rep.end_s + 0.05))
        # integrate each stretch the sensor clock did not drop samples in
        for piece in np.split(inside, np.flatnonzero(np.diff(t[inside]) > 0.015) + 1):
            angle = cumulative_trapezoid(rate[piece], t[piece], initial=0.0)
            np.testing.assert_allclose(angle, sim.pitch_deg[piece] - sim.pitch_deg[piece][0],
                                       atol=0.5)


def test_fast_raises_move_like_real_rushed_ones(fast):
    """0.3-0.5 s, 40-60° of rotation (integrated gyro), 140-260 °/s, |a| 0.6-1.25 g on the
    laces (public foot-IMU recordings), a thud when the heel lands; labelled rushed."""
    t, rate, magnitude = fast.block.t, fast.block.gyro_dps[:, 1], _magnitude(fast)
    stage = load_stage(2)
    assert len(fast.truth.reps) >= 10
    previous_end, checked = -1.0, 0
    for rep in fast.truth.reps:
        assert rep.style == "fast" and rep.fast and rep.landing
        assert rep.rushed_up and rep.rushed_down
        assert rep.up_s < stage.min_up_s and 0.3 <= rep.up_s <= 0.5
        rise = _between(t, rep.start_s, rep.top_s)
        rebound, previous_end = rep.start_s - previous_end < 0.3, rep.end_s
        if rebound:     # rising again while the last landing still rings: |a| is the thud's
            continue
        checked += 1
        turned = np.trapezoid(rate[rise], t[rise])
        assert 38.0 <= turned <= 62.0
        assert 130.0 <= np.max(rate[rise]) <= 300.0
        assert np.min(magnitude[rise]) < 0.9 and np.max(magnitude[rise]) > 1.1
        assert 0.45 < np.min(magnitude[rise]) and np.max(magnitude[rise]) < 1.6
        thud = _between(t, rep.end_s, rep.end_s + 0.08)
        assert np.max(magnitude[thud]) > 1.5
        # the lowering is stopped by the floor, not slowed by the calf
        assert np.min(rate[_between(t, rep.end_s - 0.03, rep.end_s - 0.005)]) < -100.0
    assert checked >= len(fast.truth.reps) // 2


def test_motion_captured_raises_cover_10_to_90_percent_in_013_to_022_s():
    sim = simulate(3, 5, 200.0, "ideal", walking=False, n_sets=1, mocap_fraction=1.0)
    t, pitch = sim.block.t, sim.pitch_deg
    for rep in sim.truth.reps:
        rise = _between(t, rep.start_s, rep.top_s)
        p = (pitch[rise] - rep.base_deg) / (rep.peak_deg - rep.base_deg)
        crossing = np.interp([0.1, 0.9], p, t[rise])
        assert 0.12 <= crossing[1] - crossing[0] <= 0.23
        assert rep.rushed_up and rep.fast == (rep.up_s < 0.5)


def test_the_heel_hangs_below_the_step_before_the_first_raise_and_between_reps():
    first = simulate(2, 6, 100.0, "ideal", mount_rotation=EYE, walking=False, n_sets=2,
                     heel_drop=False, hang="first")
    t, gravity_pitch = first.block.t, _pitch_from_gravity(first.block.accel_g)
    hangs = [f for f in first.truth.fidgets if f.kind == "heel_hang"]
    assert len(hangs) == 2
    for hang, a_set in zip(hangs, first.truth.sets, strict=True):
        opener = next(r for r in first.truth.reps if r.start_s >= a_set.start_s)
        assert hang.end_s == pytest.approx(opener.start_s)
        held = _between(t, hang.end_s - 1.0, hang.end_s)
        assert -21.0 < np.median(gravity_pitch[held]) < -7.0
        assert opener.base_deg == pytest.approx(np.median(gravity_pitch[held]), abs=0.5)
    assert all(r.base_deg == 0.0 for r in first.truth.reps if r not in (
        next(r for r in first.truth.reps if r.start_s >= s.start_s) for s in first.truth.sets))

    between = simulate(3, 6, 100.0, "ideal", mount_rotation=EYE, walking=False, n_sets=1,
                       hang="between")
    t, gravity_pitch = between.block.t, _pitch_from_gravity(between.block.accel_g)
    reps = between.truth.reps
    for before, after in zip(reps[:-1], reps[1:], strict=True):
        resting = _between(t, before.end_s + 0.1, after.start_s - 0.1)
        if resting.any():
            assert np.max(gravity_pitch[resting]) < -7.0
        assert after.base_deg == pytest.approx(before.bottom_deg)
        assert before.down_s == pytest.approx(before.end_s - before.lower_s)


def test_streams_start_settling_walking_hanging_or_mid_set():
    settling = simulate(2, 7, 100.0, "ideal", gyro=True, walking=False, n_sets=1,
                        start="settling")
    t, gyro = settling.block.t, np.linalg.norm(settling.block.gyro_dps, axis=1)
    assert np.max(gyro[t < 2.0]) > 2.0          # not still in its first seconds ...
    first_rep = settling.truth.reps[0].start_s
    still = (gyro < 0.5) & (t < first_rep)     # ... but still for a while before the set
    assert np.sum(still) / 100.0 > 2.0

    walking = simulate(2, 7, 100.0, "ideal", gyro=True, n_sets=1, start="walking")
    assert walking.truth.walking[0].start_s == 0.0
    assert np.max(np.linalg.norm(walking.block.gyro_dps[walking.block.t < 1.0], axis=1)) > 50

    hanging = simulate(3, 7, 100.0, "ideal", mount_rotation=EYE, walking=False, n_sets=1,
                       start="hanging")
    depth = hanging.truth.meta["hang_deg"]
    assert 8.0 <= depth <= 20.0
    assert np.median(_pitch_from_gravity(hanging.block.accel_g[:100])) == pytest.approx(
        -depth, abs=0.5)
    assert hanging.truth.reps[0].base_deg == pytest.approx(-depth, abs=0.5)

    mid = simulate(2, 7, 100.0, walking=False, n_sets=2, start="mid_set")
    whole = simulate(2, 7, 100.0, walking=False, n_sets=2)
    t0 = mid.block.t[0]
    assert whole.truth.sets[0].start_s < t0 < whole.truth.sets[0].end_s
    kept = [r for r in whole.truth.reps if r.end_s > t0]
    assert len(mid.truth.reps) == len(kept)
    cut = [r for r in mid.truth.reps if r.optional]
    assert len(cut) == sum(r.start_s < t0 for r in kept) <= 1
    assert mid.truth.sets[0].reps + mid.truth.sets[0].optional == sum(
        r.end_s <= whole.truth.sets[0].end_s for r in kept)


def test_a_stage_1_stream_can_start_at_the_top_of_a_hold():
    sim = simulate(1, 3, 50.0, n_sets=2, start="mid_hold")
    first = sim.truth.holds[0]
    assert first.optional and not first.known
    assert first.start_s < sim.block.t[0] < first.end_s - 4.0
    assert (sim.truth.sets[0].holds, sim.truth.sets[0].optional) == (0, 1)
    assert (sim.truth.sets[1].holds, sim.truth.sets[1].optional) == (1, 0)
    assert sim.pitch_deg[0] > 15.0


def test_knocks_hit_mid_hold_and_leave_the_rep_in_place():
    sim = simulate(4, 8, 200.0, "ideal", mount_rotation=EYE, walking=False, n_sets=1,
                   knock_fraction=1.0)
    t, magnitude = sim.block.t, _magnitude(sim)
    assert len(sim.truth.knocks) == len(sim.truth.reps)
    for knock, rep in zip(sim.truth.knocks, sim.truth.reps, strict=True):
        assert rep.top_s < knock.t_s < rep.lower_s
        assert np.max(np.abs(magnitude[_between(t, knock.t_s, knock.t_s + 0.05)] - 1)) > 0.7
        settled = _between(t, knock.t_s + 0.3, rep.lower_s)
        if settled.any():
            assert np.median(sim.pitch_deg[settled]) == pytest.approx(rep.peak_deg, abs=1.5)


@pytest.mark.parametrize("kind", sorted(ACTIVITIES))
def test_activities_have_no_raise_and_move_like_themselves(kind):
    sim = simulate_activities([kind], 9, 200.0, "ideal", gyro=True, mount_rotation=EYE)
    t, magnitude, truth = sim.block.t, _magnitude(sim), sim.truth
    assert not truth.reps and not truth.sets
    [negative] = [n for n in truth.negatives if n.kind == kind]
    inside = _between(t, negative.start_s, negative.end_s)
    assert np.all(magnitude[t < negative.start_s - 0.1] == pytest.approx(1.0, abs=0.01))
    assert abs(sim.pitch_deg[-1]) < 0.5                 # ends standing flat
    airborne = magnitude[inside] < 0.15
    if kind in ("hops", "jumps", "landings"):           # free fall in flight ...
        assert np.sum(airborne) / 200.0 > 0.12
        assert np.max(magnitude[inside]) > 3.0           # ... and landing impacts
    else:
        assert np.sum(airborne) / 200.0 < 0.05
    if kind in ("squats", "sit_to_stand"):               # the foot stays (nearly) flat
        assert np.max(sim.pitch_deg) < 8.0
    elif kind in ("walk", "run", "stairs_up", "stairs_down", "step_ups", "lunges"):
        assert np.max(magnitude[inside]) > 1.8           # strikes, swings
        assert np.max(sim.pitch_deg[inside]) > 12.0      # heel-up as fast as a raise, yet none
    if kind == "run":
        assert np.max(magnitude[inside]) > 4.0


def test_a_session_of_locomotion_never_stands_still():
    sim = simulate_activities(LOCOMOTION, 10, 100.0, gyro=True, standing=False)
    t, gyro = sim.block.t, np.linalg.norm(sim.block.gyro_dps, axis=1)
    assert t[0] > 0.05
    for start in np.arange(t[0], t[-1] - 1.0, 0.5):
        assert np.max(gyro[_between(t, start, start + 1.0)]) > 20.0
    with pytest.raises(ValueError, match="stands still"):
        simulate_activities(["squats"], 1, standing=False)


def test_activities_between_sets_are_negatives_apart_from_the_reps():
    sim = simulate(2, 11, 50.0, n_sets=3, walking=False, activities=sorted(ACTIVITIES))
    negatives = [n for n in sim.truth.negatives]
    assert len(negatives) >= 2
    for n in negatives:
        assert not any(r.start_s < n.end_s and r.end_s > n.start_s for r in sim.truth.reps)
        assert not any(s.start_s < n.end_s and s.end_s > n.start_s for s in sim.truth.sets)


COMBINED = [
    dict(shapes=SHAPES, fast_fraction=0.3, hang="between", knock_fraction=0.5),
    dict(mocap_fraction=0.5, heel_drop=True, hang="first", start="settling"),
    dict(shapes=("trapezoid", "skew_late"), start="walking", activities=("hops", "run")),
]


@pytest.mark.parametrize("options", COMBINED, ids=["shapes-fast-hang", "mocap-drop", "walk-in"])
@pytest.mark.parametrize("stage", [2, 4])
def test_combined_scenarios_keep_their_truth_consistent(stage, options):
    sim = simulate(stage, 12, 50.0, "ideal", n_sets=2, **options)
    t, pitch, truth = sim.block.t, sim.pitch_deg, sim.truth
    assert sum(s.reps for s in truth.sets) == len(truth.reps)
    previous_end = -1.0
    for rep in truth.reps:
        assert previous_end <= rep.start_s < rep.top_s <= rep.lower_s < rep.end_s
        assert rep.up_s == pytest.approx(rep.top_s - rep.start_s)
        assert rep.hold_s == pytest.approx(rep.lower_s - rep.top_s)
        assert abs(np.interp(rep.start_s, t, pitch) - rep.base_deg) < 1.5
        top = _between(t, rep.top_s, rep.lower_s)
        if top.sum() > 3:
            assert np.median(pitch[top]) == pytest.approx(rep.peak_deg, abs=2.0)
        assert rep.shape_up in (*SHAPES, "beta") and rep.shape_down in (*SHAPES, "beta",
                                                                        "landing")
        assert rep.fast == (rep.up_s < 0.5)
        previous_end = rep.end_s
    for knock in truth.knocks:
        assert any(r.top_s < knock.t_s < r.lower_s for r in truth.reps)


def test_sensor_options_do_not_change_the_person_and_clip_at_the_range():
    a = simulate(2, 13, 100.0, walking=True, n_sets=2, activities=("jumps",))
    b = simulate(2, 13, 208.0, "lsm6dsox", "heel", gyro=True, walking=True, n_sets=2,
                 activities=("jumps",), accel_range_g=4.0, gyro_range_dps=1000.0)
    assert a.truth.reps == b.truth.reps and a.truth.negatives == b.truth.negatives
    assert np.max(np.abs(a.block.accel_g)) <= 2.0
    assert 2.0 < np.max(np.abs(b.block.accel_g)) <= 4.0
    assert np.max(np.abs(b.block.gyro_dps)) <= 1000.0
    assert b.truth.meta["accel_range_g"] == 4.0


@pytest.mark.parametrize("options, message", [
    (dict(shapes=["sine"]), "shapes"), (dict(start="sitting"), "start"),
    (dict(fast_fraction=1.2), "fast_fraction"), (dict(hang="always"), "hang"),
    (dict(fast_fraction=0.6, mocap_fraction=0.6), r"fast_fraction \+ mocap_fraction"),
    (dict(start="mid_hold"), "isometric"), (dict(activities=["yoga"]), "activities"),
])
def test_impossible_scenarios_are_refused_at_the_call(options, message):
    with pytest.raises(ValueError, match=message):
        simulate(2, 1, **options)
