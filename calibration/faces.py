"""The six-face accelerometer calibration: each face up in turn, still, gives offset and
scale per axis.

Lying still, an accelerometer reads exactly 1 g of gravity, whatever way up it lies. With
axis ``k`` up it reads ``s_k + o_k`` on that axis, upside down ``-s_k + o_k``, so the six
faces give each axis's offset and sensitivity (the datasheet's test, and the model the
simulator reads sensors with). A box edge is not a perfect right angle, so the faces are
fitted as a whole: the six means are put exactly on the unit sphere by Gauss-Newton,
starting from the plain half-sum and half-difference, and the small tilts drop out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

FACES = ("+x", "-x", "+y", "-y", "+z", "-z")
FACE_TILT_DEG = 20.0
"""A face is up when gravity is within this of its axis (a sensor laid on a table)."""
MAX_OFFSET_G = 0.25
"""No supported chip is off by more than 80 mg (datasheets); beyond this is not offset."""
SCALE_RANGE = (0.9, 1.1)
"""Sensitivity within ±10 % (datasheets: ±1-3 %)."""


class FacesError(ValueError):
    """Six face readings that cannot be a still accelerometer's (the message says why)."""


@dataclass(frozen=True)
class AccelCorrection:
    """An accelerometer's offset (g) and sensitivity per axis: ``(a - offset_g) / scale``."""

    offset_g: tuple[float, float, float]
    scale: tuple[float, float, float]

    def apply(self, accel_g: np.ndarray) -> np.ndarray:
        return (np.asarray(accel_g) - np.asarray(self.offset_g)) / np.asarray(self.scale)


def face_of(accel_g: np.ndarray) -> str | None:
    """Which face is up ("+x" ... "-z"), or None if gravity points between axes."""
    a = np.asarray(accel_g, dtype=float)
    k = int(np.argmax(np.abs(a)))
    if abs(a[k]) < np.cos(np.radians(FACE_TILT_DEG)) * np.linalg.norm(a):
        return None
    return ("+" if a[k] > 0 else "-") + "xyz"[k]


def solve(means: Mapping[str, np.ndarray], iterations: int = 20) -> AccelCorrection:
    """Offset and scale per axis from the mean reading on each of the six faces."""
    missing = [f for f in FACES if f not in means]
    if missing:
        raise FacesError(f"faces missing: {', '.join(missing)}")
    m = np.array([np.asarray(means[f], dtype=float) for f in FACES])
    up, down = m[0::2].diagonal(), m[1::2].diagonal()
    offset, scale = (up + down) / 2.0, (up - down) / 2.0
    if np.any(scale <= 0):
        raise FacesError("a face read gravity the wrong way round")
    for _ in range(iterations):
        v = (m - offset) / scale
        size = np.linalg.norm(v, axis=1)
        residual = size - 1.0
        jac = np.hstack([-v / (size[:, None] * scale), -v * v / (size[:, None] * scale)])
        step, *_ = np.linalg.lstsq(jac, -residual, rcond=None)
        offset, scale = offset + step[:3], scale + step[3:]
        if np.max(np.abs(step)) < 1e-9:
            break
    if np.any(np.abs(offset) > MAX_OFFSET_G):
        raise FacesError(f"offsets {np.round(1000 * offset)} mg are beyond any supported "
                         f"chip's ({1000 * MAX_OFFSET_G:.0f} mg): the faces were not still")
    if np.any(scale < SCALE_RANGE[0]) or np.any(scale > SCALE_RANGE[1]):
        raise FacesError(f"sensitivities {np.round(scale, 3)} are beyond ±10 %: the faces "
                         "were not still, or not each face up")
    return AccelCorrection(tuple(float(v) for v in offset), tuple(float(v) for v in scale))
