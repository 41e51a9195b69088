"""The phase state machine: rest, rising, top, lowering, heel drop, disturbed.

Live, it follows the filtered pitch and reports phase changes as soon as they
are clear. When a movement is back at rest it hands the whole of it to
:func:`.fit.fit_raise`, which finds onsets and offsets, and reports a rep, a
partial or a hold. Thresholds are shares of the person's usual raise, so a
small foot or a shallow raiser is judged on their own scale.

What is not a raise is told apart by what it is, not by |a| leaving 1 g (a
quick raise swings it from 0.6 to 1.25 g): free fall (hops, jumps, running),
an impact while rising or with the foot turned toes-up (heel strikes of
walking and stairs, a foot landing on the next step), a turn no ankle makes. A
knock while holding the top is only counted; a thud as the heel lands ends the
lowering. After a disturbance the foot must be still again before anything
counts.

Block-size invariance: every decision is made at a particular sample from that
sample and state carried from earlier samples. Blocks are only scanned with
numpy for the next sample at which a decision changes, so the Python work per
sample stays small.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from ..protocol import Stage
from .events import Event, Gap, Hold, PaceWarning, Partial, Phase, PhaseChange, Rep, Verdict
from .fit import Bounds, fit_raise
from .params import DetectorParams
from .pitch import Frame
from .sets import SetTracker
from .tempo import hold_verdict, predicted_up_s, rep_faults

TRIM_BLOCKS = 64         # history is trimmed once it holds this many blocks


@dataclass
class _Movement:
    """A raise in progress, with the running figures its state transitions need."""

    rest_deg: float
    detect_s: float
    on_s: float                    # NaN: lowered below rest, no raise (yet)
    peak_deg: float
    peak_speed_dps: float
    seen_deg: float = -math.inf    # highest pitch among measured samples
    top_detect_s: float = math.nan
    top_deg: float = math.nan      # the pitch as the top was reached
    lower_detect_s: float = math.nan
    low_deg: float = math.inf
    low_speed_dps: float = 0.0
    return_speed_dps: float = 0.0
    paced: bool = False
    moved_s: float = -math.inf     # last time the pitch was moving (from the top on)
    settled_s: float = math.nan    # when the lowering seemed over (confirmed a little later)
    gaps: int = 0
    knocks: int = 0
    jolted_s: float = -math.inf    # the last impact at the top
    fast_s: float = -math.inf      # the last time the foot moved at speed, at its top
    halted_s: float = math.nan     # the lowering paused there, a raise's worth down


class PhaseDetector:
    """Follows pitch sample by sample and reports phases, reps, partials, holds and sets.

    Parameters
    ----------
    stage : Stage
        Tempo targets for verdicts and the rest that separates sets.
    params : DetectorParams
    typical_deg : float
        The person's usual raise (peak above rest) before any is seen.
    learned : bool
        Whether ``typical_deg`` is the person's own (a calibration) or a prior.
    hold_range_s : (min, max or None)
        The isometric hold range holds are judged against.
    lever_cm : float
        Heel to the ball of the foot, for rise heights.
    delay_s : float
        Lag of the live pitch behind the movement (the causal low-pass).
    """

    def __init__(self, stage: Stage, params: DetectorParams, typical_deg: float, learned: bool,
                 hold_range_s: tuple[float, float | None], lever_cm: float,
                 delay_s: float) -> None:
        self.stage = stage
        self.params = params
        self.sets = SetTracker(stage)
        self.hold_range_s = hold_range_s
        self.lever_cm = lever_cm
        self.delay_s = delay_s
        self._raises: list[float] = [typical_deg] if learned else []
        self.typical_deg = typical_deg
        """The person's usual raise: the median of the recent counted ones."""
        self._lag = max(1, round(params.velocity_lag_s * params.rate_hz))
        self._impact_lag = max(1, round(params.impact_lead_s * params.rate_hz))
        follow = 1.0 - math.exp(-1.0 / (params.rest_follow_s * params.rate_hz))
        self._rest_b, self._rest_a = np.array([follow]), np.array([1.0, follow - 1.0])
        self._fit_tail: np.ndarray | None = None
        self._held_before = 0.0         # where the foot was as the last frame's jolt came
        self._impact_last = False       # the last frame ended in a jolt
        self._rep_index = 0
        self._events: list[Event] = []
        self._history: list[tuple[np.ndarray, ...]] = []
        self._tail_t: np.ndarray | None = None
        self._tail_p: np.ndarray | None = None
        self._rest_since_s = -math.inf  # no fit reaches back past this
        self._last_end_s = -math.inf    # when the last counted movement ended
        self._rested_s = math.inf       # when the foot came to rest
        self._state = Phase.DISTURBED
        self._move: _Movement | None = None
        self._rest_deg = 0.0
        self._busy_s = -math.inf
        self._quiet_s = params.settle_s
        self._handlers = {
            Phase.REST: self._rest,
            Phase.RISING: self._rising,
            Phase.TOP: self._top,
            Phase.LOWERING: self._lowering,
            Phase.HEEL_DROP: self._heel_drop,
            Phase.DISTURBED: self._disturbance,
        }

    @property
    def phase(self) -> Phase:
        return self._state

    @property
    def learned(self) -> bool:
        return bool(self._raises)

    @property
    def _count_deg(self) -> float:
        """A raise this far above rest counts: a share of the usual one, but a shallow
        raise of ``count_max_deg`` always does, however big the usual one is."""
        return min(self.params.count_share * self.typical_deg, self.params.count_max_deg)

    # -- streaming ------------------------------------------------------------------------

    def process(self, frame: Frame) -> list[Event]:
        """Run the state machine over a frame of pitch samples; returns the events."""
        self._events = events = []
        if frame.fresh:
            # a new frame of reference: what came before cannot be measured against it
            self._history = []
            self._forget_tails()
            self._reset(float(frame.t[0]))
        t, p = frame.t, frame.pitch_deg
        roll = frame.roll_deg if frame.roll_deg is not None else np.zeros(len(t))
        self._history.append((t, frame.fit_deg, frame.known, frame.fused, roll))
        k = self._lag
        if self._tail_t is None:
            self._tail_t = t[0] - self.params.velocity_lag_s * np.arange(k, 0, -1) / k
            self._tail_p = np.full(k, p[0])
        self._t, self._p, self._known = t, p, frame.known
        self._impact, self._flight, self._fused = frame.impact, frame.flight, frame.fused
        # the unfiltered pitch a moment before each sample, and through a jolt a moment
        # before it began: where the foot was when the jolt came (the jolt itself bends
        # the pitch, and the live pitch lags)
        lag = self._impact_lag
        before = np.concatenate((self._fit_tail, frame.fit_deg)) if self._fit_tail is not None \
            else np.concatenate((np.full(lag, frame.fit_deg[0]), frame.fit_deg))
        before, self._fit_tail = before[:len(t)], before[-lag:]
        impact = frame.impact
        if impact.any():
            self._onset = impact & ~np.concatenate(([self._impact_last], impact[:-1]))
            began = np.maximum.accumulate(np.where(self._onset | ~impact, np.arange(len(t)), -1))
            held = np.where(began >= 0, before[np.maximum(began, 0)], self._held_before)
            self._before = np.where(impact, held, before)
        else:   # the usual frame: no jolt, so no onset and nothing held
            self._onset, self._before = impact, before
        self._held_before, self._impact_last = float(self._before[-1]), bool(impact[-1])
        self._v = self._ext_t = self._ext_p = None
        self._prev_tail = self._tail_t, self._tail_p
        if len(t) >= k:
            self._tail_t, self._tail_p = t[-k:], p[-k:]
        else:
            self._extend()
            self._tail_t, self._tail_p = self._ext_t[-k:], self._ext_p[-k:]
        n = len(t)
        i = 0
        while i < n:
            # a set never closes under a raise in progress: it may belong to the set
            due = self.sets.due_s if self._move is None else math.inf
            stop = n if due >= t[-1] else int(np.searchsorted(t, due, side="right"))
            if i >= stop:
                self._close_set()
                continue
            i = self._handlers[self._state](i, stop)
        self._trim(float(t[-1]))
        return events

    def gap(self, gap: Gap) -> list[Event]:
        """A gap in the samples: reported; a long one cuts what was in progress."""
        self._events = events = [gap]
        if self._move is not None:
            self._move.gaps += 1
        if gap.restarted:
            self._cut(gap.start_s)
            self._forget_tails()
        return events

    def finish(self) -> list[Event]:
        """End of stream: a raise whose top was seen is completed, the open set closed."""
        self._events = events = []
        if self._history:
            self._cut(float(self._history[-1][0][-1]), announce=False)
        summary = self.sets.close()
        if summary is not None:
            events.append(summary)
        return events

    def _cut(self, t_s: float, announce: bool = True) -> None:
        """The samples stop at ``t_s``: finish what can be, then wait for rest again."""
        m = self._move
        if m is not None and self._state in (Phase.TOP, Phase.LOWERING, Phase.HEEL_DROP):
            self._complete(t_s, heel_drop=self._state == Phase.HEEL_DROP, cut=True)
        self._reset(t_s, announce)

    def _reset(self, t_s: float, announce: bool = True) -> None:
        if announce and self._state != Phase.DISTURBED and self._history:
            self._events.append(PhaseChange(float(t_s), Phase.DISTURBED,
                                            float(self._history[-1][1][-1])))
        self._state = Phase.DISTURBED
        self._move = None
        self._busy_s = t_s
        self._quiet_s = self.params.settle_s

    def _forget_tails(self) -> None:
        """What carried over from the samples before: gone with them."""
        self._tail_t = self._fit_tail = None
        self._impact_last = False

    def _extend(self) -> None:
        """The block with the previous block's last samples in front (for rates, crossings)."""
        if self._ext_t is None:
            tail_t, tail_p = self._prev_tail
            self._ext_t = np.concatenate((tail_t, self._t))
            self._ext_p = np.concatenate((tail_p, self._p))

    @property
    def v(self) -> np.ndarray:
        """Pitch rate (deg/s) at each sample of the block, computed when first needed."""
        if self._v is None:
            k = self._lag
            self._extend()
            ext_t, ext_p = self._ext_t, self._ext_p
            self._v = (ext_p[k:] - ext_p[:-k]) / (ext_t[k:] - ext_t[:-k])
        return self._v

    def _enter(self, phase: Phase, j: int) -> None:
        self._state = phase
        if phase == Phase.REST:
            self._rested_s = float(self._t[j])
        self._events.append(PhaseChange(float(self._t[j]), phase, float(self._p[j])))

    def _settle(self, j: int, level: float | None = None) -> None:
        """The foot came to rest somewhere new without a raise (a weight shift): rest there
        (at ``level``, if it is known better than by the pitch at ``j``)."""
        self._move = None
        self._rest_deg = float(self._p[j]) if level is None else level
        self._enter(Phase.REST, j)

    def _disturb(self, j: int) -> None:
        """Walking, a hop, a stumble: drop any raise in progress, wait for stillness."""
        self._move = None
        if self._state != Phase.DISTURBED:
            self._enter(Phase.DISTURBED, j)
        self._busy_s = float(self._t[j])
        self._quiet_s = self.params.quiet_s

    def _strike_deg(self, i: int, stop: int) -> np.ndarray:
        """How far toes-up an impact must come to be a heel strike, sample by sample."""
        prm = self.params
        return np.where(self._fused[i:stop], prm.heel_strike_deg, prm.heel_strike_accel_deg)

    def _jolted(self, i: int, stop: int) -> np.ndarray:
        return self._impact[i:stop] | self._flight[i:stop]

    # -- states ---------------------------------------------------------------------------

    def _rest(self, i: int, stop: int) -> int:
        p = self._p[i:stop]
        on = self.params.on_share * self.typical_deg
        # the level the foot rests at, followed slowly (the live pitch settles and drifts a
        # little after walking or a rep), so a rise is measured from where it really starts
        b, _ = lfilter(self._rest_b, self._rest_a, p, zi=self._rest_a[1:] * -self._rest_deg)
        # a jolt with the foot standing changes nothing (a stamp, the other foot, the push
        # of a quick raise beginning), nor does a landing still ringing; but one just after
        # the foot stopped somewhere may be a step landing
        t = self._t[i:stop]
        landing = t < self._last_end_s + self.params.landing_grace_s
        standing = t >= self._rested_s + self.params.rested_s
        jolt = self._flight[i:stop] | (self._impact[i:stop] & ~landing & ~standing)
        rise = p - b
        up = rise > on
        if up.any():
            # still coming down (the live pitch lags a heel that has landed) is not rising
            up &= self.v[i:stop] > 0.0
        hits = np.flatnonzero(up | (rise < -on) | jolt)
        if len(hits) == 0:
            self._rest_deg = float(b[-1])
            return stop
        j = i + int(hits[0])
        rest = float(b[j - i - 1]) if j > i else self._rest_deg
        self._rest_deg = rest
        if jolt[j - i]:
            self._disturb(j)
        elif up[j - i]:
            self._start(j, rest)
        else:
            # the heel lowered below where it rested (off a step): no raise yet
            self._move = _Movement(rest_deg=rest, detect_s=float(self._t[j]), on_s=math.nan,
                                   peak_deg=rest, peak_speed_dps=0.0,
                                   low_deg=float(self._p[j]), moved_s=float(self._t[j]))
            self._enter(Phase.HEEL_DROP, j)
        return j + 1

    def _start(self, j: int, b: float) -> None:
        """The pitch left rest upward at sample ``j``: a raise may be starting."""
        on = self.params.on_share * self.typical_deg
        self._extend()
        e = j + self._lag
        on_s = _interpolate(self._ext_t[e - 1], self._ext_p[e - 1], self._ext_t[e],
                            self._ext_p[e], b + on)
        self._move = _Movement(rest_deg=b, detect_s=float(self._t[j]), on_s=on_s,
                               peak_deg=float(self._p[j]), peak_speed_dps=0.0)
        self._enter(Phase.RISING, j)

    def _seen(self, i: int, end: int) -> None:
        """Keep the highest measured pitch (a gap's bridged samples do not count)."""
        known = self._known[i:end]
        if known.any():
            self._move.seen_deg = max(self._move.seen_deg, float(self._p[i:end][known].max()))

    def _rising(self, i: int, stop: int) -> int:
        m, prm = self._move, self.params
        t, p, v = self._t[i:stop], self._p[i:stop], self.v[i:stop]
        b, typical = m.rest_deg, self.typical_deg
        peak_speed = np.maximum(np.maximum.accumulate(v), m.peak_speed_dps)
        topped = (v < prm.top_speed_share * peak_speed) & (t >= m.detect_s + prm.min_rise_s)
        fell = p < b + 0.5 * prm.on_share * typical
        # without a gyro a quick raise's own acceleration can read past any limit for a
        # tenth of a second (on the heel counter, 110-190 deg above rest): that one is
        # judged once it is over, by where the foot stood still at its top
        too_far = self._fused[i:stop] & (p > b + prm.max_raise_deg)
        # a quick raise from standing starts with a push that jolts like an impact
        push = t <= m.detect_s + prm.push_s if m.detect_s >= self._rested_s + prm.rested_s \
            else np.zeros(len(t), dtype=bool)
        jolt = self._flight[i:stop] | (self._impact[i:stop] & ~push)
        hits = np.flatnonzero(topped | fell | too_far | jolt)
        end = stop if len(hits) == 0 else i + int(hits[0]) + 1
        if not m.paced and self.stage.min_up_s is not None:
            self._pace(i, end, b + prm.pace_share * typical, typical)
        m.peak_deg = max(m.peak_deg, float(self._p[i:end].max()))
        m.peak_speed_dps = float(peak_speed[end - 1 - i])
        self._seen(i, end)
        if len(hits) == 0:
            return stop
        j = end - 1
        if jolt[j - i] or too_far[j - i]:
            self._disturb(j)
        elif fell[j - i]:
            self._settle(j)
        else:
            m.top_detect_s = m.moved_s = m.fast_s = float(self._t[j])
            m.top_deg = m.peak_deg
            self._enter(Phase.TOP, j)
        return end

    def _shifted(self, t: np.ndarray, p: np.ndarray, v: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
        """Samples at which a small movement has settled at a new level: a weight shift.

        Returns (last time moving, settled) per sample, or Nones once the movement is
        too big to be a shift (its peak only grows, so that never changes back).
        """
        m, prm = self._move, self.params
        typical = self.typical_deg

        def small(peak: np.ndarray | float) -> np.ndarray | bool:
            return (peak - m.rest_deg < self._count_deg) | (peak < prm.min_peak_deg)

        if not small(m.peak_deg):
            return None, None
        moved = np.maximum.accumulate(
            np.where(np.abs(v) > prm.still_speed_share * typical, t, m.moved_s))
        peak = np.maximum(np.maximum.accumulate(p), m.peak_deg)
        return moved, (t - moved >= prm.quiet_s) & small(peak)

    def _pace(self, i: int, end: int, level: float, typical: float) -> None:
        """Warn mid-rise when the pace so far predicts a rushed rise."""
        m = self._move
        hits = np.flatnonzero(self._p[i:end] >= level)
        if len(hits) == 0:
            return
        m.paced = True
        self._extend()
        e = i + int(hits[0]) + self._lag
        third_s = _interpolate(self._ext_t[e - 1], self._ext_p[e - 1], self._ext_t[e],
                               self._ext_p[e], level)
        up_s = predicted_up_s(m.on_s, third_s, self.params.on_share, self.params.pace_share)
        if up_s < self.stage.min_up_s:
            self._events.append(PaceWarning(float(self._ext_t[e]), up_s, self.stage.min_up_s))

    def _top(self, i: int, stop: int) -> int:
        m, prm = self._move, self.params
        t, p = self._t[i:stop], self._p[i:stop]
        typical = self.typical_deg
        peak = np.maximum(np.maximum.accumulate(p), m.peak_deg)
        travel = peak - m.rest_deg
        lowering = p < peak - prm.drop_share * travel
        # a top not above level is no raise's: the heel came up from below a step to level
        low_top = m.peak_deg < prm.min_peak_deg
        small = m.peak_deg - m.rest_deg < self._count_deg or low_top
        # from a top that is no raise's, going on up is the raise beginning from there; so
        # is rising again as far as the rise there: the heel came up from hanging below a
        # step to level, stood there, and now raises
        onward = p > (m.peak_deg + prm.on_share * typical if low_top else
                      m.top_deg + max(self._count_deg, m.top_deg - m.rest_deg))
        if small or lowering.any():   # the rate is only needed then: skip it on a still top
            v = self.v[i:stop]
            lowering &= v < -prm.lower_speed_share * travel
            # a knock bends the live pitch down for a moment: no lowering until it settles
            jolted = np.maximum.accumulate(np.where(self._impact[i:stop], t, m.jolted_s))
            lowering &= t - jolted >= prm.knock_settle_s
            moved, shifted = self._shifted(t, p, v)
        else:
            moved = shifted = None
        too_long = t > m.detect_s + prm.max_movement_s
        # a foot that lands on its forefoot as it gets there stepped (a lunge, a stair):
        # a raise reaches its top without an impact. A knock comes to a foot already still
        # at its top (judged as the jolt begins: the jolt itself bends the pitch).
        touchdown = self._onset[i:stop] & (t < m.top_detect_s + prm.touchdown_s)
        if t[0] < m.top_detect_s + prm.touchdown_s:
            fast = np.abs(self.v[i:stop]) >= max(prm.top_speed_share * m.peak_speed_dps,
                                                 prm.touchdown_speed_dps)
            fast_s = np.maximum.accumulate(np.where(fast, t, m.fast_s))
            before = np.concatenate(([m.fast_s], fast_s[:-1]))
            touchdown &= t - before < prm.touchdown_moving_s
        else:
            fast_s = None
        exits = lowering | self._flight[i:stop] | too_long | touchdown | onward
        if shifted is not None:
            exits |= shifted
        hits = np.flatnonzero(exits)
        end = stop if len(hits) == 0 else i + int(hits[0]) + 1
        if not m.paced and self.stage.min_up_s is not None:   # a rise that paused early
            self._pace(i, end, m.rest_deg + prm.pace_share * typical, typical)
        m.peak_deg = float(peak[end - 1 - i])
        if fast_s is not None:
            m.fast_s = float(fast_s[end - 1 - i])
        impacts = np.flatnonzero(self._impact[i:end])
        if len(impacts):
            m.jolted_s = float(t[impacts[-1]])
        m.knocks += int(np.count_nonzero(self._onset[i:end]))
        self._seen(i, end)
        if moved is not None:
            m.moved_s = float(moved[end - 1 - i])
        if len(hits) == 0:
            return stop
        j = end - 1
        if self._flight[j] or too_long[j - i] or touchdown[j - i]:
            self._disturb(j)
        elif onward[j - i]:
            # the raise starts where the foot stood at this top, not where it had crept
            # to by the time it was seen going on up (back there, it is back at rest)
            self._settle(j, m.top_deg)
            self._start(j, m.top_deg)
        elif shifted is not None and shifted[j - i]:
            self._settle(j)
        else:
            m.lower_detect_s = float(self._t[j])
            self._enter(Phase.LOWERING, j)
        return end

    def _lowering(self, i: int, stop: int) -> int:
        m, prm = self._move, self.params
        t, p, v = self._t[i:stop], self._p[i:stop], self.v[i:stop]
        b = m.rest_deg
        travel = m.peak_deg - b
        on = prm.on_share * self.typical_deg
        below = b - prm.heel_drop_share * self.typical_deg
        low = np.minimum(np.minimum.accumulate(p), m.low_deg)
        low_speed = np.minimum(np.minimum.accumulate(v), m.low_speed_dps)
        dropped = p < below
        if math.isnan(m.settled_s):
            ended = (v > prm.settle_speed_share * low_speed) & (
                p < b + prm.settle_share * travel)
        else:   # it stays there (and does not go on below rest): the lowering is over
            ended = t >= m.settled_s + prm.settle_confirm_s
        # a movement that stops on its way down and stays: if small, a weight shift; if it
        # came a raise's worth down, a raise from hanging below a step that ended at level
        moved = np.maximum.accumulate(np.where(
            np.abs(v) > prm.still_speed_share * self.typical_deg, t, m.moved_s))
        came_down = p < m.peak_deg - self._count_deg
        stopped = (t - moved >= prm.quiet_s) & ((travel < self._count_deg) | came_down)
        paused = (t - moved >= prm.rested_s) & came_down & (p < b + 0.5 * travel)
        halted_s = np.fmax.accumulate(np.where(paused, moved, m.halted_s))
        # up again before it came down, or from where it last paused in the lower half, a
        # raise's worth down: the next raise began without this one reaching its rest
        near_rest = low < b + prm.settle_share * travel
        rebound = (near_rest | ~np.isnan(halted_s)) & (p > low + on) & (v > 0.0)
        impact = self._impact[i:stop]
        # the heel landing at level; an impact with the toes up is a heel strike (walking)
        before = self._before[i:stop]
        landed = impact & (before >= b - self._strike_deg(i, stop)) & (
            before < b + prm.landing_share * travel)
        # still near the top: the shoe knocked the step as the lowering began
        knock = impact & (before >= m.peak_deg - prm.drop_share * travel)
        jolt = self._flight[i:stop] | (impact & ~landed & ~knock)
        exits = dropped | ended | landed | jolt | rebound | stopped
        hits = np.flatnonzero(exits)
        end = stop if len(hits) == 0 else i + int(hits[0]) + 1
        m.low_speed_dps = float(low_speed[end - 1 - i])
        m.low_deg = float(low[end - 1 - i])
        m.moved_s = float(moved[end - 1 - i])
        m.halted_s = float(halted_s[end - 1 - i])
        if len(hits) == 0:
            return stop
        j, k = end - 1, end - 1 - i
        if jolt[k]:
            self._disturb(j)
        elif dropped[k]:
            m.settled_s = math.nan
            self._enter(Phase.HEEL_DROP, j)
        elif landed[k] or (ended[k] and not math.isnan(m.settled_s)):
            self._complete(float(self._t[j]), heel_drop=False)
            self._rest_deg = m.rest_deg     # back where it began, if not where the last did
            self._enter(Phase.REST, j)
        elif ended[k]:
            m.settled_s = float(self._t[j])
        elif rebound[k]:
            # from a pause short of its rest, this rep ended where the foot stopped, so the
            # next one's fit has its own onset
            self._complete(float(self._t[j]) if near_rest[k] else m.halted_s, heel_drop=False)
            self._start(j, m.low_deg)
        else:
            if travel >= self._count_deg:
                self._complete(m.moved_s, heel_drop=False)
            self._settle(j)
        return end

    def _heel_drop(self, i: int, stop: int) -> int:
        m, prm = self._move, self.params
        p, jolt = self._p[i:stop], self._jolted(i, stop)
        b = m.rest_deg
        low = np.minimum(np.minimum.accumulate(p), m.low_deg)
        raised = not math.isnan(m.on_s)   # below rest after a raise, or before any
        landed = np.zeros(len(p), dtype=bool)
        if not raised:
            # dipped just after a rep's heel landed: that landing is still ringing; or a
            # little, from standing: the push of a quick raise (as at rest)
            ringing = self._t[i:stop] < self._last_end_s + prm.landing_grace_s
            pushed = (m.detect_s >= self._rested_s + prm.rested_s) & (
                low >= b - prm.landing_dip_deg)
            jolt = jolt & ~((ringing | pushed) & self._impact[i:stop] & ~self._flight[i:stop])
        else:
            # a quick lowering reads a few degrees toes-up as it stops (without a gyro,
            # ten): its heel landing is no heel strike, unless it went deeper than that
            landed = self._impact[i:stop] & (low >= b - prm.landing_dip_deg) & (
                self._before[i:stop] >= b - self._strike_deg(i, stop))
            jolt = jolt & ~landed
        # the return's peak speed comes halfway up, so its speed is only tracked from there
        # (and not computed at all while the heel is down at the bottom)
        halfway = p > b - 0.5 * (b - low)
        if not halfway.any() and not jolt.any():
            m.low_deg = float(low[-1])
            if raised:
                return stop
        v = self.v[i:stop]
        back_speed = np.maximum(np.maximum.accumulate(np.where(halfway, v, 0.0)),
                                m.return_speed_dps)
        back = (p > b - prm.return_share * (b - low)) & (v < prm.settle_speed_share * back_speed)
        if raised:
            exits = back | jolt | landed
        else:
            # lowered from rest without a raise: it may rise from here, or rest down there
            moved = np.maximum.accumulate(np.where(
                np.abs(v) > prm.still_speed_share * self.typical_deg, self._t[i:stop],
                m.moved_s))
            rested = self._t[i:stop] - moved >= prm.settle_s
            rising = p > b + prm.on_share * self.typical_deg
            # no heel hangs that far below a step: the reading is no heel's (a hop's
            # landing read without a gyro, the rest misjudged), so it neither comes back
            # up nor rises from there; only where the foot comes to rest counts
            deep = low < b - prm.max_drop_deg
            exits = ((back | rising) & ~deep) | jolt | rested
        hits = np.flatnonzero(exits)
        end = stop if len(hits) == 0 else i + int(hits[0]) + 1
        m.low_deg = float(low[end - 1 - i])
        m.return_speed_dps = float(back_speed[end - 1 - i])
        if not raised:
            m.moved_s = float(moved[end - 1 - i])
        if len(hits) == 0:
            return stop
        j = end - 1
        if jolt[j - i]:
            self._disturb(j)
        elif landed[j - i]:
            self._complete(float(self._t[j]), heel_drop=False)
            self._enter(Phase.REST, j)
        elif not raised:
            if rising[j - i]:
                self._start(j, b)
            elif rested[j - i]:
                self._settle(j)
            else:
                self._move = None
                self._enter(Phase.REST, j)
        else:
            self._complete(float(self._t[j]), heel_drop=True)
            self._enter(Phase.REST, j)
        return end

    def _disturbance(self, i: int, stop: int) -> int:
        t = self._t[i:stop]
        still = self.params.still_speed_share * self.typical_deg
        busy = self._jolted(i, stop) | (np.abs(self.v[i:stop]) > still) | ~self._known[i:stop]
        busy_s = np.maximum.accumulate(np.where(busy, t, self._busy_s))
        quiet = np.full(len(t), self._quiet_s)
        if self.sets.due_s < math.inf:
            # in a set, a foot still again where it stood is back at rest sooner: a quick
            # set never stands still for long
            near = np.abs(self._p[i:stop] - self._rest_deg) <= \
                self.params.on_share * self.typical_deg
            quiet[near] = min(self._quiet_s, self.params.settle_s)
        hits = np.flatnonzero(t - busy_s >= quiet)
        if len(hits) == 0:
            self._busy_s = float(busy_s[-1])
            return stop
        j = i + int(hits[0])
        self._rest_deg = float(self._p[j])
        self._rest_since_s = float(self._t[j] - quiet[hits[0]])
        self._enter(Phase.REST, j)
        return j + 1

    # -- a finished movement --------------------------------------------------------------

    def _close_set(self) -> None:
        summary = self.sets.close()
        if summary is not None:
            self._events.append(summary)

    def _complete(self, t_s: float, heel_drop: bool, cut: bool = False) -> None:
        """Back at rest (or cut off): fit the boundaries of the whole movement, report it."""
        m, prm = self._move, self.params
        self._move = None
        typical = self.typical_deg
        if m.seen_deg - m.rest_deg < self._count_deg or m.seen_deg < prm.min_peak_deg:
            if not cut:
                self._partial(m, t_s)
            return
        t_all = np.concatenate([h[0] for h in self._history])
        # from where the previous movement ended, so no fit can reach back into it
        first = int(np.searchsorted(t_all, max(m.detect_s - prm.lookback_s,
                                               self._rest_since_s)))
        last = int(np.searchsorted(t_all, t_s, side="right"))
        t = t_all[first:last]
        fit = np.concatenate([h[1] for h in self._history])[first:last]
        known = np.concatenate([h[2] for h in self._history])[first:last]
        fused = np.concatenate([h[3] for h in self._history])[first:last]
        # without the gyro the sensor's own acceleration bends the ends of each stroke a
        # little, so the fit leans on the usual (minimum-jerk) shape instead
        gyro = bool(fused.mean() > 0.5)
        prior = prm.shape_prior if gyro else prm.shape_prior_accel
        lower_detect_s = math.nan if cut and self._state == Phase.TOP else m.lower_detect_s
        bounds = fit_raise(t, fit, known, m.rest_deg, m.detect_s - self.delay_s,
                           m.top_detect_s - self.delay_s, lower_detect_s - self.delay_s,
                           heel_drop, cut, prior, prm, gyro)
        self._rest_since_s = float(t_s)
        self._last_end_s = float(t_s)
        top_s, lower_s = bounds.top_s, bounds.lower_s
        if bounds.start_s is None and top_s is None and lower_s is None and bounds.end_s is None:
            # no boundary could be placed (the gaps and jolts around it took every one): a
            # rep with no time to judge would be a verdict made up, and a raise whose top
            # was seen leaves at least one of them, so this was none
            if not cut:
                self._partial(m, t_s, bounds)
            return
        # a heel raise turns the foot about the ball of the foot, tilting it little out of
        # that plane at the top; a step-up or a lunge read through the same axis does not
        # (the median over a tenth of a second: a jolt bends single samples any way)
        at = m.top_detect_s - self.delay_s if top_s is None else top_s
        near = np.abs(t - at) <= prm.roll_window_s
        roll = np.concatenate([h[4] for h in self._history])[first:last]
        if near.any() and float(np.median(np.abs(roll[near]))) > prm.max_roll_deg:
            return
        if top_s is not None and lower_s is not None and lower_s < top_s:
            top_s = lower_s = 0.5 * (top_s + lower_s)   # no hold: the two fits meet
        up_s, down_s = _span(bounds.start_s, top_s), _span(lower_s, bounds.bottom_s)
        if not _plausible(up_s, down_s, bounds.bottom_deg, m.rest_deg,
                          max(m.peak_deg, bounds.peak_deg), prm):
            if gyro or cut:
                return      # no ankle moves like that: a step, a stumble, the sensor handled
            # Without a gyro a quick raise's own acceleration bends its unfiltered pitch
            # past fitting: its phases are read off the live detection instead, coarsely
            # (they lag the movement's ends) but enough to tell a rushed rep. Its height
            # is the lower of the live peak and the fit's top, both read too high by that
            # acceleration (the fit's the least, where the foot stood still at its top).
            d = self.delay_s
            low = m.low_deg if math.isfinite(m.low_deg) else m.rest_deg
            bounds = Bounds(m.on_s - d, m.top_detect_s - d, m.lower_detect_s - d, t_s - d,
                            t_s - d, min(m.peak_deg, bounds.peak_deg), low)
            top_s, lower_s = bounds.top_s, bounds.lower_s
            up_s, down_s = _span(bounds.start_s, top_s), _span(lower_s, bounds.bottom_s)
            # coarse as they are, they still have to look like a raise: no step's toes-up,
            # back down near rest (a stride's toe-off tilts the foot and goes on), and a
            # height a foot can turn (a live peak past that stood still somewhere lower)
            travel = m.peak_deg - m.rest_deg
            if low < m.rest_deg - prm.heel_strike_accel_deg or (
                    low > m.rest_deg + prm.settle_share * travel) or not _plausible(
                    up_s, down_s, low, m.rest_deg, bounds.peak_deg, prm, prm.min_live_stroke_s):
                return
        travel = bounds.peak_deg - m.rest_deg
        if travel < self._count_deg:
            if not cut:
                self._partial(m, t_s, bounds)
            return
        # the usual raise sets thresholds and a calibration: never past what a foot can do,
        # however a quick stroke read without a gyro
        self._raises.append(min(travel, prm.max_raise_deg))
        self.typical_deg = float(np.median(self._raises[-prm.typical_of_last:]))
        hold_s = _span(top_s, lower_s)
        span = (bounds.start_s if bounds.start_s is not None else m.detect_s - self.delay_s,
                bounds.end_s if bounds.end_s is not None else float(t_s))
        hold = None
        if hold_s is not None and hold_s >= prm.hold_s:
            lo, hi = self.hold_range_s
            hold = Hold(top_s, lower_s, hold_s, bounds.peak_deg, hold_verdict(hold_s, lo, hi))
        elif cut and top_s is not None and lower_s is None and t_s - top_s >= prm.hold_s:
            # a long gap cut a hold: how long it went on is not known, nor its verdict
            hold = Hold(top_s, None, None, bounds.peak_deg, None)
        if hold is not None:
            self._events.append(hold)
            self.sets.add(hold, span)
            return
        faults = rep_faults(self.stage, up_s, hold_s, down_s, travel,
                            typical if self.learned else None)
        self._rep_index += 1
        rep = Rep(
            index=self._rep_index,
            start_s=bounds.start_s, top_s=top_s, lower_s=lower_s, end_s=bounds.end_s,
            up_s=up_s, hold_s=hold_s, down_s=down_s,
            peak_deg=bounds.peak_deg, bottom_deg=bounds.bottom_deg,
            height_cm=self.lever_cm * math.sin(math.radians(max(bounds.peak_deg, 0.0))),
            verdict=faults[0] if faults else Verdict.OK, faults=faults,
            span_s=span, gaps=m.gaps, knocks=m.knocks,
        )
        self._events.append(rep)
        self.sets.add(rep, span)

    def _partial(self, m: _Movement, t_s: float, bounds: object = None) -> None:
        start = getattr(bounds, "start_s", None)
        end = getattr(bounds, "end_s", None)
        peak = getattr(bounds, "peak_deg", m.peak_deg)
        self._events.append(Partial(start if start is not None else m.detect_s,
                                    end if end is not None else t_s, peak))

    def _trim(self, now_s: float) -> None:
        """Forget history no movement can need.

        Fits select their samples by time, so when this runs changes nothing but
        memory; it runs only once enough blocks pile up.
        """
        if len(self._history) < TRIM_BLOCKS:
            return
        keep_s = (self._move.detect_s if self._move is not None else now_s) - \
            self.params.lookback_s
        while len(self._history) > 1 and self._history[0][0][-1] < keep_s:
            self._history.pop(0)


def _plausible(up_s: float | None, down_s: float | None, bottom_deg: float | None,
               rest_deg: float, live_peak_deg: float, params: DetectorParams,
               min_stroke_s: float | None = None) -> bool:
    """Whether a finished movement's fit is one a foot can make about the ball of the foot.

    A heel raise takes more than a tenth of a second to rise, turns the foot less
    than ``max_raise_deg``, drops the heel less than ``max_drop_deg`` below rest, and
    its phases come in order. A stride, a stair, a kick fitted as one does not.
    """
    if live_peak_deg - rest_deg > params.max_raise_accel_deg:
        return False
    if bottom_deg is not None and bottom_deg < rest_deg - params.max_drop_deg:
        return False
    shortest = params.min_stroke_s if min_stroke_s is None else min_stroke_s
    return (up_s is None or up_s >= shortest) and (down_s is None or down_s >= shortest)


def _span(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def _interpolate(t0: float, x0: float, t1: float, x1: float, level: float) -> float:
    """Time between two samples at which the signal crossed ``level``."""
    if x1 == x0:
        return float(t1)
    frac = min(max((level - x0) / (x1 - x0), 0.0), 1.0)
    return float(t0 + frac * (t1 - t0))
