"""What the pipeline learns about a sensor on a foot, so a later session can skip learning it.

A calibration is the standing gravity direction, the axis the foot pitches
about (both in sensor axes, as mounted), the person's usual raise and the
heel-to-ball lever, and optionally the accelerometer's own offset and scale per
axis (a six-face calibration). Self-calibration finds the first two from the
stream; a saved one lets a session start without standing still first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FOOT_CM = 26.0
LEVER_FRACTION = 0.73          # heel to the ball of the foot, as a fraction of foot length
DEFAULT_LEVER_CM = LEVER_FRACTION * FOOT_CM
TYPICAL_RISE_CM = 9.5          # healthy adults rise ~9-10 cm (DESIGN.md signal facts)


def _vector(name: str, value: object, zero_ok: bool = False) -> tuple[float, float, float]:
    try:
        vec = tuple(float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be 3 numbers, got {value!r}") from None
    if len(vec) != 3 or not all(math.isfinite(v) for v in vec):
        raise ValueError(f"{name} must be 3 finite numbers, got {value!r}")
    if not zero_ok and math.hypot(*vec) < 1e-6:
        raise ValueError(f"{name} must not be zero")
    return vec  # type: ignore[return-value]


@dataclass(frozen=True)
class Calibration:
    """A sensor's standing baseline and raise axis, and the person's typical raise.

    Attributes
    ----------
    baseline_g : 3 floats
        Specific force while standing still, sensor axes, g.
    raise_axis : 3 floats
        Unit axis the foot pitches about, sensor axes, signed so that a heel
        raise is a positive rotation from ``baseline_g``.
    typical_peak_deg : float or None
        The person's usual peak pitch; None until a raise has been seen.
    lever_cm : float
        Heel to the ball of the foot, for the rise height ``lever_cm * sin(peak)``.
    accel_offset_g, accel_scale : 3 floats each, or None
        The accelerometer's zero-g offset (g) and sensitivity (1 = as specified) per
        axis: a reading ``a`` is ``(a - accel_offset_g) / accel_scale`` corrected, and
        ``baseline_g`` and ``raise_axis`` are in corrected readings. Both or neither.
    """

    baseline_g: tuple[float, float, float]
    raise_axis: tuple[float, float, float]
    typical_peak_deg: float | None = None
    lever_cm: float = DEFAULT_LEVER_CM
    accel_offset_g: tuple[float, float, float] | None = None
    accel_scale: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        base = _vector("baseline_g", self.baseline_g)
        axis = np.asarray(_vector("raise_axis", self.raise_axis))
        # the axis must be horizontal: what is left of it across gravity is the axis
        down = np.asarray(base) / np.linalg.norm(base)
        across = axis - (axis @ down) * down
        if np.linalg.norm(across) < 0.5 * np.linalg.norm(axis):
            raise ValueError("raise_axis is nearly parallel to baseline_g (it must be horizontal)")
        across /= np.linalg.norm(across)
        if np.allclose(across, axis, rtol=0.0, atol=1e-12):
            across = axis   # already a horizontal unit axis: keep it bit for bit (round trips)
        object.__setattr__(self, "baseline_g", base)
        object.__setattr__(self, "raise_axis", tuple(float(v) for v in across))
        peak = self.typical_peak_deg
        if peak is not None:
            peak = float(peak)
            if not 0.0 < peak < 90.0:
                raise ValueError(f"typical_peak_deg must be in (0, 90), got {peak}")
            object.__setattr__(self, "typical_peak_deg", peak)
        lever = float(self.lever_cm)
        if not 5.0 <= lever <= 40.0:
            raise ValueError(f"lever_cm must be in [5, 40], got {lever}")
        object.__setattr__(self, "lever_cm", lever)
        if (self.accel_offset_g is None) != (self.accel_scale is None):
            raise ValueError("accel_offset_g and accel_scale go together")
        if self.accel_offset_g is not None:
            offset = _vector("accel_offset_g", self.accel_offset_g, zero_ok=True)
            scale = _vector("accel_scale", self.accel_scale)
            if not all(0.5 <= v <= 2.0 for v in scale):
                raise ValueError(f"accel_scale must be in [0.5, 2] per axis, got {scale}")
            object.__setattr__(self, "accel_offset_g", offset)
            object.__setattr__(self, "accel_scale", scale)

    def correct_accel(self, accel_g: np.ndarray) -> np.ndarray:
        """Readings (n, 3) with the accelerometer's own offset and scale taken out."""
        if self.accel_offset_g is None:
            return accel_g
        return (accel_g - np.asarray(self.accel_offset_g)) / np.asarray(self.accel_scale)

    @property
    def prior_peak_deg(self) -> float:
        """The peak to expect before any raise is seen: a healthy rise on this lever."""
        if self.typical_peak_deg is not None:
            return self.typical_peak_deg
        return prior_peak_deg(self.lever_cm)

    def to_dict(self) -> dict:
        out = {
            "baseline_g": list(self.baseline_g),
            "raise_axis": list(self.raise_axis),
            "typical_peak_deg": self.typical_peak_deg,
            "lever_cm": self.lever_cm,
        }
        if self.accel_offset_g is not None:
            out["accel_offset_g"] = list(self.accel_offset_g)
            out["accel_scale"] = list(self.accel_scale)
        return out

    @classmethod
    def from_dict(cls, data: object) -> Calibration:
        """Build from :meth:`to_dict` output; a ValueError names the bad or missing key."""
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        for key in ("baseline_g", "raise_axis"):
            if key not in data:
                raise ValueError(f"missing '{key}'")
        unknown = set(data) - {"baseline_g", "raise_axis", "typical_peak_deg", "lever_cm",
                               "accel_offset_g", "accel_scale"}
        if unknown:
            raise ValueError(f"unknown key '{sorted(unknown)[0]}'")
        for key in ("typical_peak_deg", "lever_cm"):
            value = data.get(key)
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, int | float)):
                raise ValueError(f"{key} must be a number, got {value!r}")
        return cls(
            baseline_g=data["baseline_g"],
            raise_axis=data["raise_axis"],
            typical_peak_deg=data.get("typical_peak_deg"),
            lever_cm=data.get("lever_cm", DEFAULT_LEVER_CM),
            accel_offset_g=data.get("accel_offset_g"),
            accel_scale=data.get("accel_scale"),
        )


def prior_peak_deg(lever_cm: float) -> float:
    """Foot pitch of a typical healthy rise on this lever (height = lever * sin(pitch))."""
    return math.degrees(math.asin(min(1.0, TYPICAL_RISE_CM / lever_cm)))
