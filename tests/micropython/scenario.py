"""Boot the clip-on's firmware (main.py, as on a board) in a scripted world, under MicroPython.

Reads /t/scenario.json:

    {"chip": "MPU-6050" | "LSM6DS3" | "LSM6DS3TR-C" | "LSM6DSOX", "address": 104,
     "motion": "/t/motion.f32" (float32 rows ax ay az gx gy gz at "motion_hz") or null,
     "settings": {"BROKER": ..., "PORT": ..., ...},     overrides of firmware/settings.py
     "realtime": false,
     "events": [[t_s, "cut"|"mend"|"wifi_off"|"wifi_on"|"unplug"|"replug"|"reboot"
                 |"battery", value], ..., [t_s, "stop"]]}

``t_s`` counts from the first boot. When it stops, /out/report.json says what the
world saw: boots, the fake chip's samples, bytes written, Wi-Fi joins, LED changes.
"""

import json
import struct
import sys

sys.modules.pop("time", None)  # the interpreter may have loaded its own already

import time  # noqa: E402

import machine  # noqa: E402 - the fakes in /board come first on sys.path
import network  # noqa: E402
import usocket  # noqa: E402
from fake_i2c import FakeI2C, FakeLSM6DS, FakeMPU6050, TableMotion, still  # noqa: E402


class Rows:
    """Float32 rows of a motion file, read as they are needed."""

    def __init__(self, blob):
        self.blob = blob

    def __len__(self):
        return len(self.blob) // 24

    def __getitem__(self, k):
        return struct.unpack_from("<6f", self.blob, 24 * k)


def main():
    with open("/t/scenario.json") as f:
        spec = json.load(f)
    motion = still
    if spec.get("motion"):
        with open(spec["motion"], "rb") as f:
            motion = TableMotion(Rows(f.read()), spec["motion_hz"])
    name = spec.get("chip", "MPU-6050")
    chip = FakeMPU6050(motion, record=False) if name == "MPU-6050" \
        else FakeLSM6DS(name, motion, record=False)
    address = spec.get("address", 0x68 if name == "MPU-6050" else 0x6A)
    bus = FakeI2C(clock=time.seconds, bus_id=0)
    bus.attach(address, chip)
    machine.BUS = bus

    import settings
    for key, value in spec.get("settings", {}).items():
        setattr(settings, key, value)
    if spec.get("realtime"):
        time.realtime(True)

    t0 = time.now_us()
    actions = {
        "cut": lambda v: usocket.cut(), "mend": lambda v: usocket.mend(),
        "wifi_off": lambda v: network.drop(), "wifi_on": lambda v: network.restore(),
        "unplug": lambda v: bus.unplug(address), "replug": lambda v: bus.replug(address),
        "battery": lambda v: setattr(machine, "BATTERY_V", v),
    }

    def event(kind, value):
        def fire():
            if kind == "stop":
                raise time.Stop()
            if kind == "reboot":
                raise machine.Reboot()
            actions[kind](value)
        return fire

    for t_s, kind, *value in spec.get("events", []):
        time.at(t0 + int(t_s * 1e6), event(kind, value[0] if value else None))

    with open("/main.py") as f:
        boot = f.read()
    boots = 0
    while True:
        boots += 1
        try:
            exec(boot, {"__name__": "__main__"})
        except machine.Reboot:
            continue
        except time.Stop:
            break
    report = {"boots": boots, "samples_made": chip.samples_made,
              "bytes_sent": usocket.SENT[0], "writes": usocket.SENT[1],
              "wifi_joins": len(network.JOINS), "seconds": (time.now_us() - t0) / 1e6,
              "led": machine.PIN_LOG.get(settings.LED, []),
              # for the latency bench: when (host epoch) the motion's first row was felt
              "epoch_at": time.EPOCH_AT, "motion_t0_s": getattr(motion, "_t0", None)}
    with open("/out/report.json", "w") as f:
        json.dump(report, f)


main()
