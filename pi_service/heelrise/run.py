"""One leg's test over a sample stream, live or from a recording: pipeline, then judge.

The live guided test and the offline analysis run the same loop (:class:`TestRun`):
blocks into the detector, its raises to the judge, the block's last stamp as the
judge's clock. Offline, where no metronome was recorded, the beat grid is fitted to
the test's own raises first (:func:`fit_first_beat`), then the loop runs as live.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence

from ..errors import HeelRaiseError
from ..pipeline import Calibration, Pipeline
from ..pipeline.analysis import NO_DIRECTION, NO_STANDING
from ..pipeline.calibration import DEFAULT_LEVER_CM
from ..samples import SampleBlock
from ..stages import load_stage
from .judge import Raise, TestEnd, TestEvent, TestJudge
from .outcomes import LegResult, leg_result
from .protocol import TestProtocol

TEST_STAGE = 3
"""The packaged single-leg stage the detector runs with; its tempo verdicts are not used."""
BOUT_GAP_BEATS = 4.0
"""Raises further apart than this are separate bouts: the warm-up, then the test."""


class TestRun:
    """The detector and the judge for one leg; feed blocks, get the judge's events."""

    def __init__(self, protocol: TestProtocol, first_beat_s: float, *,
                 calibration: Calibration | None = None, incline_deg: float = 0.0,
                 pipeline: Pipeline | None = None) -> None:
        self.pipeline = pipeline or Pipeline(load_stage(TEST_STAGE), calibration)
        lever = calibration.lever_cm if calibration is not None else DEFAULT_LEVER_CM
        self.judge = TestJudge(protocol, first_beat_s, lever, incline_deg)
        self.last_s: float | None = None

    def feed(self, block: SampleBlock) -> list[TestEvent]:
        """The judge's events for one block (nothing once the test has ended)."""
        if not len(block) or self.judge.end is not None:
            return []
        out: list[TestEvent] = []
        for event in self.pipeline.feed(block):
            out += self.judge.on_event(event)
        self.last_s = float(block.t[-1])
        return out + self.judge.on_time(self.last_s)

    def finish(self) -> list[TestEvent]:
        """The stream ended: the raise in progress, then the end (if nothing ended it)."""
        out: list[TestEvent] = []
        if self.judge.end is None:
            for event in self.pipeline.finish():
                out += self.judge.on_event(event)
        if self.judge.end is None:
            out.append(self.judge.stop(self.last_s if self.last_s is not None
                                       else self.judge.first_beat_s))
        return out

    @property
    def ended(self) -> TestEnd | None:
        return self.judge.end


def bouts(raises: Sequence[Raise], beat_s: float) -> list[list[Raise]]:
    """Raises grouped into bouts with no pause longer than :data:`BOUT_GAP_BEATS` beats."""
    groups: list[list[Raise]] = []
    for r in raises:
        if groups and r.start_s - groups[-1][-1].end_s <= BOUT_GAP_BEATS * beat_s:
            groups[-1].append(r)
        else:
            groups.append([r])
    return groups


def fit_first_beat(test: Sequence[Raise], protocol: TestProtocol) -> float:
    """Where the metronome's first beat must have been, from the test's first raises.

    Raise k is due back down at ``first + (2k + 2) beats``; the median over the
    first raises (those the person did fresh, on the beat) of ``end - (2k + 2) beats``
    places the grid where the person was keeping it.
    """
    beat = protocol.beat_s
    first = test[:protocol.best_of_first]
    return statistics.median(r.end_s - (2 * k + 2) * beat for k, r in enumerate(first))


def analyze_test(blocks: Iterable[SampleBlock], protocol: TestProtocol, *, leg: str,
                 body_mass_kg: float | None, calibration: Calibration | None = None,
                 incline_deg: float = 0.0) -> LegResult:
    """One leg's test in a recording: its last bout of raises (a warm-up before it is left
    out), judged against a beat grid fitted to it. Raises :class:`HeelRaiseError` with
    what was missing when no test can be found."""
    blocks = list(blocks)
    finder = Pipeline(load_stage(TEST_STAGE), calibration)
    found = [r for block in blocks for r in map(Raise.of, finder.feed(block)) if r]
    found += [r for r in map(Raise.of, finder.finish()) if r]
    if not found:
        why = {"calibrating": NO_STANDING, "learning": NO_DIRECTION}.get(finder.state,
                                                                          "no raises found")
        raise HeelRaiseError(f"no heel-rise test in the recording: {why}")
    test = bouts(found, protocol.beat_s)[-1]
    run = TestRun(protocol, fit_first_beat(test, protocol), calibration=calibration,
                  incline_deg=incline_deg)
    for block in blocks:
        run.feed(block)
        if run.ended:
            break
    run.finish()
    return leg_result(run.judge, leg, body_mass_kg, calibration is not None)
