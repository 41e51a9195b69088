"""The accuracy benchmark's scoring, on hand-made detections: the table is only as honest
as the matching behind it (optional reps, unknown phases, split sets, negatives)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from pi_service.pipeline import Verdict
from pi_service.sources.truth import TrueNegative, TrueRep, TrueSet, Truth

_SPEC = importlib.util.spec_from_file_location(
    "accuracy_bench", Path(__file__).resolve().parents[1] / "bench" / "accuracy.py")
bench = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = bench         # dataclasses look their module up while defined
_SPEC.loader.exec_module(bench)


def _true(start_s: float, **extra) -> TrueRep:
    fields = dict(start_s=start_s, top_s=start_s + 3, lower_s=start_s + 4, end_s=start_s + 7,
                  up_s=3.0, hold_s=1.0, down_s=3.0, peak_deg=30.0, bottom_deg=0.0,
                  height_cm=9.0, rushed_up=False, rushed_down=False)
    fields.update(extra)
    return TrueRep(**fields)


def _found(true: TrueRep, shift_s: float = 0.1, **extra) -> SimpleNamespace:
    fields = dict(start_s=true.start_s + shift_s, top_s=true.top_s, lower_s=true.lower_s,
                  end_s=true.end_s, up_s=true.up_s - shift_s, hold_s=true.hold_s,
                  down_s=true.down_s, verdict=Verdict.OK)
    fields.update(extra)
    return SimpleNamespace(**fields)


def _set(start_s: float, end_s: float, reps: int) -> SimpleNamespace:
    return SimpleNamespace(start_s=start_s, end_s=end_s, reps=reps, holds=0)


def _score(truth: Truth | None, reps: list, sets: list) -> bench.Score:
    result = bench.Score("test", 0)
    bench.score(bench.Case(2, truth), SimpleNamespace(reps=reps, sets=sets), "here", result)
    return result


def test_a_perfect_detection_scores_perfectly_and_phase_errors_are_measured():
    reps = [_true(10.0 * i) for i in range(1, 5)]
    truth = Truth(meta={}, reps=reps, sets=[TrueSet(10.0, 47.0, 4, 0)])
    got = _score(truth, [_found(r) for r in reps], [_set(10.0, 47.0, 4)])
    assert (got.hits, got.false_reps, got.true_reps) == (4, 0, 4)
    assert (got.sets, got.sets_exact) == (1, 1)
    ups = [e for phase, _, e in got.errors if phase == "up"]
    assert ups == pytest.approx([0.1] * 4)


def test_missed_false_optional_and_unknown_are_told_apart():
    reps = [_true(10.0), _true(20.0, optional=True), _true(30.0, down_known=False),
            _true(40.0)]
    negative = TrueNegative("hops", 60.0, 80.0)
    truth = Truth(meta={}, reps=reps, sets=[TrueSet(10.0, 47.0, 3, 0, optional=1)],
                  negatives=[negative])
    found = [_found(reps[0], up_s=None), _found(reps[2], down_s=None),
             SimpleNamespace(start_s=65.0, top_s=None, lower_s=None, end_s=66.0, up_s=None,
                             hold_s=None, down_s=None, verdict=Verdict.OK)]
    got = _score(truth, found, [_set(10.0, 37.0, 2)])
    assert got.true_reps == 3 and got.hits == 2          # the last one was missed
    assert got.false_reps == 1 and got.negative_reps == 1
    assert got.unknown == 1                              # up unknown where the truth knows it
    # the third rep's lowering is not known to the truth: only the first one's is scored
    assert len([e for phase, _, e in got.errors if phase == "down"]) == 1
    assert (got.sets, got.sets_exact) == (1, 0)          # 2 found, 3 (+1 optional) true
    assert any("missed" in f for f in got.failures)


def test_an_optional_rep_may_be_counted_or_not_and_a_split_set_is_summed():
    reps = [_true(10.0), _true(20.0, optional=True), _true(30.0)]
    truth = Truth(meta={}, reps=reps, sets=[TrueSet(10.0, 37.0, 2, 0, optional=1)])
    with_it = _score(truth, [_found(r) for r in reps],
                     [_set(10.0, 27.0, 2), _set(30.0, 37.0, 1)])
    without = _score(truth, [_found(reps[0]), _found(reps[2])], [_set(10.0, 37.0, 2)])
    for got in (with_it, without):
        assert (got.hits, got.false_reps, got.sets_exact) == (2, 0, 1)


def test_in_a_real_recording_every_rep_is_false_and_fast_raises_must_be_flagged():
    stray = SimpleNamespace(start_s=5.0, top_s=5.3, lower_s=5.4, end_s=5.8, up_s=0.3,
                            hold_s=0.1, down_s=0.4, verdict=Verdict.OK)
    got = _score(None, [stray], [])
    assert got.negative_reps == 1 and got.sets == 0
    quick = _true(10.0, up_s=0.35, top_s=10.35, fast=True, rushed_up=True)
    truth = Truth(meta={}, reps=[quick], sets=[TrueSet(10.0, 17.0, 1, 0)])
    flagged = _score(truth, [_found(quick, 0.0, verdict=Verdict.TOO_FAST)], [])
    passed = _score(truth, [_found(quick, 0.0)], [])
    assert (flagged.fast, flagged.fast_found, flagged.fast_flagged) == (1, 1, 1)
    assert (passed.fast_found, passed.fast_flagged) == (1, 0)
