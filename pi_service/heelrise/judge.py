"""Judging a heel-rise test raise by raise: the beat it belongs to, its height, the stop.

Built on the pipeline's events (a counted :class:`~..pipeline.events.Rep`, or a
:class:`~..pipeline.events.Partial` once the raises get low), not on the samples, so
the detector that counts training reps counts test raises too. Pure and on the sensor
clock: the live test and the offline analysis feed it the same events and times.

The metronome's beats are ``first_beat_s + j * beat_s``. Raise ``k`` (0-based) rises
on beat ``2k``, lowers on beat ``2k+1`` and is due back down on beat ``2k+2``; a raise
belongs to the first cycle not yet given one, or, ending ``SKIP_BEATS`` or more after
that cycle's beat, to a later one (the person skipped a cycle). A
raise *misses* when it ends further than the pace tolerance from that beat, when no
raise comes for a cycle at all, or when it does not reach the height share of the best
of the first raises. The first miss prompts; the given number of misses in a row ends
the test. Test raises get no tempo verdict: only the beat and the height judge them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..pipeline.events import Event, Partial, Rep
from .protocol import TestProtocol

SKIP_BEATS = 1.5
"""A raise that ends this many beats or more after its cycle's beat is the next cycle's
(the person skipped one); less late, it is its own cycle's, late."""

REPORT_DELAY_S = 0.4
"""The detector reports a raise about 0.2 s after it ends: a cycle is called missed only
this long after its deadline, so a raise that ended in time is not taken for a miss."""


def rise_cm(lever_cm: float, peak_deg: float, incline_deg: float = 0.0) -> float:
    """Vertical heel rise (cm) of a foot pitched ``peak_deg`` up from standing on a board
    inclined ``incline_deg`` (forefoot up): ``L (sin(peak - incline) + sin(incline))``.

    The standing baseline is taken on the board, so the pitch is already the rotation
    from there; level ground is ``incline_deg`` 0, where this is ``L sin(peak)``.
    """
    rad = math.radians
    return lever_cm * (math.sin(rad(max(peak_deg, 0.0) - incline_deg))
                       + math.sin(rad(incline_deg)))


@dataclass(frozen=True)
class Raise:
    """A raise the detector saw: a counted rep, or a partial once the heel rises less."""

    start_s: float
    end_s: float
    peak_deg: float

    @classmethod
    def of(cls, event: Event) -> Raise | None:
        """The raise in a pipeline event, or None for any other event (or one a gap hid)."""
        if isinstance(event, Rep):
            start = event.start_s if event.start_s is not None else event.span_s[0]
            end = event.end_s if event.end_s is not None else event.span_s[1]
            return cls(start, end, event.peak_deg)
        if isinstance(event, Partial):
            return cls(event.start_s, event.end_s, event.peak_deg)
        return None


@dataclass(frozen=True)
class TestRaise:
    """One judged raise of the test."""

    index: int              # 1-based among the test's raises
    cycle: int              # 0-based metronome cycle it was done in
    start_s: float
    end_s: float
    peak_deg: float
    height_cm: float
    off_beats: float        # end minus its beat, in beats (positive: late)
    fault: str | None       # None (valid), "pace" or "height"

    @property
    def valid(self) -> bool:
        return self.fault is None

    def to_json(self) -> dict:
        return {"index": self.index, "cycle": self.cycle, "start_s": round(self.start_s, 3),
                "end_s": round(self.end_s, 3), "peak_deg": round(self.peak_deg, 2),
                "height_cm": round(self.height_cm, 2), "off_beats": round(self.off_beats, 2),
                "valid": self.valid, "fault": self.fault}


@dataclass(frozen=True)
class Miss:
    """A raise that missed (or a cycle with no raise): the first prompts, the last ends."""

    t_s: float
    cycle: int
    fault: str              # "pace" or "height"
    in_a_row: int


@dataclass(frozen=True)
class TestEnd:
    """The test is over: ``reason`` "height", "pace" or "ended" (stopped from outside)."""

    t_s: float
    reason: str


TestEvent = TestRaise | Miss | TestEnd


@dataclass
class TestJudge:
    """Judges one leg's raises against the beat grid and the best height.

    Parameters
    ----------
    protocol : TestProtocol
        The thresholds (heelrise.toml).
    first_beat_s : float
        Sensor time of the first "up" beat.
    lever_cm, incline_deg : float
        For heights (see :func:`rise_cm`).
    """

    protocol: TestProtocol
    first_beat_s: float
    lever_cm: float
    incline_deg: float = 0.0
    raises: list[TestRaise] = field(default_factory=list)
    end: TestEnd | None = None
    _in_a_row: int = 0
    _next_cycle: int = 0            # first cycle no raise has been given to yet
    _timed_out: set[int] = field(default_factory=set)
    _best: list[float] = field(default_factory=list)

    @property
    def beat_s(self) -> float:
        return self.protocol.beat_s

    def due_s(self, cycle: int) -> float:
        """When raise ``cycle`` should be back down."""
        return self.first_beat_s + (2 * cycle + 2) * self.beat_s

    def _tolerance_s(self) -> float:
        return self.protocol.pace_tolerance_beats * self.beat_s

    @property
    def valid(self) -> list[TestRaise]:
        return [r for r in self.raises if r.valid]

    def on_event(self, event: Event) -> list[TestEvent]:
        """Judge the raise in a pipeline event (other events are ignored)."""
        found = Raise.of(event)
        return [] if found is None else self.on_raise(found)

    def on_raise(self, found: Raise) -> list[TestEvent]:
        """Judge one raise: its cycle, how far off its beat, how high."""
        if self.end is not None or found.end_s < self.first_beat_s:
            return []       # after the end, or before the first beat (the count-in)
        out = self.on_time(found.end_s)     # cycles that passed with no raise come first
        if self.end is not None:
            return out
        # The next cycle's, unless it came so late that it is a later cycle's: the pace
        # criterion judges when a raise is completed, and so does the timeout above, so
        # a late raise reported after its cycle timed out is that cycle's (one miss), not
        # the next one's. A raise a beat late ends half-way between two cycles' beats;
        # people fall behind more often than they skip a whole cycle, so it is taken
        # for a later cycle's only once it ended SKIP_BEATS or more after its own.
        late = (found.end_s - self.due_s(self._next_cycle)) / (2 * self.beat_s)
        cycle = self._next_cycle + max(0, math.floor(late + 1.0 - SKIP_BEATS / 2))
        self._next_cycle = cycle + 1
        height = rise_cm(self.lever_cm, found.peak_deg, self.incline_deg)
        off_s = found.end_s - self.due_s(cycle)
        fault = None
        if abs(off_s) > self._tolerance_s() or cycle in self._timed_out:
            fault = "pace"
        elif self._best and height < self.protocol.height_share * max(self._best):
            fault = "height"
        if len(self._best) < self.protocol.best_of_first and fault is None:
            self._best.append(height)
        judged = TestRaise(len(self.raises) + 1, cycle, found.start_s, found.end_s,
                           found.peak_deg, height, off_s / self.beat_s, fault)
        self.raises.append(judged)
        out.append(judged)
        if fault is None:
            self._in_a_row = 0
        elif cycle not in self._timed_out:      # a late raise's miss was already counted
            out += self._miss(found.end_s, cycle, fault)
        return out

    def on_time(self, t_s: float) -> list[TestEvent]:
        """Advance to sensor time ``t_s``: a cycle whose deadline has passed with no raise
        given to it is a miss (the person stopped, or is far behind the beat)."""
        out: list[TestEvent] = []
        while self.end is None:
            cycle = self._next_cycle + len([c for c in self._timed_out
                                            if c >= self._next_cycle])
            deadline = self.due_s(cycle) + self._tolerance_s() + REPORT_DELAY_S
            if t_s <= deadline:
                break
            self._timed_out.add(cycle)
            out += self._miss(self.due_s(cycle) + self._tolerance_s(), cycle, "pace")
        return out

    def _miss(self, t_s: float, cycle: int, fault: str) -> list[TestEvent]:
        self._in_a_row += 1
        out: list[TestEvent] = [Miss(t_s, cycle, fault, self._in_a_row)]
        if self._in_a_row >= self.protocol.misses_to_stop:
            self.end = TestEnd(t_s, fault)
            out.append(self.end)
        return out

    def stop(self, t_s: float) -> TestEnd:
        """End the test from outside (Ctrl-C, the recording ran out) unless it has ended."""
        if self.end is None:
            self.end = TestEnd(t_s, "ended")
        return self.end
