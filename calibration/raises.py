"""The raise axis and the person's range, fitted from a few slow heel raises.

The foot pitches about a horizontal axis through the ball of the foot, so every gravity
direction the sensor sees during the raises lies in the plane square to that axis: the
axis is the direction least present in them, the smallest eigenvector of the sum of
``g g^T`` (DESIGN.md). Slow raises keep the sensor's own acceleration to a few mg, so
the accelerometer alone gives the plane; a low-pass (zero-phase: this looks at finished
raises) takes out the noise. Its sign: heel-up is the side the raises went to. Then
each raise's peak is measured against the standing level about that axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfiltfilt

from pi_service.samples import SampleBlock

CUTOFF_HZ = 2.0
"""Low-pass of the gravity direction: a 3 s raise has nothing above it."""


@dataclass(frozen=True)
class RaiseFit:
    """What the raises showed.

    Attributes
    ----------
    axis : (3,) array
        Unit heel-up axis (sensor axes), square to the standing gravity.
    peaks_deg : tuple of float
        Each raise's peak pitch above standing level.
    spread_deg : float
        The largest angle between one raise's own axis and the common one: raises
        about different axes mean the sensor moved on the shoe, or the foot rolled.
    off_plane_deg : float
        RMS of how far gravity left the common plane during the raises (roll).
    """

    axis: np.ndarray
    peaks_deg: tuple[float, ...]
    spread_deg: float
    off_plane_deg: float

    @property
    def typical_deg(self) -> float:
        """The person's usual raise: the median peak."""
        return float(np.median(self.peaks_deg))


def _directions(block: SampleBlock) -> np.ndarray:
    """Unit gravity directions of one raise's samples, low-passed."""
    a = block.accel_g
    rate = (len(block) - 1) / float(block.t[-1] - block.t[0])
    if rate > 2.5 * CUTOFF_HZ and len(block) > 30:
        a = sosfiltfilt(butter(2, CUTOFF_HZ, fs=rate, output="sos"), a, axis=0)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _smallest(u: np.ndarray) -> np.ndarray:
    return np.linalg.eigh(u.T @ u)[1][:, 0]


def _across(v: np.ndarray, down: np.ndarray) -> np.ndarray:
    v = v - (v @ down) * down
    return v / np.linalg.norm(v)


def pitch_deg(directions: np.ndarray, down: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Heel-up angle (deg) of unit gravity directions from level ``down`` about ``axis``."""
    up = np.cross(axis, down)
    return np.degrees(np.arctan2(directions @ up, directions @ down))


def fit(baseline_g: np.ndarray, raises: list[SampleBlock]) -> RaiseFit:
    """The axis, peaks and consistency of ``raises`` (each a block spanning one raise,
    from level and back) against the standing ``baseline_g``."""
    if not raises:
        raise ValueError("no raises to fit")
    down = np.asarray(baseline_g, dtype=float) / np.linalg.norm(baseline_g)
    parts = [_directions(r) for r in raises]
    every = np.vstack(parts)
    axis = _across(_smallest(every), down)
    # heel-up is where the raises went: level x their farthest direction
    lean = sum(np.cross(down, u[int(np.argmin(u @ down))]) for u in parts)
    if float(axis @ lean) < 0:
        axis = -axis
    peaks = tuple(float(pitch_deg(u, down, axis).max()) for u in parts)
    spread = max(math.degrees(math.acos(min(1.0, abs(float(_across(_smallest(u), down)
                                                             @ axis)))))
                 for u in parts)
    off = math.degrees(math.sqrt(float(np.mean(np.arcsin(np.clip(every @ axis, -1, 1)) ** 2))))
    return RaiseFit(axis, peaks, spread, off)
