"""A person doing a heel-raise session with a clip-on IMU on the shoe.

The pipeline must be judged on data whose truth is known exactly, and on the
awkward parts of real sessions: arbitrary mounting, sensor offsets and noise,
dropped samples, rushed reps, half-hearted raises, fidgeting and walking
between sets. The simulator scripts such a session from a seed, moves a rigid
foot through it (:mod:`.foot`), and reads it with a datasheet-faithful sensor
model. The truth it returns uses the same boundaries the pipeline reports:
movement onsets and offsets, not threshold crossings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from ..protocol import Stage
from ..samples import SampleBlock
from ..stages import load_stage
from .base import paced
from .foot import (
    G_MPS2,
    Track,
    gated_oscillation,
    impacts,
    random_oscillation,
    sensor_kinematics,
)
from .recording import write_recording

MOUNTS = ("laces", "heel")
RUSHED_MARGIN_S = 0.4   # generated tempos stay this far from the stage's "too fast" line
_DEG = np.pi / 180.0
_STRIKE = (-0.37, 0.0, 0.93)     # heel strike jolt: up, and braking the forward swing


@dataclass(frozen=True)
class Chip:
    """Datasheet figures of an accelerometer/gyro, as the simulator reads them."""

    noise_ug_rthz: float
    offset_mg: tuple[float, float, float]     # zero-g offset, uniform ± per axis
    scale_error: float                         # sensitivity error, uniform ±
    lsb_g: float                               # 0 = no quantisation
    range_g: float
    gyro_noise_dps_rthz: float
    gyro_bias_dps: float
    gyro_lsb_dps: float
    gyro_range_dps: float


CHIPS = {
    "mpu6050": Chip(400.0, (50.0, 50.0, 80.0), 0.03, 1 / 16384, 2.0,
                    0.005, 20.0, 1 / 16.4, 2000.0),
    "lsm6dsox": Chip(75.0, (20.0, 20.0, 20.0), 0.01, 0.061e-3, 2.0,
                     0.0038, 1.0, 70e-3, 2000.0),
    # a perfect sensor: for tests that check the physics, not the sensor model
    "ideal": Chip(0.0, (0.0, 0.0, 0.0), 0.0, 0.0, np.inf, 0.0, 0.0, 0.0, np.inf),
}


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


@dataclass(frozen=True)
class TrueSet:
    start_s: float
    end_s: float
    reps: int
    holds: int


@dataclass(frozen=True)
class TrueWalk:
    start_s: float
    end_s: float


@dataclass(frozen=True)
class TrueFidget:
    start_s: float
    end_s: float
    kind: str           # "weight_shift" or "tap"


@dataclass
class Truth:
    """What really happened in a simulated session (times on the sensor clock)."""

    meta: dict
    reps: list[TrueRep] = field(default_factory=list)
    partials: list[TruePartial] = field(default_factory=list)
    holds: list[TrueHold] = field(default_factory=list)
    sets: list[TrueSet] = field(default_factory=list)
    walking: list[TrueWalk] = field(default_factory=list)
    fidgets: list[TrueFidget] = field(default_factory=list)

    _KINDS = {"reps": TrueRep, "partials": TruePartial, "holds": TrueHold, "sets": TrueSet,
              "walking": TrueWalk, "fidgets": TrueFidget}

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


@dataclass(frozen=True)
class Simulation:
    """A simulated session: the samples, the truth, and the true pitch at each sample."""

    block: SampleBlock
    truth: Truth
    pitch_deg: np.ndarray


class _Script:
    """Writes one session's movements onto the foot's tracks, and its truth alongside."""

    def __init__(self, rng: np.random.Generator, stage: Stage, lever_m: float) -> None:
        self.rng = rng
        self.stage = stage
        self.lever_m = lever_m
        self.pitch = Track()        # rad
        self.roll = Track()         # rad
        self.pivot_x = Track()      # m
        self.pivot_z = Track()      # m
        self.top = Track()          # 0..1 envelope: effort tremor and wobble at the top
        self.balance = Track()      # 0..1 envelope: single-leg body sway
        self.impacts: list[tuple[float, float, tuple[float, float, float]]] = []
        self.now = 0.0
        self.reps: list[TrueRep] = []
        self.partials: list[TruePartial] = []
        self.holds: list[TrueHold] = []
        self.sets: list[TrueSet] = []
        self.walking: list[TrueWalk] = []
        self.fidgets: list[TrueFidget] = []

    def u(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def stand(self, duration_s: float) -> None:
        self.now += duration_s

    def hold_at_top(self, top_s: float, lower_s: float) -> None:
        """Holding the top takes effort: tremor and wobble ramp up and fade with the hold."""
        ramp_s = min(0.4, (lower_s - top_s) / 2)
        if ramp_s >= 0.15:   # too short a hold for a tremor to build up
            self.top.move(top_s, ramp_s, 1.0)
            self.top.move(lower_s - ramp_s, ramp_s, 0.0)

    def raise_heel(self, up_s: float, hold_s: float, down_s: float, peak_deg: float,
                   bottom_deg: float) -> tuple[float, float, float, float]:
        """One raise about the ball of the foot; returns start, top, lower, end times."""
        start = self.now
        top = self.pitch.move(start, up_s, peak_deg * _DEG)
        lower = top + hold_s
        self.hold_at_top(top, lower)
        end = self.pitch.move(lower, down_s, bottom_deg * _DEG)
        if bottom_deg < 0:   # heel drop off a step: pause at the bottom, back to level
            end = self.pitch.move(end + self.u(0.2, 0.8), self.u(0.8, 1.5), 0.0)
        self.now = end
        return start, top, lower, end

    def pitch_about_heel(self, start_s: float, duration_s: float, deg: float) -> float:
        """Toes up on flat ground: the foot turns about the heel, so the ball lifts."""
        self.pivot_z.move(start_s, duration_s, self.lever_m * np.sin(max(0.0, -deg) * _DEG))
        return self.pitch.move(start_s, duration_s, deg * _DEG)

    def partial(self) -> None:
        peak = self.u(3.0, 8.0)
        start, _, _, end = self.raise_heel(self.u(0.5, 1.5), self.u(0.0, 0.5),
                                           self.u(0.5, 1.5), peak, 0.0)
        self.partials.append(TruePartial(start, end, peak))

    def weight_shift(self) -> None:
        start, move_s = self.now, self.u(0.6, 1.5)
        deg = self.u(1.0, 3.0) * self.rng.choice([-1.0, 1.0])
        self.roll.move(start, move_s, self.u(1.0, 3.0) * self.rng.choice([-1.0, 1.0]) * _DEG)
        t = self.pitch_about_heel(start, move_s, deg) if deg < 0 else self.pitch.move(
            start, move_s, deg * _DEG)
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
            self.impacts.append((t, self.u(0.3, 0.8) * G_MPS2, (0.0, 0.0, 1.0)))
            t += self.u(0.1, 0.3)
        self.now = t
        self.fidgets.append(TrueFidget(start, t, "tap"))

    def walk(self, duration_s: float) -> None:
        """Gait at ~1 Hz strides: heel-off, toe-off, swing, heel strike, foot flat."""
        stride_s, stride_m = self.u(0.95, 1.15), self.u(1.0, 1.4)
        strike_deg, toe_off_deg = self.u(10.0, 20.0), self.u(30.0, 60.0)
        clearance_m = self.u(0.05, 0.08)
        start = t = self.now
        for _ in range(max(1, int(duration_s / stride_s))):
            t = self.pitch.move(t, 0.17 * stride_s, self.u(15.0, 25.0) * _DEG)   # heel-off
            self.pivot_z.move(t, 0.15 * stride_s, 0.03)                           # toe-off
            t = self.pitch.move(t, 0.15 * stride_s, toe_off_deg * _DEG)
            swing_s = 0.4 * stride_s
            self.pivot_x.move(t, swing_s, self.pivot_x.value + stride_m)
            self.pivot_z.move(t, 0.45 * swing_s, clearance_m)
            strike_z = self.lever_m * np.sin(strike_deg * _DEG)
            self.pivot_z.move(t + 0.45 * swing_s, 0.55 * swing_s, strike_z)
            t = self.pitch.move(t, swing_s, -strike_deg * _DEG)
            self.impacts.append((t, self.u(1.0, 3.0) * G_MPS2, _STRIKE))
            t = self.pitch_about_heel(t, 0.1 * stride_s, 0.0)                    # foot flat
            self.impacts.append((t, self.u(0.2, 0.5) * G_MPS2, (0.0, 0.0, 1.0)))
            t += 0.18 * stride_s
        self.now = t
        self.walking.append(TrueWalk(start, t))


def _session_options(rng: np.random.Generator, stage: Stage, walking: bool | None,
                     heel_drop: bool | None, rushed_fraction: float | None,
                     n_sets: int | None) -> tuple[bool, bool, float, int]:
    if walking is None:
        walking = bool(rng.random() < 0.5)
    if heel_drop is None:
        heel_drop = bool(stage.heel_drop and rng.random() < 0.5)
    heel_drop = heel_drop and not stage.isometric   # a hold has no lowering to drop into
    if rushed_fraction is None:
        rushed_fraction = 0.0 if stage.isometric else float(rng.uniform(0.0, 0.3))
    if not 0.0 <= rushed_fraction <= 1.0:
        raise ValueError(f"rushed_fraction must be in [0, 1], got {rushed_fraction}")
    if n_sets is None:
        n_sets = int(rng.integers(stage.sets[0], stage.sets[1] + 1))
    if n_sets < 1:
        raise ValueError(f"n_sets must be >= 1, got {n_sets}")
    return walking, heel_drop, rushed_fraction, n_sets


def _rep_set(s: _Script, peak_deg: float, drop_deg: float | None, rushed_fraction: float,
             partial_p: float) -> None:
    """A set of tempo reps (stages 2-4)."""
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
        if i > 0 and s.rng.random() < partial_p:
            s.partial()
            s.stand(s.u(0.5, 2.0))
        rushed_up = rushed_down = False
        if s.rng.random() < rushed_fraction:
            which = int(s.rng.integers(3))
            rushed_up, rushed_down = which != 1, which != 0
        up_s = (s.u(0.6, min_up - RUSHED_MARGIN_S) if rushed_up
                else s.u(min_up + RUSHED_MARGIN_S + slow_s, stage.up_s + 1.0))
        down_s = (s.u(0.6, min_down - RUSHED_MARGIN_S) if rushed_down
                  else s.u(min_down + RUSHED_MARGIN_S + slow_s, stage.down_s + 1.0))
        peak = peak_deg * s.rng.normal(1.0, 0.03)
        if s.rng.random() < 0.05:   # a partial-range rep that still counts
            peak *= s.u(0.6, 0.75)
        bottom = 0.0 if drop_deg is None else -float(np.clip(
            drop_deg * s.rng.normal(1.0, 0.08), 8.0, 20.0))
        hold_s = s.u(hold_lo, hold_hi)
        start, top, lower, end = s.raise_heel(up_s, hold_s, down_s, peak, bottom)
        s.reps.append(TrueRep(start, top, lower, end, up_s, hold_s, down_s, peak, bottom,
                              float(100 * s.lever_m * np.sin(peak * _DEG)), rushed_up,
                              rushed_down))
    s.sets.append(TrueSet(s.reps[first].start_s, s.reps[-1].end_s, len(s.reps) - first, 0))


def _isometric_hold(s: _Script, peak_deg: float) -> None:
    """Stage 1: rise, hold 25-50 s with effort drift and tremor, lower."""
    s.stand(s.u(1.5, 3.0))
    stage = s.stage
    start = s.now
    top = s.pitch.move(start, s.u(1.0, 2.0), peak_deg * _DEG)
    lower = top + s.u(stage.hold_min_s - 5.0, stage.hold_max_s + 5.0)
    s.hold_at_top(top, lower)
    t = top + s.u(2.0, 5.0)
    while t + 8.0 < lower:   # tiring calves sag, and the person corrects
        drift_s = s.u(3.0, 6.0)
        s.pitch.move(t, drift_s, (peak_deg + s.u(-2.0, 1.0)) * _DEG)
        t += drift_s + s.u(1.0, 4.0)
    end = s.pitch.move(lower, s.u(1.0, 2.0), 0.0)
    s.now = end
    s.holds.append(TrueHold(top, lower, lower - top, peak_deg))
    s.sets.append(TrueSet(start, end, 0, 1))


def _rest(s: _Script, duration_s: float, walk: bool, partial_p: float) -> None:
    """Between sets: standing, fidgeting, maybe a half-hearted raise or a walk around."""
    end = s.now + duration_s
    acts = ["weight_shift"] * int(s.rng.integers(0, 3)) + ["tap"] * int(s.rng.integers(0, 2))
    if walk:
        acts.append("walk")
    if s.rng.random() < partial_p:
        acts.append("partial")
    s.rng.shuffle(acts)
    for act in acts:
        s.stand(s.u(2.0, 8.0))
        if act == "walk":
            s.walk(s.u(10.0, 40.0))
        else:
            getattr(s, act)()
    s.stand(max(s.u(2.0, 4.0), end - s.now))


def _lever(rng: np.random.Generator, mount: str) -> np.ndarray:
    """Where the sensor sits relative to the ball of the foot (m, foot frame)."""
    if mount == "laces":
        return np.array([-rng.uniform(0.09, 0.11), rng.uniform(-0.01, 0.01),
                         rng.uniform(0.04, 0.06)])
    if mount == "heel":
        return np.array([-rng.uniform(0.18, 0.22), rng.uniform(-0.01, 0.01),
                         rng.uniform(0.03, 0.05)])
    raise ValueError(f"mount must be one of {MOUNTS}, got {mount!r}")


def _sample_times(rng: np.random.Generator, duration_s: float, rate_hz: float) -> np.ndarray:
    """Nominal-rate timestamps with jitter, ~0.5 % dropped samples and a few longer gaps."""
    n = int(duration_s * rate_hz)
    t = (np.arange(n) + rng.uniform(0.0, 0.2, n)) / rate_hz
    keep = rng.random(n) >= 0.005
    for _ in range(int(rng.poisson(duration_s / 120.0))):
        gap_start = rng.uniform(8.0, max(8.0, duration_s - 1.0))
        keep &= (t < gap_start) | (t >= gap_start + rng.uniform(0.05, 0.3))
    return t[keep]


def _read(rng: np.random.Generator, chip: Chip, rate_hz: float, true: np.ndarray,
          noise_density: float, offset: np.ndarray, lsb: float, limit: float) -> np.ndarray:
    """What a sensor channel triple reports: scale error, offset, white noise, ADC."""
    scale = 1.0 + rng.uniform(-chip.scale_error, chip.scale_error, 3)
    out = true * scale + rng.uniform(-offset, offset)
    out = out + rng.normal(0.0, noise_density * np.sqrt(rate_hz / 2.0), true.shape)
    if lsb > 0:
        out = np.round(out / lsb) * lsb
    return np.clip(out, -limit, limit - lsb)


def _rotate(rotation: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``rotation @ row`` for every row; einsum, because a BLAS matmul of an (n, 3)
    array spins up threads that cost far more than the arithmetic on a busy Pi."""
    return np.einsum("ij,nj->ni", rotation, rows)


def simulate(stage: int, seed: int, rate_hz: float = 100.0, chip: str = "mpu6050",
             mount: str = "laces", *, walking: bool | None = None,
             heel_drop: bool | None = None, rushed_fraction: float | None = None,
             n_sets: int | None = None, gyro: bool = False,
             mount_rotation: np.ndarray | None = None) -> Simulation:
    """Simulate one session of ``stage`` (1-4); the same seed gives the same session.

    Options left as None are drawn from the seed. ``chip`` is "mpu6050", "lsm6dsox"
    or "ideal" (no noise, offset, scale error, quantisation or clipping).
    ``mount_rotation`` (3×3) takes foot-frame vectors (x toward the toes, y left,
    z up) to sensor axes, ``v_sensor = mount_rotation @ v_foot``; by default it is
    a uniformly random rotation. The person's movements depend only on ``stage``,
    ``seed`` and the forced options, not on chip, mount, rate or gyro.
    """
    if chip not in CHIPS:
        raise ValueError(f"chip must be one of {sorted(CHIPS)}, got {chip!r}")
    if not 1.0 <= rate_hz <= 2000.0:
        raise ValueError(f"rate_hz must be in [1, 2000], got {rate_hz}")
    spec = load_stage(stage)
    person_rng, clock_rng, mount_rng, sensor_rng = np.random.default_rng(seed).spawn(4)
    lever = _lever(mount_rng, mount)
    walking, heel_drop, rushed_fraction, n_sets = _session_options(
        person_rng, spec, walking, heel_drop, rushed_fraction, n_sets)
    foot_cm = float(person_rng.uniform(24.0, 29.0))
    lever_m = 0.0073 * foot_cm
    peak_deg = float(person_rng.uniform(25.0, 35.0))
    drop_deg = float(person_rng.uniform(8.0, 20.0)) if heel_drop else None

    s = _Script(person_rng, spec, lever_m)
    s.stand(s.u(3.0, 6.0))
    walk_in = [bool(s.rng.random() < 0.5) and walking for _ in range(n_sets - 1)]
    if walking and walk_in and not any(walk_in):
        walk_in[int(s.rng.integers(len(walk_in)))] = True
    single_leg = spec.legs == 1
    for k in range(n_sets):
        if spec.isometric:
            _isometric_hold(s, peak_deg)
        else:
            if single_leg:
                s.balance.move(s.now, 1.0, 1.0)
            _rep_set(s, peak_deg, drop_deg, rushed_fraction, partial_p=0.04)
            if single_leg:
                s.balance.move(s.now, 1.0, 0.0)
        if k < n_sets - 1:
            _rest(s, s.u(45.0, 150.0), walk_in[k], partial_p=0.4)
    if walking and n_sets == 1:
        _rest(s, s.u(30.0, 60.0), True, partial_p=0.0)
    s.stand(s.u(2.0, 5.0))

    t = _sample_times(clock_rng, s.now, rate_hz)
    rng = s.rng
    top = s.top(t)
    pitch = (s.pitch(t) + random_oscillation(rng, t, 0.03 * _DEG, (0.1, 0.5), n=2)
             + gated_oscillation(rng, t, top, (0.7 if single_leg else 0.15) * _DEG, (0.8, 2.5))
             + gated_oscillation(rng, t, top, 0.02 * _DEG, (6.0, 10.0)))
    sway_deg = s.u(2.0, 4.0) / np.sqrt(2.0)
    roll = (s.roll(t) + random_oscillation(rng, t, 0.1 * _DEG, (0.1, 0.5), n=2)
            + gated_oscillation(rng, t, s.balance(t), sway_deg * _DEG, (0.3, 1.0), n=2))
    jolts = impacts(t, np.array([i[0] for i in s.impacts]),
                    np.array([i[1] for i in s.impacts]), np.array([i[2] for i in s.impacts]))
    force, omega = sensor_kinematics(pitch, roll, s.pivot_x(t), s.pivot_z(t), lever, jolts)

    if mount_rotation is None:
        mount_rotation = Rotation.random(rng=mount_rng).as_matrix()
    mount_rotation = np.asarray(mount_rotation, dtype=float)
    if mount_rotation.shape != (3, 3) or not np.allclose(
            mount_rotation @ mount_rotation.T, np.eye(3), atol=1e-6):
        raise ValueError("mount_rotation must be a 3x3 rotation matrix")
    model = CHIPS[chip]
    accel_g = _read(sensor_rng, model, rate_hz, _rotate(mount_rotation, force / G_MPS2),
                    model.noise_ug_rthz * 1e-6, np.array(model.offset_mg) / 1000.0,
                    model.lsb_g, model.range_g)
    gyro_dps = None
    if gyro:
        gyro_dps = _read(sensor_rng, model, rate_hz, _rotate(mount_rotation, np.degrees(omega)),
                         model.gyro_noise_dps_rthz, np.full(3, model.gyro_bias_dps),
                         model.gyro_lsb_dps, model.gyro_range_dps)

    truth = Truth(
        meta={"stage": stage, "seed": seed, "rate_hz": rate_hz, "chip": chip, "mount": mount,
              "lever_cm": 100 * lever_m, "peak_deg": peak_deg, "foot_cm": foot_cm,
              "heel_drop": heel_drop, "heel_drop_deg": drop_deg, "walking": walking,
              "rushed_fraction": rushed_fraction, "n_sets": n_sets, "gyro": gyro,
              "sensor_offset_cm": [float(100 * v) for v in lever],
              "mount_rotation": mount_rotation.tolist(), "duration_s": s.now},
        reps=s.reps, partials=s.partials, holds=s.holds, sets=s.sets,
        walking=s.walking, fidgets=s.fidgets)
    return Simulation(SampleBlock(t, accel_g, gyro_dps), truth, np.degrees(pitch.x))


class SimulatedSource:
    """A simulated session replayed as a sensor would deliver it (a :class:`Source`).

    ``speed`` 1.0 is real time (the demo), larger is faster, None is as fast as
    the consumer takes blocks. Extra keyword options go to :func:`simulate`.
    """

    def __init__(self, stage: int, seed: int, rate_hz: float = 100.0, chip: str = "mpu6050",
                 mount: str = "laces", *, block_size: int = 10, speed: float | None = 1.0,
                 **options: object) -> None:
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        self.simulation = simulate(stage, seed, rate_hz, chip, mount, **options)
        self.block_size = block_size
        self.speed = speed
        self._closed = False

    def __iter__(self) -> Iterator[SampleBlock]:
        blocks: Iterator[SampleBlock] = iter(self.simulation.block.split(self.block_size))
        if self.speed is not None:
            blocks = paced(blocks, self.speed)
        for block in blocks:
            if self._closed:
                return
            yield block

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> SimulatedSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def truth_path(path: str | Path) -> Path:
    """Where the truth of a simulated recording lives: ``x.csv[.gz]`` → ``x.truth.json``."""
    path = Path(path)
    name = path.name
    for suffix in (".csv.gz", ".csv"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return path.with_name(name + ".truth.json")


def write_simulation(path: str | Path, sim: Simulation) -> Path:
    """Write the samples as a recording and the truth beside it; returns the truth path."""
    write_recording(path, sim.block)
    out = truth_path(path)
    out.write_text(json.dumps(sim.truth.to_json(), indent=1) + "\n", encoding="utf-8")
    return out
