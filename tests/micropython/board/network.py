"""The board's ``network`` for the tests: a station interface whose Wi-Fi comes and goes.

Joining takes JOIN_MS of virtual time while the access point is there (``AVAILABLE``);
``drop()`` takes the network away (every joined interface loses it), ``restore()``
brings it back. RSSI is what the scenario says.
"""

import time

STA_IF = 0
AP_IF = 1
STAT_IDLE = 0
STAT_CONNECTING = 1
STAT_GOT_IP = 3
AVAILABLE = True
JOIN_MS = 1500
RSSI = -61
_generation = 0
JOINS = []   # ticks_ms of every join started


def drop():
    global AVAILABLE, _generation
    AVAILABLE = False
    _generation += 1


def restore():
    global AVAILABLE
    AVAILABLE = True


class WLAN:
    def __init__(self, interface=STA_IF):
        self._active = False
        self._ready_us = None
        self._generation = _generation

    def active(self, on=None):
        if on is None:
            return self._active
        self._active = bool(on)
        return None

    def connect(self, ssid=None, key=None):
        JOINS.append(time.ticks_ms())
        self._ready_us = time.now_us() + JOIN_MS * 1000
        self._generation = _generation

    def disconnect(self):
        self._ready_us = None

    def isconnected(self):
        return (self._active and AVAILABLE and self._ready_us is not None
                and self._generation == _generation and time.now_us() >= self._ready_us)

    def status(self, param=None):
        if param == "rssi":
            if not self.isconnected():
                raise OSError("not connected")
            return RSSI
        return STAT_GOT_IP if self.isconnected() else STAT_CONNECTING

    def ifconfig(self):
        return ("192.168.4.20", "255.255.255.0", "192.168.4.1", "192.168.4.1")
