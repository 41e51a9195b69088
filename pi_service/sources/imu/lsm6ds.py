"""ST LSM6DS3, LSM6DS3TR-C and LSM6DSOX, read through their FIFO.

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

from .fifo import SAMPLE_BYTES, FifoChip, const, nearest_rate, pick

_WHO_AM_I = const(0x0F)
_CTRL1_XL = const(0x10)  # ODR_XL 7:4, FS_XL 3:2, LPF2_XL_EN 1 (LSM6DSOX)
_CTRL2_G = const(0x11)  # ODR_G 7:4, FS_G 3:2
_CTRL3_C = const(0x12)
_CTRL8_XL = const(0x17)  # LSM6DS3/TR-C: LPF2_XL_EN 7, HPCF_XL 6:5; LSM6DSOX: HPCF_XL 7:5
_FIFO_STATUS1 = const(0x3A)  # DIFF_FIFO 7:0; STATUS2 flags + DIFF high bits; STATUS3/4 pattern
_FIFO_DATA_OUT_L = const(0x3E)  # LSM6DS3/TR-C
_FIFO_DATA_OUT_TAG = const(0x78)  # LSM6DSOX
_DS3_FIFO_CTRL3 = const(0x08)  # DEC_FIFO_GYRO 5:3, DEC_FIFO_XL 2:0 (1 = every sample)
_DS3_FIFO_CTRL5 = const(0x0A)  # ODR_FIFO 6:3, FIFO_MODE 2:0
_SOX_FIFO_CTRL3 = const(0x09)  # BDR_GY 7:4, BDR_XL 3:0
_SOX_FIFO_CTRL4 = const(0x0A)  # FIFO_MODE 2:0

_CTRL3_BDU_IF_INC = const(0x44)  # block data update, register address auto-increment
_FIFO_BYPASS = const(0b000)  # FIFO off and emptied
_FIFO_CONTINUOUS = const(0b110)  # newest data overwrite the oldest when full
_STATUS2_OVER_RUN = const(0x40)  # FIFO_OVR_IA on LSM6DSOX
_SOX_STATUS2_OVR_LATCHED = const(0x08)
_SOX_LPF2_XL_EN = const(0x02)
_DS3_LPF2_XL_EN = const(0x80)
_TAG_GYRO = const(0x01)
_TAG_ACCEL = const(0x02)
_TAGGED_WORD_BYTES = const(7)
_PATTERN_BYTES = const(12)  # Gx Gy Gz Ax Ay Az
_NONE = const(-1)  # no unpaired tagged word
_CARRIED = const(-2)  # the unpaired word is the one carried from the last poll

#: output data rate, Hz -> ODR code (same code in CTRL1_XL, CTRL2_G and the FIFO rate fields)
ODR = {52.0: 0b0011, 104.0: 0b0100, 208.0: 0b0101}
#: accel full scale, g -> (FS_XL, g per LSB)
ACCEL_RANGES = {2: (0b00, 0.061e-3), 4: (0b10, 0.122e-3), 8: (0b11, 0.244e-3), 16: (0b01, 0.488e-3)}
#: gyro full scale, deg/s -> (FS_G, deg/s per LSB)
GYRO_RANGES = {250: (0b00, 8.75e-3), 500: (0b01, 17.5e-3), 1000: (0b10, 35e-3), 2000: (0b11, 70e-3)}

#: variant -> (WHO_AM_I, FIFO words, DIFF_FIFO mask, tagged, LPF2 cut-off as ODR/divisor -> code)
VARIANTS = {
    "LSM6DS3": (0x69, 4096, 0x0FFF, False, {9: 0b10, 50: 0b00, 100: 0b01, 400: 0b11}),
    "LSM6DS3TR-C": (0x6A, 2048, 0x07FF, False, {9: 0b10, 50: 0b00, 100: 0b01, 400: 0b11}),
    "LSM6DSOX": (0x6C, 512, 0x03FF, True, {10: 1, 20: 2, 45: 3, 100: 4, 200: 5, 400: 6, 800: 7}),
}
_ALL = "/".join(sorted(VARIANTS))


def lowpass_options(variant, rate_hz):
    """Accel low-pass cut-offs (Hz) this variant offers at ``rate_hz`` -> HPCF_XL code."""
    return {round(rate_hz / d, 2): code for d, code in VARIANTS[variant][4].items()}


def _copy3(src, i, out, o):
    """Three little-endian int16 (6 bytes) from ``src[i:]`` to ``out[o:]``, no slicing."""
    for j in range(6):
        out[o + j] = src[i + j]


class LSM6DS(FifoChip):
    """One LSM6DS3 / LSM6DS3TR-C / LSM6DSOX at ``address`` (0x6A, or 0x6B with SA0 high).

    ``variant`` None accepts any of the three (told apart by WHO_AM_I). ``rate_hz``
    becomes the nearest ODR (52, 104 or 208 Hz). ``lowpass_hz`` None keeps the chip's
    default accel bandwidth (ODR/2); otherwise it must be one of the LPF2 cut-offs the
    variant offers at that ODR (checked once the variant is known). The gyro defaults
    to +-2000 deg/s, so quick raises and knocks never saturate it.
    """

    KEY = "lsm6ds"  # the name the service config uses
    WHO_AM_I = _WHO_AM_I
    IDS = {v[0]: k for k, v in VARIANTS.items()}
    OTHER_IDS = {0x6B: "LSM6DSR"}  # recognised, not driven
    ADDRESSES = (0x6A, 0x6B)

    def __init__(self, bus, address=0x6A, rate_hz=100, accel_range_g=4, gyro_range_dps=2000,
                 lowpass_hz=None, variant=None, bus_id=None, burst_bytes=4096):
        super().__init__(bus, address, bus_id, burst_bytes)
        if variant is not None and variant not in VARIANTS:
            raise ValueError("variant {!r} unknown; choose one of {}".format(
                variant, ", ".join(sorted(VARIANTS))))
        self.variant = variant
        self.name = variant or _ALL
        self._afs, self.accel_g_per_lsb = pick(ACCEL_RANGES, accel_range_g, "accel_range_g",
                                               "LSM6DS")
        self._fs, self.gyro_dps_per_lsb = pick(GYRO_RANGES, gyro_range_dps, "gyro_range_dps",
                                               "LSM6DS")
        self.rate_hz = nearest_rate(rate_hz, list(ODR), "LSM6DS")
        self._odr = ODR[self.rate_hz]
        self.lowpass_hz = lowpass_hz
        self._carry = bytearray(_TAGGED_WORD_BYTES)  # a tagged word waiting for its partner
        self._carried = False
        # until WHO_AM_I tells: assume the smallest FIFO, check the filter once known
        self._set_variant(variant or "LSM6DSOX", variant is not None)

    def _set_variant(self, variant, known=True):
        _, words, self._diff_mask, self._tagged, _ = VARIANTS[variant]
        self.frame_bytes = _TAGGED_WORD_BYTES if self._tagged else _PATTERN_BYTES
        self.FIFO_DATA = _FIFO_DATA_OUT_TAG if self._tagged else _FIFO_DATA_OUT_L
        self.fifo_frames = words // (2 if self._tagged else 6)
        self._lpf2 = None
        if self.lowpass_hz is not None and known:
            options = lowpass_options(variant, self.rate_hz)
            near = [f for f in options if abs(f - self.lowpass_hz) <= 0.02 * self.lowpass_hz]
            if not near:
                pick(options, self.lowpass_hz, f"lowpass_hz at {self.rate_hz:g} Hz",
                     variant)
            self._lpf2 = options[near[0]]

    def check_identity(self):
        found = self.expect((self.variant,) if self.variant else tuple(VARIANTS))
        self.variant = self.name = found
        self._set_variant(found)

    def configure(self):
        lpf2 = self._lpf2 is not None
        self.write_reg(_CTRL3_C, _CTRL3_BDU_IF_INC)
        xl = self._odr << 4 | self._afs << 2
        if self._tagged:
            self.write_reg(_CTRL1_XL, xl | (_SOX_LPF2_XL_EN if lpf2 else 0))
            self.write_reg(_CTRL8_XL, self._lpf2 << 5 if lpf2 else 0)
            self.write_reg(_SOX_FIFO_CTRL3, self._odr << 4 | self._odr)
        else:
            self.write_reg(_CTRL1_XL, xl)
            self.write_reg(_CTRL8_XL, _DS3_LPF2_XL_EN | self._lpf2 << 5 if lpf2 else 0)
            self.write_reg(_DS3_FIFO_CTRL3, 1 << 3 | 1)
        self.write_reg(_CTRL2_G, self._odr << 4 | self._fs << 2)
        self.reset_fifo()

    def _fifo_mode(self, mode):
        if self._tagged:
            self.write_reg(_SOX_FIFO_CTRL4, mode)
        else:
            self.write_reg(_DS3_FIFO_CTRL5, self._odr << 3 | mode)

    def reset_fifo(self):
        self._fifo_mode(_FIFO_BYPASS)
        self._fifo_mode(_FIFO_CONTINUOUS)
        self._carried = False

    def is_configured(self):
        mode_reg = _SOX_FIFO_CTRL4 if self._tagged else _DS3_FIFO_CTRL5
        return self.read_reg(mode_reg) & 0b111 == _FIFO_CONTINUOUS

    def stop(self):
        self._fifo_mode(_FIFO_BYPASS)
        self.write_reg(_CTRL1_XL, 0)
        self.write_reg(_CTRL2_G, 0)

    def _fifo_status(self):
        status = self.burst(_FIFO_STATUS1, 2 if self._tagged else 4)
        s1, s2 = status[0], status[1]
        overrun = _STATUS2_OVER_RUN | (_SOX_STATUS2_OVR_LATCHED if self._tagged else 0)
        if s2 & overrun:
            return "overflow", 0
        waiting = (s2 << 8 | s1) & self._diff_mask
        if self._tagged:
            return None, waiting
        if status[2] | (status[3] & 0b11) << 8:
            return "misaligned", 0
        return None, waiting // 6

    def _frames_for(self, samples):
        # two tagged words make a sample, and the carried word may pair with the first
        if not self._tagged:
            return samples
        return max(0, 2 * samples - (1 if self._carried else 0))

    def _decode(self, raw, n, out):
        if not self._tagged:
            for k in range(n):  # pattern gyro xyz, accel xyz -> accel xyz, gyro xyz
                i = k * _PATTERN_BYTES
                o = k * SAMPLE_BYTES
                _copy3(raw, i + 6, out, o)
                _copy3(raw, i, out, o + 6)
            return n
        return self._pair_tagged(raw, n, out)

    def _pair_tagged(self, raw, n, out):
        """Pair gyro and accel words by time slot into samples. A word whose partner was
        lost is dropped; a last word still waiting for its partner is carried over to
        the next poll (it is the oldest word then)."""
        samples = 0
        pend = _CARRIED if self._carried else _NONE  # the unpaired word, or an offset in raw
        for w in range(n):
            i = w * _TAGGED_WORD_BYTES
            tag = raw[i] >> 3
            if tag != _TAG_GYRO and tag != _TAG_ACCEL:
                continue  # timestamp, temperature, ... words
            if pend != _NONE:
                src = self._carry if pend == _CARRIED else raw
                j = 0 if pend == _CARRIED else pend
                if src[j] >> 3 != tag and (src[j] >> 1) & 3 == (raw[i] >> 1) & 3:
                    o = samples * SAMPLE_BYTES
                    if tag == _TAG_ACCEL:
                        _copy3(raw, i + 1, out, o)
                        _copy3(src, j + 1, out, o + 6)
                    else:
                        _copy3(src, j + 1, out, o)
                        _copy3(raw, i + 1, out, o + 6)
                    samples += 1
                    pend = _NONE
                    continue
            pend = i
        if pend >= 0:
            for b in range(_TAGGED_WORD_BYTES):
                self._carry[b] = raw[pend + b]
        self._carried = pend != _NONE
        return samples
