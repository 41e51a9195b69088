"""What the pipeline tells the edges: phase changes, reps, holds, sets and cues.

These are plain frozen dataclasses so that feedback, the MQTT publisher, the
log and the CLI can consume them without importing anything else from the
pipeline. Every time is on the sensor clock (seconds), never the wall clock.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum


class Phase(StrEnum):
    """Where the foot is in a raise."""

    REST = "rest"
    RISING = "rising"
    TOP = "top"
    LOWERING = "lowering"
    HEEL_DROP = "heel_drop"
    DISTURBED = "disturbed"   # walking, stairs, a stumble: no raise until still again


class Verdict(StrEnum):
    """How a rep measured up to the stage's tempo. ``OK`` unless something was wrong."""

    OK = "ok"
    TOO_FAST_UP = "too_fast_up"
    TOO_FAST_DOWN = "too_fast_down"
    TOO_FAST = "too_fast"            # both the rise and the lowering were rushed
    HOLD_TOO_SHORT = "hold_too_short"
    PARTIAL_RANGE = "partial_range"  # counted, but well short of the person's usual height

    @property
    def rushed(self) -> bool:
        """A verdict the LED flags as a too-fast rep."""
        return self in (Verdict.TOO_FAST_UP, Verdict.TOO_FAST_DOWN, Verdict.TOO_FAST)


@dataclass(frozen=True)
class PhaseChange:
    """The foot entered ``phase`` at sensor time ``t_s`` (reported once detected)."""

    t_s: float
    phase: Phase
    pitch_deg: float


@dataclass(frozen=True)
class PaceWarning:
    """Mid-rise prediction that this rise will be too fast: a cue before the top."""

    t_s: float
    predicted_up_s: float
    min_up_s: float


@dataclass(frozen=True)
class Rep:
    """One counted heel raise, with onset/offset phase boundaries on the sensor clock.

    A boundary a gap hid is None (unknown), as is every duration that needs it:
    a rep whose top was seen counts, but nothing about it is invented.
    """

    index: int                # 1-based within the session
    start_s: float | None     # heel starts to rise
    top_s: float | None       # rise ends (top reached)
    lower_s: float | None     # lowering starts
    end_s: float | None       # back at rest (after any heel drop)
    up_s: float | None
    hold_s: float | None
    down_s: float | None
    peak_deg: float
    bottom_deg: float | None  # lowest pitch after the top; negative = heel drop below level
    height_cm: float          # estimated heel-rise height at the top
    verdict: Verdict
    faults: tuple[Verdict, ...] = ()   # every fault found; verdict is the headline
    span_s: tuple[float, float] = (0.0, 0.0)   # first and last sample of the movement
    gaps: int = 0             # gaps inside the movement
    knocks: int = 0           # impacts at the top that did not end the rep

    def to_json(self) -> dict:
        d = asdict(self)
        d["verdict"] = self.verdict.value
        d["faults"] = [f.value for f in self.faults]
        return d


@dataclass(frozen=True)
class Partial:
    """A raise too small to count as a rep."""

    start_s: float
    end_s: float
    peak_deg: float

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Hold:
    """An isometric hold at the top (stage 1), timed against the stage's 30-45 s.

    A gap over a second that cuts a hold already ``DetectorParams.hold_s`` long leaves
    its end, its length and so its verdict unknown: ``None``, never a guess.
    """

    start_s: float
    end_s: float | None
    hold_s: float | None
    peak_deg: float
    verdict: str | None     # "ok", "too_short" or "too_long"; None if its length is unknown

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SetSummary:
    """Reps grouped by the rest around them: the unit the log keeps."""

    index: int              # 1-based within the session
    stage: int
    start_s: float
    end_s: float
    reps: int
    target_reps: tuple[int, int]
    ok_reps: int            # reps whose verdict was "ok"
    tempo_compliance: float | None  # ok_reps / reps (0..1); for holds, holds in range /
    #                               holds judged (None: a lone hold a gap cut short)
    rest_before_s: float | None   # None for the first set of a session
    holds: int = 0          # isometric holds in this set (stage 1)
    hold_s: tuple[float | None, ...] = ()
    rep_indices: tuple[int, ...] = ()

    def to_json(self) -> dict:
        d = asdict(self)
        d["target_reps"] = list(self.target_reps)
        d["hold_s"] = list(self.hold_s)
        d["rep_indices"] = list(self.rep_indices)
        return d


@dataclass(frozen=True)
class Gap:
    """Samples missing from ``start_s`` to ``end_s`` (the samples either side).

    Up to a second is bridged: a rep whose top was seen still counts. A longer
    gap restarts the pipeline after it (``restarted``).
    """

    start_s: float
    end_s: float
    restarted: bool

    def to_json(self) -> dict:
        return asdict(self)


Event = PhaseChange | PaceWarning | Rep | Partial | Hold | SetSummary | Gap
