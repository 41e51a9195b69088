"""Perturbations: each condition applied to a stream, and the truth mapped to match it.

The accuracy benchmark trusts these mappings to say what a correct detector could
know, so each test checks the mapped truth against the perturbed samples themselves
(gravity direction, integrated gyro), not against the mapping's own arithmetic.
"""

from __future__ import annotations

import numpy as np
import pytest
from real_data import real_recordings
from scipy.integrate import trapezoid
from scipy.spatial.transform import Rotation

from pi_service.sources import perturb
from pi_service.sources.recording import read_recording, write_rows
from pi_service.sources.simulator import simulate

EYE = np.eye(3)


def _pitch_from_gravity(accel_g: np.ndarray, mount: np.ndarray = EYE) -> np.ndarray:
    foot = accel_g @ mount
    return np.degrees(np.arctan2(-foot[:, 0], np.hypot(foot[:, 1], foot[:, 2])))


def _at(block, a: float, b: float) -> np.ndarray:
    return (block.t >= a) & (block.t <= b)


@pytest.fixture(scope="module")
def session():
    """Calm reps at the rehab tempo, a noiseless sensor mounted straight: easy to read back."""
    return simulate(2, 2, 100.0, "ideal", gyro=True, mount_rotation=EYE, walking=False,
                    n_sets=2, rushed_fraction=0.0, heel_drop=False)


def test_a_gap_cutting_a_phase_leaves_the_rep_to_count_with_that_phase_unknown(session):
    block, truth = session.block, session.truth
    first_set = truth.reps[:truth.sets[0].reps]
    lowered, long_cut, quiet = first_set[2], first_set[8], truth.sets[0]
    topped = min(first_set[3:8], key=lambda r: r.hold_s)
    assert topped.hold_s < 0.6
    mid_lowering = lowered.lower_s + 0.3 * lowered.down_s
    spans = [(mid_lowering, mid_lowering + 0.5),
             (topped.top_s - 0.15, topped.lower_s + 0.15),              # the top falls in it
             (long_cut.start_s + 0.2, long_cut.start_s + 1.7),          # over a second
             (quiet.end_s + 10.0, quiet.end_s + 10.8)]                  # in the rest
    out, mapped = perturb.drop(block, spans, truth)
    for start, end in spans:
        assert not np.any(_at(out, start, end - 1e-9))
    assert len(mapped.gaps) == 4
    for gap, (start, end) in zip(mapped.gaps, spans, strict=True):
        assert gap.start_s < start and end <= gap.end_s < end + 0.05

    by_start = {r.start_s: r for r in mapped.reps}
    cut = by_start[lowered.start_s]
    assert not cut.optional and cut.up_known and cut.hold_known and not cut.down_known
    hidden = by_start[topped.start_s]
    assert hidden.optional and not hidden.up_known and not hidden.hold_known
    assert by_start[long_cut.start_s].optional and not by_start[long_cut.start_s].up_known
    untouched = [r for r in mapped.reps if r.start_s not in
                 (lowered.start_s, topped.start_s, long_cut.start_s)]
    assert all(r.up_known and r.hold_known and r.down_known and not r.optional
               for r in untouched)
    first, second = mapped.sets
    assert (first.reps, first.optional) == (truth.sets[0].reps - 2, 2)
    assert (second.reps, second.optional) == (truth.sets[1].reps, 0)
    assert perturb.drop(block, spans)[1] is None


def test_gap_spans_can_be_aimed_mid_rep(session):
    reps = [(r.start_s, r.end_s) for r in session.truth.reps]
    spans = perturb.gap_spans(np.random.default_rng(1), session.block.t, 20, (0.1, 1.0), reps)
    for start, end in spans:
        assert any(a <= start <= b for a, b in reps)
        assert 0.1 <= end - start <= 1.0


def test_the_stream_can_start_anywhere(session):
    truth = session.truth
    rep = truth.reps[4]
    t0 = rep.start_s + 0.5 * rep.up_s
    out, mapped = perturb.crop_start(session.block, t0, truth)
    assert out.t[0] >= t0 and len(out) == np.sum(session.block.t >= t0)
    assert mapped.reps[0].start_s == rep.start_s and mapped.reps[0].optional
    assert not mapped.reps[0].up_known and mapped.reps[0].hold_known
    assert mapped.reps[1:] == truth.reps[5:]
    assert (mapped.sets[0].reps, mapped.sets[0].optional) == (truth.sets[0].reps - 5, 1)
    assert mapped.sets[0].start_s == pytest.approx(out.t[0])
    assert mapped.meta["perturbations"] == [["crop_start", float(out.t[0])]]
    assert truth.meta.get("perturbations") is None        # the input is left alone


def test_a_time_warp_moves_the_truth_with_the_samples_and_keeps_event_order(session):
    warp = perturb.Warp.random(np.random.default_rng(3), max_rate_change=0.3)
    out, mapped = perturb.time_warp(session.block, warp, session.truth)
    assert perturb.nominal_rate_hz(out) == pytest.approx(100.0, rel=0.02)
    times = [x for r in mapped.reps for x in (r.start_s, r.top_s, r.lower_s, r.end_s)]
    assert np.all(np.diff(times) > 0)
    ratios = [m.up_s / r.up_s for m, r in zip(mapped.reps, session.truth.reps, strict=True)]
    assert max(ratios) - min(ratios) > 0.1          # strokes stretched by different amounts
    pitch = _pitch_from_gravity(out.accel_g)
    rate = out.gyro_dps[:, 1]
    for rep in mapped.reps:
        top = _at(out, rep.top_s + 0.05, rep.lower_s - 0.05)
        if top.sum() > 5:
            assert np.median(pitch[top]) == pytest.approx(rep.peak_deg, abs=1.0)
        rise = _at(out, rep.start_s, rep.top_s)
        turned = trapezoid(rate[rise], out.t[rise])
        assert turned == pytest.approx(rep.peak_deg - rep.base_deg, abs=1.5)


def test_a_drifting_clock_scales_times_and_durations(session):
    out, mapped = perturb.drift(session.block, 1.02, 1.7e9, session.truth)
    np.testing.assert_allclose(out.t - 1.7e9, 1.02 * session.block.t, atol=1e-5)
    np.testing.assert_array_equal(out.gyro_dps, session.block.gyro_dps)
    for m, r in zip(mapped.reps, session.truth.reps, strict=True):
        assert m.start_s == pytest.approx(1.7e9 + 1.02 * r.start_s, abs=1e-5)
        assert m.up_s == pytest.approx(1.02 * r.up_s, abs=1e-5)
        assert m.down_s == pytest.approx(1.02 * r.down_s, abs=1e-5)
    assert [s.reps for s in mapped.sets] == [s.reps for s in session.truth.sets]


def test_a_rotation_turns_accelerometer_and_gyro_together(session):
    turn = Rotation.from_euler("xyz", [170.0, 20.0, -65.0], degrees=True).as_matrix()
    out, mapped = perturb.rotate(session.block, turn, session.truth)
    np.testing.assert_allclose(np.linalg.norm(out.accel_g, axis=1),
                               np.linalg.norm(session.block.accel_g, axis=1), atol=1e-12)
    np.testing.assert_allclose(out.gyro_dps @ turn, session.block.gyro_dps, atol=1e-9)
    mount = np.asarray(mapped.meta["mount_rotation"])
    np.testing.assert_allclose(_pitch_from_gravity(out.accel_g, mount),
                               _pitch_from_gravity(session.block.accel_g), atol=1e-9)
    with pytest.raises(ValueError, match="rotation"):
        perturb.rotate(session.block, 2 * EYE)


@pytest.mark.parametrize("rate_hz", [50.0, 104.0, 208.0])
def test_resampling_keeps_the_movement_and_the_gaps(session, rate_hz):
    out, mapped = perturb.resample(session.block, rate_hz, session.truth)
    assert perturb.nominal_rate_hz(out) == pytest.approx(rate_hz, rel=0.01)
    assert mapped.meta["rate_hz"] == pytest.approx(rate_hz, rel=0.01)
    gaps_before = np.sum(np.diff(session.block.t) > 0.05)
    assert np.sum(np.diff(out.t) > 0.05) == gaps_before
    # the slow part (the foot's pitch) is the same signal on the new grid
    before = _pitch_from_gravity(session.block.accel_g)
    after = np.interp(session.block.t, out.t, _pitch_from_gravity(out.accel_g))
    inside = (session.block.t > out.t[0] + 1) & (session.block.t < out.t[-1] - 1)
    assert np.percentile(np.abs(after - before)[inside], 99) < 0.5
    # the edges of each stretch are extended, not padded with zeros (which reads as 0 g)
    assert np.min(np.linalg.norm(out.accel_g, axis=1)) > 0.9


@pytest.mark.parametrize("kind", perturb.SPIKES)
def test_spikes_put_single_bad_values_in_an_otherwise_good_stream(session, kind):
    out = perturb.spikes(session.block, np.random.default_rng(4), 7, kind)
    changed = np.hstack([out.accel_g, out.gyro_dps]) != np.hstack(
        [session.block.accel_g, session.block.gyro_dps])
    assert changed.sum() == 7 and changed.any(axis=1).sum() == 7
    bad = np.hstack([out.accel_g, out.gyro_dps])[changed]
    if kind == "huge":
        assert np.all(bad == 1e308)
    elif kind == "nan":
        assert np.all(np.isnan(bad))
    elif kind == "inf":
        assert np.all(np.isinf(bad))
    else:
        accel_bad = (out.accel_g != session.block.accel_g)
        assert np.all(np.abs(out.accel_g[accel_bad]) > 2.0)
        assert np.all(np.isfinite(bad))


def test_host_stamps_repeat_in_bursts_and_never_go_back(session, tmp_path):
    t = session.block.t
    stamps = perturb.host_stamps(t, np.random.default_rng(5))
    assert np.all(np.diff(stamps) >= 0) and np.all(stamps >= t)
    assert np.all(stamps - t <= 0.12 + 1e-9)
    assert np.mean(np.diff(stamps) == 0) > 0.5
    twice = perturb.repeat_stamps(t, np.random.default_rng(6), 9)
    assert np.sum(np.diff(twice) == 0) == 9 and np.all(np.diff(twice) >= 0)
    write_rows(tmp_path / "host.csv", stamps, session.block.accel_g, session.block.gyro_dps)
    column = np.loadtxt(tmp_path / "host.csv", delimiter=",", skiprows=1)[:, 0]
    np.testing.assert_allclose(column, stamps, atol=1e-6)


def test_broken_file_writers_write_what_they_say(session, tmp_path):
    block = session.block[:500]
    perturb.write_unit_change(tmp_path / "units.csv", block, after_row=200)
    rows = np.loadtxt(tmp_path / "units.csv", delimiter=",", skiprows=1)
    magnitude = np.linalg.norm(rows[:, 1:4], axis=1)
    np.testing.assert_allclose(magnitude[:200], 1.0, atol=0.01)
    np.testing.assert_allclose(magnitude[200:], 9.80665, atol=0.1)
    perturb.write_ms_time(tmp_path / "ms.csv", block)
    rows = np.loadtxt(tmp_path / "ms.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(rows[:, 0], 1000.0 * block.t, atol=1e-3)


def test_every_perturbation_applies_to_real_recordings():
    rng = np.random.default_rng(7)
    for path in real_recordings()[:3]:
        block = read_recording(path)
        rate = perturb.nominal_rate_hz(block)
        assert perturb.resample(block, 50.0)[0].t.size == pytest.approx(
            block.t.size * 50.0 / rate, rel=0.02)
        turned, _ = perturb.rotate(block, Rotation.random(rng=rng).as_matrix())
        np.testing.assert_allclose(np.linalg.norm(turned.gyro_dps, axis=1),
                                   np.linalg.norm(block.gyro_dps, axis=1), atol=1e-9)
        spans = perturb.gap_spans(rng, block.t, 3, (0.2, 1.5))
        holed, truth = perturb.drop(block, spans)
        assert truth is None and len(holed) < len(block)
        assert perturb.crop_start(block, block.t[0] + 5.0)[0].t[0] >= block.t[0] + 5.0
        warped, _ = perturb.time_warp(block, perturb.Warp.random(rng))
        assert perturb.nominal_rate_hz(warped) == pytest.approx(rate, rel=0.02)
        assert np.all(np.diff(perturb.host_stamps(block.t, rng)) >= 0)
