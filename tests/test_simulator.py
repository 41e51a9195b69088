"""The simulator: physics, sensor model, session script and its truth.

The pipeline's accuracy figures are only as good as this truth, so the tests
check the physics against independent computations (finite differences,
gravity direction) and the truth against the samples it describes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.integrate import cumulative_trapezoid
from scipy.spatial.transform import Rotation

from pi_service.samples import SampleBlock
from pi_service.sources.foot import (
    G_MPS2,
    MIN_JERK,
    Beta,
    Cosine,
    Motion,
    Track,
    Trapezoid,
    Truncated,
    sensor_kinematics,
)
from pi_service.sources.recording import read_recording
from pi_service.sources.simulator import (
    CHIPS,
    RUSHED_MARGIN_S,
    SimulatedSource,
    Truth,
    simulate,
    write_simulation,
)
from pi_service.stages import load_stage

TILTED = Rotation.from_euler("xyz", [30, -50, 120], degrees=True).as_matrix()


def _pitch_from_gravity(accel_g: np.ndarray, mount_rotation: np.ndarray) -> np.ndarray:
    """Heel-up angle from the specific force, undoing a known mounting."""
    foot = accel_g @ mount_rotation        # v_foot = Mᵀ·v_sensor, row-wise
    return np.degrees(np.arctan2(-foot[:, 0], np.hypot(foot[:, 1], foot[:, 2])))


def _inside(t: np.ndarray, spans: list[tuple[float, float]]) -> np.ndarray:
    mask = np.zeros(len(t), bool)
    for start, end in spans:
        mask |= (t >= start) & (t <= end)
    return mask


# --- determinism ---------------------------------------------------------------------------

def test_same_seed_same_session_and_other_seed_differs():
    a, b = simulate(2, 11, gyro=True), simulate(2, 11, gyro=True)
    np.testing.assert_array_equal(a.block.t, b.block.t)
    np.testing.assert_array_equal(a.block.accel_g, b.block.accel_g)
    np.testing.assert_array_equal(a.block.gyro_dps, b.block.gyro_dps)
    assert a.truth.to_json() == b.truth.to_json()
    c = simulate(2, 12)
    assert c.truth.reps != a.truth.reps


def test_movements_do_not_depend_on_the_sensor():
    """Swapping chip, mount or rate must re-measure the same person, not a new one."""
    a = simulate(3, 4, rate_hz=50, chip="mpu6050", mount="laces")
    b = simulate(3, 4, rate_hz=200, chip="lsm6dsox", mount="heel", gyro=True)
    assert a.truth.reps == b.truth.reps
    assert a.truth.walking == b.truth.walking


# --- physics -------------------------------------------------------------------------------

def _tracks():
    """A raise with roll and a pivot that moves: everything the kinematics composes."""
    pitch, roll, px, pz = Track(), Track(), Track(), Track()
    pitch.move(0.1, 0.8, np.radians(30.0))
    pitch.move(1.0, 0.5, np.radians(-10.0))
    roll.move(0.3, 0.6, np.radians(5.0))
    px.move(0.2, 0.9, 0.4)
    pz.move(0.5, 0.4, 0.05)
    return pitch, roll, px, pz


def test_kinematics_match_finite_differences_of_the_sensor_position():
    """Analytic acceleration and rate equal numerically differentiated pose."""
    lever = np.array([-0.1, 0.01, 0.05])
    dt = 1e-4
    t = np.arange(0.0, 1.7, dt)
    pitch, roll, px, pz = (track(t) for track in _tracks())
    force, omega = sensor_kinematics(pitch, roll, px, pz, lever)

    turns = Rotation.from_euler("y", pitch.x[:, None]) * Rotation.from_euler("x", roll.x[:, None])
    rot = turns.as_matrix()
    position = rot @ lever + np.stack([px.x, np.zeros_like(t), pz.x], -1)
    accel = np.gradient(np.gradient(position, dt, axis=0), dt, axis=0)
    accel[:, 2] += G_MPS2
    expected_force = np.einsum("nji,nj->ni", rot, accel)
    inner = slice(10, -10)
    np.testing.assert_allclose(force[inner], expected_force[inner], atol=2e-3)

    d_rot = np.gradient(rot, dt, axis=0)
    skew = np.einsum("nji,njk->nik", rot, d_rot)       # Rᵀ·Ṙ = [ω]× in the foot frame
    expected_omega = np.stack([skew[:, 2, 1], skew[:, 0, 2], skew[:, 1, 0]], -1)
    np.testing.assert_allclose(omega[inner], expected_omega[inner], atol=1e-4)


SHAPES = [MIN_JERK, Cosine(), Trapezoid(0.1), Trapezoid(0.5), Beta(2.0, 4.5), Beta(4.5, 2.0),
          Beta(1.0, 2.0), Beta(2.0, 1.0), Truncated(MIN_JERK, 0.7), Truncated(Beta(2.0, 3.0), 0.6)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s.name}:{s}")
def test_each_stroke_shape_is_its_own_derivative(shape):
    """Position, velocity and acceleration agree: integrate one, get the other back.

    Integration (not differentiation) copes with the jumps some shapes have in their
    acceleration (cosine, trapezoid, ballistic) and still catches a wrong formula.
    """
    tau = np.linspace(0.0, 1.0, 20001)
    s, ds, dds = shape.profile(tau)
    assert s[0] == pytest.approx(0.0, abs=1e-12) and s[-1] == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(s) >= -1e-12)
    np.testing.assert_allclose(cumulative_trapezoid(ds, tau, initial=0.0), s, atol=1e-6)
    # a jump in the acceleration costs the trapezoid rule up to one step's worth of it
    step_error = 2.0 * float(np.max(np.abs(dds))) * (tau[1] - tau[0])
    np.testing.assert_allclose(cumulative_trapezoid(dds, tau, initial=0.0), ds - ds[0],
                               atol=step_error + 1e-6)
    assert shape.peak_speed() == pytest.approx(np.max(ds), rel=1e-3)


def test_shapes_differ_where_a_detector_would_notice():
    """Named facts: minimum jerk is Beta(3, 3); skews put the peak speed early or late;
    a truncated stroke ends at speed; the rest start and end at rest."""
    tau = np.linspace(0.0, 1.0, 1001)
    for mine, other in zip(MIN_JERK.profile(tau), Beta(3.0, 3.0).profile(tau), strict=True):
        np.testing.assert_allclose(mine, other, atol=1e-9)
    assert MIN_JERK.peak_speed() == pytest.approx(1.875, rel=1e-4)
    # half-cosine 10-90 % span, from its inverse τ = arccos(1 - 2s) / π
    assert Cosine().crossing_span() == pytest.approx(
        (np.arccos(-0.8) - np.arccos(0.8)) / np.pi, abs=1e-3)
    assert tau[np.argmax(Beta(2.0, 4.5).profile(tau)[1])] < 0.3
    assert tau[np.argmax(Beta(4.5, 2.0).profile(tau)[1])] > 0.7
    assert Trapezoid(0.1).peak_speed() == pytest.approx(1 / 0.9, rel=1e-3)
    assert Truncated(MIN_JERK, 0.7).end_speed() > 1.0
    for shape in SHAPES[:6]:
        ends = shape.profile(np.array([0.0, 1.0]))[1]
        np.testing.assert_allclose(ends, 0.0, atol=1e-12)
    assert {s.name for s in SHAPES} == {"minjerk", "cosine", "trapezoid", "skew_early",
                                       "skew_late", "landing"}
    with pytest.raises(ValueError, match="ramp"):
        Trapezoid(0.7)
    with pytest.raises(ValueError, match="must be 1 or >= 2"):
        Beta(1.5, 3.0)


def test_track_strokes_keep_their_own_shape_and_a_landing_stops_dead():
    track = Track()
    track.move(0.5, 1.0, 2.0, Cosine())
    track.move(2.0, 0.5, 0.0, Truncated(MIN_JERK, 0.7))
    track.move(3.0, 1.0, 1.0)
    t = np.linspace(0.0, 4.5, 9001)
    m = track(t)
    first = (t >= 0.5) & (t <= 1.5)
    s, ds, _ = Cosine().profile(t[first] - 0.5)
    np.testing.assert_allclose(m.x[first], 2.0 * s, atol=1e-12)
    np.testing.assert_allclose(m.v[first], 2.0 * ds, atol=1e-12)
    # the landing arrives at speed; right after it the foot is still
    arriving = (t > 2.4) & (t < 2.5)
    assert np.all(m.v[arriving] < -2.0)
    after = (t > 2.5) & (t < 3.0)
    assert np.all(m.v[after] == 0.0) and np.all(m.x[after] == 0.0)
    # position is continuous across every knot
    assert np.max(np.abs(np.diff(m.x))) < 0.01


def _own_accel_mg(lever: np.ndarray, up_s: float) -> float:
    """Peak acceleration of the sensor itself (gravity removed) in a 30° raise."""
    t = np.linspace(0.0, up_s + 0.2, 4000)
    track = Track()
    track.move(0.1, up_s, np.radians(30.0))
    pitch = track(t)
    still = Motion(np.zeros_like(t), np.zeros_like(t), np.zeros_like(t))
    force, _ = sensor_kinematics(pitch, still, still, still, lever)
    gravity_only, _ = sensor_kinematics(Motion(pitch.x, 0 * t, 0 * t), still, still, still,
                                        lever)
    return 1000 * float(np.max(np.linalg.norm(force - gravity_only, axis=1))) / G_MPS2


def test_own_acceleration_grows_with_lever_and_tempo():
    laces, heel = np.array([-0.10, 0.0, 0.05]), np.array([-0.20, 0.0, 0.04])
    # a rehab-tempo raise on the laces barely disturbs the gravity direction
    assert _own_accel_mg(laces, 3.0) < 6.0
    # a minimum-jerk raise peaks at 5.77·Δθ/T² of angular acceleration
    expected_mg = 1000 * 5.77 * np.radians(30) / 1.0 * np.linalg.norm(laces) / G_MPS2
    assert _own_accel_mg(laces, 1.0) == pytest.approx(expected_mg, rel=0.15)
    # the heel counter is twice as far from the pivot: a fast raise adds tens of mg
    assert _own_accel_mg(heel, 1.0) > 1.7 * _own_accel_mg(laces, 1.0)
    assert _own_accel_mg(heel, 1.0) > 50.0


def test_at_rest_reads_one_g_up_and_mounting_only_rotates():
    level = simulate(2, 5, chip="ideal", mount_rotation=np.eye(3), gyro=True)
    tilted = simulate(2, 5, chip="ideal", mount_rotation=TILTED, gyro=True)
    still = level.block.t < 3.0
    np.testing.assert_allclose(level.block.accel_g[still], [[0, 0, 1]] * still.sum(), atol=5e-3)
    np.testing.assert_allclose(np.linalg.norm(tilted.block.accel_g[still], axis=1), 1.0,
                               atol=1e-4)
    np.testing.assert_allclose(tilted.block.accel_g, level.block.accel_g @ TILTED.T, atol=1e-9)
    np.testing.assert_allclose(tilted.block.gyro_dps, level.block.gyro_dps @ TILTED.T,
                               atol=1e-9)


def test_pitch_from_gravity_matches_true_pitch_in_noiseless_mode():
    sim = simulate(2, 6, chip="ideal", mount_rotation=TILTED, heel_drop=True, walking=False)
    t = sim.block.t
    error = _pitch_from_gravity(sim.block.accel_g, TILTED) - sim.pitch_deg
    calm = [r for r in sim.truth.reps if not (r.rushed_up or r.rushed_down)]
    in_reps = _inside(t, [(r.start_s, r.end_s) for r in calm])
    assert np.sqrt(np.mean(error[in_reps] ** 2)) < 0.3
    assert np.max(np.abs(error[t < 3.0])) < 0.01
    # heel drops go below level, and the gravity direction sees it
    for rep in calm:
        bottom = (t > rep.lower_s) & (t < rep.end_s)
        assert np.min(_pitch_from_gravity(sim.block.accel_g[bottom], TILTED)) == pytest.approx(
            rep.bottom_deg, abs=2.0)


def test_gyro_is_the_foot_rate_in_the_sensor_frame():
    sim = simulate(2, 6, chip="ideal", mount_rotation=np.eye(3), gyro=True, walking=False)
    t = sim.block.t
    in_reps = _inside(t, [(r.start_s, r.end_s) for r in sim.truth.reps])
    pitch_rate = np.gradient(sim.pitch_deg, t)
    assert np.median(np.abs(sim.block.gyro_dps[in_reps, 1] - pitch_rate[in_reps])) < 0.05


# --- sensor model --------------------------------------------------------------------------

@pytest.mark.parametrize("chip", ["mpu6050", "lsm6dsox"])
def test_noise_at_rest_matches_the_datasheet_density(chip):
    rate_hz = 200.0
    sim = simulate(2, 8, rate_hz=rate_hz, chip=chip, mount_rotation=np.eye(3))
    still = sim.block.accel_g[sim.block.t < 3.0]
    # differencing removes offsets and the slow postural sway, leaving the white noise
    measured = np.std(np.diff(still, axis=0), axis=0) / np.sqrt(2)
    expected = CHIPS[chip].noise_ug_rthz * 1e-6 * np.sqrt(rate_hz / 2)
    np.testing.assert_allclose(measured, expected, rtol=0.2)
    # zero-g offsets and scale errors move the resting reading off (0, 0, 1) within spec
    mean = still.mean(axis=0)
    limit = np.array(CHIPS[chip].offset_mg) / 1000 + CHIPS[chip].scale_error + 0.01
    assert np.all(np.abs(mean - [0, 0, 1]) < limit)
    assert np.any(np.abs(mean - [0, 0, 1]) > 0.001)
    # values sit on the ADC grid
    steps = sim.block.accel_g / CHIPS[chip].lsb_g
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-6)


def test_timestamps_jitter_and_drop_but_always_increase():
    rate_hz = 100.0
    sim = simulate(2, 9, rate_hz=rate_hz)
    dt = np.diff(sim.block.t)
    assert np.all(dt > 0)
    assert np.median(dt) == pytest.approx(1 / rate_hz, rel=0.05)
    assert np.std(dt[dt < 1.5 / rate_hz]) > 0.01 / rate_hz          # jitter
    dropped = 1 - len(sim.block) / (sim.truth.meta["duration_s"] * rate_hz)
    assert 0.002 < dropped < 0.05
    assert np.max(dt) > 2.5 / rate_hz                                  # gaps


def test_walking_shakes_the_sensor_far_more_than_standing():
    sim = simulate(3, 10, walking=True)
    t, magnitude = sim.block.t, np.linalg.norm(sim.block.accel_g, axis=1)
    assert sim.truth.walking
    walking = _inside(t, [(w.start_s, w.end_s) for w in sim.truth.walking])
    assert np.std(magnitude[walking]) > 0.3
    assert np.max(magnitude[walking]) > 1.9
    assert np.std(magnitude[t < 3.0]) < 0.01
    # the foot pitches through heel strike (toes up) and toe-off
    assert np.min(sim.pitch_deg[walking]) < -9.0
    assert np.max(sim.pitch_deg[walking]) > 29.0


# --- session script and truth --------------------------------------------------------------

SESSIONS = [(stage, seed) for stage in (1, 2, 3, 4) for seed in range(5)]


@pytest.fixture(scope="module")
def sessions():
    return {key: simulate(*key, rate_hz=50.0) for key in SESSIONS}


@pytest.mark.parametrize("key", SESSIONS)
def test_truth_is_consistent_with_itself_and_the_stage(sessions, key):
    stage_number, _ = key
    sim = sessions[key]
    truth, stage = sim.truth, load_stage(stage_number)
    lo, hi = stage.sets
    assert lo <= len(truth.sets) <= hi
    if stage.isometric:
        assert not truth.reps
        assert len(truth.holds) == len(truth.sets)
        for hold, a_set in zip(truth.holds, truth.sets, strict=True):
            assert (a_set.reps, a_set.holds) == (0, 1)
            assert a_set.start_s < hold.start_s < hold.end_s < a_set.end_s
            assert hold.hold_s == pytest.approx(hold.end_s - hold.start_s)
            assert stage.hold_min_s - 5 <= hold.hold_s <= stage.hold_max_s + 5
        return
    assert sum(s.reps for s in truth.sets) == len(truth.reps)
    assert not truth.holds
    previous_end = 0.0
    for rep in truth.reps:
        assert previous_end < rep.start_s < rep.top_s <= rep.lower_s < rep.end_s
        assert rep.up_s == pytest.approx(rep.top_s - rep.start_s)
        assert rep.hold_s == pytest.approx(rep.lower_s - rep.top_s)
        if rep.bottom_deg == 0:
            assert rep.down_s == pytest.approx(rep.end_s - rep.lower_s)
        else:
            assert -20 <= rep.bottom_deg <= -8
            assert rep.down_s < rep.end_s - rep.lower_s
        # labels follow the stage's thresholds, with a margin no estimator can blur
        assert rep.rushed_up == (rep.up_s < stage.min_up_s)
        assert rep.rushed_down == (rep.down_s < stage.min_down_s)
        assert abs(rep.up_s - stage.min_up_s) >= RUSHED_MARGIN_S
        assert abs(rep.down_s - stage.min_down_s) >= RUSHED_MARGIN_S
        assert rep.height_cm == pytest.approx(
            truth.meta["lever_cm"] * np.sin(np.radians(rep.peak_deg)))
        previous_end = rep.end_s
    start = 0
    for a_set in truth.sets:
        # about the stage's dose; a fixed target (3 x 15) is miscounted either way
        assert stage.reps[0] - 3 <= a_set.reps <= stage.reps[1] + 1
        members = truth.reps[start:start + a_set.reps]
        assert a_set.start_s == members[0].start_s and a_set.end_s == members[-1].end_s
        start += a_set.reps


@pytest.mark.parametrize("key", [(2, 0), (3, 1), (4, 2), (1, 3)])
def test_true_pitch_follows_the_truth(sessions, key):
    sim = sessions[key]
    t, pitch = sim.block.t, sim.pitch_deg
    assert np.max(np.abs(pitch[t < 3.0])) < 0.3           # still standing at the start
    for rep in sim.truth.reps:
        top = (t >= rep.top_s) & (t <= rep.lower_s)
        if top.any():
            assert np.median(pitch[top]) == pytest.approx(rep.peak_deg, abs=1.5)
        assert abs(np.interp(rep.start_s, t, pitch)) < 1.5
    for partial in sim.truth.partials:
        inside = (t >= partial.start_s) & (t <= partial.end_s)
        assert 3.0 <= partial.peak_deg <= 8.0
        assert np.max(pitch[inside]) == pytest.approx(partial.peak_deg, abs=1.5)
    spans = [(r.start_s, r.end_s) for r in sim.truth.reps]
    for partial in sim.truth.partials:
        assert not any(s <= partial.start_s <= e for s, e in spans)


def test_single_leg_sets_sway_and_bilateral_ones_do_not():
    def roll_rate_dps(stage: int) -> float:
        sim = simulate(stage, 3, chip="ideal", mount_rotation=np.eye(3), gyro=True,
                       walking=False, n_sets=1)
        in_set = _inside(sim.block.t, [(s.start_s, s.end_s) for s in sim.truth.sets])
        return float(np.std(sim.block.gyro_dps[in_set, 0]))

    # roll of ±2-4° at 0.3-1 Hz is several deg/s; standing on both feet, a fraction of one
    assert roll_rate_dps(3) > 3.0
    assert roll_rate_dps(2) < 0.5


def test_forced_options_are_obeyed():
    calm = simulate(2, 1, rushed_fraction=0.0, heel_drop=False, walking=False, n_sets=2)
    assert len(calm.truth.sets) == 2 and not calm.truth.walking
    assert not any(r.rushed_up or r.rushed_down for r in calm.truth.reps)
    assert all(r.bottom_deg == 0 for r in calm.truth.reps)
    rushed = simulate(2, 1, rushed_fraction=1.0, heel_drop=True)
    assert all(r.rushed_up or r.rushed_down for r in rushed.truth.reps)
    assert all(r.bottom_deg < 0 for r in rushed.truth.reps)
    with pytest.raises(ValueError, match="chip"):
        simulate(2, 1, chip="adxl345")
    with pytest.raises(ValueError, match="mount"):
        simulate(2, 1, mount="ankle")
    with pytest.raises(ValueError, match="rotation"):
        simulate(2, 1, mount_rotation=2 * np.eye(3))


def test_partials_and_fidgets_happen(sessions):
    truths = [sim.truth for sim in sessions.values()]
    assert sum(len(t.partials) for t in truths) >= len(truths)
    kinds = {f.kind for t in truths for f in t.fidgets}
    assert kinds == {"weight_shift", "tap"}
    peaks = [r.peak_deg / t.meta["peak_deg"] for t in truths for r in t.reps]
    assert min(peaks) < 0.8      # some partial-range reps that still count


# --- files and replay ----------------------------------------------------------------------

def test_truth_json_round_trip_and_write_simulation(tmp_path):
    sim = simulate(2, 2, gyro=True, n_sets=1)
    truth_file = write_simulation(tmp_path / "session.csv.gz", sim)
    assert truth_file == tmp_path / "session.truth.json"
    data = json.loads(truth_file.read_text())
    assert set(data) == {"meta", "reps", "partials", "holds", "sets", "walking", "fidgets",
                         "negatives", "knocks", "gaps"}
    assert {"stage", "seed", "rate_hz", "chip", "mount", "lever_cm", "peak_deg"} <= set(
        data["meta"])
    assert Truth.from_json(data) == sim.truth
    block = read_recording(tmp_path / "session.csv.gz")
    np.testing.assert_allclose(block.accel_g, sim.block.accel_g, atol=1e-6)
    np.testing.assert_allclose(block.gyro_dps, sim.block.gyro_dps, atol=1e-4)


def test_simulated_source_yields_the_session_in_blocks_and_stops_on_close():
    with SimulatedSource(2, 3, block_size=25, speed=None, n_sets=1) as source:
        blocks = list(source)
    assert all(len(b) == 25 for b in blocks[:-1])
    whole = SampleBlock.concat(blocks)
    np.testing.assert_array_equal(whole.accel_g, source.simulation.block.accel_g)

    source = SimulatedSource(2, 3, block_size=10, speed=None, n_sets=1)
    taken = []
    for block in source:
        taken.append(block)
        if len(taken) == 3:
            source.close()
            source.close()
    assert len(taken) == 3
