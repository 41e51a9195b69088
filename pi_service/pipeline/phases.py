"""The phase state machine: rest, rising, top, lowering, heel drop — and what each raise was.

Live, it follows the filtered pitch and reports phase changes as soon as they
are clear. When a movement is back at rest it looks at the whole of it again
and fits onsets and offsets (see :mod:`.tempo`), then reports a rep, a
partial or a hold. Thresholds are shares of the person's usual raise, so a
small foot or a shallow raiser is judged on their own scale; walking and
impacts are recognised by the acceleration magnitude leaving 1 g.

Block-size invariance: every decision is made at a particular sample from
that sample and state carried from earlier samples. Blocks are only scanned
with numpy for the next sample at which a decision changes, so the Python
work per sample stays small.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..protocol import Stage
from .events import Event, Hold, PaceWarning, Partial, Phase, PhaseChange, Rep, Verdict
from .sets import SetTracker
from .tempo import (
    HIGH_SHARE,
    LOW_SHARE,
    crossing_s,
    hold_verdict,
    predicted_up_s,
    rep_faults,
    stroke_times,
)

# Shares of the person's typical raise (peak minus rest, degrees)
ON_SHARE = 0.1          # leaving rest upward: a movement starts
COUNT_SHARE = 0.45      # a raise below this is a partial, not a rep
DROP_SHARE = 0.2        # below the top by this much (and moving down): lowering
HEEL_DROP_SHARE = 0.1   # below rest by this much while lowering: a heel drop
RETURN_SHARE = 0.25     # back within this share of the drop depth: returned to level
SETTLE_SHARE = 0.25     # within this share of the raise above rest: lowering can end
PACE_SHARE = 1.0 / 3.0  # the pace over this first share of the range predicts the rise time
# Per second, as shares of the typical raise
LOWER_SPEED_SHARE = 0.1  # moving down at least this fast: not just sagging at the top
STILL_SPEED_SHARE = 0.1  # slower than this counts as still
# Shares of the phase's own peak speed
TOP_SPEED_SHARE = 0.2    # the rise has slowed to this share of its peak speed: at the top
SETTLE_SPEED_SHARE = 0.15
# Times
MIN_RISE_S = 0.1         # a rise lasts at least this long before it can top out
TOP_SEARCH_S = 1.0       # plateau searched for the top of the rise / start of the lowering
MIN_PLATEAU_S = 0.3      # a shorter hold has no plateau level worth measuring
QUIET_S = 1.0            # still this long after walking or a tap: back at rest
HOLD_S = 10.0            # a top held at least this long is an isometric hold
LOOKBACK_S = 4.0         # history kept before a movement, for its onset
VELOCITY_LAG_S = 0.1     # pitch rate from the difference over this interval
TYPICAL_OF_LAST = 20     # the typical raise is the upper quartile of this many recent ones
TRIM_BLOCKS = 64         # history is trimmed once it holds this many blocks


@dataclass
class _Movement:
    """A raise in progress, with the running figures its state transitions need."""

    rest_deg: float
    detect_s: float
    on_s: float
    peak_deg: float
    peak_speed_dps: float
    top_detect_s: float = math.nan
    lower_detect_s: float = math.nan
    low_deg: float = math.inf
    low_speed_dps: float = 0.0
    return_speed_dps: float = 0.0
    paced: bool = False
    moved_s: float = -math.inf     # last time the pitch was moving (from the top on)


class PhaseDetector:
    """Follows pitch sample by sample and reports phases, reps, partials, holds and sets.

    Parameters
    ----------
    stage : Stage
        Tempo targets for verdicts and the rest that separates sets.
    typical_deg : float
        The person's usual raise (peak above rest) before any is seen.
    learned : bool
        Whether ``typical_deg`` is the person's own (a calibration) or a prior.
    hold_range_s : (min, max or None)
        The isometric hold range holds are judged against.
    rate_hz : float
        Nominal sample rate (sets the lag of the pitch-rate estimate).
    delay_s : float
        Low-pass group delay, taken off every reported boundary.
    lever_cm : float
        Heel to the ball of the foot, for rise heights.
    on_first_raise : callable
        Called with the gravity samples of the first counted raise (axis refinement);
        returns the new gravity-to-pitch function for the samples after it.
    """

    def __init__(self, stage: Stage, typical_deg: float, learned: bool,
                 hold_range_s: tuple[float, float | None], rate_hz: float, delay_s: float,
                 lever_cm: float,
                 on_first_raise: Callable[[np.ndarray], Callable[[np.ndarray], np.ndarray]],
                 ) -> None:
        self.stage = stage
        self.sets = SetTracker(stage)
        self.hold_range_s = hold_range_s
        self.delay_s = delay_s
        self.lever_cm = lever_cm
        self._on_first_raise = on_first_raise
        self._raises: list[float] = [typical_deg] if learned else []
        self.typical_deg = typical_deg
        """The person's usual raise: upper quartile of the recent counted ones."""
        self._state = Phase.REST
        self._disturbed = False
        self._busy_s = -math.inf
        self._rest_deg = 0.0
        self._rest_since_s = -math.inf   # when the last movement was over
        self._axis_refined = False
        self._move: _Movement | None = None
        self._lag = max(1, round(VELOCITY_LAG_S * rate_hz))
        self._tail_t: np.ndarray | None = None
        self._tail_p: np.ndarray | None = None
        self._history: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._rep_index = 0
        self._events: list[Event] = []
        self._handlers = {
            Phase.REST: self._rest,
            Phase.RISING: self._rising,
            Phase.TOP: self._top,
            Phase.LOWERING: self._lowering,
            Phase.HEEL_DROP: self._heel_drop,
        }

    @property
    def phase(self) -> Phase:
        return self._state

    @property
    def learned(self) -> bool:
        return bool(self._raises)

    # -- streaming ------------------------------------------------------------------------

    def process(self, t: np.ndarray, p: np.ndarray, loud: np.ndarray,
                gravity: np.ndarray) -> list[Event]:
        """Run the state machine over a block of filtered samples; returns the events."""
        self._events = events = []
        self._history.append((t, p, gravity))
        k = self._lag
        if self._tail_t is None:
            self._tail_t = t[0] - VELOCITY_LAG_S * np.arange(k, 0, -1) / k
            self._tail_p = np.full(k, p[0])
        self._t, self._p, self._loud, self._gravity = t, p, loud, gravity
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
            i = self._step(i, stop)
        self._trim(float(t[-1]))
        return events

    def finish(self) -> list[Event]:
        """End of stream: a raise already on its way down is completed, the open set closed."""
        self._events = events = []
        if self._move is not None and self._state in (Phase.LOWERING, Phase.HEEL_DROP) \
                and self._history:
            t_end = float(self._history[-1][0][-1])
            p_end = float(self._history[-1][1][-1])
            self._complete(None, t_end, p_end, heel_drop=self._state == Phase.HEEL_DROP)
        if self._state != Phase.REST:
            self._enter(Phase.REST, float(self._history[-1][0][-1]),
                        float(self._history[-1][1][-1]))
        self._move = None
        summary = self.sets.close()
        if summary is not None:
            events.append(summary)
        return events

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

    def _step(self, i: int, stop: int) -> int:
        if self._disturbed:
            return self._disturbance(i, stop)
        return self._handlers[self._state](i, stop)

    def _enter(self, phase: Phase, t_s: float, pitch_deg: float) -> None:
        self._state = phase
        self._events.append(PhaseChange(float(t_s), phase, float(pitch_deg)))

    def _settle(self, j: int) -> None:
        """The foot came to rest somewhere new without a raise (a weight shift): rest there."""
        self._move = None
        self._rest_deg = float(self._p[j])
        self._enter(Phase.REST, self._t[j], self._p[j])

    def _disturb(self, j: int) -> None:
        """Walking, a tap or a stumble: drop any raise in progress, wait for stillness."""
        if self._state != Phase.REST:
            self._enter(Phase.REST, self._t[j], self._p[j])
        self._move = None
        self._disturbed = True
        self._busy_s = float(self._t[j])

    # -- states ---------------------------------------------------------------------------

    def _rest(self, i: int, stop: int) -> int:
        p = self._p[i:stop]
        on = ON_SHARE * self.typical_deg
        b = self._rest_deg
        hits = np.flatnonzero((np.abs(p - b) > on) | self._loud[i:stop])
        if len(hits) == 0:
            return stop
        j = i + int(hits[0])
        if self._loud[j] or self._p[j] < b:
            self._disturb(j)
            return j + 1
        self._extend()
        e = j + self._lag
        on_s = _interpolate(self._ext_t[e - 1], self._ext_p[e - 1], self._ext_t[e],
                            self._ext_p[e], b + on)
        self._move = _Movement(rest_deg=b, detect_s=float(self._t[j]), on_s=on_s,
                               peak_deg=float(self._p[j]), peak_speed_dps=0.0)
        self._enter(Phase.RISING, self._t[j], self._p[j])
        return j + 1

    def _rising(self, i: int, stop: int) -> int:
        m = self._move
        t, p, v = self._t[i:stop], self._p[i:stop], self.v[i:stop]
        b, typical = m.rest_deg, self.typical_deg
        peak_speed = np.maximum(np.maximum.accumulate(v), m.peak_speed_dps)
        topped = (v < TOP_SPEED_SHARE * peak_speed) & (t >= m.detect_s + MIN_RISE_S)
        fell = p < b + 0.5 * ON_SHARE * typical
        hits = np.flatnonzero(topped | fell | self._loud[i:stop])
        end = stop if len(hits) == 0 else i + int(hits[0]) + 1
        if not m.paced and self.stage.min_up_s is not None:
            self._pace(i, end, b + PACE_SHARE * typical, typical)
        m.peak_deg = max(m.peak_deg, float(self._p[i:end].max()))
        m.peak_speed_dps = float(peak_speed[end - 1 - i])
        if len(hits) == 0:
            return stop
        j = end - 1
        if self._loud[j]:
            self._disturb(j)
        elif fell[j - i]:
            self._settle(j)
        else:
            m.top_detect_s = m.moved_s = float(self._t[j])
            self._enter(Phase.TOP, self._t[j], self._p[j])
        return end

    def _shifted(self, t: np.ndarray, p: np.ndarray, v: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
        """Samples at which a small movement has settled at a new level: a weight shift.

        Returns (last time moving, settled) per sample, or Nones once the movement is
        too big to be a shift (its peak only grows, so that never changes back).
        """
        m = self._move
        typical = self.typical_deg
        if m.peak_deg - m.rest_deg >= COUNT_SHARE * typical:
            return None, None
        moved = np.maximum.accumulate(
            np.where(np.abs(v) > STILL_SPEED_SHARE * typical, t, m.moved_s))
        travel = np.maximum(np.maximum.accumulate(p), m.peak_deg) - m.rest_deg
        return moved, (t - moved >= QUIET_S) & (travel < COUNT_SHARE * typical)

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
        up_s = predicted_up_s(m.on_s, third_s, ON_SHARE, PACE_SHARE)
        if up_s < self.stage.min_up_s:
            self._events.append(PaceWarning(float(self._ext_t[e]), up_s, self.stage.min_up_s))

    def _top(self, i: int, stop: int) -> int:
        m = self._move
        t, p = self._t[i:stop], self._p[i:stop]
        typical = self.typical_deg
        peak = np.maximum(np.maximum.accumulate(p), m.peak_deg)
        travel = peak - m.rest_deg
        lowering = p < peak - DROP_SHARE * travel
        small = m.peak_deg - m.rest_deg < COUNT_SHARE * typical
        if small or lowering.any():   # the rate is only needed then: skip it on a still top
            v = self.v[i:stop]
            lowering &= v < -LOWER_SPEED_SHARE * travel
            moved, shifted = self._shifted(t, p, v)
        else:
            moved = shifted = None
        exits = lowering | self._loud[i:stop]
        if shifted is not None:
            exits |= shifted
        hits = np.flatnonzero(exits)
        end = stop if len(hits) == 0 else i + int(hits[0]) + 1
        if not m.paced and self.stage.min_up_s is not None:   # a rise that paused early
            self._pace(i, end, m.rest_deg + PACE_SHARE * typical, typical)
        m.peak_deg = float(peak[end - 1 - i])
        if moved is not None:
            m.moved_s = float(moved[end - 1 - i])
        if len(hits) == 0:
            return stop
        j = end - 1
        if self._loud[j]:
            self._disturb(j)
        elif shifted is not None and shifted[j - i]:
            self._settle(j)
        else:
            m.lower_detect_s = float(self._t[j])
            self._enter(Phase.LOWERING, self._t[j], self._p[j])
        return end

    def _lowering(self, i: int, stop: int) -> int:
        m = self._move
        p, v = self._p[i:stop], self.v[i:stop]
        b = m.rest_deg
        low_speed = np.minimum(np.minimum.accumulate(v), m.low_speed_dps)
        dropped = p < b - HEEL_DROP_SHARE * self.typical_deg
        settled = (v > SETTLE_SPEED_SHARE * low_speed) & (
            p < b + SETTLE_SHARE * (m.peak_deg - b))
        hits = np.flatnonzero(dropped | settled | self._loud[i:stop])
        end = stop if len(hits) == 0 else i + int(hits[0]) + 1
        m.low_speed_dps = float(low_speed[end - 1 - i])
        if len(hits) == 0:
            return stop
        j = end - 1
        if self._loud[j]:
            self._disturb(j)
        elif dropped[j - i]:
            m.low_deg = float(self._p[j])
            self._enter(Phase.HEEL_DROP, self._t[j], self._p[j])
        else:
            self._complete(j, self._t[j], self._p[j], heel_drop=False)
        return end

    def _heel_drop(self, i: int, stop: int) -> int:
        m = self._move
        p, loud = self._p[i:stop], self._loud[i:stop]
        b = m.rest_deg
        low = np.minimum(np.minimum.accumulate(p), m.low_deg)
        # the return's peak speed comes halfway up, so its speed is only tracked from there
        # (and not computed at all while the heel is down at the bottom)
        halfway = p > b - 0.5 * (b - low)
        if not halfway.any() and not loud.any():
            m.low_deg = float(low[-1])
            return stop
        v = self.v[i:stop]
        back_speed = np.maximum(np.maximum.accumulate(np.where(halfway, v, 0.0)),
                                m.return_speed_dps)
        back = (p > b - RETURN_SHARE * (b - low)) & (v < SETTLE_SPEED_SHARE * back_speed)
        hits = np.flatnonzero(back | loud)
        end = stop if len(hits) == 0 else i + int(hits[0]) + 1
        m.low_deg = float(low[end - 1 - i])
        m.return_speed_dps = float(back_speed[end - 1 - i])
        if len(hits) == 0:
            return stop
        j = end - 1
        if self._loud[j]:
            self._disturb(j)
        else:
            self._complete(j, self._t[j], self._p[j], heel_drop=True)
        return end

    def _disturbance(self, i: int, stop: int) -> int:
        t = self._t[i:stop]
        still = STILL_SPEED_SHARE * self.typical_deg
        busy = self._loud[i:stop] | (np.abs(self.v[i:stop]) > still)
        busy_s = np.maximum.accumulate(np.where(busy, t, self._busy_s))
        hits = np.flatnonzero(t - busy_s >= QUIET_S)
        if len(hits) == 0:
            self._busy_s = float(busy_s[-1])
            return stop
        j = i + int(hits[0])
        self._disturbed = False
        self._rest_deg = float(self._p[j])
        return j + 1

    # -- a finished movement --------------------------------------------------------------

    def _close_set(self) -> None:
        summary = self.sets.close()
        if summary is not None:
            self._events.append(summary)

    def _complete(self, j: int | None, t_s: float, pitch_deg: float, heel_drop: bool) -> None:
        """Back at rest: fit the boundaries of the whole movement and report what it was."""
        m = self._move
        self._move = None
        self._enter(Phase.REST, t_s, pitch_deg)
        t_all = np.concatenate([h[0] for h in self._history])
        # from where the previous movement ended, so no fit can reach back into it
        first = int(np.searchsorted(t_all, max(m.detect_s - LOOKBACK_S, self._rest_since_s)))
        last = int(np.searchsorted(t_all, t_s, side="right"))
        t = t_all[first:last]
        p = np.concatenate([h[1] for h in self._history])[first:last]
        b = m.rest_deg
        # the rise, up to its plateau
        i_det = int(np.searchsorted(t, m.detect_s))
        i_low = int(np.searchsorted(t, m.lower_detect_s, side="right"))
        i_peak = i_det + int(np.argmax(p[i_det:i_low]))
        peak = float(p[i_peak])
        # the lowering, from the end of the plateau to the bottom
        i_hold = int(np.searchsorted(t, max(m.top_detect_s, m.lower_detect_s - TOP_SEARCH_S)))
        i_from = i_hold + int(np.argmax(p[i_hold:i_low]))
        i_bottom = i_from + int(np.argmin(p[i_from:]))
        bottom = float(p[i_bottom])
        # First with the highest samples as the plateau; then, as the top sways (on one
        # leg most), with the plateau's median next to each stroke. Crossings are searched
        # from the rise's detection and back from the bottom, so a wobble on the plateau
        # cannot pass for one.
        top_up, top_down = peak, float(p[i_from])
        for _ in range(2):
            start_s, top_s = stroke_times(
                _rising_edge(t, p, b + LOW_SHARE * (top_up - b), i_det),
                _rising_edge(t, p, b + HIGH_SHARE * (top_up - b), i_det))
            fall = top_down - bottom
            lower_s, bottom_s = stroke_times(
                crossing_s(t, p, top_down - LOW_SHARE * fall, i_bottom, -1),
                crossing_s(t, p, top_down - HIGH_SHARE * fall, i_bottom, -1))
            if lower_s - top_s < MIN_PLATEAU_S:
                break
            top_up = _median_between(t, p, top_s, min(top_s + TOP_SEARCH_S, lower_s))
            top_down = _median_between(t, p, max(lower_s - TOP_SEARCH_S, top_s), lower_s)
        travel = top_up - b
        peak = top_up
        end_s = bottom_s
        if heel_drop:
            rise_back = b - bottom
            _, end_s = stroke_times(
                crossing_s(t, p, bottom + LOW_SHARE * rise_back, i_bottom, 1),
                crossing_s(t, p, bottom + HIGH_SHARE * rise_back, i_bottom, 1))
        self._rest_since_s = float(t_s)
        if lower_s < top_s:   # no hold: the two fits meet in the middle
            top_s = lower_s = 0.5 * (top_s + lower_s)
        d = self.delay_s
        start_s, top_s, lower_s, bottom_s, end_s = (
            start_s - d, top_s - d, lower_s - d, bottom_s - d, end_s - d)
        typical = self.typical_deg if self.learned else None
        if travel < COUNT_SHARE * self.typical_deg:
            self._events.append(Partial(start_s, end_s, peak))
            return
        if not self._axis_refined:
            self._axis_refined = True
            g_all = np.concatenate([h[2] for h in self._history])[first:last]
            pitch_of = self._on_first_raise(g_all)
            if j is not None:
                self._repitch(j, pitch_of)
        self._raises.append(travel)
        self.typical_deg = float(np.percentile(self._raises[-TYPICAL_OF_LAST:], 75))
        hold_s = lower_s - top_s
        if hold_s >= HOLD_S:
            lo, hi = self.hold_range_s
            hold = Hold(top_s, lower_s, hold_s, peak, hold_verdict(hold_s, lo, hi))
            self._events.append(hold)
            self.sets.add(hold)
            return
        faults = rep_faults(self.stage, top_s - start_s, hold_s, bottom_s - lower_s,
                            travel, typical)
        self._rep_index += 1
        rep = Rep(
            index=self._rep_index,
            start_s=start_s, top_s=top_s, lower_s=lower_s, end_s=end_s,
            up_s=top_s - start_s, hold_s=hold_s, down_s=bottom_s - lower_s,
            peak_deg=peak, bottom_deg=bottom,
            height_cm=self.lever_cm * math.sin(math.radians(max(peak, 0.0))),
            verdict=faults[0] if faults else Verdict.OK,
            faults=faults,
        )
        self._events.append(rep)
        self.sets.add(rep)

    def _repitch(self, j: int, pitch_of: Callable[[np.ndarray], np.ndarray]) -> None:
        """The raise axis was refined at sample ``j``: the rest of the block uses it too."""
        k = self._lag
        self._p[j + 1:] = pitch_of(self._gravity[j + 1:])
        self._extend()
        self._ext_p[k + j + 1:] = self._p[j + 1:]
        self._tail_p = self._ext_p[-k:].copy()
        self._v = None

    def _trim(self, now_s: float) -> None:
        """Forget history no movement can need.

        Fits select their samples by time, so when this runs changes nothing but
        memory; it runs only once enough blocks pile up.
        """
        if len(self._history) < TRIM_BLOCKS:
            return
        keep_s = (self._move.detect_s if self._move is not None else now_s) - LOOKBACK_S
        while len(self._history) > 1 and self._history[0][0][-1] < keep_s:
            self._history.pop(0)


def _rising_edge(t: np.ndarray, p: np.ndarray, level: float, i_det: int) -> float:
    """Where the rise detected at ``i_det`` crossed ``level`` (before or after detection)."""
    return crossing_s(t, p, level, i_det, -1 if p[i_det] >= level else 1)


def _median_between(t: np.ndarray, p: np.ndarray, from_s: float, to_s: float) -> float:
    lo, hi = np.searchsorted(t, [from_s, to_s])
    return float(np.median(p[lo:max(hi, lo + 1)]))


def _interpolate(t0: float, x0: float, t1: float, x1: float, level: float) -> float:
    """Time between two samples at which the signal crossed ``level``."""
    if x1 == x0:
        return float(t1)
    frac = min(max((level - x0) / (x1 - x0), 0.0), 1.0)
    return float(t0 + frac * (t1 - t0))
