"""Scripting a session: what the person does, written onto the foot's tracks with its truth.

A :class:`Script` holds the tracks a rigid shoe moves along (:mod:`.foot`) and the
truth lists, and offers the movements sessions are made of: standing, heel raises of
any stroke shape and tempo (rehab tempo, rushed, the quick raise shape seen in motion
capture), heel drops and hanging below a step, holds, knocks, fidgets and walking.
:func:`rep_set`, :func:`isometric_hold` and :func:`rest` compose them into the parts
of a session; :mod:`.activities` adds the movements that contain no heel raise.

The script only decides movements; the sensor, its mounting and its clock are the
simulator's. Every random draw comes from the person's generator, in script order,
and an option left at its default draws nothing, so a seed keeps its session when
new options are added.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..protocol import Stage
from .activities import ACTIVITIES
from .foot import (
    DEG,
    G_MPS2,
    HEEL_STRIKE,
    MIN_JERK,
    UP,
    Beta,
    Cosine,
    Shape,
    Track,
    Trapezoid,
    Truncated,
)
from .truth import (
    FAST_RISE_S,
    TrueFidget,
    TrueHold,
    TrueKnock,
    TrueNegative,
    TruePartial,
    TrueRep,
    TrueSet,
    TrueWalk,
)

RUSHED_MARGIN_S = 0.4   # generated tempos stay this far from the stage's "too fast" line
SHAPES = ("minjerk", "cosine", "trapezoid", "skew_early", "skew_late")
HANGS = ("first", "between")
_COSINE = Cosine()


@dataclass(frozen=True)
class Impact:
    """A jolt too short for the stroke model (see :func:`.foot.impacts`)."""

    t_s: float
    peak_mps2: float
    direction: tuple[float, float, float]
    freq_hz: float = 20.0
    decay_s: float = 0.025


@dataclass(frozen=True)
class Plan:
    """The person's way of doing a session's reps, fixed before the first one."""

    peak_deg: float                 # usual top of a raise
    drop_deg: float | None = None   # heel drop below step level at the bottom of each rep
    rushed_fraction: float = 0.0    # reps at the stage's tempo but rushed
    shapes: tuple[str, ...] | None = None   # stroke shapes drawn per rep (None: minimum jerk)
    fast_fraction: float = 0.0      # reps done as quick rushed raises ending in a heel landing
    mocap_fraction: float = 0.0     # reps with the motion-captured quick raise shape
    hang: str | None = None         # "first": heel hangs below the step before each set's
                                    # first raise; "between": rests hanging between reps
    hang_deg: float = 0.0           # how far below level the heel hangs
    knock_fraction: float = 0.0     # reps (and holds) with the shoe knocked mid-hold


class Script:
    """Writes one session's movements onto the foot's tracks, and its truth alongside."""

    def __init__(self, rng: np.random.Generator, stage: Stage | None, lever_m: float,
                 pitch_deg: float = 0.0) -> None:
        self.rng = rng
        self.stage = stage
        self.lever_m = lever_m
        self.pitch = Track(pitch_deg * DEG)     # rad
        self.roll = Track()         # rad
        self.pivot_x = Track()      # m
        self.pivot_z = Track()      # m
        self.floor_z = 0.0          # m: the height of what the foot stands on (stairs change it)
        self.top = Track()          # 0..1 envelope: effort tremor and wobble at the top
        self.balance = Track()      # 0..1 envelope: single-leg body sway
        self.settle = Track()       # 0..1 envelope: sway while settling into standing
        self.jolt = Track()         # rad: the pitch a knock jerks the shoe through
        self.impacts: list[Impact] = []
        self.now = 0.0
        self.reps: list[TrueRep] = []
        self.partials: list[TruePartial] = []
        self.holds: list[TrueHold] = []
        self.sets: list[TrueSet] = []
        self.walking: list[TrueWalk] = []
        self.fidgets: list[TrueFidget] = []
        self.negatives: list[TrueNegative] = []
        self.knocks: list[TrueKnock] = []

    def u(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def sign(self) -> float:
        return float(self.rng.choice([-1.0, 1.0]))

    def stand(self, duration_s: float) -> None:
        self.now += duration_s

    def idle(self) -> None:
        """Wait until every stroke has ended: the next movement starts from rest."""
        self.now = max(self.now, *(track.end_s for track in (
            self.pitch, self.roll, self.pivot_x, self.pivot_z)))

    def impact(self, t_s: float, peak_g: float, direction: tuple[float, float, float] = UP,
               freq_hz: float = 20.0, decay_s: float = 0.025) -> None:
        self.impacts.append(Impact(t_s, peak_g * G_MPS2, direction, freq_hz, decay_s))

    def shape(self, family: str | None) -> Shape:
        """A stroke shape of ``family`` with its parameters drawn (None: minimum jerk).

        Parameters are rounded so that a session's strokes share a few dozen distinct
        shapes, which :class:`.foot.Track` evaluates once each.
        """
        if family is None or family == "minjerk":
            return MIN_JERK
        if family == "cosine":
            return _COSINE
        if family == "trapezoid":
            return Trapezoid(round(self.u(0.1, 0.5), 2))
        early, late = round(self.u(2.0, 2.6), 1), round(self.u(3.5, 5.5), 1)
        if family == "skew_early":
            return Beta(early, late)
        if family == "skew_late":
            return Beta(late, early)
        raise ValueError(f"shape must be one of {SHAPES}, got {family!r}")

    def hold_at_top(self, top_s: float, lower_s: float) -> None:
        """Holding the top takes effort: tremor and wobble ramp up and fade with the hold."""
        ramp_s = min(0.4, (lower_s - top_s) / 2)
        if ramp_s >= 0.15:   # too short a hold for a tremor to build up
            self.top.move(top_s, ramp_s, 1.0)
            self.top.move(lower_s - ramp_s, ramp_s, 0.0)

    def raise_heel(self, up_s: float, hold_s: float, down_s: float, peak_deg: float,
                   bottom_deg: float, *, up: Shape = MIN_JERK, down: Shape = MIN_JERK,
                   back: Shape = MIN_JERK, back_to_level: bool = True,
                   ) -> tuple[float, float, float, float]:
        """One raise about the ball of the foot; returns start, top, lower, end times.

        The rise starts wherever the heel is (level, or hanging below a step). A lowering
        below level returns to level after a pause, unless ``back_to_level`` is False
        (the person rests hanging).
        """
        start = self.now
        top = self.pitch.move(start, up_s, peak_deg * DEG, up)
        lower = top + hold_s
        self.hold_at_top(top, lower)
        end = self.pitch.move(lower, down_s, bottom_deg * DEG, down)
        if bottom_deg < 0 and back_to_level:   # heel drop off a step: pause, back to level
            end = self.pitch.move(end + self.u(0.2, 0.8), self.u(0.8, 1.5), 0.0, back)
        self.now = end
        return start, top, lower, end

    def knock(self, t_s: float) -> None:
        """The shoe hits the step's riser: a sharp, mostly horizontal jolt and a twitch."""
        peak_g = self.u(1.5, 4.0)
        direction = np.array([self.sign(), self.u(-0.3, 0.3), self.u(0.0, 0.5)])
        direction /= np.linalg.norm(direction)
        self.impact(t_s, peak_g, tuple(direction), self.u(25.0, 60.0), self.u(0.008, 0.02))
        out = self.jolt.move(t_s, self.u(0.03, 0.06), self.sign() * self.u(0.5, 2.5) * DEG)
        self.jolt.move(out, self.u(0.06, 0.15), 0.0)
        self.knocks.append(TrueKnock(t_s, peak_g))

    def maybe_knock(self, fraction: float, top_s: float, lower_s: float) -> None:
        """With probability ``fraction``, a knock somewhere in the middle of a hold."""
        if fraction > 0 and lower_s - top_s >= 0.25 and self.rng.random() < fraction:
            margin = min(3.0, 0.25 * (lower_s - top_s))
            self.knock(self.u(top_s + margin, lower_s - margin))

    def pitch_about_heel(self, start_s: float, duration_s: float, deg: float) -> float:
        """Toes up on flat ground: the foot turns about the heel, so the ball lifts."""
        self.pivot_z.move(start_s, duration_s,
                          self.floor_z + self.lever_m * np.sin(max(0.0, -deg) * DEG))
        return self.pitch.move(start_s, duration_s, deg * DEG)

    def partial(self) -> None:
        """A half-hearted raise of 3-8°: too small to count, not nothing."""
        peak = self.u(3.0, 8.0)
        start, _, _, end = self.raise_heel(self.u(0.5, 1.5), self.u(0.0, 0.5),
                                           self.u(0.5, 1.5), peak, 0.0)
        self.partials.append(TruePartial(start, end, peak))

    def weight_shift(self) -> None:
        start, move_s = self.now, self.u(0.6, 1.5)
        deg = self.u(1.0, 3.0) * self.rng.choice([-1.0, 1.0])
        self.roll.move(start, move_s, self.u(1.0, 3.0) * self.rng.choice([-1.0, 1.0]) * DEG)
        t = self.pitch_about_heel(start, move_s, deg) if deg < 0 else self.pitch.move(
            start, move_s, deg * DEG)
        back = t + self.u(1.0, 4.0)
        self.roll.move(back, move_s, 0.0)
        self.now = (self.pitch_about_heel(back, move_s, 0.0) if deg < 0
                    else self.pitch.move(back, move_s, 0.0))
        self.fidgets.append(TrueFidget(start, self.now, "weight_shift"))

    def tap(self) -> None:
        start = t = self.now
        for _ in range(int(self.rng.integers(1, 4))):
            t = self.pitch_about_heel(t, self.u(0.15, 0.25), -self.u(8.0, 15.0))
            t = self.pitch_about_heel(t, self.u(0.12, 0.2), 0.0)
            self.impact(t, self.u(0.3, 0.8))
            t += self.u(0.1, 0.3)
        self.now = t
        self.fidgets.append(TrueFidget(start, t, "tap"))

    def settle_in(self) -> None:
        """Stepping into place: sway fading over a few seconds and a weight shift or two.

        People shift their weight before they stand still; a detector that wants a still
        first second refuses them.
        """
        self.settle = Track(1.0)
        self.settle.move(self.u(0.5, 2.0), self.u(2.0, 5.0), 0.0)
        for _ in range(int(self.rng.integers(1, 3))):
            self.weight_shift()
        self.idle()
        self.fidgets.append(TrueFidget(0.0, max(self.now, self.settle.end_s), "settle"))

    def hang_heel(self, hang_deg: float, hold_s: float) -> None:
        """On a step: lower the heel below step level and stay there (a stretch, a rest)."""
        start = self.now
        if abs(self.pitch.value + hang_deg * DEG) > 1e-9:
            self.now = self.pitch.move(start, self.u(0.8, 1.8), -hang_deg * DEG)
        self.now += hold_s
        self.fidgets.append(TrueFidget(start, self.now, "heel_hang"))

    def back_to_level(self) -> None:
        """From hanging below the step back to standing level."""
        start = self.now
        self.now = self.pitch.move(start, self.u(0.8, 1.8), 0.0)
        self.fidgets.append(TrueFidget(start, self.now, "heel_hang"))

    def walk(self, duration_s: float) -> None:
        """Gait at ~1 Hz strides: heel-off, toe-off, swing, heel strike, foot flat."""
        stride_s, stride_m = self.u(0.95, 1.15), self.u(1.0, 1.4)
        strike_deg, toe_off_deg = self.u(10.0, 20.0), self.u(30.0, 60.0)
        clearance_m = self.u(0.05, 0.08)
        start = t = self.now
        for _ in range(max(1, int(duration_s / stride_s))):
            t = self.pitch.move(t, 0.17 * stride_s, self.u(15.0, 25.0) * DEG)   # heel-off
            self.pivot_z.move(t, 0.15 * stride_s, self.floor_z + 0.03)           # toe-off
            t = self.pitch.move(t, 0.15 * stride_s, toe_off_deg * DEG)
            swing_s = 0.4 * stride_s
            self.pivot_x.move(t, swing_s, self.pivot_x.value + stride_m)
            self.pivot_z.move(t, 0.45 * swing_s, self.floor_z + clearance_m)
            strike_z = self.floor_z + self.lever_m * np.sin(strike_deg * DEG)
            self.pivot_z.move(t + 0.45 * swing_s, 0.55 * swing_s, strike_z)
            t = self.pitch.move(t, swing_s, -strike_deg * DEG)
            self.impact(t, self.u(1.0, 3.0), HEEL_STRIKE)
            t = self.pitch_about_heel(t, 0.1 * stride_s, 0.0)                   # foot flat
            self.impact(t, self.u(0.2, 0.5))
            t += 0.18 * stride_s
        self.now = t
        self.walking.append(TrueWalk(start, t))
        self.negatives.append(TrueNegative("walk", start, t))

    # --- reps ------------------------------------------------------------------------------

    def rep(self, plan: Plan, style: str, base_deg: float, bottom_deg: float,
            back_to_level: bool, rushed: tuple[bool, bool] = (False, False),
            tempo: tuple[float, float, float, float] | None = None) -> None:
        """One counted raise from ``base_deg``, its truth appended to :attr:`reps`.

        ``style`` "tempo" uses ``tempo`` (up, hold, down seconds, peak); "fast" is a
        rushed raise as people really do one (0.3-0.5 s through 40-60° at 140-260 °/s, a
        brief hold, a quick lowering stopped by the heel landing); "mocap" has the quick
        raise shape of motion-captured calf raises (10-90 % of the rise in 0.13-0.22 s).
        On a step (``bottom_deg`` < 0 or a hanging base) the heel does not land.
        """
        family = str(self.rng.choice(plan.shapes)) if plan.shapes else None
        landing = False
        floor = bottom_deg >= 0 and base_deg >= 0
        if style == "tempo":
            up_s, hold_s, down_s, peak = tempo
            up, down = self.shape(family), self.shape(family)
        elif style == "fast":
            up = self.shape(family)
            turn_deg = self.u(40.0, 60.0)
            up_s = float(np.clip(up.peak_speed() * turn_deg / self.u(140.0, 260.0), 0.3, 0.49))
            hold_s, down_s, peak = self.u(0.05, 0.3), self.u(0.25, 0.5), base_deg + turn_deg
            down = Truncated(self.shape(family), round(self.u(0.55, 0.85), 2)) if floor \
                else self.shape(family)
        elif style == "mocap":
            up = Beta(round(self.u(2.0, 3.0), 1), round(self.u(2.0, 4.0), 1))
            up_s = self.u(0.13, 0.22) / up.crossing_span()
            hold_s, down_s, peak = self.u(0.1, 0.5), self.u(0.3, 0.6), self.u(25.0, 50.0)
            down = Beta(round(self.u(2.0, 3.0), 1), round(self.u(2.0, 3.0), 1))
            if floor:
                down = Truncated(down, round(self.u(0.55, 0.85), 2))
        else:
            raise ValueError(f"style must be tempo, fast or mocap, got {style!r}")
        start, top, lower, end = self.raise_heel(
            up_s, hold_s, down_s, peak, bottom_deg, up=up, down=down,
            back=self.shape(family) if family else MIN_JERK, back_to_level=back_to_level)
        if isinstance(down, Truncated):
            landing = True
            # the heel pad stops the heel's fall within a few tens of milliseconds
            speed_mps = self.lever_m * (peak - bottom_deg) * DEG * down.end_speed() / down_s
            tilt = self.u(-0.15, 0.15)
            self.impact(lower + down_s, speed_mps / self.u(0.015, 0.03) / G_MPS2,
                        (tilt, 0.0, float(np.sqrt(1.0 - tilt * tilt))))
        self.maybe_knock(plan.knock_fraction, top, lower)
        stage = self.stage
        if style != "tempo":
            rushed = (up_s < stage.min_up_s, down_s < stage.min_down_s)
        self.reps.append(TrueRep(
            start, top, lower, end, up_s, hold_s, down_s, peak, bottom_deg,
            float(100 * self.lever_m * np.sin(peak * DEG)), rushed[0], rushed[1],
            style=style, shape_up=up.name, shape_down=down.name, base_deg=base_deg,
            landing=landing, fast=up_s < FAST_RISE_S))

    def rep_style(self, plan: Plan) -> str:
        """How the next rep is done: "tempo", "fast" or "mocap", in the plan's shares."""
        if plan.fast_fraction + plan.mocap_fraction <= 0:
            return "tempo"
        draw = self.rng.random()
        if draw < plan.fast_fraction:
            return "fast"
        return "mocap" if draw < plan.fast_fraction + plan.mocap_fraction else "tempo"


def rep_set(s: Script, plan: Plan, partial_p: float) -> None:
    """A set of reps (stages 2-4), at the stage's tempo unless the plan says otherwise."""
    stage = s.stage
    lo, hi = stage.reps
    if lo == hi:   # a fixed target: people lose count either way
        lo, hi = lo - 3, hi + 1
    min_up, min_down = stage.min_up_s, stage.min_down_s
    slow_s = 0.4 if stage.load_kg > 0 else 0.0    # loaded reps drift slower
    hold_lo, hold_hi = max(0.1, stage.hold_s - 0.5), stage.hold_s + 0.5
    first = len(s.reps)
    for i in range(int(s.rng.integers(lo, hi + 1))):
        s.stand(s.u(1.5, 3.0) if i == 0 else s.u(0.0, 2.0))
        if i > 0 and s.rng.random() < partial_p and s.pitch.value == 0:
            s.partial()
            s.stand(s.u(0.5, 2.0))
        if i == 0 and plan.hang:
            s.hang_heel(plan.hang_deg, s.u(3.0, 10.0) if plan.hang == "first" else s.u(1.0, 4.0))
        base = s.pitch.value / DEG
        hanging = plan.hang == "between"
        style = s.rep_style(plan)
        rushed_up = rushed_down = False
        tempo = None
        if style == "tempo":
            if s.rng.random() < plan.rushed_fraction:
                which = int(s.rng.integers(3))
                rushed_up, rushed_down = which != 1, which != 0
            up_s = (s.u(0.6, min_up - RUSHED_MARGIN_S) if rushed_up
                    else s.u(min_up + RUSHED_MARGIN_S + slow_s, stage.up_s + 1.0))
            down_s = (s.u(0.6, min_down - RUSHED_MARGIN_S) if rushed_down
                      else s.u(min_down + RUSHED_MARGIN_S + slow_s, stage.down_s + 1.0))
            peak = plan.peak_deg * s.rng.normal(1.0, 0.03)
            if s.rng.random() < 0.05:   # a partial-range rep that still counts
                peak *= s.u(0.6, 0.75)
        drop = plan.hang_deg if hanging else plan.drop_deg
        bottom = 0.0 if drop is None else -float(np.clip(
            drop * s.rng.normal(1.0, 0.08), 8.0, 20.0))
        if style == "tempo":
            tempo = (up_s, s.u(hold_lo, hold_hi), down_s, peak)
        s.rep(plan, style, base, bottom, back_to_level=not hanging,
              rushed=(rushed_up, rushed_down), tempo=tempo)
    if plan.hang == "between":
        s.back_to_level()
    s.sets.append(TrueSet(s.reps[first].start_s, s.reps[-1].end_s, len(s.reps) - first, 0))


def isometric_hold(s: Script, plan: Plan) -> None:
    """Stage 1: rise, hold 25-50 s with effort drift and tremor, lower."""
    s.stand(s.u(1.5, 3.0))
    stage, peak_deg = s.stage, plan.peak_deg
    family = str(s.rng.choice(plan.shapes)) if plan.shapes else None
    start = s.now
    top = s.pitch.move(start, s.u(1.0, 2.0), peak_deg * DEG, s.shape(family))
    lower = top + s.u(stage.hold_min_s - 5.0, stage.hold_max_s + 5.0)
    s.hold_at_top(top, lower)
    t = top + s.u(2.0, 5.0)
    while t + 8.0 < lower:   # tiring calves sag, and the person corrects
        drift_s = s.u(3.0, 6.0)
        s.pitch.move(t, drift_s, (peak_deg + s.u(-2.0, 1.0)) * DEG)
        t += drift_s + s.u(1.0, 4.0)
    end = s.pitch.move(lower, s.u(1.0, 2.0), 0.0, s.shape(family))
    s.maybe_knock(plan.knock_fraction, top, lower)
    s.now = end
    s.holds.append(TrueHold(top, lower, lower - top, peak_deg))
    s.sets.append(TrueSet(start, end, 0, 1))


def rest(s: Script, duration_s: float, walk: bool, partial_p: float,
         activities: tuple[str, ...] = ()) -> None:
    """Between sets: standing, fidgeting, maybe a half-hearted raise, a walk, an activity."""
    end = s.now + duration_s
    acts = ["weight_shift"] * int(s.rng.integers(0, 3)) + ["tap"] * int(s.rng.integers(0, 2))
    if walk:
        acts.append("walk")
    if s.rng.random() < partial_p:
        acts.append("partial")
    if activities:
        acts.append("activity:" + str(s.rng.choice(activities)))
    s.rng.shuffle(acts)
    for act in acts:
        s.stand(s.u(2.0, 8.0))
        if act == "walk":
            s.walk(s.u(10.0, 40.0))
        elif act.startswith("activity:"):
            ACTIVITIES[act.removeprefix("activity:")](s)
        else:
            getattr(s, act)()
    s.stand(max(s.u(2.0, 4.0), end - s.now))
