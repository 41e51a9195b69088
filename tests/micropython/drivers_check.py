"""The driver family on the register fakes, runnable under CPython and MicroPython alike.

tests/test_micropython.py runs this under both and compares what it writes byte for
byte: the same chip logic and the same register model give the same samples on the
Pi and on the board. Usage: ``drivers_check.py OUT_DIR`` (MicroPython: argv via OUT).
"""

import math

from fake_i2c import FakeI2C, FakeLSM6DS, FakeMPU6050
from imu import SAMPLE_BYTES, ChipError, scan
from imu.lsm6ds import LSM6DS
from imu.mpu6050 import MPU6050

VARIANTS = ("MPU-6050", "LSM6DS3", "LSM6DS3TR-C", "LSM6DSOX")


def motion(t):
    """A foot pitching and a knock: both bytes of every word move, the gyro goes past 500."""
    w = 2 * math.pi * 0.7
    return (0.3 * math.sin(w * t), -0.2, math.cos(w * t),
            400 * math.cos(w * t), -50.0, 1500 * math.sin(3 * t))


def chip_run(variant):
    bus = FakeI2C(bus_id=0)
    if variant == "MPU-6050":
        bus.attach(0x68, FakeMPU6050(motion, record=False))
        driver = MPU6050(bus, 0x68, bus_id=0, burst_bytes=240)
    else:
        bus.attach(0x6A, FakeLSM6DS(variant, motion, record=False))
        driver = LSM6DS(bus, 0x6A, bus_id=0, burst_bytes=238)
    driver.check_identity()
    driver.configure()
    out = bytearray(16 * SAMPLE_BYTES)
    blob = bytearray()
    for step in range(60):
        bus.clock.advance(0.011 * (1 + step % 7))  # irregular polls, capped bursts
        n = driver.read_fifo(out)
        blob += out[:n * SAMPLE_BYTES]
        while driver.more:
            n = driver.read_fifo(out)
            blob += out[:n * SAMPLE_BYTES]
    return driver, bytes(blob)


def main(out_dir):
    lines = []
    for variant in VARIANTS:
        driver, blob = chip_run(variant)
        with open(out_dir + "/" + variant + ".bin", "wb") as f:
            f.write(blob)
        scales = f"{driver.accel_g_per_lsb:.6g} {driver.gyro_dps_per_lsb:.6g}"
        lines.append(f"{driver.name} {driver.rate_hz} {scales} {len(blob) // 12}")
    bus = FakeI2C(bus_id=0)
    bus.attach(0x6A, FakeLSM6DS("LSM6DSOX"))
    bus.attach(0x68, FakeMPU6050())
    lines.append(repr(scan(bus)))
    try:
        MPU6050(bus, 0x6A, bus_id=0).check_identity()
    except ChipError as exc:
        lines.append(str(exc))
    try:
        MPU6050(bus, 0x68, gyro_range_dps=300)
    except ValueError as exc:
        lines.append(str(exc))
    with open(out_dir + "/summary.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    import sys

    main(sys.argv[1] if len(sys.argv) > 1 else "/out")
