"""The heel-rise benchmark's scoring on hand-made results: its figures are only as honest
as the comparison with the truth behind them."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from pi_service.heelrise.judge import Raise
from pi_service.heelrise.judge import TestJudge as Judge
from pi_service.heelrise.outcomes import leg_result
from pi_service.heelrise.protocol import TestProtocol as Protocol
from pi_service.sources.heelrise_sim import TestTruth as Truth
from pi_service.sources.heelrise_sim import TrueRaise

_SPEC = importlib.util.spec_from_file_location(
    "heelrise_bench", Path(__file__).resolve().parents[1] / "bench" / "heelrise.py")
bench = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = bench
_SPEC.loader.exec_module(bench)


def truth(heights: list[float], stop_s: float) -> Truth:
    raises = [TrueRaise(2 * k, 2 * k + 1, 2 * k + 1, 2 * k + 1.9, 30.0, h, True, None)
              for k, h in enumerate(heights)]
    return Truth({}, raises, first_beat_s=0.0, beat_s=1.0, valid_reps=len(heights),
                 stop_reason="pace", stop_s=stop_s)


def result(n: int):
    j = Judge(Protocol(), first_beat_s=0.0, lever_cm=19.0)
    for k in range(n):
        j.on_raise(Raise(2 * k + 0.05, 2 * k + 1.9, 30.0))
    j.on_time(2 * n + 10.0)
    return leg_result(j, "left", 70.0, calibrated=False)


def test_errors_are_against_the_truths_valid_raises_and_the_stop_in_beats():
    found = result(10)                       # ten raises of 9.5 cm, ended on pace
    true = truth([10.0] * 10, stop_s=found.stop_s + 0.5)
    s = bench._score("offline", "c", 1, found, true, calibrated=False)
    assert s.reps_ok and s.reps_found == s.reps_true == 10
    assert s.peak_err_cm == pytest.approx(-0.5)
    assert s.work_err_pct == pytest.approx(-5.0)
    assert s.stop_err_beats == pytest.approx(0.5) and s.reason_ok
    assert not bench._score("offline", "c", 1, found, replace(true, valid_reps=12),
                            False).reps_ok


def test_a_leg_with_no_result_fails_every_figure():
    s = bench._score("guided", "c", 1, None, truth([10.0] * 8, 20.0), False, "not measured")
    summary = bench.summary([s])
    assert summary["reps_share"] == 0 and summary["peak_share"] == 0
    assert summary["work_share"] == 0 and summary["stop_share"] == 0
    assert summary["refused"] == 1
