"""The datasheet figures of the supported IMUs, in one table.

The simulator reads sensors with these figures (noise, zero-g offset, sensitivity
error, resolution, range) and the guided calibration holds a real sensor to them
(calibration/standing.py): a reading far outside what the datasheet allows is a
sensor that is loose, broken or set up wrong, not one to calibrate around.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Chip:
    """Datasheet figures of an accelerometer/gyro."""

    noise_ug_rthz: float
    offset_mg: tuple[float, float, float]     # zero-g offset, uniform ± per axis
    scale_error: float                         # sensitivity error, uniform ±
    lsb_g: float                               # 0 = no quantisation
    range_g: float
    gyro_noise_dps_rthz: float
    gyro_bias_dps: float
    gyro_lsb_dps: float
    gyro_range_dps: float

    def with_ranges(self, range_g: float | None, range_dps: float | None) -> Chip:
        """The chip configured to other full-scale ranges (the resolution scales with them)."""
        out = self
        if range_g is not None:
            out = replace(out, range_g=range_g, lsb_g=out.lsb_g * range_g / out.range_g)
        if range_dps is not None:
            out = replace(out, gyro_range_dps=range_dps,
                          gyro_lsb_dps=out.gyro_lsb_dps * range_dps / out.gyro_range_dps)
        return out


CHIPS = {
    "mpu6050": Chip(400.0, (50.0, 50.0, 80.0), 0.03, 1 / 16384, 2.0,
                    0.005, 20.0, 1 / 16.4, 2000.0),
    "lsm6dsox": Chip(75.0, (20.0, 20.0, 20.0), 0.01, 0.061e-3, 2.0,
                     0.0038, 1.0, 70e-3, 2000.0),
    # a perfect sensor: for tests that check the physics, not the sensor model
    "ideal": Chip(0.0, (0.0, 0.0, 0.0), 0.0, 0.0, math.inf, 0.0, 0.0, 0.0, math.inf),
}


def chip_key(name: str | None) -> str | None:
    """The :data:`CHIPS` key of a chip as a source names it ("MPU-6050", "mpu6050",
    "LSM6DSOX"), or None for a chip without figures here (or no name)."""
    if not name:
        return None
    key = name.lower().replace("-", "").replace("_", "")
    return key if key in CHIPS and key != "ideal" else None
