"""A person doing a heel-raise session with a clip-on IMU on the shoe.

The pipeline must be judged on data whose truth is known exactly, and on the
awkward parts of real sessions: arbitrary mounting, sensor offsets and noise,
dropped samples, rushed reps, half-hearted raises, fidgeting and walking
between sets; and on what issue 7 found the detector failing at: strokes that
are not minimum-jerk, raises as quick as real people rush them, heels hanging
below a step, streams that start anywhere, knocks, and activities with no heel
raise in them. The simulator scripts such a session from a seed
(:mod:`.scenario`, :mod:`.activities`), moves a rigid foot through it
(:mod:`.foot`), and reads it with a datasheet-faithful sensor model. The truth it
returns (:mod:`.truth`) uses the same boundaries the pipeline reports: movement
onsets and offsets, not threshold crossings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from ..protocol import Stage
from ..samples import SampleBlock
from ..stages import load_stage
from .activities import ACTIVITIES, LOCOMOTION
from .base import paced
from .chips import CHIPS, Chip
from .foot import (
    DEG,
    G_MPS2,
    gated_oscillation,
    impacts,
    random_oscillation,
    sensor_kinematics,
)
from .perturb import crop_start
from .recording import write_recording
from .scenario import (
    HANGS,
    RUSHED_MARGIN_S,
    SHAPES,
    Plan,
    Script,
    isometric_hold,
    rep_set,
    rest,
)
from .truth import (
    TrueFidget,
    TrueHold,
    TrueKnock,
    TrueNegative,
    TruePartial,
    TrueRep,
    TrueSet,
    TrueWalk,
    Truth,
)

__all__ = [
    "CHIPS", "HANGS", "MOUNTS", "RUSHED_MARGIN_S", "SHAPES", "STARTS", "Chip",
    "SimulatedSource", "Simulation", "TrueFidget", "TrueHold", "TrueKnock", "TrueNegative",
    "TruePartial", "TrueRep", "TrueSet", "TrueWalk", "Truth", "simulate",
    "simulate_activities", "truth_path", "write_simulation",
]

MOUNTS = ("laces", "heel")
STARTS = ("standing", "settling", "walking", "hanging", "mid_set", "mid_hold")


@dataclass(frozen=True)
class Simulation:
    """A simulated session: the samples, the truth, and the true pitch at each sample."""

    block: SampleBlock
    truth: Truth
    pitch_deg: np.ndarray


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


def _check_scenario(stage: Stage, shapes: Sequence[str] | None, fractions: dict[str, float],
                    hang: str | None, start: str, activities: Sequence[str]) -> None:
    """Refuse an impossible scenario at the call, naming the option."""
    for name in shapes or ():
        if name not in SHAPES:
            raise ValueError(f"shapes must be drawn from {SHAPES}, got {name!r}")
    for name, value in fractions.items():
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    if fractions["fast_fraction"] + fractions["mocap_fraction"] > 1.0:
        raise ValueError("fast_fraction + mocap_fraction must be <= 1")
    if hang is not None and hang not in HANGS:
        raise ValueError(f"hang must be None or one of {HANGS}, got {hang!r}")
    if start not in STARTS:
        raise ValueError(f"start must be one of {STARTS}, got {start!r}")
    if start == "mid_hold" and not stage.isometric:
        raise ValueError("start 'mid_hold' needs the isometric stage (1)")
    if start in ("mid_set", "hanging") and stage.isometric:
        raise ValueError(f"start {start!r} needs a stage with reps (2-4)")
    for name in activities:
        if name not in ACTIVITIES:
            raise ValueError(f"activities must be drawn from {sorted(ACTIVITIES)}, "
                             f"got {name!r}")


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
          noise_density: float, offset: np.ndarray, lsb: float,
          limit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What a sensor channel triple reports: scale error, offset, white noise, ADC.

    Returns the readings and the channel's own scale factors and offsets (the truth a
    calibration of this sensor should find).
    """
    scale = 1.0 + rng.uniform(-chip.scale_error, chip.scale_error, 3)
    bias = rng.uniform(-offset, offset)
    out = true * scale + bias
    out = out + rng.normal(0.0, noise_density * np.sqrt(rate_hz / 2.0), true.shape)
    if lsb > 0:
        out = np.round(out / lsb) * lsb
    return np.clip(out, -limit, limit - lsb), scale, bias


def _rotate(rotation: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``rotation @ row`` for every row; einsum, because a BLAS matmul of an (n, 3)
    array spins up threads that cost far more than the arithmetic on a busy Pi."""
    return np.einsum("ij,nj->ni", rotation, rows)


@dataclass(frozen=True)
class _Felt:
    """What the sensor feels, before it reads it: times, specific force (g) and angular
    rate (deg/s) in sensor axes, with the foot's true pitch (deg) at each sample."""

    t: np.ndarray
    force_g: np.ndarray
    omega_dps: np.ndarray
    pitch_deg: np.ndarray


def _move(s: Script, clock_rng: np.random.Generator, mount_rng: np.random.Generator,
          rate_hz: float, lever: np.ndarray, mount_rotation: np.ndarray | None,
          single_leg: bool) -> tuple[_Felt, np.ndarray]:
    """Move the foot along the script's tracks; returns what the sensor feels and the
    mounting rotation."""
    t = _sample_times(clock_rng, s.now, rate_hz)
    rng = s.rng
    top = s.top(t)
    pitch = (s.pitch(t) + random_oscillation(rng, t, 0.03 * DEG, (0.1, 0.5), n=2)
             + gated_oscillation(rng, t, top, (0.7 if single_leg else 0.15) * DEG, (0.8, 2.5))
             + gated_oscillation(rng, t, top, 0.02 * DEG, (6.0, 10.0)))
    sway_deg = s.u(2.0, 4.0) / np.sqrt(2.0)
    roll = (s.roll(t) + random_oscillation(rng, t, 0.1 * DEG, (0.1, 0.5), n=2)
            + gated_oscillation(rng, t, s.balance(t), sway_deg * DEG, (0.3, 1.0), n=2))
    if s.settle.end_s > 0:      # settling into standing: body sway felt at the foot
        settle = s.settle(t)
        pitch = pitch + gated_oscillation(rng, t, settle, s.u(0.4, 1.2) * DEG, (0.3, 1.5))
        roll = roll + gated_oscillation(rng, t, settle, s.u(1.0, 3.0) * DEG, (0.3, 1.5))
    if s.knocks:
        pitch = pitch + s.jolt(t)
    hits = s.impacts
    jolts = impacts(t, np.array([i.t_s for i in hits]), np.array([i.peak_mps2 for i in hits]),
                    np.array([i.direction for i in hits]), np.array([i.freq_hz for i in hits]),
                    np.array([i.decay_s for i in hits]))
    force, omega = sensor_kinematics(pitch, roll, s.pivot_x(t), s.pivot_z(t), lever, jolts)

    if mount_rotation is None:
        mount_rotation = Rotation.random(rng=mount_rng).as_matrix()
    mount_rotation = np.asarray(mount_rotation, dtype=float)
    if mount_rotation.shape != (3, 3) or not np.allclose(
            mount_rotation @ mount_rotation.T, np.eye(3), atol=1e-6):
        raise ValueError("mount_rotation must be a 3x3 rotation matrix")
    return _Felt(t, _rotate(mount_rotation, force / G_MPS2),
                 _rotate(mount_rotation, np.degrees(omega)), np.degrees(pitch.x)), mount_rotation


def _sense(sensor_rng: np.random.Generator, model: Chip, rate_hz: float, felt: _Felt,
           gyro: bool) -> tuple[SampleBlock, dict]:
    """Read what the sensor feels; returns the samples and the accelerometer's true scale
    factors and offsets (for the truth's meta)."""
    accel_g, scale, offset = _read(sensor_rng, model, rate_hz, felt.force_g,
                                   model.noise_ug_rthz * 1e-6,
                                   np.array(model.offset_mg) / 1000.0, model.lsb_g,
                                   model.range_g)
    gyro_dps = None
    if gyro:
        gyro_dps, _, _ = _read(sensor_rng, model, rate_hz, felt.omega_dps,
                               model.gyro_noise_dps_rthz, np.full(3, model.gyro_bias_dps),
                               model.gyro_lsb_dps, model.gyro_range_dps)
    return SampleBlock(felt.t, accel_g, gyro_dps), {
        "accel_scale": [float(v) for v in scale], "accel_offset_g": [float(v) for v in offset]}


def _measure(s: Script, rngs: tuple[np.random.Generator, np.random.Generator,
                                    np.random.Generator], rate_hz: float, model: Chip,
             lever: np.ndarray, gyro: bool, mount_rotation: np.ndarray | None,
             single_leg: bool) -> tuple[SampleBlock, np.ndarray, np.ndarray, dict]:
    """Move the foot along the script's tracks and read it with the sensor.

    Returns the samples, the true pitch (degrees) at each, the mounting rotation and
    the accelerometer's true constants.
    """
    clock_rng, mount_rng, sensor_rng = rngs
    felt, mount_rotation = _move(s, clock_rng, mount_rng, rate_hz, lever, mount_rotation,
                                 single_leg)
    block, constants = _sense(sensor_rng, model, rate_hz, felt, gyro)
    return block, felt.pitch_deg, mount_rotation, constants


def _sensor(chip: str, rate_hz: float, accel_range_g: float | None,
            gyro_range_dps: float | None) -> Chip:
    if chip not in CHIPS:
        raise ValueError(f"chip must be one of {sorted(CHIPS)}, got {chip!r}")
    if not 1.0 <= rate_hz <= 2000.0:
        raise ValueError(f"rate_hz must be in [1, 2000], got {rate_hz}")
    return CHIPS[chip].with_ranges(accel_range_g, gyro_range_dps)


def _truth(s: Script, meta: dict) -> Truth:
    return Truth(meta=meta, reps=s.reps, partials=s.partials, holds=s.holds, sets=s.sets,
                 walking=s.walking, fidgets=s.fidgets, negatives=s.negatives,
                 knocks=s.knocks)


def simulate(stage: int, seed: int, rate_hz: float = 100.0, chip: str = "mpu6050",
             mount: str = "laces", *, walking: bool | None = None,
             heel_drop: bool | None = None, rushed_fraction: float | None = None,
             n_sets: int | None = None, gyro: bool = False,
             mount_rotation: np.ndarray | None = None,
             shapes: Sequence[str] | None = None, fast_fraction: float = 0.0,
             mocap_fraction: float = 0.0, hang: str | None = None, start: str = "standing",
             knock_fraction: float = 0.0, activities: Sequence[str] = (),
             accel_range_g: float | None = None,
             gyro_range_dps: float | None = None) -> Simulation:
    """Simulate one session of ``stage`` (1-4); the same seed gives the same session.

    Options left as None are drawn from the seed. ``chip`` is "mpu6050", "lsm6dsox"
    or "ideal" (no noise, offset, scale error, quantisation or clipping).
    ``mount_rotation`` (3×3) takes foot-frame vectors (x toward the toes, y left,
    z up) to sensor axes, ``v_sensor = mount_rotation @ v_foot``; by default it is
    a uniformly random rotation. The person's movements depend only on ``stage``,
    ``seed`` and the forced options, not on chip, mount, rate, gyro or ranges, and
    the options below draw nothing when left at their defaults, so a seed keeps its
    session.

    Scenario options (each alone or combined):

    ``shapes``
        Stroke shapes drawn per rep from :data:`SHAPES` (default: minimum jerk only).
    ``fast_fraction``, ``mocap_fraction``
        Shares of reps done as rushed quick raises (0.3-0.5 s through 40-60°, heel
        landing with an impact) or with the quick motion-captured raise shape (10-90 %
        of the rise in 0.13-0.22 s); labelled rushed in the truth.
    ``hang``
        On a step: "first" lowers the heel below step level (8-20°) and holds it before
        each set's first raise; "between" rests hanging between reps (see also
        ``heel_drop``, a drop as part of each rep).
    ``start``
        "standing" (still at once), "settling" (weight shifts and sway first),
        "walking" (walks in, no standing at first), "hanging" (the heel already below
        the step), "mid_set" or "mid_hold" (the stream starts inside the first set or
        stage-1 hold).
    ``knock_fraction``
        Share of reps and holds in which the shoe knocks the step mid-hold.
    ``activities``
        Activities from :data:`.activities.ACTIVITIES` done in the rests between sets
        (and after a single set), as negatives the detector must count nothing in.
    ``accel_range_g``, ``gyro_range_dps``
        Full-scale ranges other than the chip model's ±2 g and ±2000 °/s.
    """
    model = _sensor(chip, rate_hz, accel_range_g, gyro_range_dps)
    spec = load_stage(stage)
    fractions = {"fast_fraction": fast_fraction, "mocap_fraction": mocap_fraction,
                 "knock_fraction": knock_fraction}
    _check_scenario(spec, shapes, fractions, hang, start, activities)
    person_rng, clock_rng, mount_rng, sensor_rng = np.random.default_rng(seed).spawn(4)
    lever = _lever(mount_rng, mount)
    walking, heel_drop, rushed_fraction, n_sets = _session_options(
        person_rng, spec, walking, heel_drop, rushed_fraction, n_sets)
    foot_cm = float(person_rng.uniform(24.0, 29.0))
    lever_m = 0.0073 * foot_cm
    peak_deg = float(person_rng.uniform(25.0, 35.0))
    drop_deg = float(person_rng.uniform(8.0, 20.0)) if heel_drop else None
    if start == "hanging" and hang is None:
        hang = "first"
    hang = None if spec.isometric else hang
    hang_deg = float(person_rng.uniform(8.0, 20.0)) if hang else 0.0
    plan = Plan(peak_deg, drop_deg, rushed_fraction, tuple(shapes) if shapes else None,
                fast_fraction, mocap_fraction, hang, hang_deg, knock_fraction)

    s = Script(person_rng, spec, lever_m, pitch_deg=-hang_deg if start == "hanging" else 0.0)
    if start == "settling":
        s.settle_in()
    elif start == "walking":
        s.walk(s.u(8.0, 25.0))
    s.stand(s.u(3.0, 6.0))
    walk_in = [bool(s.rng.random() < 0.5) and walking for _ in range(n_sets - 1)]
    if walking and walk_in and not any(walk_in):
        walk_in[int(s.rng.integers(len(walk_in)))] = True
    single_leg = spec.legs == 1
    activities = tuple(activities)
    for k in range(n_sets):
        if spec.isometric:
            isometric_hold(s, plan)
        else:
            if single_leg:
                s.balance.move(s.now, 1.0, 1.0)
            rep_set(s, plan, partial_p=0.04)
            if single_leg:
                s.balance.move(s.now, 1.0, 0.0)
        if k < n_sets - 1:
            rest(s, s.u(45.0, 150.0), walk_in[k], partial_p=0.4, activities=activities)
    if (walking or activities) and n_sets == 1:
        rest(s, s.u(30.0, 60.0), walking, partial_p=0.0, activities=activities)
    s.stand(s.u(2.0, 5.0))

    block, pitch_deg, mount_rotation, constants = _measure(
        s, (clock_rng, mount_rng, sensor_rng), rate_hz, model, lever, gyro, mount_rotation,
        single_leg)
    truth = _truth(s, {
        "stage": stage, "seed": seed, "rate_hz": rate_hz, "chip": chip, "mount": mount,
        "lever_cm": 100 * lever_m, "peak_deg": peak_deg, "foot_cm": foot_cm,
        "heel_drop": heel_drop, "heel_drop_deg": drop_deg, "walking": walking,
        "rushed_fraction": rushed_fraction, "n_sets": n_sets, "gyro": gyro,
        "sensor_offset_cm": [float(100 * v) for v in lever],
        "mount_rotation": mount_rotation.tolist(), "duration_s": s.now,
        "shapes": list(plan.shapes or ["minjerk"]), "fast_fraction": fast_fraction,
        "mocap_fraction": mocap_fraction, "hang": hang, "hang_deg": hang_deg or None,
        "start": start, "knock_fraction": knock_fraction, "activities": list(activities),
        "accel_range_g": model.range_g, "gyro_range_dps": model.gyro_range_dps, **constants})
    if start in ("mid_set", "mid_hold"):
        first = truth.holds[0] if start == "mid_hold" else None
        if first is not None:
            t0 = clock_rng.uniform(first.start_s + 1.0, first.end_s - 5.0)
        else:
            members = [r for r in truth.reps if r.end_s <= truth.sets[0].end_s]
            t0 = clock_rng.uniform(members[1].start_s - 0.5, members[-1].start_s)
        keep = block.t >= t0
        block, truth = crop_start(block, t0, truth)
        pitch_deg = pitch_deg[keep]
    return Simulation(block, truth, pitch_deg)


def simulate_activities(activities: Sequence[str], seed: int, rate_hz: float = 100.0,
                        chip: str = "mpu6050", mount: str = "laces", *,
                        standing: bool = True, gyro: bool = False,
                        mount_rotation: np.ndarray | None = None,
                        accel_range_g: float | None = None,
                        gyro_range_dps: float | None = None) -> Simulation:
    """A session of activities with no heel raise in it: a correct detector counts nothing.

    ``activities`` are names from :data:`.activities.ACTIVITIES`, done in order with
    some standing before, between and after them. ``standing`` False chains them with
    no standing still anywhere, the stream starting mid-stride; only the activities
    that never stand still (:data:`.activities.LOCOMOTION`) can be chained so.
    Other options are as for :func:`simulate`.
    """
    model = _sensor(chip, rate_hz, accel_range_g, gyro_range_dps)
    if not activities:
        raise ValueError("activities must name at least one activity")
    for name in activities:
        if name not in ACTIVITIES:
            raise ValueError(f"activities must be drawn from {sorted(ACTIVITIES)}, "
                             f"got {name!r}")
        if not standing and name not in LOCOMOTION:
            raise ValueError(f"{name!r} stands still at times; without standing only "
                             f"{LOCOMOTION} can be chained")
    person_rng, clock_rng, mount_rng, sensor_rng = np.random.default_rng(seed).spawn(4)
    lever = _lever(mount_rng, mount)
    foot_cm = float(person_rng.uniform(24.0, 29.0))
    s = Script(person_rng, None, 0.0073 * foot_cm)
    for name in activities:
        if standing:
            s.stand(s.u(3.0, 6.0) if s.now == 0 else s.u(2.0, 8.0))
        ACTIVITIES[name](s)
    if standing:
        s.stand(s.u(2.0, 5.0))
    block, pitch_deg, mount_rotation, constants = _measure(
        s, (clock_rng, mount_rng, sensor_rng), rate_hz, model, lever, gyro, mount_rotation,
        single_leg=False)
    truth = _truth(s, {
        "stage": None, "seed": seed, "rate_hz": rate_hz, "chip": chip, "mount": mount,
        "lever_cm": 0.73 * foot_cm, "foot_cm": foot_cm, "gyro": gyro,
        "sensor_offset_cm": [float(100 * v) for v in lever],
        "mount_rotation": mount_rotation.tolist(), "duration_s": s.now,
        "activities": list(activities), "standing": standing,
        "accel_range_g": model.range_g, "gyro_range_dps": model.gyro_range_dps, **constants})
    if not standing:        # the stream starts mid-stride, not with the first step
        t0 = float(clock_rng.uniform(0.1, 0.4))
        keep = block.t >= t0
        block, truth = crop_start(block, t0, truth)
        pitch_deg = pitch_deg[keep]
    return Simulation(block, truth, pitch_deg)


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
