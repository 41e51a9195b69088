"""Shoe size to foot length to the heel-to-ball lever that turns pitch into height in cm.

Height is ``lever * sin(pitch)``, the lever being heel to the ball of the foot, about
0.73 of the foot's length (DESIGN.md). People know their shoe size better than their
foot's length, so either is taken. The sizes are the usual Brannock-style fits: EU in
Paris points of the last (2/3 cm), the last 1.5 cm longer than the foot; UK and US in
barleycorns (1/3 inch) from their own zero points. Brands differ by about half a size
(3-4 mm of foot), which moves a 10 cm rise by under 1 mm.
"""

from __future__ import annotations

import re

from pi_service.pipeline.calibration import LEVER_FRACTION

INCH_CM = 2.54
FOOT_CM = (14.0, 41.0)
"""Feet this long and no longer or shorter: what the calibration file's lever allows."""

SYSTEMS = {
    "eu": lambda size: size / 1.5 - 1.5,
    "uk": lambda size: (size + 23.0) / 3.0 * INCH_CM,
    "us": lambda size: (size + 22.0) / 3.0 * INCH_CM,      # men's
    "usw": lambda size: (size + 21.0) / 3.0 * INCH_CM,     # women's
    "mm": lambda size: size / 10.0,                         # Mondopoint: the foot, in mm
}
_SIZE = re.compile(r"\s*(eu|uk|us|mm)?\s*(\d+(?:[.,]\d+)?)\s*(w|m|mm)?\s*", re.I)


def foot_cm(size: str) -> float:
    """Foot length from a shoe size: "EU 42", "42" (EU), "UK 8", "US 9", "US 8.5W", "270mm".

    A ValueError says what was wrong, in one line.
    """
    match = _SIZE.fullmatch(size)
    if not match:
        raise ValueError(f"shoe size {size!r}: give it like EU 42, UK 8, US 9, US 8W or 270mm")
    system, number, suffix = (match.group(1) or "").lower(), match.group(2), \
        (match.group(3) or "").lower()
    if suffix == "mm":
        system, suffix = system or "mm", ""
    if suffix and system != "us":
        raise ValueError(f"shoe size {size!r}: W or M goes with US sizes")
    system = system or "eu"
    if system == "us" and suffix == "w":
        system = "usw"
    length = SYSTEMS[system](float(number.replace(",", ".")))
    if not FOOT_CM[0] <= length <= FOOT_CM[1]:
        raise ValueError(f"shoe size {size!r} is a {length:.1f} cm foot, outside "
                         f"{FOOT_CM[0]:g}-{FOOT_CM[1]:g} cm: which system is it in?")
    return length


def lever_cm(foot_length_cm: float) -> float:
    """Heel to the ball of the foot, for a foot this long."""
    if not FOOT_CM[0] <= foot_length_cm <= FOOT_CM[1]:
        raise ValueError(f"foot length {foot_length_cm:g} cm is outside "
                         f"{FOOT_CM[0]:g}-{FOOT_CM[1]:g} cm")
    return LEVER_FRACTION * foot_length_cm
