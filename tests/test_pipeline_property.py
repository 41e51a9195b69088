"""The same events whatever the block partition: one sample at a time, any blocks, whole.

Floats may differ in the last bit between block sizes and machines, so "the same" is a
tolerance: the same events, of the same kinds, in the same order, with every time and
angle within 1e-9 (s or deg).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pi_service.pipeline import Pipeline
from pi_service.samples import SampleBlock
from pi_service.sources.simulator import simulate
from pi_service.stages import load_stage

TOLERANCE = 1e-9


@functools.cache
def _session(gyro: bool) -> SampleBlock:
    # short but eventful: reps, heel drops, rushed reps, a partial, a walk, set closing,
    # dropouts (a gap bridged, one restarted), the gyro fused or not
    sim = simulate(3, 12, 50.0, walking=True, n_sets=1, heel_drop=True, rushed_fraction=0.4,
                   gyro=gyro)
    t = sim.block.t
    rep = sim.truth.reps[2]
    keep = ~((t > rep.start_s + 1.0) & (t < rep.start_s + 1.6))
    keep &= ~((t > sim.truth.sets[0].end_s + 5.0) & (t < sim.truth.sets[0].end_s + 7.0))
    return SampleBlock(t[keep], sim.block.accel_g[keep],
                       None if sim.block.gyro_dps is None else sim.block.gyro_dps[keep])


def _events(gyro: bool, cuts: list[int]) -> list:
    block = _session(gyro)
    pipeline = Pipeline(load_stage(3))
    events = []
    bounds = [0, *sorted(set(cuts)), len(block)]
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        events += pipeline.feed(block[lo:hi])
    return events + pipeline.finish()


@functools.cache
def _whole(gyro: bool) -> tuple:
    return tuple(_events(gyro, []))


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and (
            (math.isnan(a) and math.isnan(b)) or abs(a - b) <= TOLERANCE)
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if dataclasses.is_dataclass(a):
        return type(a) is type(b) and all(_same(getattr(a, f.name), getattr(b, f.name))
                                          for f in dataclasses.fields(a))
    return a == b


def _assert_same(events: list, whole: tuple) -> None:
    assert [type(e).__name__ for e in events] == [type(e).__name__ for e in whole]
    for mine, theirs in zip(events, whole, strict=True):
        assert _same(mine, theirs), (mine, theirs)


def test_the_whole_file_finds_reps_sets_phases_and_gaps():
    for gyro in (False, True):
        kinds = {type(e).__name__ for e in _whole(gyro)}
        assert {"PhaseChange", "Rep", "SetSummary", "Gap"} <= kinds


def test_one_sample_at_a_time_matches_the_whole_file():
    for gyro in (False, True):
        _assert_same(_events(gyro, list(range(1, len(_session(gyro))))), _whole(gyro))


@settings(max_examples=12, deadline=None)
@given(st.data())
def test_any_block_partition_gives_the_same_events(data):
    gyro = data.draw(st.booleans())
    n = len(_session(gyro))
    sizes = data.draw(st.lists(st.integers(1, 400), min_size=1, max_size=60))
    cuts = list(np.cumsum(sizes) % n)
    _assert_same(_events(gyro, [int(c) for c in cuts if c > 0]), _whole(gyro))
