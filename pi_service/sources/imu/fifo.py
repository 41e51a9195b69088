"""What every FIFO IMU driver shares: the bus, identity checks, burst reads, one sample layout.

Written once for both sides, in the style of micropython-lib's drivers: plain Python
over bytes that runs under CPython on the Pi (over smbus2, through
:class:`pi_service.sources.i2c.SMBusI2C`) and under MicroPython on the clip-on (over
``machine.I2C``). The bus is passed in and needs two of ``machine.I2C``'s calls:
``readfrom_mem_into(addr, reg, buf)`` and ``writeto_mem(addr, reg, buf)``; a device
that does not acknowledge raises OSError on both sides.

A driver decodes its chip's FIFO into one layout, whatever the chip: per sample 12
bytes, little-endian int16 ``ax ay az gx gy gz`` in LSB, scaled by the driver's
``accel_g_per_lsb`` and ``gyro_dps_per_lsb``. Reads go into buffers allocated once, so
a poll allocates nothing per sample: that matters on a microcontroller and in a hot
loop on a Pi Zero. No numpy here: arrays are made at the Pi's edge.
"""

try:
    from micropython import const
except ImportError:  # CPython
    def const(value):
        return value

#: bytes per decoded sample: little-endian int16 ax ay az gx gy gz
SAMPLE_BYTES = const(12)
#: Linux i2c-dev refuses messages longer than this (drivers/i2c/i2c-dev.c)
MAX_BURST_BYTES = const(8192)
UNKNOWN = "unknown device"


class ChipError(OSError):
    """The device at an address is not the chip asked for (its WHO_AM_I says what it is)."""


def bus_label(bus, bus_id=None):
    """How to name a bus in messages: "bus 1", or the object's ``bus_id`` if it has one."""
    if bus_id is None:
        bus_id = getattr(bus, "bus_id", None)
    return f"bus {bus_id}" if bus_id is not None else "the I2C bus"


def read_byte(bus, address, register):
    """One register, one transaction (allocates: for scans and identity, not the hot loop)."""
    one = bytearray(1)
    bus.readfrom_mem_into(address, register, one)
    return one[0]


def pick(table, value, what, chip):
    """Look ``value`` up in a driver table; a value not in it is a ValueError naming the choices."""
    try:
        return table[value]
    except (KeyError, TypeError):
        choices = ", ".join(str(k) for k in sorted(table))
        raise ValueError(
            f"{what} {value!r} not supported by {chip}; choose one of {choices}"
        ) from None


def nearest_rate(rate_hz, available, chip):
    """The supported rate nearest to ``rate_hz`` (50-208 Hz is what the pipeline needs)."""
    if not 50 <= rate_hz <= 208:
        raise ValueError(f"rate_hz {rate_hz} not supported by {chip}; choose 50-208 Hz")
    return min(sorted(available), key=lambda r: abs(r - rate_hz))


class FifoChip:
    """One FIFO IMU at ``address`` on ``bus``; subclasses fill in the chip.

    Subclass contract (class attributes): ``name``, ``WHO_AM_I`` (register),
    ``IDS`` (WHO_AM_I value -> name of what this driver drives), ``ADDRESSES``
    (where the chip can live), ``FIFO_DATA`` (the FIFO output register), and
    ``frame_bytes`` / ``fifo_frames`` (per FIFO frame, and how many fit). Methods:
    ``configure``, ``is_configured``, ``reset_fifo``, ``stop``, ``_fifo_status`` and
    ``_decode``. :meth:`read_fifo` is the one poll everything else builds on.

    After a poll, ``lost`` says why samples were lost since the previous one
    ("overflow", "misaligned") or is None, and ``more`` says whole frames are still
    waiting (the burst was capped). ``burst_bytes`` caps one read: the FIFO's size
    on the Pi, less on a board with little RAM.
    """

    name = "IMU"
    KEY = ""
    WHO_AM_I = 0
    IDS = {}
    ADDRESSES = ()
    FIFO_DATA = 0
    frame_bytes = SAMPLE_BYTES
    fifo_frames = 0
    rate_hz = 0.0
    accel_g_per_lsb = 0.0
    gyro_dps_per_lsb = 0.0

    def __init__(self, bus, address, bus_id=None, burst_bytes=MAX_BURST_BYTES):
        if not 0x03 <= address <= 0x77:
            raise ValueError(f"I2C address 0x{address:02x} is outside 0x03-0x77")
        if not 0 < burst_bytes <= MAX_BURST_BYTES:
            raise ValueError(f"burst_bytes {burst_bytes} outside 1..{MAX_BURST_BYTES}")
        self.bus = bus
        self.address = address
        self.where = f"0x{address:02x} on {bus_label(bus, bus_id)}"
        self._buf = bytearray(burst_bytes)
        self._mv = memoryview(self._buf)
        self._one = bytearray(1)
        self.lost = None
        self.more = False

    # -- bus access -------------------------------------------------------------------

    def read_reg(self, register):
        self.bus.readfrom_mem_into(self.address, register, self._one)
        return self._one[0]

    def write_reg(self, register, value):
        self._one[0] = value
        self.bus.writeto_mem(self.address, register, self._one)

    def burst(self, register, nbytes):
        """``nbytes`` from ``register`` in one transaction, as a view of the preallocated
        buffer (valid until the next burst). FIFO output registers do not advance, so one
        burst drains many frames."""
        if not 0 < nbytes <= len(self._buf):
            raise ValueError(f"burst of {nbytes} bytes (1..{len(self._buf)})")
        view = self._mv[:nbytes]
        self.bus.readfrom_mem_into(self.address, register, view)
        return view

    # -- identity ---------------------------------------------------------------------

    def expect(self, wanted):
        """Read WHO_AM_I; return the chip's name if it is one of ``wanted``, else raise
        ChipError naming what is there instead, the bus and the address."""
        who = self.read_reg(self.WHO_AM_I)
        name = self.IDS.get(who)
        if name in wanted:
            return name
        from . import identify  # the registry knows every family's identity

        found = identify(self.bus, self.address)
        seen, value = (found[0], found[1]) if found is not None else (UNKNOWN, who)
        value = who if value is None else value
        raise ChipError(f"found {seen} (0x{value:02X}) at {self.where}, expected {self.name}")

    def check_identity(self):
        self.name = self.expect(tuple(self.IDS.values()))

    # -- the poll ---------------------------------------------------------------------

    def read_fifo(self, out):
        """Decode whole FIFO frames into ``out`` (a bytearray of SAMPLE_BYTES per sample);
        returns how many samples were written. Sets ``lost`` and ``more``."""
        self.lost, waiting = self._fifo_status()
        self.more = False
        if self.lost is not None:
            return 0
        room = min(len(self._buf) // self.frame_bytes, self._frames_for(len(out) // SAMPLE_BYTES))
        n = min(waiting, room)
        self.more = waiting > n
        raw = self.burst(self.FIFO_DATA, n * self.frame_bytes) if n else self._mv[:0]
        return self._decode(raw, n, out)

    def _frames_for(self, samples):
        """FIFO frames that decode to at most ``samples`` samples."""
        return samples

    def _fifo_status(self):
        """(why samples were lost or None, whole frames waiting)."""
        raise NotImplementedError

    def _decode(self, raw, n, out):
        """Write the samples of ``n`` raw frames into ``out``; return how many."""
        raise NotImplementedError

    # -- set-up -----------------------------------------------------------------------

    def configure(self):
        """Write rate, ranges and filter, then start a clean FIFO."""
        raise NotImplementedError

    def is_configured(self):
        """Whether the chip still holds our configuration (a power glitch resets it)."""
        raise NotImplementedError

    def reset_fifo(self):
        raise NotImplementedError

    def stop(self):
        """Power the sensor down (best effort, on close)."""
        raise NotImplementedError
