"""Offline analysis of a whole recording: the live pipeline run over the file.

Running the very same causal pipeline (rather than a separate zero-phase
version) means live and offline cannot disagree on counts; boundaries are
already onset/offset fits corrected for the filter's delay.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..protocol import Stage
from ..samples import SampleBlock
from .calibration import Calibration
from .events import Event, Hold, Partial, Rep, SetSummary
from .live import Pipeline


@dataclass
class Analysis:
    """Everything found in a recording, in time order."""

    reps: list[Rep] = field(default_factory=list)
    partials: list[Partial] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    sets: list[SetSummary] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    calibration: Calibration | None = None

    def to_json(self) -> dict:
        """The ``heelraise analyze --json`` object (DESIGN.md), with extra fields per item."""
        return {
            "reps": [r.to_json() for r in self.reps],
            "partials": [p.to_json() for p in self.partials],
            "holds": [h.to_json() for h in self.holds],
            "sets": [s.to_json() for s in self.sets],
        }


def analyze(blocks: SampleBlock | Iterable[SampleBlock], stage: Stage,
            calibration: Calibration | None = None, *,
            hold_stage: Stage | None = None) -> Analysis:
    """Run the pipeline over a recording (one block or many) and collect what it found."""
    pipeline = Pipeline(stage, calibration, hold_stage=hold_stage)
    if isinstance(blocks, SampleBlock):
        blocks = [blocks]
    events: list[Event] = []
    for block in blocks:
        events += pipeline.feed(block)
    events += pipeline.finish()
    kinds = {Rep: "reps", Partial: "partials", Hold: "holds", SetSummary: "sets"}
    result = Analysis(events=events, calibration=pipeline.calibration)
    for event in events:
        name = kinds.get(type(event))
        if name is not None:
            getattr(result, name).append(event)
    return result
