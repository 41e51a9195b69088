"""The board's ``machine`` for the tests: the I2C bus is a register-level fake chip bus.

``I2C(...)`` hands out the scenario's fake_i2c.FakeI2C; ``Pin`` records every value
it is given with the time (the heartbeat is asserted from it); ``ADC`` reads the
scenario's battery voltage through the divider; ``Timer`` callbacks run from the
virtual clock (time.py) as soft timers; ``reset()`` reboots the scenario.
"""

import time

BUS = None          # the scenario's FakeI2C
BATTERY_V = 3.9     # the cell behind the ADC's divider
DIVIDER = 3.0
PIN_LOG = {}        # pin id -> [(ticks_ms, value)]


class Reboot(BaseException):
    """machine.reset(): the scenario starts main.py again (a new boot)."""


def reset():
    raise Reboot()


def soft_reset():
    raise Reboot()


def freq():
    return 125000000


def unique_id():
    return b"\xe6\x61\x41\x04\x03\x2d\x35\x2a"


class Pin:
    IN = 0
    OUT = 1

    def __init__(self, id, mode=-1, value=None):
        self.id = id
        self._value = 0
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            return self._value
        self._value = 1 if v else 0
        PIN_LOG.setdefault(self.id, []).append((time.ticks_ms(), self._value))
        return None

    on = lambda self: self.value(1)  # noqa: E731
    off = lambda self: self.value(0)  # noqa: E731


class I2C:
    def __new__(cls, id=0, scl=None, sda=None, freq=400000):
        return BUS


class ADC:
    def __init__(self, pin):
        self.pin = pin

    def read_u16(self):
        return max(0, min(65535, int(BATTERY_V / DIVIDER / 3.3 * 65535)))


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1):
        self.id = id

    def init(self, mode=PERIODIC, period=-1, callback=None, freq=-1):
        if freq > 0:
            period = 1000 // freq
        time.add_timer(self, period * 1000, callback)

    def deinit(self):
        time.remove_timer(self)


def disable_irq():
    return 0


def enable_irq(state=0):
    return None
