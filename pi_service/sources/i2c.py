"""IMUs on the Pi's own I2C bus: scanning, the smbus2 edge of the drivers, and a source
that survives unplugging.

The chip logic lives in :mod:`pi_service.sources.imu`, written once for the Pi and
the clip-on's MicroPython; here it meets smbus2 through :class:`SMBusI2C`, and its
bytes become numpy arrays. The chips buffer samples in their FIFO; each poll fetches
whole frames in one ``i2c_rdwr`` transaction (SMBus block reads stop at 32 bytes,
and reading one register per value would both flood the bus and mix high and low
bytes of different samples). Sample times come from the frame count times the
output-data-rate period, anchored to a monotonic clock whenever the stream
(re)starts, so anything lost — a FIFO overflow, a bus error, a reconnect — shows
up as a jump in ``t``.
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
from .imu import DRIVERS, ChipError, FifoChip, bus_label, driver_for, supported
from .imu import identify as _identify
from .imu import scan as _scan
from .imu.fifo import MAX_BURST_BYTES

log = logging.getLogger(__name__)


class Found(NamedTuple):
    """A device that answered during a scan."""

    address: int
    chip: str  # "MPU-6050", "LSM6DSOX", ... or "unknown device"
    who_am_i: int | None  # the identifying register's value, None if unknown


class SMBusI2C:
    """``machine.I2C``'s two memory calls over an smbus2 bus: what the shared drivers use.

    A read of more than one byte is one ``i2c_rdwr`` (register write, repeated start,
    read) straight into the caller's buffer, through one reused pair of ``i2c_msg``,
    so a FIFO burst allocates nothing per sample.
    """

    def __init__(self, bus: Any, bus_id: int | str | None = None) -> None:
        self.bus = bus
        self.bus_id = bus_id if bus_id is not None else getattr(bus, "bus_id", None)
        self._reg = ctypes.create_string_buffer(1)
        self._write = i2c_msg(addr=0, flags=0, len=1, buf=self._reg)
        self._read = i2c_msg(addr=0, flags=I2C_M_RD, len=1, buf=self._reg)

    def readfrom_mem_into(self, addr: int, memaddr: int, buf: bytearray | memoryview) -> None:
        n = len(buf)
        if n == 1:
            buf[0] = self.bus.read_byte_data(addr, memaddr)
            return
        self._reg[0] = memaddr
        self._write.addr = self._read.addr = addr
        self._read.len = n
        self._read.buf = ctypes.cast((ctypes.c_char * n).from_buffer(buf),
                                     ctypes.POINTER(ctypes.c_char))
        self.bus.i2c_rdwr(self._write, self._read)

    def writeto_mem(self, addr: int, memaddr: int, buf: bytes | bytearray) -> None:
        if len(buf) == 1:
            self.bus.write_byte_data(addr, memaddr, buf[0])
        else:
            self.bus.write_i2c_block_data(addr, memaddr, list(buf))


def _as_i2c(bus: Any) -> Any:
    """The drivers' view of a bus: an smbus2-like object wrapped, a machine.I2C-like kept."""
    return bus if hasattr(bus, "readfrom_mem_into") and not hasattr(bus, "i2c_rdwr") \
        else SMBusI2C(bus)


def identify(bus: Any, address: int) -> Found | None:
    """Name the device at ``address`` from its WHO_AM_I, or None if nothing acknowledges."""
    hit = _identify(_as_i2c(bus), address)
    return None if hit is None else Found(address, *hit)


def scan(bus: Any) -> list[Found]:
    """Probe the IMU addresses (0x68–0x6B) and name what answers."""
    return [Found(*hit) for hit in _scan(_as_i2c(bus))]


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
        if f.chip in supported():
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
    return 0 if any(f.chip in supported() for f in found) else 1


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


def _chip_keys() -> dict[str, tuple[type[FifoChip] | None, str | None]]:
    """Config names of the chips -> (driver, variant): "mpu6050", "lsm6ds", "lsm6dsox", ..."""
    keys: dict[str, tuple[type[FifoChip] | None, str | None]] = {"auto": (None, None)}
    for driver in DRIVERS:
        keys[driver.KEY] = (driver, None)
        if len(driver.IDS) > 1:
            for name in sorted(driver.IDS.values()):
                keys[name.lower()] = (driver, name)
    return keys


#: what ``chip=`` accepts: "auto", each driver's family and each variant it drives
CHIPS = _chip_keys()


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
        gyro_range_dps: int = 2000,
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
        self._bus_id: int | str | None = bus if isinstance(bus, int) \
            else getattr(bus, "bus_id", None)
        self._check_settings()
        self.poll_s = poll_s
        self.retry_s = retry_s
        self.on_lost = on_lost
        self.on_back = on_back
        self._closed = False
        self._owns_bus = isinstance(bus, int)
        if self._owns_bus:
            from smbus2 import SMBus

            try:
                self._bus = SMBus(bus)
            except OSError as exc:
                raise SensorError(
                    f"cannot open /dev/i2c-{bus}: {exc.strerror or exc} "
                    "(enable I2C with raspi-config)"
                ) from exc
        else:
            self._bus = bus
        self._i2c = SMBusI2C(self._bus, self._bus_id)
        self._out = bytearray(MAX_BURST_BYTES)  # decoded samples of one poll
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

    def _make(self, driver: type[FifoChip], bus: Any, address: int | None,
              variant: str | None, **settings: Any) -> FifoChip:
        kwargs: dict[str, Any] = dict(settings, bus_id=self._bus_id,
                                      burst_bytes=MAX_BURST_BYTES)
        if variant is not None:
            kwargs["variant"] = variant
        return driver(bus, driver.ADDRESSES[0] if address is None else address, **kwargs)

    def _check_settings(self) -> None:
        """Refuse unsupported rates and ranges before touching the bus (ValueError).

        With ``chip="auto"`` a low-pass value can only be checked once the chip is known.
        """
        settings = dict(self._settings)
        driver, variant = CHIPS[self._wanted]
        if driver is None:
            settings["lowpass_hz"] = None
        for d in DRIVERS if driver is None else (driver,):
            self._make(d, None, None, variant, **settings)

    def _candidates(self) -> list[FifoChip]:
        driver, variant = CHIPS[self._wanted]
        if driver is None and self._address is None:
            kinds = [(driver_for(f.chip), f.address) for f in scan(self._i2c)]
            kinds = [(d, a) for d, a in kinds if d is not None]
            if not kinds:
                where = bus_label(self._bus, self._bus_id)
                raise SensorError(
                    f"no supported IMU answered at 0x68-0x6B on {where}; check wiring, "
                    f"I2C enabled (raspi-config), i2cdetect -y {self._bus_id or 1}"
                )
        elif driver is None:
            found = identify(self._i2c, self._address)
            known = driver_for(found.chip) if found is not None else None
            kinds = [(d, self._address) for d in ((known,) if known else DRIVERS)]
        else:
            addresses = [self._address] if self._address is not None else driver.ADDRESSES
            kinds = [(driver, a) for a in addresses]
        return [self._make(d, self._i2c, a, variant, **self._settings) for d, a in kinds]

    def _connect(self) -> FifoChip:
        """Find the chip, check it is what we want, configure it. Raises OSError/SensorError."""
        errors = []
        for chip in self._candidates():
            try:
                chip.check_identity()
            except ChipError as exc:
                errors.append(str(exc))
                continue
            except OSError:
                errors.append(f"nothing answered at {chip.where}")
                continue
            chip.configure()
            log.info("%s at %s, %.1f Hz", chip.name, chip.where, chip.rate_hz)
            return chip
        others = [f"{f.chip} at 0x{f.address:02x}" for f in scan(self._i2c)]
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
                n = self.chip.read_fifo(self._out)
                now_s = self._clock()
                more = self.chip.more
                if self.chip.lost:
                    log.warning("%s FIFO %s: samples lost, resetting", self.chip.name,
                                self.chip.lost)
                    self._restart_fifo()
                    continue
                if n:
                    last_data_s = now_s
                    yield self._block(n, now_s)
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

    def _block(self, n: int, now_s: float) -> SampleBlock:
        """The poll's samples as arrays in g and deg/s: numpy starts here, at the edge."""
        raw = np.frombuffer(self._out, dtype="<i2", count=6 * n).reshape(n, 6)
        return SampleBlock(self._frames.stamp(n, now_s), raw[:, :3] * self.chip.accel_g_per_lsb,
                           raw[:, 3:] * self.chip.gyro_dps_per_lsb)

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
