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

from dataclasses import dataclass

import numpy as np

G_MPS2 = 9.80665


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


class Track:
    """A scalar that rests, or moves between values along minimum-jerk strokes.

    Consecutive knots are joined by minimum-jerk strokes (zero velocity and
    acceleration at both ends), which is how people move a limb point to point;
    equal consecutive values are a rest.
    """

    def __init__(self, value: float = 0.0) -> None:
        self._times = [0.0]
        self._values = [float(value)]

    @property
    def value(self) -> float:
        """Where the track ends up after its last stroke."""
        return self._values[-1]

    def move(self, start_s: float, duration_s: float, value: float) -> float:
        """Stroke to ``value`` from ``start_s`` over ``duration_s``; returns the end time."""
        if duration_s <= 0:
            raise ValueError(f"duration_s must be > 0, got {duration_s}")
        if start_s < self._times[-1] - 1e-9:
            raise ValueError(f"stroke at {start_s:.3f} s overlaps the previous one")
        if start_s > self._times[-1]:
            self._times.append(start_s)
            self._values.append(self._values[-1])
        self._times.append(start_s + duration_s)
        self._values.append(float(value))
        return start_s + duration_s

    def __call__(self, t: np.ndarray) -> Motion:
        times = np.asarray(self._times)
        values = np.asarray(self._values)
        if len(times) < 2:
            full = np.full(t.shape, values[0])
            return Motion(full, np.zeros_like(t), np.zeros_like(t))
        k = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
        span = times[k + 1] - times[k]
        tau = np.clip((t - times[k]) / span, 0.0, 1.0)
        dv = values[k + 1] - values[k]
        s = tau**3 * (10.0 - 15.0 * tau + 6.0 * tau**2)
        ds = 30.0 * tau**2 * (1.0 - tau) ** 2 / span
        dds = 60.0 * tau * (1.0 - tau) * (1.0 - 2.0 * tau) / span**2
        return Motion(values[k] + dv * s, dv * ds, dv * dds)


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
            directions: np.ndarray, freq_hz: float = 20.0, decay_s: float = 0.025) -> np.ndarray:
    """World acceleration (n, 3) of the shoe ringing after heel strikes and toe taps.

    A strike is a jolt too short for the stroke model; a decaying sinusoid of the
    given peak, in the given world direction, is what a shoe-mounted IMU records.
    """
    out = np.zeros((len(t), 3))
    w = 2.0 * np.pi * freq_hz
    for t0, peak, direction in zip(times_s, peaks_mps2, directions, strict=True):
        lo, hi = np.searchsorted(t, [t0, t0 + 8 * decay_s])
        dt = t[lo:hi] - t0
        # the first lobe of exp(-dt/decay)·sin(w dt) peaks near this factor
        norm = np.exp(-np.arctan(w * decay_s) / (w * decay_s)) * np.sin(np.arctan(w * decay_s))
        pulse = peak / norm * np.exp(-dt / decay_s) * np.sin(w * dt)
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
