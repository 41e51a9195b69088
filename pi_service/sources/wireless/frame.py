"""The clip-on's binary IMU frame, version 1: one codec for the board and the Pi.

Plain Python over ``struct`` that runs under MicroPython too: the firmware packs
frames with it (copied to the board as ``/lib/hrframe.py``) and the Pi's wireless
source unpacks them. docs/wireless.md documents the format with a worked example.

A frame is a 32-byte little-endian header and ``n`` samples of 12 bytes (int16
``ax ay az gx gy gz`` in LSB, the layout of :mod:`pi_service.sources.imu`):

    off  type  field
      0  u16   magic 0x5248 (the bytes "HR")
      2  u8    version (1)
      3  u8    flags: bit 0 gyro present, bit 1 the sensor stream restarted just
               before this frame (its first index was estimated from the board clock)
      4  u32   boot_id: random at each boot; a new one is a new clock epoch
      8  u32   seq: frame number since boot, +1 per frame made
     12  u32   index: sensor sample number of the first sample since boot
     16  u32   period_ns: sample period on the sensor's clock
     20  u16   n: samples in the frame (>= 1)
     22  u16   ring_dropped: frames the board's ring buffer dropped since boot (mod 2**16)
     24  f32   accel_g_per_lsb
     28  f32   gyro_dps_per_lsb

Sample ``j`` was measured at ``(index + j) * period_ns`` ns on the sensor clock.
There is no checksum: MQTT rides on TCP, which has one; what a decoder must catch
is a frame from other code (a foreign publisher, another version), and the
structural checks below do.
"""

import struct

MAGIC = 0x5248
VERSION = 1
HEADER = "<HBBIIIIHHff"
HEADER_BYTES = 32
SAMPLE_BYTES = 12
FLAG_GYRO = 1
FLAG_RESTART = 2
MAX_SAMPLES = 2000  # 20 s at 100 Hz: far more than a frame ever holds
#: plausible sample periods: 1 kHz .. 10 Hz
PERIOD_NS = (1000000, 100000000)


class FrameError(ValueError):
    """A payload that is not a version-1 frame; ``reason`` is a short stable code
    ("short", "magic", "version", "length", "empty", "period", "scale", "flags")."""

    def __init__(self, reason, detail):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def frame_bytes(n):
    """Size of a frame of ``n`` samples."""
    return HEADER_BYTES + SAMPLE_BYTES * n


def pack_header(buf, flags, boot_id, seq, index, period_ns, n, ring_dropped,
                accel_g_per_lsb, gyro_dps_per_lsb):
    """Write a header into ``buf[0:32]`` (the samples follow it in the same buffer)."""
    struct.pack_into(HEADER, buf, 0, MAGIC, VERSION, flags, boot_id & 0xFFFFFFFF,
                     seq & 0xFFFFFFFF, index & 0xFFFFFFFF, period_ns, n,
                     ring_dropped & 0xFFFF, accel_g_per_lsb, gyro_dps_per_lsb)


def unpack_header(data):
    """Check a frame and return its header as a tuple ``(flags, boot_id, seq, index,
    period_ns, n, ring_dropped, accel_g_per_lsb, gyro_dps_per_lsb)``; raise FrameError."""
    if len(data) < HEADER_BYTES:
        raise FrameError("short", f"{len(data)} bytes, a header is {HEADER_BYTES}")
    head = struct.unpack_from(HEADER, data, 0)
    if head[0] != MAGIC:
        raise FrameError("magic", f"starts 0x{head[0]:04x}, not 0x{MAGIC:04x}")
    if head[1] != VERSION:
        raise FrameError("version", f"version {head[1]}, this decoder reads {VERSION}")
    flags, n = head[2], head[7]
    if flags & ~(FLAG_GYRO | FLAG_RESTART):
        raise FrameError("flags", f"unknown flag bits 0x{flags:02x}")
    if n == 0 or n > MAX_SAMPLES:
        raise FrameError("empty", f"{n} samples (1..{MAX_SAMPLES})")
    if len(data) != frame_bytes(n):
        raise FrameError("length", f"{len(data)} bytes for {n} samples (want {frame_bytes(n)})")
    if not PERIOD_NS[0] <= head[6] <= PERIOD_NS[1]:
        raise FrameError("period", "period {} ns outside {}..{}".format(head[6], *PERIOD_NS))
    for scale in head[9:11]:
        if not 1e-6 < scale < 1.0:  # also refuses NaN and infinity
            raise FrameError("scale", f"scale {scale} per LSB is implausible")
    return head[2:]
