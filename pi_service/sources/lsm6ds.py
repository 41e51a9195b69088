"""ST LSM6DS3, LSM6DS3TR-C and LSM6DSOX over smbus2, read through their FIFO.

Register maps: the ST datasheets (LSM6DS3 DocID026899, LSM6DS3TR-C DS12150, LSM6DSOX
DS12814) as used by Linux's st_lsm6dsx driver. Two FIFO styles:

- LSM6DS3 / LSM6DS3TR-C: untagged 16-bit words in a fixed pattern, gyro X/Y/Z then
  accel X/Y/Z, little-endian; FIFO_STATUS3/4 say which pattern word is next, so a
  misaligned FIFO (after a bus error) is detected rather than decoded as garbage.
- LSM6DSOX: 7-byte words, a tag byte (sensor in bits 7:3, a 2-bit time-slot counter
  in bits 2:1) then X/Y/Z little-endian; gyro and accel words with the same counter
  are one sample.

Reading the FIFO output registers in a burst rolls the address back, so one long
read drains many words.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .i2c import (
    MAX_BURST_BYTES,
    ST_IDS,
    ST_WHO_AM_I,
    FifoBatch,
    FifoChip,
    nearest_rate,
    pick,
    to_int16_frames,
)

CTRL1_XL = 0x10  # ODR_XL 7:4, FS_XL 3:2, LPF2_XL_EN 1 (LSM6DSOX)
CTRL2_G = 0x11  # ODR_G 7:4, FS_G 3:2
CTRL3_C = 0x12
CTRL8_XL = 0x17  # LSM6DS3/TR-C: LPF2_XL_EN 7, HPCF_XL 6:5; LSM6DSOX: HPCF_XL 7:5
FIFO_STATUS1 = 0x3A  # DIFF_FIFO 7:0; STATUS2 flags + DIFF high bits; STATUS3/4 pattern
FIFO_DATA_OUT_L = 0x3E  # LSM6DS3/TR-C
FIFO_DATA_OUT_TAG = 0x78  # LSM6DSOX
# LSM6DS3 / LSM6DS3TR-C FIFO control
DS3_FIFO_CTRL3 = 0x08  # DEC_FIFO_GYRO 5:3, DEC_FIFO_XL 2:0 (1 = every sample)
DS3_FIFO_CTRL5 = 0x0A  # ODR_FIFO 6:3, FIFO_MODE 2:0
# LSM6DSOX FIFO control
SOX_FIFO_CTRL3 = 0x09  # BDR_GY 7:4, BDR_XL 3:0
SOX_FIFO_CTRL4 = 0x0A  # FIFO_MODE 2:0

CTRL3_BDU_IF_INC = 0x44  # block data update, register address auto-increment
FIFO_BYPASS = 0b000  # FIFO off and emptied
FIFO_CONTINUOUS = 0b110  # newest data overwrite the oldest when full
STATUS2_OVER_RUN = 0x40  # FIFO_OVR_IA on LSM6DSOX
SOX_STATUS2_OVR_LATCHED = 0x08
SOX_LPF2_XL_EN = 0x02
DS3_LPF2_XL_EN = 0x80
TAG_GYRO = 0x01
TAG_ACCEL = 0x02
TAGGED_WORD_BYTES = 7
PATTERN_WORDS = 6  # Gx Gy Gz Ax Ay Az

#: output data rate, Hz → ODR code (same code in CTRL1_XL, CTRL2_G and the FIFO rate fields)
ODR = {52.0: 0b0011, 104.0: 0b0100, 208.0: 0b0101}
#: accel full scale, g → (FS_XL, g per LSB)
ACCEL_RANGES = {2: (0b00, 0.061e-3), 4: (0b10, 0.122e-3), 8: (0b11, 0.244e-3), 16: (0b01, 0.488e-3)}
#: gyro full scale, deg/s → (FS_G, deg/s per LSB)
GYRO_RANGES = {250: (0b00, 8.75e-3), 500: (0b01, 17.5e-3), 1000: (0b10, 35e-3), 2000: (0b11, 70e-3)}


class Variant(NamedTuple):
    who_am_i: int
    fifo_words: int  # 16-bit words (untagged) or 7-byte tagged words
    diff_mask: int  # bits of DIFF_FIFO in FIFO_STATUS1/2
    tagged: bool
    lpf2_divisors: dict[int, int]  # accel LPF2 cut-off as ODR/divisor → HPCF_XL code


VARIANTS = {
    "LSM6DS3": Variant(0x69, 4096, 0x0FFF, False, {9: 0b10, 50: 0b00, 100: 0b01, 400: 0b11}),
    "LSM6DS3TR-C": Variant(0x6A, 2048, 0x07FF, False, {9: 0b10, 50: 0b00, 100: 0b01, 400: 0b11}),
    "LSM6DSOX": Variant(
        0x6C, 512, 0x03FF, True, {10: 1, 20: 2, 45: 3, 100: 4, 200: 5, 400: 6, 800: 7}
    ),
}


def lowpass_options(variant: str, rate_hz: float) -> dict[float, int]:
    """Accel low-pass cut-offs (Hz) this variant offers at ``rate_hz`` → HPCF_XL code."""
    return {round(rate_hz / d, 2): code for d, code in VARIANTS[variant].lpf2_divisors.items()}


def pair_tagged(words: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split LSM6DSOX FIFO words (n, 7) into (gyro raw, accel raw, leftover word).

    A gyro and an accel word with the same time-slot counter make one sample; a word
    whose partner was lost is dropped; a last word still waiting for its partner is
    returned to be put in front of the next burst.
    """
    tag = words[:, 0] >> 3
    keep = (tag == TAG_GYRO) | (tag == TAG_ACCEL)
    words, tag = words[keep], tag[keep]
    slot = (words[:, 0] >> 1) & 0b11
    gyro_idx, accel_idx = [], []
    i, n = 0, len(words)
    while i < n - 1:
        if tag[i] != tag[i + 1] and slot[i] == slot[i + 1]:
            g, a = (i, i + 1) if tag[i] == TAG_GYRO else (i + 1, i)
            gyro_idx.append(g)
            accel_idx.append(a)
            i += 2
        else:
            i += 1
    values = np.ascontiguousarray(words[:, 1:]).view("<i2")
    return values[gyro_idx], values[accel_idx], words[i:].copy()


class LSM6DS(FifoChip):
    """One LSM6DS3 / LSM6DS3TR-C / LSM6DSOX at ``address`` (0x6A, or 0x6B with SA0 high).

    ``variant`` None accepts any of the three (told apart by WHO_AM_I). ``rate_hz``
    becomes the nearest ODR (52, 104 or 208 Hz). ``lowpass_hz`` None keeps the chip's
    default accel bandwidth (ODR/2); otherwise it must be one of the LPF2 cut-offs the
    variant offers at that ODR (checked once the variant is known).
    """

    def __init__(
        self,
        bus: Any,
        address: int = 0x6A,
        rate_hz: float = 100,
        accel_range_g: int = 4,
        gyro_range_dps: int = 500,
        lowpass_hz: float | None = None,
        variant: str | None = None,
        bus_id: int | str | None = None,
    ) -> None:
        super().__init__(bus, address, bus_id)
        if variant is not None and variant not in VARIANTS:
            raise ValueError(f"variant {variant!r} unknown; choose one of {', '.join(VARIANTS)}")
        self.variant = variant
        self.name = variant or "/".join(VARIANTS)
        self._afs, self._g_per_lsb = pick(ACCEL_RANGES, accel_range_g, "accel_range_g", "LSM6DS")
        self._fs, self._dps_per_lsb = pick(GYRO_RANGES, gyro_range_dps, "gyro_range_dps", "LSM6DS")
        self.rate_hz = nearest_rate(rate_hz, list(ODR), "LSM6DS")
        self._odr = ODR[self.rate_hz]
        self.lowpass_hz = lowpass_hz
        self._carry = np.empty((0, TAGGED_WORD_BYTES), dtype=np.uint8)
        # until WHO_AM_I tells: assume the smallest FIFO, check the filter once known
        self._set_variant(variant or "LSM6DSOX", known=variant is not None)

    def _set_variant(self, variant: str, known: bool = True) -> None:
        self._v = VARIANTS[variant]
        self.frame_bytes = TAGGED_WORD_BYTES if self._v.tagged else 2 * PATTERN_WORDS
        words_per_frame = 2 if self._v.tagged else PATTERN_WORDS
        self.fifo_frames = self._v.fifo_words // words_per_frame
        self._lpf2 = None
        if self.lowpass_hz is not None and known:
            options = lowpass_options(variant, self.rate_hz)
            near = [f for f in options if abs(f - self.lowpass_hz) <= 0.02 * self.lowpass_hz]
            if not near:
                pick(options, self.lowpass_hz, f"lowpass_hz at {self.rate_hz:g} Hz", variant)
            self._lpf2 = options[near[0]]

    def check_identity(self) -> None:
        wanted = (self.variant,) if self.variant else tuple(VARIANTS)
        found = self.expect(ST_WHO_AM_I, ST_IDS, wanted)
        self.variant = found
        self.name = found
        self._set_variant(found)

    def configure(self) -> None:
        lpf2 = self._lpf2 is not None
        self.write(CTRL3_C, CTRL3_BDU_IF_INC)
        xl = self._odr << 4 | self._afs << 2
        if self._v.tagged:
            self.write(CTRL1_XL, xl | (SOX_LPF2_XL_EN if lpf2 else 0))
            self.write(CTRL8_XL, self._lpf2 << 5 if lpf2 else 0)
            self.write(SOX_FIFO_CTRL3, self._odr << 4 | self._odr)
        else:
            self.write(CTRL1_XL, xl)
            self.write(CTRL8_XL, DS3_LPF2_XL_EN | self._lpf2 << 5 if lpf2 else 0)
            self.write(DS3_FIFO_CTRL3, 1 << 3 | 1)
        self.write(CTRL2_G, self._odr << 4 | self._fs << 2)
        self.reset_fifo()

    def _fifo_mode(self, mode: int) -> None:
        if self._v.tagged:
            self.write(SOX_FIFO_CTRL4, mode)
        else:
            self.write(DS3_FIFO_CTRL5, self._odr << 3 | mode)

    def reset_fifo(self) -> None:
        self._fifo_mode(FIFO_BYPASS)
        self._fifo_mode(FIFO_CONTINUOUS)
        self._carry = self._carry[:0]

    def is_configured(self) -> bool:
        mode_reg = SOX_FIFO_CTRL4 if self._v.tagged else DS3_FIFO_CTRL5
        return self.bus.read_byte_data(self.address, mode_reg) & 0b111 == FIFO_CONTINUOUS

    def read_fifo(self) -> FifoBatch:
        nothing = np.empty((0, 3))
        status = self.burst(FIFO_STATUS1, 4 if not self._v.tagged else 2)
        s1, s2 = int(status[0]), int(status[1])
        if s2 & (STATUS2_OVER_RUN | (SOX_STATUS2_OVR_LATCHED if self._v.tagged else 0)):
            return FifoBatch(nothing, nothing, "overflow", False)
        waiting = (s2 << 8 | s1) & self._v.diff_mask
        if self._v.tagged:
            return self._read_tagged(waiting)
        pattern = int(status[2]) | (int(status[3]) & 0b11) << 8
        if pattern != 0:
            return FifoBatch(nothing, nothing, "misaligned", False)
        frames_waiting = waiting // PATTERN_WORDS
        n = min(frames_waiting, MAX_BURST_BYTES // self.frame_bytes)
        if n == 0:
            return FifoBatch(nothing, nothing, None, False)
        raw = to_int16_frames(self.burst(FIFO_DATA_OUT_L, n * self.frame_bytes), 6, False)
        accel, gyro = raw[:, 3:6] * self._g_per_lsb, raw[:, 0:3] * self._dps_per_lsb
        return FifoBatch(accel, gyro, None, frames_waiting > n)

    def _read_tagged(self, waiting: int) -> FifoBatch:
        n = min(waiting, MAX_BURST_BYTES // TAGGED_WORD_BYTES)
        if n:
            fresh = self.burst(FIFO_DATA_OUT_TAG, n * TAGGED_WORD_BYTES)
            words = np.concatenate([self._carry, fresh.reshape(n, TAGGED_WORD_BYTES)])
        else:
            words = self._carry
        gyro, accel, self._carry = pair_tagged(words)
        return FifoBatch(accel * self._g_per_lsb, gyro * self._dps_per_lsb, None, waiting > n)

    def stop(self) -> None:
        self._fifo_mode(FIFO_BYPASS)
        self.write(CTRL1_XL, 0)
        self.write(CTRL2_G, 0)
