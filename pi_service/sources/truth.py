"""What really happened in a simulated (or perturbed) session: the benchmark's answer key.

Times are on the sensor clock, in seconds, and phase boundaries are movement onsets
and offsets, the same boundaries the pipeline reports. A perturbation (a gap, a
cropped start, a time warp) maps this truth along with the samples, so it can say
what a correct detector could know: a rep whose top fell in a gap is ``optional``
(counting it or not are both right), a phase a gap cut through is not ``known``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

FAST_RISE_S = 0.5       # a rise shorter than this is a "fast raise" (issue 7's rushed reps)


@dataclass(frozen=True)
class TrueRep:
    start_s: float      # rise onset
    top_s: float        # rise offset
    lower_s: float      # lowering onset
    end_s: float        # back at rest, after any heel-drop return
    up_s: float
    hold_s: float
    down_s: float       # lowering movement, top to bottom
    peak_deg: float
    bottom_deg: float
    height_cm: float
    rushed_up: bool
    rushed_down: bool
    style: str = "tempo"        # "tempo" (the stage's), "fast" (rushed), "mocap" (real shape)
    shape_up: str = "minjerk"   # the rise's stroke shape (foot.Shape.name)
    shape_down: str = "minjerk"
    base_deg: float = 0.0       # pitch at the rise onset; negative = heel hanging off a step
    landing: bool = False       # the lowering ends with the heel landing (an impact)
    fast: bool = False          # rise shorter than FAST_RISE_S
    up_known: bool = True       # False where a gap or the stream's start hides the phase
    hold_known: bool = True
    down_known: bool = True
    optional: bool = False      # its top is not in the stream: counting it is not an error


@dataclass(frozen=True)
class TruePartial:
    start_s: float
    end_s: float
    peak_deg: float


@dataclass(frozen=True)
class TrueHold:
    start_s: float      # top reached
    end_s: float        # lowering onset
    hold_s: float
    peak_deg: float
    known: bool = True      # False where a gap hides part of the hold (its duration)
    optional: bool = False  # the stream starts inside it, or a long gap cuts it


@dataclass(frozen=True)
class TrueSet:
    start_s: float
    end_s: float
    reps: int           # reps (and holds) a correct count must include ...
    holds: int
    optional: int = 0   # ... plus up to this many optional ones


@dataclass(frozen=True)
class TrueWalk:
    start_s: float
    end_s: float


@dataclass(frozen=True)
class TrueFidget:
    start_s: float
    end_s: float
    kind: str           # "weight_shift", "tap", "heel_hang" (below step level) or "settle"


@dataclass(frozen=True)
class TrueNegative:
    """An activity with no heel raise in it: no rep may be counted inside it."""

    kind: str           # "walk", "run", "stairs_up", "hops", ... (activities.ACTIVITIES)
    start_s: float
    end_s: float


@dataclass(frozen=True)
class TrueKnock:
    t_s: float          # the shoe hits something (the step's riser) mid-hold
    peak_g: float


@dataclass(frozen=True)
class TrueGap:
    start_s: float      # last sample before the gap
    end_s: float        # first sample after it


@dataclass
class Truth:
    """What really happened in a session (times on the sensor clock)."""

    meta: dict
    reps: list[TrueRep] = field(default_factory=list)
    partials: list[TruePartial] = field(default_factory=list)
    holds: list[TrueHold] = field(default_factory=list)
    sets: list[TrueSet] = field(default_factory=list)
    walking: list[TrueWalk] = field(default_factory=list)
    fidgets: list[TrueFidget] = field(default_factory=list)
    negatives: list[TrueNegative] = field(default_factory=list)
    knocks: list[TrueKnock] = field(default_factory=list)
    gaps: list[TrueGap] = field(default_factory=list)

    _KINDS = {"reps": TrueRep, "partials": TruePartial, "holds": TrueHold, "sets": TrueSet,
              "walking": TrueWalk, "fidgets": TrueFidget, "negatives": TrueNegative,
              "knocks": TrueKnock, "gaps": TrueGap}

    def to_json(self) -> dict:
        out: dict = {"meta": dict(self.meta)}
        for name in self._KINDS:
            out[name] = [asdict(item) for item in getattr(self, name)]
        return out

    @classmethod
    def from_json(cls, data: dict) -> Truth:
        return cls(meta=dict(data["meta"]), **{
            name: [kind(**item) for item in data.get(name, [])]
            for name, kind in cls._KINDS.items()})
