"""The same events whatever the block partition: one sample at a time, any blocks, whole."""

from __future__ import annotations

import functools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pi_service.pipeline import Pipeline
from pi_service.sources.simulator import simulate
from pi_service.stages import load_stage


@functools.cache
def _session():
    # short but eventful: reps, a heel drop, rushed reps, a partial, a walk, set closing
    sim = simulate(3, 12, 50.0, walking=True, n_sets=1, heel_drop=True, rushed_fraction=0.4)
    return sim.block


def _events(cuts: list[int]) -> list:
    block = _session()
    pipeline = Pipeline(load_stage(3))
    events = []
    bounds = [0, *sorted(set(cuts)), len(block)]
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        events += pipeline.feed(block[lo:hi])
    return events + pipeline.finish()


@functools.cache
def _whole() -> tuple:
    return tuple(_events([]))


def test_the_whole_file_finds_reps_sets_and_phases():
    kinds = {type(e).__name__ for e in _whole()}
    assert {"PhaseChange", "Rep", "SetSummary"} <= kinds


def test_one_sample_at_a_time_matches_the_whole_file():
    assert tuple(_events(list(range(1, len(_session()))))) == _whole()


@settings(max_examples=12, deadline=None)
@given(st.data())
def test_any_block_partition_gives_the_same_events(data):
    n = len(_session())
    sizes = data.draw(st.lists(st.integers(1, 400), min_size=1, max_size=60))
    cuts = list(np.cumsum(sizes) % n)
    assert tuple(_events([int(c) for c in cuts if c > 0])) == _whole()
