"""The phase state machine on hand-made pitch traces: exact phase sequences, what counts.

The detector is fed :class:`Frame` objects directly, as the pitch tracker would
hand them over, so each test says exactly what the foot did and what must come out.
"""

from __future__ import annotations

import numpy as np
import pytest

from pi_service.pipeline.events import (
    Gap,
    Hold,
    Partial,
    Phase,
    PhaseChange,
    Rep,
    SetSummary,
    Verdict,
)
from pi_service.pipeline.params import DetectorParams
from pi_service.pipeline.phases import PhaseDetector
from pi_service.pipeline.pitch import Frame
from pi_service.stages import load_stage

RATE = 100.0


class Trace:
    """A pitch trace built stroke by stroke (minimum jerk), with jolts where asked."""

    def __init__(self, rest_s: float = 2.0) -> None:
        self.t = [np.arange(int(rest_s * RATE)) / RATE]
        self.p = [np.zeros(len(self.t[0]))]
        self.impacts: list[float] = []
        self.flights: list[tuple[float, float]] = []
        self.gyro = True    # the pitch fused with a gyro (else the accelerometer's alone)

    @property
    def now(self) -> float:
        return float(self.t[-1][-1]) + 1.0 / RATE

    @property
    def level(self) -> float:
        return float(self.p[-1][-1])

    def move(self, to_deg: float, duration_s: float) -> Trace:
        n = int(round(duration_s * RATE))
        tau = np.arange(1, n + 1) / n
        self.t.append(self.now + np.arange(n) / RATE)
        self.p.append(self.level + (to_deg - self.level) * tau**3 * (10 - 15 * tau + 6 * tau**2))
        return self

    def stay(self, duration_s: float) -> Trace:
        n = int(round(duration_s * RATE))
        self.t.append(self.now + np.arange(n) / RATE)
        self.p.append(np.full(n, self.level))
        return self

    def sway(self, duration_s: float, amp_deg: float, hz: float) -> Trace:
        """Stay, swaying about the level (balancing on one leg at the top)."""
        n = int(round(duration_s * RATE))
        self.t.append(self.now + np.arange(n) / RATE)
        self.p.append(self.level + amp_deg * np.sin(2 * np.pi * hz * np.arange(n) / RATE))
        return self

    def raise_heel(self, up_s: float = 3.0, hold_s: float = 1.0, down_s: float = 3.0,
                   peak_deg: float = 30.0, pause_s: float = 2.0) -> Trace:
        rest = self.level
        return self.move(peak_deg, up_s).stay(hold_s).move(rest, down_s).stay(pause_s)

    def impact(self, at_s: float | None = None) -> Trace:
        self.impacts.append(self.now if at_s is None else at_s)
        return self

    def frame(self) -> Frame:
        t, p = np.concatenate(self.t), np.concatenate(self.p)
        impact = np.zeros(len(t), dtype=bool)
        for at in self.impacts:
            impact[np.searchsorted(t, at):np.searchsorted(t, at + 0.05)] = True
        flight = np.zeros(len(t), dtype=bool)
        for lo, hi in self.flights:
            flight[(t >= lo) & (t < hi)] = True
        return Frame(t, np.ones(len(t), dtype=bool), p, p, impact, flight,
                     np.full(len(t), self.gyro), fresh=True)


FIELDS = ("t", "known", "pitch_deg", "fit_deg", "impact", "flight", "fused")


def _detect(trace: Trace, stage: int = 2, gap: tuple[float, float] | None = None,
            block: int = 10) -> list:
    """Run the detector over the trace in blocks; a long ``gap`` (start, end) removes the
    samples between and reports it, as the conditioner would. Returns all events."""
    detector = PhaseDetector(load_stage(stage), DetectorParams(), 30.0, False, (30.0, 45.0),
                             19.0, 0.0)
    frame = trace.frame()
    keep = np.ones(len(frame.t), dtype=bool)
    if gap is not None:
        keep = (frame.t <= gap[0]) | (frame.t >= gap[1])
    arrays = {name: getattr(frame, name)[keep] for name in FIELDS}
    events: list = []
    n = len(arrays["t"])
    reported = gap is None
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        t = arrays["t"][lo:hi]
        if not reported and t[-1] >= gap[1]:
            before = int(np.searchsorted(t, gap[1]))
            if before:
                events += detector.process(Frame(*(arrays[f][lo:lo + before] for f in FIELDS),
                                                 fresh=lo == 0))
            events += detector.gap(Gap(*gap, restarted=True))
            reported, lo = True, lo + before
            if lo >= hi:
                continue
        events += detector.process(Frame(*(arrays[f][lo:hi] for f in FIELDS), fresh=lo == 0))
    return events + detector.finish()


def _phases(events: list) -> list[str]:
    return [e.phase.value for e in events if isinstance(e, PhaseChange)]


def _reps(events: list) -> list[Rep]:
    return [e for e in events if isinstance(e, Rep)]


def test_a_slow_raise_goes_through_each_phase_and_is_timed_from_its_onsets():
    events = _detect(Trace().raise_heel(up_s=3.0, hold_s=1.0, down_s=3.0))
    assert _phases(events) == ["rest", "rising", "top", "lowering", "rest"]
    [rep] = _reps(events)
    assert rep.up_s == pytest.approx(3.0, abs=0.1)
    assert rep.hold_s == pytest.approx(1.0, abs=0.15)
    assert rep.down_s == pytest.approx(3.0, abs=0.1)
    assert rep.start_s == pytest.approx(2.0, abs=0.1)
    assert rep.peak_deg == pytest.approx(30.0, abs=0.5)
    assert rep.verdict == Verdict.OK


def test_a_heel_drop_below_the_step_is_its_own_phase():
    trace = Trace().move(30.0, 3.0).stay(0.5).move(-15.0, 3.5).stay(0.5).move(0.0, 1.0).stay(2)
    events = _detect(trace)
    assert _phases(events) == ["rest", "rising", "top", "lowering", "heel_drop", "rest"]
    [rep] = _reps(events)
    assert rep.bottom_deg == pytest.approx(-15.0, abs=0.5)
    assert rep.end_s == pytest.approx(trace.now - 2.0, abs=0.15)


def test_a_heel_lowered_first_and_rested_there_then_raised_from_there():
    trace = Trace().move(-15.0, 1.5).stay(3.0).raise_heel(peak_deg=30.0)
    events = _detect(trace)
    assert _phases(events) == ["rest", "heel_drop", "rest", "rising", "top", "lowering",
                               "rest"]
    [rep] = _reps(events)
    assert rep.peak_deg == pytest.approx(30.0, abs=0.5)
    assert rep.up_s == pytest.approx(3.0, abs=0.15)


def test_reps_with_no_pause_at_the_bottom_are_each_counted():
    trace = Trace()
    for _ in range(3):
        trace.move(30.0, 1.5).stay(0.3).move(0.0, 1.5)
    trace.stay(2.0)
    assert len(_reps(_detect(trace))) == 3


@pytest.mark.parametrize("block", [1, 10])
def test_reps_that_come_back_higher_than_the_first_rest_are_each_counted(block):
    # the level was taken with the heel hanging below a step; after the first rep the heel
    # comes back only to the step's level, pauses there a moment and rises again
    trace = Trace().move(40.0, 1.0).stay(1.0).move(15.0, 1.0).stay(0.4)
    for _ in range(2):
        trace.move(40.0, 1.5).stay(1.0).move(15.0, 1.5).stay(0.4)
    reps = _reps(_detect(trace.stay(2.0), block=block))
    assert len(reps) == 3
    assert [r.up_s for r in reps] == pytest.approx([1.0, 1.5, 1.5], abs=0.15)


def test_a_knock_at_the_top_is_counted_not_fatal():
    trace = Trace().move(30.0, 3.0).stay(1.0).impact().stay(1.0).move(0.0, 3.0).stay(2.0)
    [rep] = _reps(_detect(trace))
    assert rep.knocks == 1 and rep.hold_s == pytest.approx(2.0, abs=0.2)


def test_a_knock_that_bends_the_pitch_at_the_top_is_no_lowering():
    # the shoe knocks the step mid-hold: for a tenth of a second the pitch reads 16 degrees
    # low, then the hold goes on; the lowering is the one that comes after it
    trace = Trace().move(30.0, 2.0).stay(1.0)
    trace.impact().impact(trace.now + 0.04)     # ringing for 0.09 s
    trace.move(14.0, 0.06).move(30.0, 0.1).stay(1.0).move(0.0, 2.5).stay(2.0)
    events = _detect(trace)
    [rep] = _reps(events)
    assert _phases(events) == ["rest", "rising", "top", "lowering", "rest"]
    assert rep.knocks == 1 and rep.hold_s == pytest.approx(2.16, abs=0.2)
    # one knock, however the blocks cut through its ringing
    assert [r.knocks for b in (1, 3, 7) for r in _reps(_detect(trace, block=b))] == [1, 1, 1]


@pytest.mark.parametrize("block", [1, 10])
def test_a_knock_just_after_the_top_counts_and_a_landing_as_it_gets_there_does_not(block):
    # a forefoot landing (a lunge, a stair) ends a movement: the foot is still moving as
    # the jolt comes; a knock comes to a foot already still at its top
    def trace(after_top_s: float | None) -> Trace:
        tr = Trace().move(30.0, 1.0)
        if after_top_s is not None:
            tr.impact(top_s + after_top_s)
        return tr.stay(2.0).move(0.0, 1.5).stay(2.0)

    [top_s] = [e.t_s for e in _detect(trace(None), block=block)
               if isinstance(e, PhaseChange) and e.phase == Phase.TOP]
    knocked = _reps(_detect(trace(0.2), block=block))
    assert len(knocked) == 1 and knocked[0].knocks == 1
    landed = _detect(trace(0.02), block=block)
    assert _reps(landed) == [] and "disturbed" in _phases(landed)


@pytest.mark.parametrize("block", [1, 10, 20])
def test_a_raise_from_the_step_after_the_heel_hung_below_it_ends_back_at_the_step(block):
    # the level is the step's (a calibration); the stream starts with the heel hanging
    # below it, which comes up to the step, stands there and raises: the raise starts
    # from the step (however long the blocks it comes in), not from
    # wherever it had crept to by the time it was seen going on up, so coming back down
    # to the step ends the rep there and the next raise is a rep of its own
    trace = Trace(rest_s=0.02).move(-12.0, 0.02).stay(3.0).move(0.0, 1.0).stay(0.3)
    first_end_s = trace.raise_heel(up_s=1.5, hold_s=1.0, down_s=3.0).now - 2.0
    trace.raise_heel(up_s=1.5, hold_s=1.0, down_s=3.0)
    reps = _reps(_detect(trace, block=block))
    assert len(reps) == 2
    assert reps[0].end_s == pytest.approx(first_end_s, abs=0.3)
    assert reps[0].bottom_deg == pytest.approx(0.0, abs=1.0)
    assert reps[1].start_s > reps[0].end_s


@pytest.mark.parametrize("block", [1, 10])
def test_a_knock_on_the_swaying_top_of_a_slow_raise_is_no_landing(block):
    # a slow raise's top sways faster than a fifth of its rise's speed, and the knock
    # twitches the pitch as it rings: neither is a foot about to land
    def trace(knock: bool) -> Trace:
        tr = Trace().move(30.0, 2.0).sway(0.02, 0.6, 2.5)
        if knock:
            tr.impact()
            tr.move(32.0, 0.04).move(30.0, 0.1)
        return tr.sway(2.0, 0.6, 2.5).move(0.0, 2.0).stay(2.0)

    [top_s] = [e.t_s for e in _detect(trace(False), block=block)
               if isinstance(e, PhaseChange) and e.phase == Phase.TOP]
    knocked = _detect(trace(True), block=block)
    assert top_s + 0.3 > trace(True).impacts[0], "the knock comes as a landing would"
    assert [r.knocks for r in _reps(knocked)] == [1]


def test_an_impact_while_rising_is_not_a_raise():
    trace = Trace()
    trace.impact(trace.now + 1.0)
    trace.move(30.0, 2.0).stay(1.0).move(0.0, 2.0).stay(3)
    events = _detect(trace)
    assert _reps(events) == [] and "disturbed" in _phases(events)


def test_free_fall_is_a_hop_not_a_raise():
    trace = Trace().move(30.0, 0.5).stay(0.2)
    trace.flights.append((trace.now - 0.15, trace.now))
    trace.move(0.0, 0.5).stay(3.0)
    assert _reps(_detect(trace)) == []


@pytest.mark.parametrize("block", [1, 10])
def test_in_a_quick_set_the_reps_after_a_dropped_one_still_count(block):
    # a hop at one rep's top drops it; the set goes on with 0.7 s between reps, never a
    # still second, but the foot is back where it stood before each of them
    trace = Trace()
    for hop in (False, True, False, False):
        trace.move(40.0, 0.5).stay(0.15)
        if hop:
            trace.flights.append((trace.now - 0.1, trace.now))
        trace.stay(0.15).move(0.0, 0.5).stay(0.7)
    trace.stay(3.0)
    reps = _reps(_detect(trace, block=block))
    assert [round(r.start_s) for r in reps] == [2, 6, 8]


def test_a_quick_raise_landing_with_a_thud_is_a_too_fast_rep():
    trace = Trace().move(50.0, 0.35).stay(0.15).move(0.0, 0.35).impact().stay(2.0)
    [rep] = _reps(_detect(trace))
    assert rep.verdict == Verdict.TOO_FAST
    assert rep.up_s == pytest.approx(0.35, abs=0.08)


def test_quick_reps_whose_landing_rings_on_below_rest_are_each_counted():
    # the live pitch of a landed heel dips a few degrees below rest while the thud still
    # rings: the landing of the rep just counted, not a step, so the next rep counts too
    trace = Trace()
    for _ in range(3):
        trace.move(50.0, 0.35).stay(0.15).move(0.0, 0.3).impact().impact(trace.now + 0.04)
        trace.stay(0.03).move(-8.0, 0.04).move(0.0, 0.15).stay(0.3)
    trace.stay(2.0)
    reps = _reps(_detect(trace))
    assert len(reps) == 3 and all(r.verdict == Verdict.TOO_FAST for r in reps)


@pytest.mark.parametrize("block", [1, 10])
@pytest.mark.parametrize("strokes, top_deg", [
    # read from the accelerometer alone, a quick raise's own acceleration reads 15-20
    # degrees of extra pitch as the rise stops and as the lowering starts
    ([(58.0, 0.22), (40.0, 0.06), (40.0, 0.12), (60.0, 0.06), (-6.0, 0.2), (0.0, 0.1)], 40.0),
    # on the heel counter, far from the ball of the foot, 110-190 deg above rest for a
    # tenth of a second as the rise stops: past what any foot turns
    ([(125.0, 0.15), (45.0, 0.12), (45.0, 0.15), (-5.0, 0.25), (0.0, 0.1)], 45.0),
], ids=["bent", "past_any_foot"])
def test_a_quick_raise_without_a_gyro_is_as_high_as_where_it_stood_still(strokes, top_deg,
                                                                         block):
    # only the tenth of a second it stands still at its top reads its height
    trace = Trace()
    trace.gyro = False
    for to_deg, duration_s in strokes:
        trace.move(to_deg, duration_s)
    trace.stay(2.0)
    [rep] = _reps(_detect(trace, block=block))
    assert rep.peak_deg == pytest.approx(top_deg, abs=1.0)
    assert rep.verdict == Verdict.TOO_FAST


@pytest.mark.parametrize("block", [1, 10])
def test_a_reading_that_hangs_the_heel_past_any_step_then_turns_over_is_no_rep(block):
    # a hop's landing read without a gyro: the reading swings 175 deg down, crosses the
    # seam at 180 and comes back from above, to rest again
    trace = Trace()
    trace.gyro = False
    trace.move(-175.0, 0.15)
    trace.t.append(trace.now + np.arange(3) / RATE)
    trace.p.append(np.array([166.0, 77.0, 42.0]))
    trace.move(28.0, 0.05).stay(0.05).move(0.0, 0.3).stay(2.0)
    assert _reps(_detect(trace, block=block)) == []


@pytest.mark.parametrize("block", [1, 10])
def test_a_quick_raise_whose_push_dips_the_reading_with_a_jolt_counts(block):
    # without a gyro the push of a quick raise from standing reads a few degrees heel
    # down, with a jolt: a standing foot's, as at rest, not a step's landing
    trace = Trace()
    trace.gyro = False
    trace.move(-7.0, 0.05).impact().stay(0.02).move(50.0, 0.3).stay(0.15).move(0.0, 0.3)
    trace.stay(2.0)
    [rep] = _reps(_detect(trace, block=block))
    assert rep.verdict == Verdict.TOO_FAST


def test_an_impact_with_the_toes_up_is_a_heel_strike():
    trace = Trace().move(40.0, 0.35).move(-15.0, 0.35).impact().move(0.0, 0.1).stay(3.0)
    assert _reps(_detect(trace)) == []


def test_a_small_shift_settles_at_its_new_level_and_a_small_raise_is_a_partial():
    trace = Trace().move(3.0, 1.0).stay(2.0).move(0.0, 1.0).stay(2.0)
    events = _detect(trace)
    assert _reps(events) == [] and not any(isinstance(e, Partial) for e in events)
    events = _detect(Trace().raise_heel(up_s=1.0, down_s=1.0, hold_s=0.3, peak_deg=8.0))
    assert _reps(events) == [] and any(isinstance(e, Partial) for e in events)


def test_a_long_gap_in_the_lowering_counts_the_rep_and_leaves_the_rest_unknown():
    trace = Trace().move(30.0, 3.0).stay(1.0)
    cut = trace.now + 1.5
    trace.move(0.0, 3.0).stay(5.0)
    events = _detect(trace, gap=(cut, cut + 3.0))
    [rep] = _reps(events)
    assert rep.up_s == pytest.approx(3.0, abs=0.15)
    assert rep.down_s is None and rep.end_s is None and rep.gaps == 1
    assert any(isinstance(e, Gap) for e in events)


class _Bridged:
    """A quick raise whose every boundary fell in a bridged gap: the live pitch, a filter
    behind, still reads it after the gap, but the measured pitch says nothing of it."""

    def __init__(self, lag_s: float) -> None:
        self.t = np.arange(600) / RATE

        def bump(at_s: float) -> np.ndarray:
            def s(x: np.ndarray) -> np.ndarray:
                return x**3 * (10 - 15 * x + 6 * x * x)
            u = np.clip((self.t - at_s) / 0.15, 0, 1)
            return 40.0 * (s(u) - s(np.clip((self.t - at_s - 0.15) / 0.15, 0, 1)))

        self.fit, self.live = bump(2.0), bump(2.0 + lag_s)
        self.known = ~((self.t >= 1.95) & (self.t < 2.35))

    def frame(self) -> Frame:
        none = np.zeros(len(self.t), dtype=bool)
        return Frame(self.t, self.known.copy(), self.live, self.fit, none, none,
                     np.ones(len(self.t), dtype=bool), fresh=True)


def test_a_movement_whose_every_boundary_fell_in_a_gap_is_no_rep():
    # the stride that ran into a dropout in a knocks session came out as a rep with no
    # time at all, judged "ok": nothing said it was a raise, and nothing was judged
    events = _detect(_Bridged(lag_s=0.15))
    assert _reps(events) == []
    assert any(isinstance(e, Partial) for e in events)


def test_a_long_held_top_is_a_hold_judged_against_its_range():
    events = _detect(Trace().raise_heel(up_s=1.5, hold_s=35.0, down_s=1.5), stage=1)
    [hold] = [e for e in events if isinstance(e, Hold)]
    assert hold.hold_s == pytest.approx(35.0, abs=0.3) and hold.verdict == "ok"
    assert _reps(events) == []


def test_a_hold_a_long_gap_cuts_is_a_hold_of_unknown_length():
    # stage 1: 13 s at the top, then a dropout of 3 s; it had come out as a rep, counted
    # in a set of holds, with its lowering unknown
    trace = Trace().move(30.0, 1.5)
    cut = trace.now + 13.0
    trace.stay(20.0).move(0.0, 1.5).stay(3.0)
    events = _detect(trace, stage=1, gap=(cut, cut + 3.0))
    assert _reps(events) == []
    [hold] = [e for e in events if isinstance(e, Hold)]
    assert hold.start_s == pytest.approx(3.5, abs=0.15)
    assert hold.end_s is None and hold.hold_s is None and hold.verdict is None
    [summary] = [e for e in events if isinstance(e, SetSummary)]
    assert summary.holds == 1 and summary.hold_s == (None,)
    assert summary.tempo_compliance is None


@pytest.mark.parametrize("block", [1, 7, 64])
def test_the_same_phases_whatever_the_blocks(block):
    trace = Trace().raise_heel().move(-12.0, 2.0).stay(1.0).move(0.0, 1.0).stay(1.0)
    trace.raise_heel(up_s=0.4, down_s=0.4, hold_s=0.2, peak_deg=45.0)
    whole = _detect(trace, block=10_000)
    parts = _detect(trace, block=block)
    assert [type(e) for e in parts] == [type(e) for e in whole]
    for a, b in zip(parts, whole, strict=True):
        if isinstance(a, PhaseChange):
            assert (a.phase, a.t_s) == pytest.approx((b.phase, b.t_s), abs=1e-9)
        elif isinstance(a, Rep):
            assert a.start_s == pytest.approx(b.start_s, abs=1e-9)
            assert a.verdict == b.verdict


def test_phase_enum_names_what_a_live_view_shows():
    assert {p.value for p in Phase} == {"rest", "rising", "top", "lowering", "heel_drop",
                                        "disturbed"}
