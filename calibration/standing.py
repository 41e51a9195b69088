"""Standing still: finding it in a stream, measuring it, and holding it to the datasheet.

A still second or two says more about a sensor than any other moment: the mean is
gravity (plus the accelerometer's offsets and scale errors), the scatter from sample to
sample is the sensor's own noise, and the gyro's mean is its bias. Each has a datasheet
figure (:data:`pi_service.sources.chips.CHIPS`), and a reading well beyond it is not
something to calibrate around: a loose sensor rattles, a saturated one clips, a broken
or misconfigured one reads the wrong gravity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pi_service.samples import SampleBlock
from pi_service.sources.chips import CHIPS, Chip, chip_key

NOISE_FACTOR = 3.0
"""Scatter this many times the datasheet's noise (and more) is a warning."""
GYRO_BIAS_MARGIN_DPS = 0.5
"""Allowed beyond the datasheet's gyro bias: a person standing still still sways a little."""
CORRECTED_G = 0.02
"""|a| standing still within this of 1 g once a six-face correction is applied."""
CLIP_ACCEL_G = 1.5
"""A reading repeated exactly at the extreme of an axis beyond this is the ADC clipping
(standing and slow raises stay within 1.3 g; only knocks reach it)."""
CLIP_GYRO_DPS = 200.0
"""The same for the gyro (a slow raise turns the foot at 10-20 deg/s)."""
NAMES = {"mpu6050": "MPU-6050", "lsm6dsox": "LSM6DSOX"}


@dataclass(frozen=True)
class Finding:
    """Something the person should know about the sensor: ``kind`` for programs, ``message``
    one line for people; ``fatal`` findings stop the calibration."""

    kind: str
    message: str
    fatal: bool = False


@dataclass(frozen=True)
class Still:
    """A stretch of standing (or lying) still and what the sensor read in it.

    Attributes
    ----------
    start_s, end_s : float
        Its first and last sample times.
    accel_g : (3,) array
        Mean reading, g.
    noise_g : (3,) array
        The sensor's white noise per axis, g: the scatter of successive differences
        over sqrt(2), which slow sway barely touches.
    gyro_dps, gyro_noise_dps : (3,) arrays or None
        The gyro's mean (its bias, standing still) and noise, deg/s.
    rate_hz : float
        Sample rate measured from the timestamps.
    """

    start_s: float
    end_s: float
    accel_g: np.ndarray
    noise_g: np.ndarray
    gyro_dps: np.ndarray | None
    gyro_noise_dps: np.ndarray | None
    rate_hz: float


def measure(block: SampleBlock) -> Still:
    """What a still stretch of samples read (at least three samples)."""
    if len(block) < 3:
        raise ValueError("a still stretch needs at least 3 samples")
    gyro = block.gyro_dps
    return Still(float(block.t[0]), float(block.t[-1]), block.accel_g.mean(axis=0),
                 np.diff(block.accel_g, axis=0).std(axis=0) / math.sqrt(2.0),
                 None if gyro is None else gyro.mean(axis=0),
                 None if gyro is None else np.diff(gyro, axis=0).std(axis=0) / math.sqrt(2.0),
                 (len(block) - 1) / float(block.t[-1] - block.t[0]))


class StillFinder:
    """Fed blocks, reports each time the last ``still_s`` seconds were still.

    Still means every accelerometer axis spread at most ``spread_g`` (standard
    deviation), gravity turned at most ``turn_deg`` from the window's first quarter to
    its last (a slow raise's top is smooth, not still) and, with a gyro, every gyro axis
    spread at most ``spread_dps``, with no gap longer than ``gap_s``.
    After reporting, it waits for movement before it reports again, so one long still is
    one report; ``armed`` False waits for movement first.
    """

    def __init__(self, still_s: float = 2.0, spread_g: float = 0.02,
                 spread_dps: float = 3.0, turn_deg: float = 1.0, gap_s: float = 0.25,
                 armed: bool = True) -> None:
        self.still_s = still_s
        self.spread_g = spread_g
        self.turn_deg = turn_deg
        self.spread_dps = spread_dps
        self.gap_s = gap_s
        self._blocks: list[SampleBlock] = []
        self._armed = armed

    def feed(self, block: SampleBlock) -> Still | None:
        if not len(block):
            return None
        joined = SampleBlock.concat([*self._blocks, block])
        jumps = np.flatnonzero(np.diff(joined.t) > self.gap_s)
        if len(jumps):                  # a gap: stillness starts afresh after it
            joined = joined[int(jumps[-1]) + 1:]
        window = joined[int(np.searchsorted(joined.t, joined.t[-1] - self.still_s)):]
        self._blocks = [window]
        if joined.t[-1] - joined.t[0] < self.still_s:
            return None
        quarter = max(1, len(window) // 4)
        first, last = window.accel_g[:quarter].mean(axis=0), window.accel_g[-quarter:].mean(axis=0)
        turn = math.degrees(math.acos(min(1.0, float(
            first @ last / (np.linalg.norm(first) * np.linalg.norm(last) + 1e-12)))))
        still = bool(np.all(window.accel_g.std(axis=0) <= self.spread_g)) and \
            turn <= self.turn_deg and (
            window.gyro_dps is None
            or bool(np.all(window.gyro_dps.std(axis=0) <= self.spread_dps)))
        if not still:
            self._armed = True
            return None
        if not self._armed:
            return None
        self._armed = False
        return measure(window)


def figures(name: str | None) -> tuple[Chip, str]:
    """The datasheet figures to hold a sensor to, and how to name them in a message.

    A chip without figures of its own is held to the loosest figures of the table (the
    MPU-6050's), so a better chip is never warned about for being itself.
    """
    key = chip_key(name)
    if key is not None:
        return CHIPS[key], f"the {NAMES.get(key, name)} datasheet"
    what = f"{name}, which has no figures here: " if name else "an unknown chip: "
    return CHIPS["mpu6050"], f"the datasheet ({what}held to the MPU-6050's)"


def gravity_envelope_g(chip: Chip, corrected: bool) -> float:
    """How far from 1 g a still reading may be: sensitivity error plus the worst offset
    the datasheet allows, or :data:`CORRECTED_G` after a six-face correction."""
    if corrected:
        return CORRECTED_G
    return chip.scale_error + math.hypot(*chip.offset_mg) / 1000.0


def check(still: Still, chip_name: str | None, corrected: bool = False) -> list[Finding]:
    """A still standing held to the chip's datasheet: gravity, noise, gyro bias and noise."""
    chip, sheet = figures(chip_name)
    out = []
    size = float(np.linalg.norm(still.accel_g))
    envelope = gravity_envelope_g(chip, corrected)
    if abs(size - 1.0) > envelope:
        allowed = ("after the six-face correction" if corrected else
                   f"(±{chip.scale_error:.0%} sensitivity, ±{max(chip.offset_mg):.0f} mg "
                   "offset)")
        out.append(Finding("gravity", f"standing still, the accelerometer reads {size:.3f} g; "
                           f"{sheet} allows 1 ± {envelope:.3f} g {allowed}: a faulty sensor "
                           "or a wrong range setting", fatal=not 0.8 <= size <= 1.2))
    expected = chip.noise_ug_rthz * 1e-6 * math.sqrt(still.rate_hz / 2.0)
    noise = float(still.noise_g.max())
    if noise > NOISE_FACTOR * expected + 0.0005:
        out.append(Finding("noise", f"standing still, the accelerometer scatters "
                           f"{1000 * noise:.1f} mg, {noise / expected:.0f}x the "
                           f"{1000 * expected:.1f} mg of {sheet}: a loose sensor rattling "
                           "on the shoe (clip it tight), or not standing still"))
    if still.gyro_dps is not None:
        bias = float(np.abs(still.gyro_dps).max())
        if bias > chip.gyro_bias_dps + GYRO_BIAS_MARGIN_DPS:
            out.append(Finding("gyro_bias", f"standing still, the gyro reads {bias:.1f} deg/s; "
                               f"{sheet} allows ±{chip.gyro_bias_dps:g} deg/s: a faulty gyro, "
                               "or the foot was turning"))
        expected = chip.gyro_noise_dps_rthz * math.sqrt(still.rate_hz / 2.0)
        noise = float(still.gyro_noise_dps.max())
        if noise > NOISE_FACTOR * expected + 0.05:
            out.append(Finding("gyro_noise", f"standing still, the gyro scatters {noise:.2f} "
                               f"deg/s, {noise / expected:.0f}x the {expected:.2f} deg/s of "
                               f"{sheet}: a loose sensor, or not standing still"))
    return out


def clipped(block: SampleBlock) -> int:
    """Samples at which an axis sat at its extreme, repeated exactly, beyond what a heel
    raise reaches: the ADC at full scale (a knock, or a range too small)."""
    count = 0
    for values, limit in ((block.accel_g, CLIP_ACCEL_G), (block.gyro_dps, CLIP_GYRO_DPS)):
        if values is None or len(values) < 2:
            continue
        big = np.abs(values) >= limit
        same = np.zeros_like(big)
        same[1:] = values[1:] == values[:-1]
        extreme = np.abs(values) >= np.abs(values).max(axis=0) - 1e-9
        count += int(np.count_nonzero((big & same & extreme).any(axis=1)))
    return count
