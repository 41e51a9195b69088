"""A guided calibration as a simulated person does it, on the sensor of a simulated session.

``heelraise calibrate`` asks for an optional six-face accelerometer calibration (the
sensor laid still on each face in turn), then the sensor clipped on the shoe, standing
still and three slow raises, then standing still again. This writes that recording for
the very sensor and foot a :func:`.simulator.simulate` session with the same seed, chip,
mount and ranges has: the same mounting rotation, the same place on the shoe, the same
accelerometer offsets and scale errors (the first things the seed's sensor draws), so
the benchmarks can calibrate a session the way its person would, and then compare.

What differs from the session, as between two real recordings: the noise, the gyro's
bias (the simulator draws it after the accelerometer's noise, so it changes with the
recording's length; the pipeline learns it at every standing anyway) and the person's
movements.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from .foot import DEG, MIN_JERK
from .scenario import Script
from .simulator import Simulation, _Felt, _lever, _move, _sense, _sensor
from .truth import TrueRep, Truth

FACE_TILT_DEG = 3.0
"""How far from square a face lies on the table (the sensor's case is not a cube)."""
HANDLING_G = 0.08
"""The sensor's own acceleration while a hand turns it (peak, per axis)."""


def _rotations(moves: list[tuple[Rotation, float, float]], t: np.ndarray,
               rng: np.random.Generator) -> _Felt:
    """A sensor held still at each orientation and turned between them by hand.

    ``moves`` are (orientation, hold_s, turn_s): hold there, then turn to the next one
    over ``turn_s`` (minimum jerk). An orientation maps sensor axes to the world's.
    """
    keys, ends = [moves[0][0]], [0.0]
    now = 0.0
    for (_, hold_s, turn_s), (nxt, _, _) in zip(moves, moves[1:], strict=False):
        now += hold_s
        keys += [keys[-1], nxt]
        ends += [now, now + turn_s]
        now += turn_s
    keys.append(keys[-1])
    ends.append(now + moves[-1][1])
    times = np.asarray(ends)
    # minimum-jerk progress inside each turn, so the hand starts and stops gently
    seg = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    span = times[seg + 1] - times[seg]
    frac = np.where(span > 0, (t - times[seg]) / np.where(span > 0, span, 1.0), 0.0)
    eased = times[seg] + span * MIN_JERK.profile(np.clip(frac, 0.0, 1.0))[0]
    orientation = Slerp(times, Rotation.concatenate(keys))(np.clip(eased, 0, times[-1]))
    up = orientation.inv().apply([0.0, 0.0, 1.0])                 # specific force, g
    turning = (seg % 2 == 1) & (span > 0)
    bell = np.where(turning, np.sin(np.pi * np.clip(frac, 0, 1)) ** 2, 0.0)
    phase = rng.uniform(0, 2 * np.pi, 3)
    freq = rng.uniform(0.5, 2.0, 3)
    shake = HANDLING_G * bell[:, None] * np.sin(2 * np.pi * freq * t[:, None] + phase)
    dt = np.diff(t, append=t[-1] + 1e-3)
    turn = (orientation[1:] * orientation[:-1].inv()).as_rotvec() / np.maximum(
        dt[:-1, None], 1e-6)
    omega = orientation.inv().apply(np.vstack([turn, turn[-1:]]))   # sensor axes
    return _Felt(t, up + shake, np.degrees(omega), np.zeros(len(t)))


def _faces(rng: np.random.Generator, mounted: Rotation) -> list[tuple[Rotation, float, float]]:
    """Six faces up in a random order, then the turn onto the shoe (``mounted``)."""
    moves = []
    for k in rng.permutation(6):
        up = np.zeros(3)
        up[k // 2] = 1.0 if k % 2 == 0 else -1.0
        tilt = Rotation.from_rotvec(rng.normal(0, 1, 3) * FACE_TILT_DEG * DEG / np.sqrt(3))
        up = tilt.apply(up)
        # the orientation that sees gravity along `up`, turned about the vertical at random
        align = Rotation.align_vectors([[0.0, 0.0, 1.0]], [up])[0]
        yaw = Rotation.from_euler("z", rng.uniform(0, 360), degrees=True)
        moves.append((yaw * align, float(rng.uniform(3.0, 5.0)), float(rng.uniform(1.5, 3.0))))
    moves[-1] = (moves[-1][0], moves[-1][1], float(rng.uniform(4.0, 7.0)))  # clip it on
    moves.append((mounted, 0.5, 0.0))
    return moves


def simulate_calibration(seed: int, rate_hz: float = 100.0, chip: str = "mpu6050",
                         mount: str = "laces", *, foot_cm: float = 26.0,
                         peak_deg: float = 30.0, faces: bool = False, raises: int = 3,
                         gyro: bool = False, mount_rotation: np.ndarray | None = None,
                         accel_range_g: float | None = None,
                         gyro_range_dps: float | None = None) -> Simulation:
    """The guided calibration of the sensor and foot of ``simulate(stage, seed, ...)``.

    Pass the session's ``foot_cm`` and ``peak_deg`` (its truth's meta has them) for the
    same person; ``mount_rotation`` as for :func:`.simulator.simulate` (None: the seed's).
    ``faces`` starts with the six faces, the sensor in hand; then the sensor is clipped on,
    the person stands still, does ``raises`` slow raises (3 s up, a hold, 3 s down) and
    stands still again. The truth lists the raises and, in its meta, where the foot part
    starts (``on_foot_s``) and the accelerometer's true constants.
    """
    if raises < 1:
        raise ValueError(f"raises must be >= 1, got {raises}")
    model = _sensor(chip, rate_hz, accel_range_g, gyro_range_dps)
    person_rng, clock_rng, mount_rng, sensor_rng = np.random.default_rng(seed).spawn(4)
    lever = _lever(mount_rng, mount)
    lever_m = 0.0073 * foot_cm
    s = Script(person_rng, None, lever_m)
    s.stand(s.u(3.0, 5.0))
    reps = []
    for i in range(raises):
        if i:
            s.stand(s.u(1.5, 3.0))
        peak = peak_deg + s.u(-2.0, 2.0)
        up_s, hold_s, down_s = s.u(2.5, 3.5), s.u(0.5, 1.5), s.u(2.5, 3.5)
        start, top, lower, end = s.raise_heel(up_s, hold_s, down_s, peak, 0.0)
        reps.append(TrueRep(start, top, lower, end, up_s, hold_s, down_s, peak, 0.0,
                            float(100 * lever_m * np.sin(peak * DEG)), False, False))
    s.stand(s.u(3.0, 4.0))
    foot, mount_rotation = _move(s, clock_rng, mount_rng, rate_hz, lever, mount_rotation,
                                 single_leg=False)
    on_foot_s = 0.0
    felt = foot
    if faces:
        moves = _faces(person_rng, Rotation.from_matrix(mount_rotation.T))
        duration = sum(hold + turn for _, hold, turn in moves)
        t = (np.arange(int(duration * rate_hz)) + clock_rng.uniform(0, 0.2)) / rate_hz
        hand = _rotations(moves, t, person_rng)
        on_foot_s = float(t[-1]) + 1.0 / rate_hz
        felt = _Felt(*(np.concatenate([a, b]) for a, b in (
            (hand.t, foot.t + on_foot_s), (hand.force_g, foot.force_g),
            (hand.omega_dps, foot.omega_dps), (hand.pitch_deg, foot.pitch_deg))))
        reps = [TrueRep(**{**r.__dict__, **{k: getattr(r, k) + on_foot_s for k in (
            "start_s", "top_s", "lower_s", "end_s")}}) for r in reps]
    block, constants = _sense(sensor_rng, model, rate_hz, felt, gyro)
    truth = Truth(meta={
        "seed": seed, "rate_hz": rate_hz, "chip": chip, "mount": mount, "gyro": gyro,
        "foot_cm": foot_cm, "lever_cm": 100 * lever_m, "peak_deg": peak_deg,
        "faces": faces, "on_foot_s": on_foot_s, "mount_rotation": mount_rotation.tolist(),
        "sensor_offset_cm": [float(100 * v) for v in lever], "accel_range_g": model.range_g,
        "gyro_range_dps": model.gyro_range_dps, **constants}, reps=reps)
    return Simulation(block, truth, felt.pitch_deg)
