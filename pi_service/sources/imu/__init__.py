"""The IMU drivers, one family for the Pi and the clip-on, and the registry of chips.

A chip is one module here plus one line in ``DRIVERS``. Everything in this package
is plain Python that also runs under MicroPython (the firmware copies the package to
the board's ``/lib/imu``): no numpy, no imports from the rest of ``pi_service``.
"""

from .fifo import SAMPLE_BYTES, UNKNOWN, ChipError, FifoChip, bus_label, read_byte
from .lsm6ds import LSM6DS
from .mpu6050 import MPU6050

#: Every driver, in the order identity is asked: the MPU register first, because on an
#: LSM6DS its address holds a user offset (0 by default), whereas the MPU-6050's 0x0F
#: is factory self-test trim that can hold any byte, including an ST chip's identity.
DRIVERS = (MPU6050, LSM6DS)

#: Where the supported IMUs can live (the drivers' usual addresses, in order).
SCAN_ADDRESSES = tuple(sorted(set(a for d in DRIVERS for a in d.ADDRESSES)))

__all__ = ["SAMPLE_BYTES", "UNKNOWN", "ChipError", "FifoChip", "bus_label", "DRIVERS",
           "SCAN_ADDRESSES", "identify", "scan", "driver_for", "supported"]


def supported():
    """Names of the chips the drivers drive ("MPU-6050", "LSM6DSOX", ...)."""
    return sorted(name for d in DRIVERS for name in d.IDS.values())


def identify(bus, address):
    """(name, WHO_AM_I) of the device at ``address``, or None if nothing acknowledges.

    A device that answers with an identity no driver knows is ``(UNKNOWN, None)``.
    """
    for driver in DRIVERS:
        try:
            who = read_byte(bus, address, driver.WHO_AM_I)
        except OSError:
            return None
        known = driver.IDS.get(who) or getattr(driver, "OTHER_IDS", {}).get(who)
        if known:
            return known, who
    return UNKNOWN, None


def driver_for(name):
    """The driver class for a chip name ("MPU-6050", "LSM6DSOX", ...), or None."""
    for driver in DRIVERS:
        if name in driver.IDS.values():
            return driver
    return None


def scan(bus):
    """Probe the IMU addresses and name what answers: a list of (address, name, WHO_AM_I)."""
    found = []
    for address in SCAN_ADDRESSES:
        hit = identify(bus, address)
        if hit is not None:
            found.append((address, hit[0], hit[1]))
    return found
