"""Movements with no heel raise in them, for a detector to count nothing in.

Each activity moves the shoe as the activity really does, with what tells it apart
from a raise and what does not: many of them pitch the foot heel-up as fast as a
rushed raise (push-off, toe-off, landing on the forefoot, the rear foot of a reverse
lunge), so what is left to tell them by is what they are: the pivot translating,
impacts, flight phases in which the shoe is in free fall (near 0 g), gait rhythm.

Figures are typical adult values: running strides of 0.65-0.8 s and 1.8-3 m with
3-8 g strikes; stairs of 15-19 cm rise and 25-32 cm going; hops with 0.2-0.35 s of
flight, jumps with 0.35-0.6 s (15-45 cm), drop landings from 20-40 cm. A foot IMU on a
±2-4 g range clips the largest impacts, as a real one does.

Not modelled: the planted rear foot of a forward lunge, which heel-raises by its
own kinematics (the foot pitches up about the ball of the foot while the pivot stays
put); lunges here step with the sensor's leg, or are reverse lunges.

Every activity starts and ends standing with the foot flat, and appends its span to
the script's :attr:`~.scenario.Script.negatives`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .foot import DEG, G_MPS2, HEEL_STRIKE, UP, Beta
from .truth import TrueNegative

if TYPE_CHECKING:
    from .scenario import Script

COAST = Beta(1.0, 2.0)      # leaves at full speed, decelerating at a constant rate: rising flight
FALL = Beta(2.0, 1.0)       # from rest, accelerating at a constant rate: falling, pushing off


def takeoff(s: Script, t_s: float, speed_mps: float, push_m: float) -> None:
    """The ball of the foot pushes off the ground, leaving it at ``t_s`` at ``speed_mps`` up.

    The toes are still on the ground while the pivot rises the last ``push_m``; a
    constant acceleration over that distance reaches the take-off speed.
    """
    push_s = 2.0 * push_m / speed_mps
    s.pivot_z.move(t_s - push_s, push_s, s.pivot_z.value + push_m, FALL)


def flight(s: Script, t_s: float, speed_mps: float, land_z_m: float) -> tuple[float, float]:
    """Ballistic flight of the shoe from ``t_s`` until it lands at height ``land_z_m``.

    The pivot rises at ``speed_mps`` against gravity, then falls freely: the
    accelerometer reads near 0 g all the while. Returns the landing time and speed.
    """
    t = t_s
    if speed_mps > 0:
        rise_s = speed_mps / G_MPS2
        t = s.pivot_z.move(t, rise_s, s.pivot_z.value + speed_mps**2 / (2 * G_MPS2), COAST)
    fall_m = s.pivot_z.value - land_z_m
    fall_s = float(np.sqrt(2.0 * fall_m / G_MPS2))
    return s.pivot_z.move(t, fall_s, land_z_m, FALL), G_MPS2 * fall_s


def land(s: Script, t_s: float, speed_mps: float) -> None:
    """The forefoot hits the ground: stopped within 15-30 ms, the shoe rings."""
    s.impact(t_s, speed_mps / s.u(0.015, 0.03) / G_MPS2, UP, s.u(15.0, 30.0),
             s.u(0.015, 0.03))


def swing(s: Script, t_s: float, duration_s: float, dx_m: float, dz_m: float,
          clearance_m: float) -> float:
    """The foot carried through the air by the leg: forward ``dx_m``, up ``dz_m``."""
    z = s.pivot_z.value
    s.pivot_x.move(t_s, duration_s, s.pivot_x.value + dx_m)
    s.pivot_z.move(t_s, 0.5 * duration_s, max(z, z + dz_m) + clearance_m)
    return s.pivot_z.move(t_s + 0.5 * duration_s, 0.5 * duration_s, z + dz_m)


def _done(s: Script, kind: str, start_s: float, t_s: float) -> None:
    s.now = max(s.now, t_s)
    s.idle()
    s.negatives.append(TrueNegative(kind, start_s, s.now))


def walk(s: Script) -> None:
    """A walk around the room (see :meth:`.scenario.Script.walk`)."""
    s.walk(s.u(10.0, 40.0))


def run(s: Script) -> None:
    """Running: push-off, a high fast swing, a 3-8 g heel or forefoot strike, short contact."""
    stride_s, stride_m = s.u(0.65, 0.8), s.u(1.8, 2.6)
    forefoot, lift_m = bool(s.rng.random() < 0.4), s.u(0.15, 0.3)
    start = t = s.now
    for _ in range(max(2, int(s.u(15.0, 40.0) / stride_s))):
        t = s.pitch.move(t, 0.1 * stride_s, s.u(20.0, 35.0) * DEG)       # heel-off
        s.pivot_z.move(t, 0.1 * stride_s, s.floor_z + 0.03)
        t = s.pitch.move(t, 0.1 * stride_s, s.u(45.0, 75.0) * DEG)       # toe-off
        swing_s, strike_deg = 0.54 * stride_s, s.u(5.0, 15.0)
        s.pivot_x.move(t, swing_s, s.pivot_x.value + stride_m)
        s.pivot_z.move(t, 0.5 * swing_s, s.floor_z + lift_m * s.u(0.85, 1.15))
        strike_z = s.floor_z + (0.0 if forefoot else s.lever_m * np.sin(strike_deg * DEG))
        s.pivot_z.move(t + 0.5 * swing_s, 0.5 * swing_s, strike_z)
        t = s.pitch.move(t, swing_s, (strike_deg if forefoot else -strike_deg) * DEG)
        s.impact(t, s.u(3.0, 8.0), UP if forefoot else HEEL_STRIKE, s.u(15.0, 30.0),
                 s.u(0.015, 0.03))
        t = (s.pitch.move(t, 0.08 * stride_s, 0.0) if forefoot
             else s.pitch_about_heel(t, 0.06 * stride_s, 0.0))
        t += 0.1 * stride_s                                                 # midstance
    _done(s, "run", start, t)


def stairs_up(s: Script) -> None:
    """Climbing stairs: heel-off and toe-off from one step, the foot lifted two steps up."""
    rise_m, going_m, stride_s = s.u(0.15, 0.19), s.u(0.25, 0.32), s.u(1.1, 1.5)
    start = t = s.now
    for _ in range(int(s.rng.integers(4, 9))):
        t = s.pitch.move(t, 0.12 * stride_s, s.u(15.0, 30.0) * DEG)
        s.pivot_z.move(t, 0.06 * stride_s, s.pivot_z.value + 0.02)
        t = s.pitch.move(t, 0.06 * stride_s, s.u(30.0, 45.0) * DEG)
        swing_s = 0.32 * stride_s
        swing(s, t, swing_s, 2 * going_m, 2 * rise_m - 0.02, s.u(0.04, 0.08))
        mid = s.pitch.move(t, 0.5 * swing_s, -s.u(0.0, 10.0) * DEG)     # toes clear the nosing
        t = s.pitch.move(mid, 0.5 * swing_s, s.u(0.0, 8.0) * DEG)
        s.impact(t, s.u(0.5, 1.5))
        t = s.pitch.move(t, 0.06 * stride_s, 0.0) + 0.44 * stride_s     # stance, body rises
    s.floor_z = s.pivot_z.value
    _done(s, "stairs_up", start, t)


def stairs_down(s: Script) -> None:
    """Going down stairs: the foot lands on its forefoot two steps down, then the heel lowers."""
    rise_m, going_m, stride_s = s.u(0.15, 0.19), s.u(0.25, 0.32), s.u(1.0, 1.4)
    start = t = s.now
    for _ in range(int(s.rng.integers(4, 9))):
        t = s.pitch.move(t, 0.12 * stride_s, s.u(10.0, 25.0) * DEG)    # body lowers ahead
        swing_s = 0.33 * stride_s
        swing(s, t, swing_s, 2 * going_m, -2 * rise_m, 0.03)
        t = s.pitch.move(t, swing_s, s.u(15.0, 30.0) * DEG)
        land(s, t, s.u(0.8, 1.6))
        t = s.pitch.move(t, s.u(0.12, 0.25), 0.0)
        s.impact(t, s.u(0.3, 1.0))
        t += s.u(0.3, 0.45) * stride_s
    s.floor_z = s.pivot_z.value
    _done(s, "stairs_down", start, t)


def hops(s: Script) -> None:
    """Hopping in place: push-off through the ball, 0.2-0.35 s of flight, forefoot landing."""
    flight_s, contact_s = s.u(0.2, 0.35), s.u(0.2, 0.35)
    to_deg, land_deg, heel_deg = s.u(30.0, 50.0), s.u(15.0, 30.0), s.u(0.0, 10.0)
    n = int(s.rng.integers(5, 16))
    start = t = s.now
    push_s = s.u(0.15, 0.25)         # the first push starts from standing
    for i in range(n):
        speed = G_MPS2 * flight_s * s.u(0.9, 1.1) / 2
        up = t + push_s
        s.pitch.move(t, push_s, to_deg * DEG)
        takeoff(s, up, speed, s.u(0.02, 0.035))
        down, land_mps = flight(s, up, speed, s.floor_z)
        s.pitch.move(up, down - up, land_deg * DEG)
        land(s, down, land_mps)
        lower_s = s.u(0.06, 0.12)
        bottom_deg = 0.0 if i == n - 1 else heel_deg
        t = s.pitch.move(down, lower_s, bottom_deg * DEG)
        if bottom_deg < 2.0:
            s.impact(t, s.u(0.3, 1.0))
        push_s = contact_s - lower_s
    _done(s, "hops", start, t)


def jumps(s: Script) -> None:
    """Countermovement jumps: push-off, 0.35-0.6 s of flight, landing forefoot then heel."""
    start = t = s.now
    for _ in range(int(s.rng.integers(1, 5))):
        t += s.u(0.4, 0.6)                      # countermovement: the foot stays flat
        up = t + s.u(0.15, 0.25)
        s.pitch.move(t, up - t, s.u(35.0, 55.0) * DEG)
        speed = G_MPS2 * s.u(0.35, 0.6) / 2
        takeoff(s, up, speed, s.u(0.03, 0.06))
        down, land_mps = flight(s, up, speed, s.floor_z)
        s.pitch.move(up, down - up, s.u(15.0, 35.0) * DEG)
        land(s, down, land_mps)
        t = s.pitch.move(down, s.u(0.08, 0.18), 0.0)
        s.impact(t, s.u(1.0, 3.0))
        t += s.u(2.0, 4.0)
    _done(s, "jumps", start, t)


def landings(s: Script) -> None:
    """Drop landings: step off a 20-40 cm box, fall, land forefoot then heel; step back up."""
    start = t = s.now
    height_m = s.u(0.2, 0.4)
    for _ in range(int(s.rng.integers(1, 4))):
        step_s, reach_m = s.u(0.3, 0.45), s.u(0.25, 0.35)
        s.pivot_x.move(t, step_s, s.pivot_x.value + reach_m)
        s.pitch.move(t, step_s, s.u(10.0, 25.0) * DEG)                   # toes reach down
        off = s.pivot_z.move(t, step_s, s.pivot_z.value + 0.03)
        down, land_mps = flight(s, off, 0.0, s.pivot_z.value - 0.03 - height_m)
        land(s, down, land_mps)
        t = s.pitch.move(down, s.u(0.08, 0.18), 0.0)
        s.impact(t, s.u(1.0, 3.0))
        t += s.u(2.0, 4.0)
        t = step_flat(s, t, -reach_m, height_m) + s.u(1.0, 3.0)          # back onto the box
    _done(s, "landings", start, t)


def step_flat(s: Script, t_s: float, dx_m: float, dz_m: float) -> float:
    """The foot lifted, carried ``dx_m`` (and ``dz_m`` up) and put down flat; returns its end."""
    t = s.pitch.move(t_s, 0.15, s.u(5.0, 15.0) * DEG)
    swing_s = s.u(0.4, 0.6)
    swing(s, t, swing_s, dx_m, dz_m, s.u(0.05, 0.1))
    mid = s.pitch.move(t, 0.5 * swing_s, -s.u(0.0, 10.0) * DEG)
    t = s.pitch.move(mid, 0.5 * swing_s, 0.0)
    s.impact(t, s.u(0.5, 1.5))
    return t


def step_down_from(s: Script, t_s: float, dx_m: float, dz_m: float) -> float:
    """The foot reaches down ``dz_m`` (< 0), lands on its forefoot, then the heel comes down."""
    swing_s = s.u(0.4, 0.6)
    swing(s, t_s, swing_s, dx_m, dz_m, 0.03)
    t = s.pitch.move(t_s, swing_s, s.u(10.0, 25.0) * DEG)
    land(s, t, s.u(0.6, 1.2))
    t = s.pitch.move(t, s.u(0.12, 0.3), 0.0)
    s.impact(t, s.u(0.3, 1.0))
    return t


def step_ups(s: Script) -> None:
    """Step-ups onto a 20-35 cm box, the sensor's leg leading or trailing."""
    height_m, reach_m, lead = s.u(0.2, 0.35), s.u(0.25, 0.35), bool(s.rng.random() < 0.5)
    start = t = s.now
    for _ in range(int(s.rng.integers(5, 11))):
        if lead:
            t = step_flat(s, t, reach_m, height_m) + s.u(0.5, 1.5)
            t = step_down_from(s, t, -reach_m, -height_m)
        else:
            t += s.u(0.4, 0.8)                            # the other foot steps up
            t = s.pitch.move(t, s.u(0.3, 0.5), s.u(15.0, 35.0) * DEG)   # push-off
            s.pivot_z.move(t, 0.08, s.pivot_z.value + 0.02)
            t = s.pitch.move(t, 0.08, s.u(35.0, 50.0) * DEG)
            swing_s = s.u(0.4, 0.6)
            swing(s, t, swing_s, reach_m, height_m - 0.02, s.u(0.05, 0.1))
            t = s.pitch.move(t, swing_s, 0.0)
            s.impact(t, s.u(0.5, 1.5))
            t += s.u(0.5, 1.5) + s.u(0.5, 0.9)            # stand; the other foot steps down
            t = step_flat(s, t, -reach_m, -height_m)
        t += s.u(0.5, 1.5)
    _done(s, "step_ups", start, t)


def squats(s: Script) -> None:
    """Squats: the foot stays flat (some people's heels lift a few degrees at the bottom)."""
    lifts = bool(s.rng.random() < 0.3)
    start = t = s.now
    for _ in range(int(s.rng.integers(5, 13))):
        down_s, bottom_s, up_s = s.u(1.0, 2.0), s.u(0.0, 0.5), s.u(1.0, 2.0)
        s.roll.move(t, down_s, s.sign() * s.u(0.5, 1.5) * DEG)
        tilt_deg = s.u(2.0, 6.0) if lifts else s.u(0.3, 1.0)    # heel up, about the ball
        lift = s.pitch.move(t + 0.5 * down_s, 0.5 * down_s, tilt_deg * DEG)
        bottom = t + down_s + bottom_s
        s.pitch.move(max(lift, bottom), 0.5 * up_s, 0.0)
        s.roll.move(bottom, up_s, 0.0)
        t = bottom + up_s + s.u(0.3, 1.0)
    _done(s, "squats", start, t)


def lunges(s: Script) -> None:
    """Lunges: the sensor's leg steps forward, or reverse lunges on alternating legs."""
    reverse = bool(s.rng.random() < 0.6)
    start = t = s.now
    for i in range(int(s.rng.integers(6, 13))):
        stride_m, swing_s, low_s = s.u(0.6, 0.9), s.u(0.4, 0.6), s.u(1.0, 2.0)
        if not reverse:        # step forward, heel strike, lunge, push back
            t = s.pitch.move(t, 0.15, s.u(10.0, 20.0) * DEG)
            strike_deg = s.u(10.0, 20.0)
            s.pivot_x.move(t, swing_s, s.pivot_x.value + stride_m)
            s.pivot_z.move(t, 0.5 * swing_s, s.floor_z + s.u(0.05, 0.1))
            s.pivot_z.move(t + 0.5 * swing_s, 0.5 * swing_s,
                           s.floor_z + s.lever_m * np.sin(strike_deg * DEG))
            t = s.pitch.move(t, swing_s, -strike_deg * DEG)
            s.impact(t, s.u(1.0, 2.5), HEEL_STRIKE)
            t = s.pitch_about_heel(t, 0.1, 0.0) + low_s
            t = s.pitch_about_heel(t, 0.15, -s.u(5.0, 10.0))    # pushing back off the heel
            back_s = s.u(0.4, 0.6)
            swing(s, t, back_s, -stride_m, s.floor_z - s.pivot_z.value, s.u(0.03, 0.06))
            t = s.pitch.move(t, back_s, 0.0)
            s.impact(t, s.u(0.5, 1.5))
        elif i % 2 == 0:       # the sensor's leg steps back and lands on the ball
            s.pivot_z.move(t, 0.2, s.floor_z + 0.03)
            t = s.pitch.move(t, 0.2, s.u(0.0, 10.0) * DEG)
            rear_deg = s.u(30.0, 50.0)
            swing(s, t, swing_s, -stride_m, -0.03, s.u(0.04, 0.08))
            t = s.pitch.move(t, swing_s, rear_deg * DEG)
            s.impact(t, s.u(0.5, 1.5))
            knee = s.pitch.move(t + 0.2, 0.5 * low_s, (rear_deg + s.u(-5.0, 8.0)) * DEG)
            t = s.pitch.move(knee, 0.5 * low_s, rear_deg * DEG)
            forward_s = s.u(0.4, 0.6)
            swing(s, t, forward_s, stride_m, 0.0, s.u(0.04, 0.08))
            t = s.pitch.move(t, forward_s, 0.0)
            s.impact(t, s.u(0.5, 1.5))
        else:                  # the other leg steps back: this foot is the front one, flat
            lunge_s = 2 * swing_s + low_s
            s.roll.move(t, 0.5 * lunge_s, s.sign() * s.u(1.0, 3.0) * DEG)
            s.roll.move(t + 0.5 * lunge_s, 0.5 * lunge_s, 0.0)
            tilt = s.pitch.move(t, 0.5 * lunge_s, s.sign() * s.u(0.5, 2.0) * DEG)
            t = s.pitch.move(tilt, 0.5 * lunge_s, 0.0)
        t += s.u(0.5, 1.5)
    _done(s, "lunges", start, t)


def sit_to_stand(s: Script) -> None:
    """Sitting down and standing up: the feet tuck back (heel a little up), then flat again."""
    start = t = s.now
    for _ in range(int(s.rng.integers(3, 9))):
        sit_s, seated_s, rise_s = s.u(1.5, 2.5), s.u(3.0, 8.0), s.u(1.5, 2.5)
        s.roll.move(t, sit_s, s.sign() * s.u(1.0, 3.0) * DEG)
        s.pitch.move(t, sit_s, s.u(0.0, 1.5) * DEG)
        tuck = t + sit_s + s.u(0.5, 2.0)
        tuck_s = s.u(0.6, 1.2)
        s.pivot_x.move(tuck, tuck_s, s.pivot_x.value - s.u(0.05, 0.15))   # slides back
        s.pitch.move(tuck, tuck_s, s.u(2.0, 8.0) * DEG)
        stand = max(t + sit_s + seated_s, tuck + tuck_s)
        s.pitch.move(stand, s.u(0.4, 0.8), 0.0)          # weight comes back onto the heel
        s.roll.move(stand, rise_s, 0.0)
        t = stand + rise_s + s.u(2.0, 4.0)
    _done(s, "sit_to_stand", start, t)


#: every activity by name; each takes the script and draws its own extent
ACTIVITIES: dict[str, Callable[[Script], None]] = {
    "walk": walk, "run": run, "stairs_up": stairs_up, "stairs_down": stairs_down,
    "hops": hops, "jumps": jumps, "landings": landings, "step_ups": step_ups,
    "squats": squats, "lunges": lunges, "sit_to_stand": sit_to_stand,
}
#: the activities that never stand still: a session of these has no still standing at all
LOCOMOTION = ("walk", "run", "stairs_up", "stairs_down", "hops")
