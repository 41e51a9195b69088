"""Offline analysis of a whole recording: the live pipeline run over the file.

Running the very same causal pipeline (rather than a separate zero-phase
version) means live and offline cannot disagree on counts; boundaries are
already onset/offset fits of each movement's own samples.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..protocol import Stage
from ..samples import SampleBlock
from .calibration import Calibration
from .events import Event, Gap, Hold, Partial, Rep, SetSummary
from .live import Pipeline
from .params import DetectorParams

NO_STANDING = ("no still standing found: the coach calibrates from about a second of "
               "standing still (or give --calibration), so no reps can be counted")
NO_DIRECTION = ("no movement showed which way is heel-up (a raise of more than about 25 deg, "
                "or a few smaller ones): no reps counted")


@dataclass
class Analysis:
    """Everything found in a recording, in time order."""

    reps: list[Rep] = field(default_factory=list)
    partials: list[Partial] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    sets: list[SetSummary] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    calibration: Calibration | None = None

    def to_json(self) -> dict:
        """The ``heelraise analyze --json`` object (DESIGN.md), with extra fields per item."""
        return {
            "reps": [r.to_json() for r in self.reps],
            "partials": [p.to_json() for p in self.partials],
            "holds": [h.to_json() for h in self.holds],
            "sets": [s.to_json() for s in self.sets],
            "gaps": [g.to_json() for g in self.gaps],
            "warnings": self.warnings,
        }


def _warnings(pipeline: Pipeline) -> list[dict]:
    """What a reader of the result should know about the stream itself."""
    out = []
    q = pipeline.quality
    for kind, count, message in (
            ("bad_samples", q.bad_samples, "samples not finite, beyond any chip's range or "
                                           "reading no acceleration at all, dropped"),
            ("repeated_timestamps", q.repeated_stamps, "samples sharing a timestamp, spread "
                                                       "over the interval before it"),
            ("gyro_dropped", q.gyro_dropped, "samples after the gyro columns stopped; "
                                             "accelerometer only from then on")):
        if count.count:
            out.append({"kind": kind, "count": count.count, "first_s": count.first_s,
                        "message": f"{count.count} {message}"})
    state = pipeline.state
    if state != "ready":
        kind = "no_standing" if state == "calibrating" else "no_direction"
        out.append({"kind": kind, "count": 1, "first_s": None,
                    "message": NO_STANDING if state == "calibrating" else NO_DIRECTION})
    return out


def analyze(blocks: SampleBlock | Iterable[SampleBlock], stage: Stage,
            calibration: Calibration | None = None, *,
            hold_stage: Stage | None = None, params: DetectorParams | None = None) -> Analysis:
    """Run the pipeline over a recording (one block or many) and collect what it found."""
    pipeline = Pipeline(stage, calibration, hold_stage=hold_stage, params=params)
    if isinstance(blocks, SampleBlock):
        blocks = [blocks]
    events: list[Event] = []
    for block in blocks:
        events += pipeline.feed(block)
    events += pipeline.finish()
    kinds = {Rep: "reps", Partial: "partials", Hold: "holds", SetSummary: "sets", Gap: "gaps"}
    result = Analysis(events=events, calibration=pipeline.calibration,
                      warnings=_warnings(pipeline))
    for event in events:
        name = kinds.get(type(event))
        if name is not None:
            getattr(result, name).append(event)
    return result
