"""The guided test, both legs: stand, warm up to the beat, test a leg, rest, the other leg.

A state machine on the sensor clock, fed the source's blocks: what to do next is said
(``say``), each beat and prompt played (``cue``: the feedback's patterns on the buzzer
and LED; ``beat``: the terminal), and each leg's raises judged by a :class:`TestRun`.
Every time in the schedule is a sensor time, so the simulated person (who keeps the
same schedule) and a recording replayed at any speed run the test exactly as live.

One sensor tests both legs: it is clipped to the other shoe during the rest, and the
detector learns the new mounting from the standing before the second leg.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..pipeline import Calibration, Pipeline
from ..samples import SampleBlock
from ..stages import load_stage
from .judge import Miss, TestEnd, TestRaise
from .metronome import Beat, Metronome
from .outcomes import LegResult, leg_result
from .protocol import TestProtocol
from .run import TEST_STAGE, TestRun

STAND_S = 6.0
"""Standing still on both feet first: the detector's baseline (on the board, if used)."""
SWITCH_S = 6.0
"""From both feet onto the test leg, fingertips on the wall, before the count-in."""
ON_TIME_S = 0.25
"""A step due at a scheduled time is taken at that time, not at the end of the block that
passed it, so the beats stay where a person keeping the schedule expects them."""


@dataclass(frozen=True)
class Schedule:
    """When the beats start, given when the stream starts (for a person who keeps it)."""

    warm_up_first_beat_s: float | None
    test_first_beat_s: float


RELEARN_RAISES = 3
"""Easy raises on both feet before the next leg: the sensor, clipped to the other shoe,
learns which way is heel-up from them (a fresh mounting has no calibration)."""


def leg_schedule(protocol: TestProtocol, start_s: float, warm_raises: int) -> Schedule:
    """A leg's beats for a person standing still from ``start_s`` on, with ``warm_raises``
    raises on both feet to the beat first (the warm-up, or the re-learning raises)."""
    beat, count = protocol.beat_s, protocol.count_in_beats * protocol.beat_s
    if warm_raises == 0:
        return Schedule(None, start_s + STAND_S + SWITCH_S + count)
    warm = start_s + STAND_S + count
    last = warm + (2 * warm_raises - 1) * beat
    return Schedule(warm, last + beat + SWITCH_S + count)


class GuidedTest:
    """Runs the test over a stream of blocks; ``results`` holds each leg done.

    ``legs`` in the order tested; ``rest_s`` the rest between them (the protocol's by
    default); ``warm_up`` False skips the bilateral warm-up (a person already warm, or
    a test). ``say`` gets instructions and results, ``cue`` the names of feedback
    patterns, ``beat`` each metronome beat (the terminal's tick).
    """

    def __init__(self, protocol: TestProtocol, legs: Sequence[str], *,
                 say: Callable[[str], None], cue: Callable[[str], None] = lambda name: None,
                 beat: Callable[[Beat], None] = lambda b: None,
                 calibration: Calibration | None = None, incline_deg: float = 0.0,
                 body_mass_kg: float | None = None, warm_up: bool = True,
                 rest_s: float | None = None) -> None:
        self.protocol = protocol
        self.legs = list(legs)
        self.results: list[LegResult] = []
        self.unmeasured: list[str] = []     # legs the sensor never learnt its place on
        self._say, self._cue, self._beat = say, cue, beat
        self._calibration = calibration
        self._incline_deg = incline_deg
        self._body_mass_kg = body_mass_kg
        self._warm_raises = protocol.warm_up_raises if warm_up else 0
        self.rest_s = protocol.rest_between_legs_s if rest_s is None else rest_s
        self._pipeline = Pipeline(load_stage(TEST_STAGE), calibration)
        self._phase = "start"
        self._until_s = 0.0
        self._metronome: Metronome | None = None
        self._run: TestRun | None = None
        self._rest_said = 0

    @property
    def leg(self) -> str | None:
        """The leg being tested (or next), None once every leg is done."""
        done = len(self.results) + len(self.unmeasured)
        return self.legs[done] if done < len(self.legs) else None

    @property
    def done(self) -> bool:
        return self._phase == "done"

    def feed(self, block: SampleBlock) -> None:
        if not len(block) or self.done:
            return
        t = float(block.t[-1])
        if self._phase == "start":
            self._stand(float(block.t[0]), "Stand still on both feet" + (
                " on the incline board" if self._incline_deg else "") + ", fingertips on "
                "the wall.")
        if self._run is not None:
            self._judged(self._run.feed(block))
        else:
            self._pipeline.feed(block)
        self._beats(t)
        self._advance(t)

    def finish(self) -> None:
        """The stream ended or the person stopped it: the leg in progress ends here."""
        if self._run is not None:
            self._judged(self._run.finish())
        self._phase = "done"

    # -- the schedule ------------------------------------------------------------------

    def _stand(self, t: float, words: str) -> None:
        self._phase, self._until_s = "stand", t + STAND_S
        self._say(words)

    def _advance(self, t: float) -> None:
        if t >= self._until_s and t - self._until_s <= ON_TIME_S:
            t = self._until_s
        if self._phase == "stand" and t >= self._until_s and self._pipeline.state != \
                "calibrating":
            n = self._warm_raises
            if n:
                self._start_metronome(t, 2 * n)
                self._phase = "warm_up"
                first = not self.results and not self.unmeasured
                self._say(f"{'Warm-up' if first else 'Re-learning'}: {n} raises "
                          "on both feet, up on one beat, down on the next.")
            else:
                self._switch(t)
        elif self._phase == "warm_up" and self._metronome.stopped and t >= self._until_s:
            self._switch(t)
        elif self._phase == "switch" and t >= self._until_s:
            first = self._start_metronome(t, None)
            self._run = TestRun(self.protocol, first, calibration=self._calibration,
                                incline_deg=self._incline_deg, pipeline=self._pipeline)
            self._phase = "test"
        elif self._phase == "rest":
            left = self._until_s - t
            minutes = int(left // 60)
            if 0 < left and minutes < self._rest_said:
                self._rest_said = minutes
                self._say(f"rest: {minutes + 1} min left" if minutes else "rest: under a "
                          "minute left; clip the sensor to the other shoe if you have not")
            if t >= self._until_s:
                self._cue("rest_over")
                self._pipeline = Pipeline(load_stage(TEST_STAGE), None)  # moved: learn anew
                self._warm_raises = RELEARN_RAISES
                self._stand(t, f"Rest over. With the sensor on the {self.leg} shoe, stand "
                               f"still on both feet; then {RELEARN_RAISES} easy raises on "
                               "both feet, so it learns its new place.")

    def _switch(self, t: float) -> None:
        self._phase, self._until_s = "switch", t + SWITCH_S
        self._say(f"Now the {self.leg.upper()} leg alone: lift the other foot, fingertips on "
                  f"the wall. As many raises as you can, up on one beat, down on the next.")

    def _start_metronome(self, t: float, beats: int | None) -> float:
        p = self.protocol
        first = t + p.count_in_beats * p.beat_s
        self._metronome = Metronome(first, p.beat_s, p.count_in_beats, beats)
        if beats is not None:
            self._until_s = first + beats * p.beat_s
        return first

    def _beats(self, t: float) -> None:
        if self._metronome is None:
            return
        for beat in self._metronome.due(t):
            self._cue("beat_down" if beat.kind == "down" else "beat_up")
            self._beat(beat)

    # -- the judge's events -------------------------------------------------------------

    def _judged(self, events: list) -> None:
        for event in events:
            if isinstance(event, TestRaise):
                word = "ok" if event.valid else f"miss ({event.fault})"
                self._say(f"  raise {event.index}: {event.height_cm:.1f} cm, "
                          f"{event.off_beats:+.1f} beat  {word}")
            elif isinstance(event, Miss) and event.in_a_row < self.protocol.misses_to_stop:
                self._cue("test_prompt")
                self._say("  keep to the beat!" if event.fault == "pace" else
                          "  rise higher!")
            elif isinstance(event, TestEnd):
                self._end_leg(event)

    def _end_leg(self, end: TestEnd) -> None:
        self._metronome.stop()
        self._cue("test_end")
        if self._run.pipeline.state != "ready":
            # The detector never learnt which way is heel-up on this shoe, so it saw no
            # raise: a result would be a false zero (and a 0 % symmetry in the log).
            self.unmeasured.append(self.leg)
            self._say(f"The sensor did not learn its place on the {self.unmeasured[-1]} "
                      "shoe, so that leg was not measured: test it again with "
                      f"--leg {self.unmeasured[-1]}.")
        else:
            result = leg_result(self._run.judge, self.leg, self._body_mass_kg,
                                self._calibration is not None)
            self.results.append(result)
            self._say(f"{result.leg} leg done: {result.valid_reps} raises.")
        self._run = None
        if self.leg is None:
            self._phase = "done"
            return
        self._phase, self._until_s = "rest", end.t_s + self.rest_s
        self._rest_said = int(self.rest_s // 60) + 1
        self._say(f"Rest {self.rest_s:.0f} s before the {self.leg} leg.")
