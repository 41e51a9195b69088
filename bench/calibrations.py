"""Calibrations for simulated sessions, as the benchmarks give them to the detector.

``learned``: the calibration the session's person would make. Their guided calibration
is simulated on the very sensor and foot of the session (same seed, chip, rate, mount,
mounting rotation, ranges, foot and usual raise: pi_service/sources/calibration_session.py),
any rotation the benchmark applied to the session's samples is applied to it too, and
it goes through the same code as ``heelraise calibrate FILE --shoe-size SIZE``, the
shoe size being the person's EU size (whole sizes, as shoes are sold). With ``faces``
the six-face accelerometer calibration comes first. This measures the whole chain,
estimation errors included: what a person really gets.

``truth``: the calibration the session's truth implies (the true standing gravity and
raise axis, the true accelerometer constants, lever and usual raise): an oracle, the
best any calibration could do, to tell the detector's own errors from the calibration's.
Not made for sessions whose samples were rotated (their offsets would no longer be
per-axis).
"""

from __future__ import annotations

import numpy as np

from calibration.guided import CalibrationError, GuidedCalibration
from calibration.shoe import foot_cm, lever_cm
from pi_service.pipeline import Calibration
from pi_service.sources import perturb
from pi_service.sources.calibration_session import simulate_calibration

MODES = ("self", "learned", "faces", "truth")
"""How a session is calibrated: not at all (the detector learns it from the stream), as
its person would (``faces``: with the six faces first), or from its truth."""
TYPICAL_PEAK_DEG = 30.0
"""The usual raise of a session with no raise in it (negatives), for its calibration."""


def eu_size(foot_length_cm: float) -> str:
    """The whole EU size a foot this long wears (the last 1.5 cm longer, Paris points)."""
    return f"EU {round(1.5 * (foot_length_cm + 1.5))}"


def _rotations(meta: dict) -> list[np.ndarray]:
    return [np.asarray(v) for name, v in meta.get("perturbations", []) if name == "rotate"]


def learned(meta: dict, faces: bool = False) -> Calibration | None:
    """The person's own calibration of this session's sensor, or None if it failed."""
    rotations = _rotations(meta)
    mounted = np.asarray(meta["mount_rotation"])
    for rotation in reversed(rotations):         # the mounting before the rotations
        mounted = rotation.T @ mounted
    sim = simulate_calibration(
        int(meta["seed"]), float(meta["rate_hz"]), meta["chip"], meta["mount"],
        foot_cm=float(meta["foot_cm"]), peak_deg=float(meta.get("peak_deg") or
                                                       TYPICAL_PEAK_DEG),
        faces=faces, gyro=bool(meta.get("gyro")), mount_rotation=mounted,
        accel_range_g=meta.get("accel_range_g"), gyro_range_dps=meta.get("gyro_range_dps"))
    block = sim.block
    for rotation in rotations:
        block, _ = perturb.rotate(block, rotation)
    guide = GuidedCalibration(lever_cm=lever_cm(foot_cm(eu_size(float(meta["foot_cm"])))),
                              faces=faces, chip_name=meta["chip"])
    guide.feed(block)
    try:
        if not guide.done:
            guide.finish()
    except CalibrationError:
        return None
    return guide.calibration


def truth(meta: dict) -> Calibration | None:
    """What the truth says the calibration is (None for a session whose samples were
    rotated: its accelerometer constants no longer lie along its axes)."""
    if _rotations(meta) or "accel_offset_g" not in meta:
        return None
    mounted = np.asarray(meta["mount_rotation"])
    down = mounted @ np.array([0.0, 0.0, 1.0])
    tilt = np.radians(30.0)   # the sensor sees gravity lean towards the heel at the top
    top = mounted @ np.array([-np.sin(tilt), 0.0, np.cos(tilt)])
    axis = np.cross(down, top)
    return Calibration(tuple(down), tuple(axis / np.linalg.norm(axis)),
                       typical_peak_deg=meta.get("peak_deg"), lever_cm=meta["lever_cm"],
                       accel_offset_g=tuple(meta["accel_offset_g"]),
                       accel_scale=tuple(meta["accel_scale"]))


def calibration_for(mode: str, meta: dict | None) -> Calibration | None:
    """The calibration ``mode`` gives a session with this truth meta (None: self-calibrate)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "self" or meta is None:
        return None
    if mode == "truth":
        return truth(meta)
    return learned(meta, faces=mode == "faces")
