"""Rigid-body kinematics of a shoe that pivots about the ball of the foot.

The simulator scripts movements as minimum-jerk strokes of a few scalar tracks
(pitch, roll, the pivot's position) plus gated oscillations (sway, tremor), and
this module turns them into what a strapped-on IMU feels: specific force and
angular rate in the foot frame. Everything is analytic (no numerical
differentiation), so it can be evaluated at jittered sample times directly and
stays fast and exact at any rate.

Frames: world x forward, y left, z up. The foot frame coincides with the world
frame when standing level; its origin is the pivot (the metatarsal heads).
Pitch θ is a rotation about y, positive = heel up; roll φ about the foot's
forward axis; orientation R = Ry(θ)·Rx(φ).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from scipy import special

G_MPS2 = 9.80665
DEG = np.pi / 180.0                 # radians per degree
UP = (0.0, 0.0, 1.0)                # world up, the direction of most jolts
HEEL_STRIKE = (-0.37, 0.0, 0.93)    # a heel strike's jolt: up, and braking the forward swing


@dataclass(frozen=True)
class Motion:
    """A scalar and its first two time derivatives, sampled at some times."""

    x: np.ndarray
    v: np.ndarray
    a: np.ndarray

    def __add__(self, other: Motion) -> Motion:
        return Motion(self.x + other.x, self.v + other.v, self.a + other.a)

    def __mul__(self, other: Motion) -> Motion:
        """Product rule, for an oscillation gated by an envelope."""
        return Motion(
            self.x * other.x,
            self.v * other.x + self.x * other.v,
            self.a * other.x + 2.0 * self.v * other.v + self.x * other.a,
        )


class Shape(ABC):
    """How a stroke covers its travel: position s(τ) from 0 to 1 as time τ goes 0 → 1.

    People do not all move like the minimum-jerk model, and a detector tuned to one
    shape mislocates the onset and offset of another; so each stroke of a
    :class:`Track` has its own shape. :meth:`profile` is analytic (position and its
    first two derivatives with respect to τ), so the kinematics need no numerical
    differentiation.
    """

    @property
    @abstractmethod
    def name(self) -> str:
        """The shape's family, as the truth records it."""

    @abstractmethod
    def profile(self, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """s, ds/dτ and d²s/dτ² at normalised times ``tau`` in [0, 1]."""

    def crossing_span(self, lo: float = 0.1, hi: float = 0.9) -> float:
        """Share of the stroke's duration between crossing ``lo`` and ``hi`` of its travel.

        Motion-capture papers give a raise's speed as its 10-90 % time; this turns such
        a figure into a stroke duration for any shape.
        """
        tau = np.linspace(0.0, 1.0, _GRID)
        s = self.profile(tau)[0]
        return float(np.interp(hi, s, tau) - np.interp(lo, s, tau))

    def peak_speed(self) -> float:
        """Largest ds/dτ: the peak rate of a stroke is ``peak_speed() · travel / duration``."""
        return float(np.max(self.profile(np.linspace(0.0, 1.0, _GRID))[1]))


_GRID = 4001    # points on which crossing times and peak speeds are read off a profile


@dataclass(frozen=True)
class MinJerk(Shape):
    """Minimum jerk: zero velocity and acceleration at both ends (point-to-point reaching)."""

    @property
    def name(self) -> str:
        return "minjerk"

    def profile(self, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (tau**3 * (10.0 - 15.0 * tau + 6.0 * tau**2),
                30.0 * tau**2 * (1.0 - tau) ** 2,
                60.0 * tau * (1.0 - tau) * (1.0 - 2.0 * tau))


@dataclass(frozen=True)
class Cosine(Shape):
    """Half-cosine position: zero velocity at the ends, but the acceleration jumps there."""

    @property
    def name(self) -> str:
        return "cosine"

    def profile(self, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        arg = np.pi * tau
        return (0.5 - 0.5 * np.cos(arg), 0.5 * np.pi * np.sin(arg),
                0.5 * np.pi**2 * np.cos(arg))


@dataclass(frozen=True)
class Trapezoid(Shape):
    """Trapezoidal velocity: accelerate for ``ramp`` of the time, cruise, decelerate as long.

    ``ramp`` 0.5 is a triangular velocity; small ramps cruise at nearly constant speed,
    the way a person counting "one, two, three" often moves.
    """

    ramp: float = 0.25

    def __post_init__(self) -> None:
        if not 0.0 < self.ramp <= 0.5:
            raise ValueError(f"ramp must be in (0, 0.5], got {self.ramp}")

    @property
    def name(self) -> str:
        return "trapezoid"

    def profile(self, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r = self.ramp
        top = 1.0 / (1.0 - r)           # cruise speed, so that the travel is 1
        rising, falling = tau < r, tau > 1.0 - r
        rest = 1.0 - tau
        s = np.where(rising, 0.5 * top * tau**2 / r,
                     np.where(falling, 1.0 - 0.5 * top * rest**2 / r, top * (tau - 0.5 * r)))
        ds = np.where(rising, top * tau / r, np.where(falling, top * rest / r, top))
        dds = np.where(rising, top / r, np.where(falling, -top / r, 0.0))
        return s, ds, dds


@dataclass(frozen=True)
class Beta(Shape):
    """Velocity shaped like a beta density, τ^(a-1)·(1-τ)^(b-1): skewed strokes.

    ``a`` < ``b`` starts fast and ends slowly, ``a`` > ``b`` the reverse; a = b = 3 is
    minimum jerk. a = 1 (or b = 1) starts (ends) at full speed: with b = 2 (a = 2) that
    is a ballistic stroke under constant acceleration, how a body rises (falls) in
    flight. Exponents between 1 and 2 are refused: the acceleration would be infinite
    at an end.
    """

    a: float
    b: float

    def __post_init__(self) -> None:
        for name, value in (("a", self.a), ("b", self.b)):
            if not (value == 1.0 or value >= 2.0):
                raise ValueError(f"{name} must be 1 or >= 2, got {value}")

    @property
    def name(self) -> str:
        if self.a == self.b:
            return "beta"
        return "skew_early" if self.a < self.b else "skew_late"

    def profile(self, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a, b = self.a, self.b
        scale = 1.0 / special.beta(a, b)
        rest = 1.0 - tau
        ds = scale * tau ** (a - 1.0) * rest ** (b - 1.0)
        dds = np.zeros_like(tau)
        if a != 1.0:
            dds = dds + scale * (a - 1.0) * tau ** (a - 2.0) * rest ** (b - 1.0)
        if b != 1.0:
            dds = dds - scale * (b - 1.0) * tau ** (a - 1.0) * rest ** (b - 2.0)
        return special.betainc(a, b, tau), ds, dds


@dataclass(frozen=True)
class Truncated(Shape):
    """The first ``cut`` of another shape, stretched to the whole stroke: it ends moving.

    A quick lowering that ends with the heel landing is not decelerated to rest by the
    calf but stopped by the floor: the stroke ends at speed, and the impact that
    stops it is an :func:`impacts` jolt.
    """

    base: Shape
    cut: float

    def __post_init__(self) -> None:
        if not 0.0 < self.cut <= 1.0:
            raise ValueError(f"cut must be in (0, 1], got {self.cut}")

    @property
    def name(self) -> str:
        return "landing"

    def profile(self, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = self.cut
        s, ds, dds = self.base.profile(c * tau)
        end = float(self.base.profile(np.array([c]))[0][0])
        return s / end, c * ds / end, c * c * dds / end

    def end_speed(self) -> float:
        """ds/dτ at the end: the speed the stroke has when it is stopped."""
        return float(self.profile(np.array([1.0]))[1][0])


MIN_JERK = MinJerk()


class Track:
    """A scalar that rests, or moves between values along strokes of chosen shapes.

    Consecutive knots are joined by strokes, by default minimum-jerk (zero velocity
    and acceleration at both ends), which is how people move a limb point to point;
    equal consecutive values are a rest. A stroke whose shape ends at speed (a
    landing) stops dead at its end: velocity and acceleration are zero outside
    every stroke.
    """

    def __init__(self, value: float = 0.0) -> None:
        self._times = [0.0]
        self._values = [float(value)]
        self._kinds: dict[Shape, int] = {MIN_JERK: 0}   # distinct shapes, numbered
        self._segment_kinds: list[int] = []             # each segment's shape (rests: 0)

    @property
    def value(self) -> float:
        """Where the track ends up after its last stroke."""
        return self._values[-1]

    @property
    def end_s(self) -> float:
        """When the last stroke ends."""
        return self._times[-1]

    def move(self, start_s: float, duration_s: float, value: float,
             shape: Shape = MIN_JERK) -> float:
        """Stroke to ``value`` from ``start_s`` over ``duration_s``; returns the end time."""
        if duration_s <= 0:
            raise ValueError(f"duration_s must be > 0, got {duration_s}")
        if start_s < self._times[-1] - 1e-9:
            raise ValueError(f"stroke at {start_s:.3f} s overlaps the previous one")
        if start_s > self._times[-1]:
            self._times.append(start_s)
            self._values.append(self._values[-1])
            self._segment_kinds.append(0)
        self._times.append(start_s + duration_s)
        self._values.append(float(value))
        self._segment_kinds.append(self._kinds.setdefault(shape, len(self._kinds)))
        return start_s + duration_s

    def __call__(self, t: np.ndarray) -> Motion:
        times = np.asarray(self._times)
        values = np.asarray(self._values)
        if len(times) < 2:
            full = np.full(t.shape, values[0])
            return Motion(full, np.zeros_like(t), np.zeros_like(t))
        k = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
        span = times[k + 1] - times[k]
        raw = (t - times[k]) / span
        tau = np.clip(raw, 0.0, 1.0)
        dv = values[k + 1] - values[k]
        s, ds, dds = np.empty_like(tau), np.empty_like(tau), np.empty_like(tau)
        # evaluate each distinct shape once, on all the samples its strokes cover
        which = np.asarray(self._segment_kinds)[k]
        order = np.argsort(which, kind="stable")
        cuts = np.searchsorted(which[order], np.arange(len(self._kinds) + 1))
        for j, shape in enumerate(self._kinds):
            idx = order[cuts[j]:cuts[j + 1]]
            if len(idx):
                s[idx], ds[idx], dds[idx] = shape.profile(tau[idx])
        moving = (raw >= 0.0) & (raw <= 1.0)
        ds = np.where(moving, ds, 0.0)
        dds = np.where(moving, dds, 0.0)
        return Motion(values[k] + dv * s, dv * (ds / span), dv * (dds / span**2))


def oscillation(t: np.ndarray, amplitudes: np.ndarray, freqs_hz: np.ndarray,
                phases: np.ndarray) -> Motion:
    """A sum of sinusoids: sway and tremor, smooth and differentiable."""
    x, v, a = np.zeros_like(t), np.zeros_like(t), np.zeros_like(t)
    for amp, freq, phase in zip(amplitudes, freqs_hz, phases, strict=True):
        w = 2.0 * np.pi * freq
        arg = w * t + phase
        s, c = np.sin(arg), np.cos(arg)
        x += amp * s
        v += (amp * w) * c
        a -= (amp * w * w) * s
    return Motion(x, v, a)


def random_oscillation(rng: np.random.Generator, t: np.ndarray, rms: float,
                       band_hz: tuple[float, float], n: int = 3) -> Motion:
    """Band-limited sway or tremor with the given RMS."""
    freqs = rng.uniform(*band_hz, size=n)
    weights = rng.uniform(0.5, 1.0, size=n)
    amplitudes = rms * np.sqrt(2.0) * weights / np.sqrt(np.sum(weights**2))
    return oscillation(t, amplitudes, freqs, rng.uniform(0, 2 * np.pi, size=n))


def gated_oscillation(rng: np.random.Generator, t: np.ndarray, envelope: Motion, rms: float,
                      band_hz: tuple[float, float], n: int = 3) -> Motion:
    """An oscillation that only exists while its envelope is up (tremor at the top).

    Evaluated only where the envelope is non-zero: most of a session is spent
    elsewhere, and the sines are the dearest part of a simulation.
    """
    on = envelope.x != 0
    osc = random_oscillation(rng, t[on], rms, band_hz, n)
    parts = []
    for whole, part in zip((envelope.x, envelope.v, envelope.a), (osc.x, osc.v, osc.a),
                           strict=True):
        full = np.zeros_like(whole)
        full[on] = part
        parts.append(full)
    return envelope * Motion(*parts)


def impacts(t: np.ndarray, times_s: np.ndarray, peaks_mps2: np.ndarray,
            directions: np.ndarray, freq_hz: float | np.ndarray = 20.0,
            decay_s: float | np.ndarray = 0.025) -> np.ndarray:
    """World acceleration (n, 3) of the shoe ringing after heel strikes and toe taps.

    A strike is a jolt too short for the stroke model; a decaying sinusoid of the
    given peak, in the given world direction, is what a shoe-mounted IMU records.
    ``freq_hz`` and ``decay_s`` are one figure for all, or one per impact (a knock
    against a step rings higher and shorter than a heel strike).
    """
    out = np.zeros((len(t), 3))
    freqs = np.broadcast_to(np.asarray(freq_hz, dtype=float), np.shape(times_s))
    decays = np.broadcast_to(np.asarray(decay_s, dtype=float), np.shape(times_s))
    for t0, peak, direction, freq, decay in zip(times_s, peaks_mps2, directions, freqs, decays,
                                                strict=True):
        w = 2.0 * np.pi * freq
        lo, hi = np.searchsorted(t, [t0, t0 + 8 * decay])
        dt = t[lo:hi] - t0
        # the first lobe of exp(-dt/decay)·sin(w dt) peaks near this factor
        norm = np.exp(-np.arctan(w * decay) / (w * decay)) * np.sin(np.arctan(w * decay))
        pulse = peak / norm * np.exp(-dt / decay) * np.sin(w * dt)
        out[lo:hi] += np.outer(pulse, direction)
    return out


def sensor_kinematics(pitch: Motion, roll: Motion, pivot_x: Motion, pivot_z: Motion,
                      lever_m: np.ndarray, extra_accel_mps2: np.ndarray | None = None,
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Specific force (m/s², foot frame) and angular rate (rad/s, foot frame).

    ``lever_m`` is the sensor's position in the foot frame relative to the pivot.
    The accelerometer measures f = a − g_vec: +1 g up at rest. Written out
    component by component: (n, 3, 3) rotation stacks and ``np.cross`` would
    cost more than everything else in a simulation.
    """
    ct, st = np.cos(pitch.x), np.sin(pitch.x)
    cp, sp = np.cos(roll.x), np.sin(roll.x)
    lx, ly, lz = (float(v) for v in lever_m)
    # sensor offset in the world frame, r = R·lever with R = Ry(θ)·Rx(φ)
    side = sp * ly + cp * lz
    rx, ry, rz = ct * lx + st * side, cp * ly - sp * lz, -st * lx + ct * side
    # angular velocity and acceleration in the world frame: θ' about y, φ' about Ry(θ)·x̂
    cross_rate = pitch.v * roll.v
    wx, wy, wz = roll.v * ct, pitch.v, -roll.v * st
    ax_, ay_, az_ = roll.a * ct - cross_rate * st, pitch.a, -roll.a * st - cross_rate * ct
    # a = α × r + ω × (ω × r) = α × r + ω (ω·r) − r |ω|²
    w_dot_r, w_sq = wx * rx + wy * ry + wz * rz, wx * wx + wy * wy + wz * wz
    fx = ay_ * rz - az_ * ry + wx * w_dot_r - rx * w_sq + pivot_x.a
    fy = az_ * rx - ax_ * rz + wy * w_dot_r - ry * w_sq
    fz = ax_ * ry - ay_ * rx + wz * w_dot_r - rz * w_sq + pivot_z.a + G_MPS2
    if extra_accel_mps2 is not None:
        fx = fx + extra_accel_mps2[:, 0]
        fy = fy + extra_accel_mps2[:, 1]
        fz = fz + extra_accel_mps2[:, 2]
    # into the foot frame, Rᵀ·f; the rate there is simply (φ', θ' cos φ, −θ' sin φ)
    along = st * fx + ct * fz
    force = np.stack([ct * fx - st * fz, sp * along + cp * fy, cp * along - sp * fy], -1)
    rate = np.stack([roll.v, pitch.v * cp, -pitch.v * sp], -1)
    return force, rate
