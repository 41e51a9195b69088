"""What the pitch tracker takes for an impact: a brief force that comes back (a heel
strike, a landing, a knock), never a movement stopping dead at a new acceleration."""

from __future__ import annotations

import numpy as np

from pi_service.pipeline.condition import Conditioner, Grid
from pi_service.pipeline.gravity import GravityEstimator
from pi_service.pipeline.params import DetectorParams
from pi_service.samples import SampleBlock

RATE_HZ = 125.0     # off the 100 Hz grid: resampling spreads a step over two samples
JOLT_S = 2.5


def _impacts(accel_g: np.ndarray) -> np.ndarray:
    """Times (s) flagged as impacts in a stream, fed in blocks of 10 as the service does."""
    params = DetectorParams()
    conditioner, gravity = Conditioner(params), GravityEstimator(params, has_gyro=False)
    block = SampleBlock(np.arange(len(accel_g)) / RATE_HZ, accel_g)
    grids = [g for b in block.split(10) for g in conditioner.feed(b) if isinstance(g, Grid)]
    grids += [g for g in conditioner.finish() if isinstance(g, Grid)]
    motions = [gravity(g) for g in grids]
    return np.concatenate([m.t[m.impact] for m in motions])


def _standing(seconds: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    rng = np.random.default_rng(1)
    accel = np.tile([0.0, 0.0, 1.0], (len(t), 1)) + rng.normal(0.0, 0.003, (len(t), 3))
    return t, accel


def test_a_movement_stopping_dead_is_no_impact():
    # quick raises whose deceleration builds up over 0.15 s and ends at once at the top,
    # each stopping at another point between the grid's samples
    t, accel = _standing(10.0)
    for stop_s in JOLT_S + 1.013 * np.arange(6):
        braking = (t >= stop_s - 0.15) & (t < stop_s)
        accel[braking] += np.outer((t[braking] - (stop_s - 0.15)) / 0.15, [0.35, 0.0, 1.0])
    assert len(_impacts(accel)) == 0


def test_a_ringing_jolt_and_a_one_sample_spike_are_impacts():
    t, accel = _standing()
    after = t - JOLT_S
    ring = np.where(after >= 0, 2.0 * np.exp(-after / 0.015) * np.sin(2 * np.pi * 30 * after),
                    0.0)
    knocked = accel + np.outer(ring, [1.0, 0.0, 0.0])
    hits = _impacts(knocked)
    assert len(hits) and np.all(np.abs(hits - JOLT_S) < 0.1)
    spiked = accel.copy()
    spiked[np.searchsorted(t, JOLT_S)] += [0.0, 0.0, 2.0]
    hits = _impacts(spiked)
    assert len(hits) and np.all(np.abs(hits - JOLT_S) < 0.1)
