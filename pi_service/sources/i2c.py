"""IMUs on the Pi's own I2C bus: scanning, FIFO burst reads, and a source that survives unplugging.

The chips buffer samples in their FIFO; we fetch whole frames in one ``i2c_rdwr``
transaction per poll (SMBus block reads stop at 32 bytes, and reading one register
per value would both flood the bus and mix high and low bytes of different samples).
Sample times come from the frame count times the output-data-rate period, anchored
to a monotonic clock whenever the stream (re)starts, so anything lost — a FIFO
overflow, a bus error, a reconnect — shows up as a jump in ``t``.
"""

from __future__ import annotations

import ctypes
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np
from smbus2 import i2c_msg
from smbus2.smbus2 import I2C_M_RD

from ..errors import SensorError
from ..samples import SampleBlock

log = logging.getLogger(__name__)

#: Where the supported IMUs can live: MPU-6050 (AD0 low/high), LSM6DS (SA0 low/high).
SCAN_ADDRESSES = (0x68, 0x69, 0x6A, 0x6B)

#: WHO_AM_I register of the InvenSense MPU family and the values we can name.
MPU_WHO_AM_I = 0x75
MPU_IDS = {0x68: "MPU-6050", 0x70: "MPU-6500", 0x71: "MPU-9250"}
#: WHO_AM_I register of the ST LSM6DS family and the values we can name.
ST_WHO_AM_I = 0x0F
ST_IDS = {0x69: "LSM6DS3", 0x6A: "LSM6DS3TR-C", 0x6B: "LSM6DSR", 0x6C: "LSM6DSOX"}
#: The chips this package has drivers for.
SUPPORTED = ("MPU-6050", "LSM6DS3", "LSM6DS3TR-C", "LSM6DSOX")

#: Linux i2c-dev refuses messages longer than this (drivers/i2c/i2c-dev.c).
MAX_BURST_BYTES = 8192

UNKNOWN = "unknown device"


class Found(NamedTuple):
    """A device that answered during a scan."""

    address: int
    chip: str  # "MPU-6050", "LSM6DSOX", ... or "unknown device"
    who_am_i: int | None  # the identifying register's value, None if unknown


class FifoBatch(NamedTuple):
    """What one poll of a chip's FIFO produced, already in physical units."""

    accel_g: np.ndarray  # (n, 3)
    gyro_dps: np.ndarray  # (n, 3)
    lost: str | None  # why frames were lost since the last poll ("overflow", ...), or None
    more: bool  # whole frames are still waiting (the burst was capped)


def bus_label(bus: Any, bus_id: int | str | None = None) -> str:
    """How to name a bus in messages: "bus 1", or the object's ``bus_id`` if it has one."""
    if bus_id is None:
        bus_id = getattr(bus, "bus_id", None)
    return f"bus {bus_id}" if bus_id is not None else "the I2C bus"


def identify(bus: Any, address: int) -> Found | None:
    """Name the device at ``address`` from its WHO_AM_I, or None if nothing acknowledges.

    The MPU register is asked first: on an LSM6DS its address holds a user offset
    (0 by default), whereas the MPU-6050's 0x0F is factory self-test trim that can
    hold any byte, including an ST chip's identity.
    """
    try:
        who = bus.read_byte_data(address, MPU_WHO_AM_I)
    except OSError:
        return None
    if who in MPU_IDS:
        return Found(address, MPU_IDS[who], who)
    try:
        who = bus.read_byte_data(address, ST_WHO_AM_I)
    except OSError:
        return None
    if who in ST_IDS:
        return Found(address, ST_IDS[who], who)
    return Found(address, UNKNOWN, None)


def scan(bus: Any) -> list[Found]:
    """Probe the IMU addresses (0x68–0x6B) and name what answers."""
    found = []
    for address in SCAN_ADDRESSES:
        hit = identify(bus, address)
        if hit is not None:
            found.append(hit)
    return found


def describe_scan(found: list[Found], bus_id: int | str = 1) -> str:
    """The text `heelraise sensors` prints: what is on the bus, or how to find out why not."""
    if not found:
        return (
            f"No IMU found on I2C bus {bus_id} (addresses 0x68-0x6B).\n"
            "Check the wiring (SDA, SCL, 3V3, GND), that I2C is enabled "
            "(sudo raspi-config > Interface Options > I2C), "
            f"and what answers with: i2cdetect -y {bus_id}"
        )
    lines = [f"I2C bus {bus_id}:"]
    for f in found:
        if f.chip in SUPPORTED:
            note = f"{f.chip} (WHO_AM_I 0x{f.who_am_i:02X}), supported"
        elif f.who_am_i is not None:
            note = f"{f.chip} (WHO_AM_I 0x{f.who_am_i:02X}), not supported"
        else:
            note = f"{f.chip}: not an IMU we know"
        lines.append(f"  0x{f.address:02x}  {note}")
    return "\n".join(lines)


def sensors_main(bus: Any = 1, out: Callable[[str], None] = print) -> int:
    """`heelraise sensors`: scan and print. 0 if a supported IMU answered, 1 if not, 2 if no bus.

    ``bus`` is a bus number, or an SMBus-like object (tests pass a fake).
    """
    if isinstance(bus, int):
        from smbus2 import SMBus

        try:
            handle = SMBus(bus)
        except OSError as exc:
            out(
                f"Cannot open /dev/i2c-{bus}: {exc.strerror or exc}. "
                "Enable I2C (sudo raspi-config > Interface Options > I2C) and reboot; "
                "the user needs to be in the 'i2c' group."
            )
            return 2
        with handle:
            found = scan(handle)
        bus_id: int | str = bus
    else:
        found = scan(bus)
        bus_id = getattr(bus, "bus_id", "?")
    out(describe_scan(found, bus_id))
    return 0 if any(f.chip in SUPPORTED for f in found) else 1


def to_int16_frames(raw: np.ndarray, words_per_frame: int, big_endian: bool) -> np.ndarray:
    """View a byte buffer of whole frames as (n, words) int16, in the chip's byte order."""
    dtype = ">i2" if big_endian else "<i2"
    return raw.view(dtype).reshape(-1, words_per_frame)


class FifoChip:
    """What the MPU-6050 and LSM6DS drivers share: the bus, identity, burst reads.

    Reads go into one preallocated buffer through one reused pair of ``i2c_msg``
    (a register-address write, then a read of many bytes), so a poll allocates
    nothing per sample. A burst's view is only valid until the next read.
    """

    #: display name of the chip family; subclasses refine it after the identity check
    name = "IMU"
    #: bytes per FIFO frame (one accel + gyro sample, or one tagged word for LSM6DSOX)
    frame_bytes = 12

    def __init__(self, bus: Any, address: int, bus_id: int | str | None = None) -> None:
        if not 0x03 <= address <= 0x77:
            raise ValueError(f"I2C address 0x{address:02x} is outside 0x03-0x77")
        self.bus = bus
        self.address = address
        self.where = f"0x{address:02x} on {bus_label(bus, bus_id)}"
        self._buf = ctypes.create_string_buffer(MAX_BURST_BYTES)
        self._view = np.frombuffer(self._buf, dtype=np.uint8)
        self._reg = ctypes.create_string_buffer(1)
        self._write_msg = i2c_msg(addr=address, flags=0, len=1, buf=self._reg)
        self._read_msg = i2c_msg(addr=address, flags=I2C_M_RD, len=1, buf=self._buf)

    # -- bus access ---------------------------------------------------------------

    def burst(self, register: int, nbytes: int) -> np.ndarray:
        """Read ``nbytes`` from ``register`` in one transaction (a uint8 view, valid until
        the next burst). FIFO output registers do not advance, so this drains the FIFO."""
        if not 0 < nbytes <= MAX_BURST_BYTES:
            raise ValueError(f"burst of {nbytes} bytes (1..{MAX_BURST_BYTES})")
        self._reg[0] = register
        self._read_msg.len = nbytes
        self.bus.i2c_rdwr(self._write_msg, self._read_msg)
        return self._view[:nbytes]

    def write(self, register: int, value: int) -> None:
        self.bus.write_byte_data(self.address, register, value)

    def expect(self, register: int, ids: dict[int, str], wanted: tuple[str, ...]) -> str:
        """Read WHO_AM_I; return the chip's name if it is one of ``wanted``, else raise
        SensorError saying what is there instead."""
        who = self.bus.read_byte_data(self.address, register)
        name = ids.get(who)
        if name in wanted:
            return name
        found = identify(self.bus, self.address)
        seen = found.chip if found is not None else UNKNOWN
        value = found.who_am_i if found is not None and found.who_am_i is not None else who
        raise SensorError(f"found {seen} (0x{value:02X}) at {self.where}, expected {self.name}")

    # -- what each driver provides ------------------------------------------------

    #: output data rate actually configured, Hz
    rate_hz: float
    #: frames the FIFO holds before it overflows
    fifo_frames: int

    def check_identity(self) -> None:
        raise NotImplementedError

    def is_configured(self) -> bool:
        """Whether the chip still holds our configuration (a power glitch resets it)."""
        raise NotImplementedError

    def configure(self) -> None:
        """Write rate, ranges and filter, then start a clean FIFO."""
        raise NotImplementedError

    def reset_fifo(self) -> None:
        raise NotImplementedError

    def read_fifo(self) -> FifoBatch:
        raise NotImplementedError

    def stop(self) -> None:
        """Power the sensor down (best effort, on close)."""
        raise NotImplementedError


def pick(table: dict[Any, Any], value: Any, what: str, chip: str) -> Any:
    """Look ``value`` up in a driver table; a value not in it is a ValueError naming the choices."""
    try:
        return table[value]
    except (KeyError, TypeError):
        choices = ", ".join(str(k) for k in table)
        raise ValueError(
            f"{what} {value!r} not supported by {chip}; choose one of {choices}"
        ) from None


def nearest_rate(rate_hz: float, available: list[float], chip: str) -> float:
    """The supported rate nearest to ``rate_hz`` (50–208 Hz is what the pipeline needs)."""
    if not 50 <= rate_hz <= 208:
        raise ValueError(f"rate_hz {rate_hz} not supported by {chip}; choose 50-208 Hz")
    return min(available, key=lambda r: abs(r - rate_hz))


class FrameClock:
    """Sample times from frame counts: t = anchor + index × period.

    The anchor is the monotonic clock at the first read after a (re)start, less the
    frames already waiting; from then on only the frame count advances time, so a
    burst does not compress samples and jitter in polling does not leak into ``t``.
    After a gap, times never step backwards even if the chip's oscillator ran fast.
    """

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self._next_t: float | None = None
        self._last_t = -math.inf

    def restart(self, period_s: float | None = None) -> None:
        """Frames were lost (or the rate changed): anchor again at the next read."""
        if period_s is not None:
            self.period_s = period_s
        self._next_t = None

    def stamp(self, n: int, now_s: float) -> np.ndarray:
        if self._next_t is None:
            first = max(now_s - (n - 1) * self.period_s, self._last_t + self.period_s)
        else:
            first = self._next_t
        t = first + np.arange(n) * self.period_s
        if n:
            self._last_t = float(t[-1])
            self._next_t = self._last_t + self.period_s
        return t


CHIPS = ("auto", "mpu6050", "lsm6ds", "lsm6ds3", "lsm6ds3tr-c", "lsm6dsox")
VARIANT_OF = {"lsm6ds3": "LSM6DS3", "lsm6ds3tr-c": "LSM6DS3TR-C", "lsm6dsox": "LSM6DSOX"}


class I2CSource:
    """Samples from an MPU-6050 or LSM6DS on I2C, as a Source (iterable of SampleBlock).

    ``bus`` is a bus number (opened with smbus2, closed with the source) or an
    SMBus-like object (left open). ``chip="auto"`` takes the first supported IMU
    at 0x68–0x6B; ``address=None`` looks at the chip's usual addresses.

    When the chip stops answering, ``connected`` turns False and ``on_lost()`` is
    called; the source keeps retrying with backoff, re-checks the identity and
    configuration when it answers again, calls ``on_back()`` and resumes with a
    gap in ``t``. Both hooks run on the iterating thread, and iteration waits
    (retrying) while the sensor is lost. ``clock`` and ``sleep`` are passed in so
    tests control time; the default sleep wakes early when ``close()`` is called
    from another thread. ``kind`` names the chip for status payloads ("mpu6050").
    """

    def __init__(
        self,
        bus: Any = 1,
        address: int | None = None,
        chip: str = "auto",
        rate_hz: float = 100,
        accel_range_g: int = 4,
        gyro_range_dps: int = 500,
        lowpass_hz: float | None = None,
        poll_s: float = 0.1,
        retry_s: tuple[float, float] = (0.5, 5.0),
        on_lost: Callable[[], None] | None = None,
        on_back: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] | None = None,
        wait: bool = False,
    ) -> None:
        if chip not in CHIPS:
            raise ValueError(f"chip {chip!r} unknown; choose one of {', '.join(CHIPS)}")
        if poll_s <= 0:
            raise ValueError(f"poll_s must be > 0, got {poll_s}")
        if not 0 < retry_s[0] <= retry_s[1]:
            raise ValueError(f"retry_s must be (first, max) with 0 < first <= max, got {retry_s}")
        self._stop = threading.Event()
        self._sleep = sleep if sleep is not None else self._stop.wait
        self._clock = clock
        self._wanted = chip
        self._address = address
        self._settings = dict(
            rate_hz=rate_hz,
            accel_range_g=accel_range_g,
            gyro_range_dps=gyro_range_dps,
            lowpass_hz=lowpass_hz,
        )
        self._check_settings()
        self.poll_s = poll_s
        self.retry_s = retry_s
        self.on_lost = on_lost
        self.on_back = on_back
        self._closed = False
        self._owns_bus = isinstance(bus, int)
        if self._owns_bus:
            from smbus2 import SMBus

            self._bus_id: int | str | None = bus
            try:
                self._bus = SMBus(bus)
            except OSError as exc:
                raise SensorError(
                    f"cannot open /dev/i2c-{bus}: {exc.strerror or exc} "
                    "(enable I2C with raspi-config)"
                ) from exc
        else:
            self._bus = bus
            self._bus_id = getattr(bus, "bus_id", None)
        self.chip: FifoChip
        self.connected = False
        self._frames = FrameClock(1.0 / rate_hz)
        try:
            self.chip = self._connect()
        except (SensorError, OSError) as exc:
            if not wait:
                self.close()
                raise
            log.warning("no IMU yet (%s); waiting for one", exc)
            return
        except BaseException:
            self.close()
            raise
        self.connected = True
        self._frames.restart(1.0 / self.chip.rate_hz)
        if poll_s > 0.5 * self.chip.fifo_frames / self.chip.rate_hz:
            log.warning(
                "poll_s %.3f s is over half the %s FIFO (%.2f s): expect overflows",
                poll_s, self.chip.name, self.chip.fifo_frames / self.chip.rate_hz,
            )

    # -- connecting ---------------------------------------------------------------

    def _check_settings(self) -> None:
        """Refuse unsupported rates and ranges before touching the bus (ValueError).

        With ``chip="auto"`` a low-pass value can only be checked once the chip is known.
        """
        from .lsm6ds import LSM6DS
        from .mpu6050 import MPU6050

        settings = dict(self._settings)
        if self._wanted == "auto":
            settings["lowpass_hz"] = None
        if self._wanted in ("auto", "mpu6050"):
            MPU6050(None, 0x68, **settings)
        if self._wanted != "mpu6050":
            LSM6DS(None, 0x6A, **settings, variant=VARIANT_OF.get(self._wanted))

    def _candidates(self) -> list[FifoChip]:
        from .lsm6ds import LSM6DS
        from .mpu6050 import MPU6050

        if self._wanted == "auto" and self._address is None:
            kinds = []
            for found in scan(self._bus):
                if found.chip == "MPU-6050":
                    kinds.append((MPU6050, found.address))
                elif found.chip in SUPPORTED:
                    kinds.append((LSM6DS, found.address))
            if not kinds:
                where = bus_label(self._bus, self._bus_id)
                raise SensorError(
                    f"no supported IMU answered at 0x68-0x6B on {where}; check wiring, "
                    f"I2C enabled (raspi-config), i2cdetect -y {self._bus_id or 1}"
                )
        else:
            if self._wanted == "mpu6050":
                cls, homes = MPU6050, (0x68, 0x69)
            elif self._wanted == "auto":
                found = identify(self._bus, self._address)
                cls = MPU6050 if found is not None and found.chip == "MPU-6050" else LSM6DS
                homes = ()
            else:
                cls, homes = LSM6DS, (0x6A, 0x6B)
            addresses = [self._address] if self._address is not None else list(homes)
            kinds = [(cls, a) for a in addresses]
        chips = []
        for cls, address in kinds:
            kwargs = dict(self._settings, bus_id=self._bus_id)
            if cls is LSM6DS:
                kwargs["variant"] = VARIANT_OF.get(self._wanted)
            chips.append(cls(self._bus, address, **kwargs))
        return chips

    def _connect(self) -> FifoChip:
        """Find the chip, check it is what we want, configure it. Raises OSError/SensorError."""
        errors = []
        for chip in self._candidates():
            try:
                chip.check_identity()
            except SensorError as exc:
                errors.append(str(exc))
                continue
            except OSError:
                errors.append(f"nothing answered at {chip.where}")
                continue
            chip.configure()
            log.info("%s at %s, %.1f Hz", chip.name, chip.where, chip.rate_hz)
            return chip
        others = [f"{f.chip} at 0x{f.address:02x}" for f in scan(self._bus)]
        if others:
            errors.append("on the bus: " + ", ".join(others))
        raise SensorError("; ".join(errors))

    # -- state the service reads --------------------------------------------------

    @property
    def kind(self) -> str:
        """Short chip id for status payloads: "mpu6050", "lsm6dsox", ... ("i2c" until found)."""
        chip = getattr(self, "chip", None)
        return chip.name.lower().replace("-", "") if chip is not None else "i2c"

    @property
    def rate_hz(self) -> float:
        return self.chip.rate_hz

    # -- streaming ----------------------------------------------------------------

    def __iter__(self) -> Iterator[SampleBlock]:
        stall_s = max(1.0, 5 * self.poll_s)
        last_data_s = self._clock()
        while not self._closed:
            if not self.connected:
                if self._reconnect():
                    last_data_s = self._clock()
                else:
                    # An empty block hands control back while the sensor is away, so
                    # the service keeps answering commands and pinging the watchdog.
                    yield SampleBlock(np.empty(0), np.empty((0, 3)))
                continue
            more = False
            try:
                batch = self.chip.read_fifo()
                now_s = self._clock()
                more = batch.more
                if batch.lost:
                    log.warning("%s FIFO %s: samples lost, resetting", self.chip.name, batch.lost)
                    self._restart_fifo()
                    continue
                n = len(batch.accel_g)
                if n:
                    last_data_s = now_s
                    yield SampleBlock(self._frames.stamp(n, now_s), batch.accel_g, batch.gyro_dps)
                elif now_s - last_data_s > stall_s:
                    last_data_s = now_s
                    if not self.chip.is_configured():
                        self._lost("it lost its configuration (power glitch?)")
                        continue
            except OSError as exc:
                if self._closed:
                    return
                log.warning("I2C error reading %s at %s: %s; dropping the partial read",
                            self.chip.name, self.chip.where, exc)
                self._restart_fifo()
                if not self.connected:
                    continue
            if not more and not self._closed:
                self._sleep(self.poll_s)

    def _restart_fifo(self) -> None:
        """Discard what is in the FIFO and anchor time afresh; if even that fails, it is gone."""
        self._frames.restart()
        try:
            self.chip.reset_fifo()
        except OSError as exc:
            if not self._closed:
                self._lost(str(exc))

    def _lost(self, why: str) -> None:
        self.connected = False
        self._frames.restart()
        log.warning("%s at %s lost: %s", self.chip.name, self.chip.where, why)
        if self.on_lost is not None:
            self.on_lost()

    def _reconnect(self) -> bool:
        """One retry after a delay that doubles while the chip stays away; True once back."""
        delay = getattr(self, "_retry_delay", self.retry_s[0])
        self._sleep(delay)
        if self._closed:
            return False
        try:
            self.chip = self._connect()
        except OSError as exc:
            log.debug("still no IMU: %s", exc)
            self._retry_delay = min(2 * delay, self.retry_s[1])
            return False
        self._retry_delay = self.retry_s[0]
        self._frames.restart(1.0 / self.chip.rate_hz)
        self.connected = True
        log.info("%s back at %s", self.chip.name, self.chip.where)
        if self.on_back is not None:
            self.on_back()
        return True

    # -- resource -----------------------------------------------------------------

    def close(self) -> None:
        """Stop streaming, power the chip down, release the bus. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        chip = getattr(self, "chip", None)
        if chip is not None and self.connected:
            try:
                chip.stop()
            except OSError:
                pass
        if self._owns_bus and getattr(self, "_bus", None) is not None:
            self._bus.close()

    def __enter__(self) -> I2CSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
