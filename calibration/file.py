"""Calibration files: one JSON object per sensor, written after a guided calibration.

A calibration steers every angle the coach measures, so a file is held to
physics as well as to its shape before it is used: the standing baseline must
be about 1 g (within 2 % once a six-face correction is applied: that is what
the correction is for), the raise axis horizontal (the foot pitches about a
horizontal axis), the lever a foot's heel-to-ball length, the accelerometer's
offsets and sensitivities what a real chip's can be. A bad file stops with one
line naming the file, the line and the key, as every input the coach reads does.
What is written is checked the same way before it is written.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from pi_service.datafile import checked, load_json
from pi_service.errors import InputError
from pi_service.pipeline.calibration import DEFAULT_LEVER_CM, Calibration
from pi_service.schema import Field, array, number, table

GRAVITY_G = (0.8, 1.2)
"""|baseline| while standing still: gravity plus offsets and scale errors, no more."""
AXIS_TILT_DEG = 15.0
"""How far from horizontal the raise axis may point (a calibrated one is horizontal)."""
LEVER_CM = (10.0, 30.0)
"""Heel to the ball of the foot: 0.73 x foot length, for feet 14-41 cm long."""
PEAK_DEG = (5.0, 75.0)
"""A typical raise: a shallow one is ~15 deg of foot pitch, a maximal one ~50 deg."""
OFFSET_G = 0.25
"""An accelerometer's zero-g offset per axis: the datasheets allow up to 80 mg."""
SCALE = (0.9, 1.1)
"""An accelerometer's sensitivity per axis: the datasheets allow 1-3 % off."""
CORRECTED_G = (0.98, 1.02)
"""|baseline| once corrected: the six faces put every still reading on 1 g."""


def _about_one_g(vector: object) -> str | None:
    size = math.hypot(*vector)  # type: ignore[misc]
    lo, hi = GRAVITY_G
    return None if lo <= size <= hi else \
        f"must measure gravity, {lo:g}..{hi:g} g long, got {size:.3g} g"


def _unit(vector: object) -> str | None:
    size = math.hypot(*vector)  # type: ignore[misc]
    return None if 0.9 <= size <= 1.1 else f"must be a unit vector, got length {size:.3g}"


def _corrected(data: object) -> tuple[str, str] | None:
    has = ["accel_offset_g" in data, "accel_scale" in data]  # type: ignore[operator]
    if has[0] != has[1]:
        missing = "accel_scale" if has[0] else "accel_offset_g"
        return missing, "is missing (the six-face correction needs offsets and scales)"
    size = math.hypot(*data["baseline_g"])  # type: ignore[index]
    if has[0] and not CORRECTED_G[0] <= size <= CORRECTED_G[1]:
        return "baseline_g", (f"must be {CORRECTED_G[0]:g}..{CORRECTED_G[1]:g} g long with the "
                              f"six-face correction applied, got {size:.3g} g")
    return None


def _horizontal(data: object) -> tuple[str, str] | None:
    base, axis = data["baseline_g"], data["raise_axis"]  # type: ignore[index]
    cos = abs(sum(b * a for b, a in zip(base, axis, strict=True))) / (
        math.hypot(*base) * math.hypot(*axis))
    tilt = 90.0 - math.degrees(math.acos(min(1.0, cos)))
    if tilt > AXIS_TILT_DEG:
        return "raise_axis", (f"must be horizontal (within {AXIS_TILT_DEG:g} deg of square "
                              f"to baseline_g), got {tilt:.0f} deg off")
    return None


_VECTOR = number("", -16, 16)

SCHEMA: Field = table("a calibration file", {
    "baseline_g": array("specific force standing still, sensor axes, g", _VECTOR, 3,
                        min_items=3, checks=(_about_one_g,)),
    "raise_axis": array("unit axis the foot pitches about, sensor axes", _VECTOR, 3,
                        min_items=3, checks=(_unit,)),
    "typical_peak_deg": number("the person's usual peak pitch; null until seen", *PEAK_DEG,
                               nullable=True, required=False),
    "lever_cm": number("heel to the ball of the foot", *LEVER_CM, required=False),
    "accel_offset_g": array("the accelerometer's zero-g offset per axis, g (six faces)",
                            number("", -OFFSET_G, OFFSET_G), 3, min_items=3, required=False),
    "accel_scale": array("the accelerometer's sensitivity per axis, 1 = as specified",
                         number("", *SCALE), 3, min_items=3, required=False),
}, checks=(_horizontal, _corrected))
"""A calibration file's shape and physics (what :func:`save_calibration` writes)."""


def load_calibration(path: str | Path) -> Calibration:
    """Read a calibration file written by :func:`save_calibration` (or by hand)."""
    data = load_json(path, SCHEMA)
    try:
        return Calibration(baseline_g=tuple(data["baseline_g"]),
                           raise_axis=tuple(data["raise_axis"]),
                           typical_peak_deg=data.get("typical_peak_deg"),
                           lever_cm=data.get("lever_cm", DEFAULT_LEVER_CM),
                           accel_offset_g=data.get("accel_offset_g"),
                           accel_scale=data.get("accel_scale"))
    except ValueError as exc:
        raise InputError(path, f"not a calibration: {exc}") from None


def save_calibration(calibration: Calibration, path: str | Path) -> None:
    """Write ``calibration`` as JSON, replacing the file only once it is complete.

    It is held to :data:`SCHEMA` first, so nothing is written that could not be read.
    """
    path = Path(path)
    data = calibration.to_dict()
    checked(path, data, SCHEMA, InputError)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
