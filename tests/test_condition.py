"""The conditioner: untidy stamps and values turned into one even grid.

Host-stamped recordings (every sample of a FIFO read carries the read's time) are
what loggers on a laptop or phone write; they must count like the sensor's own
clock, whatever the blocks they arrive in.
"""

from __future__ import annotations

import numpy as np
import pytest

from pi_service.pipeline import Gap, SampleError, analyze
from pi_service.pipeline.condition import Conditioner, Grid
from pi_service.pipeline.params import DetectorParams
from pi_service.samples import SampleBlock
from pi_service.sources import perturb
from pi_service.sources.recording import read_recording, write_rows
from pi_service.sources.simulator import simulate
from pi_service.stages import load_stage


def _grid(conditioner: Conditioner, blocks: list[SampleBlock]) -> tuple[np.ndarray, np.ndarray]:
    pieces = [g for b in blocks for g in conditioner.feed(b)] + conditioner.finish()
    grids = [g for g in pieces if isinstance(g, Grid)]
    return np.concatenate([g.t for g in grids]), np.concatenate([g.accel_g for g in grids])


def test_a_burst_sharing_a_stamp_is_spread_over_the_interval_before_it():
    # 50 Hz samples of a ramp, read three at a time every 60 ms and stamped with the read
    true_t = np.arange(60) * 0.02
    stamps = np.repeat(true_t[2::3], 3)
    ramp = np.column_stack([true_t, 0 * true_t, 1 + 0 * true_t])
    conditioner = Conditioner(DetectorParams())
    t, accel = _grid(conditioner, [SampleBlock(stamps, ramp)])
    # after the first read, each grid sample reads the ramp at its own time
    later = t > 0.1
    np.testing.assert_allclose(accel[later, 0], t[later], atol=1e-9)
    assert conditioner.quality.repeated_stamps.count == 40


@pytest.mark.parametrize("sizes", [[1], [7], [3, 11, 2]])
def test_host_stamps_give_the_same_grid_in_any_blocks(sizes):
    sim = simulate(2, 4, 100.0, gyro=True, n_sets=1)
    block = sim.block[:3000]
    stamped = SampleBlock(perturb.host_stamps(block.t, np.random.default_rng(1)),
                          block.accel_g, block.gyro_dps)
    whole_t, whole_a = _grid(Conditioner(DetectorParams()), [stamped])
    cuts = np.cumsum(np.resize(sizes, len(stamped)))
    cuts = cuts[cuts < len(stamped)]
    parts = [stamped[a:b] for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(stamped)],
                                          strict=True)]
    t, a = _grid(Conditioner(DetectorParams()), parts)
    np.testing.assert_allclose(t, whole_t, rtol=0, atol=1e-9)
    np.testing.assert_allclose(a, whole_a, rtol=0, atol=1e-9)


def test_a_host_stamped_recording_counts_like_the_sensor_clock(tmp_path):
    sim = simulate(2, 8, 100.0, gyro=True, n_sets=2)
    stamps = perturb.host_stamps(sim.block.t, np.random.default_rng(3))
    write_rows(tmp_path / "host.csv", stamps, sim.block.accel_g, sim.block.gyro_dps)
    stage = load_stage(2)
    result = analyze(read_recording(tmp_path / "host.csv").split(10), stage)
    truth = [r for r in sim.truth.reps if not r.optional]
    assert len(result.reps) == len(truth)
    assert [s.reps for s in result.sets] == [s.reps for s in sim.truth.sets]
    # phases within a few of the 20-120 ms reads
    ups = sorted(abs(r.up_s - t.up_s) for r, t in zip(result.reps, truth, strict=True)
                 if r.up_s is not None)
    assert np.median(ups) < 0.2
    assert {w["kind"] for w in result.warnings} >= {"repeated_timestamps"}
    assert not [e for e in result.events if isinstance(e, Gap)]


def test_time_going_back_is_refused_with_where():
    conditioner = Conditioner(DetectorParams())
    conditioner.feed(SampleBlock(np.array([0.0, 0.01, 0.02]), np.tile([0, 0, 1.0], (3, 1))))
    with pytest.raises(SampleError, match=r"time goes backwards at t=0\.015000 s"):
        conditioner.feed(SampleBlock(np.array([0.03, 0.015]), np.tile([0, 0, 1.0], (2, 1))))
