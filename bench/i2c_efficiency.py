"""I2C bus cost of FIFO burst reads against reading registers once per sample.

Runs the real drivers (through I2CSource) and two naive per-sample readers against
the register-level fake chips in tests/fake_i2c.py, on a simulated clock, and
prints transactions, data bytes and an estimate of bus occupancy at 100 kHz and
400 kHz for 100 Hz sampling. The naive readers are given perfect scheduling (one
wake-up per sample exactly on time), the best case for them.

    .venv/bin/python bench/i2c_efficiency.py [--seconds 10] [--rate 100]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fake_i2c import FakeClock, FakeLSM6DS, FakeMPU6050  # noqa: E402
from fake_smbus import FakeBus  # noqa: E402

from pi_service.sources.i2c import I2CSource, SMBusI2C  # noqa: E402
from pi_service.sources.imu.mpu6050 import MPU6050  # noqa: E402

MPU = 0x68
ACCEL_XOUT_H = 0x3B
INT_STATUS = 0x3A


def wire_bits(bus: FakeBus) -> int:
    """Approximate bits on the wire: per transaction a start, address, register byte,
    repeated start and address again (about 3 bytes of 9 bits) plus the data bytes."""
    return 9 * (3 * bus.transactions + bus.bytes_read) + 2 * bus.transactions


def fifo_burst(chip_name: str, seconds: float, rate_hz: float) -> tuple[FakeBus, int]:
    clock = FakeClock()
    bus = FakeBus(clock)
    if chip_name == "MPU-6050":
        bus.attach(MPU, FakeMPU6050())
    else:
        bus.attach(0x6A, FakeLSM6DS(chip_name))
    samples = 0
    with I2CSource(bus, rate_hz=rate_hz, clock=clock, sleep=clock.sleep) as source:
        bus.transactions = bus.bytes_read = 0
        end = clock() + seconds
        for block in source:
            samples += len(block)
            if clock() >= end:
                break
    return bus, samples


def per_sample(seconds: float, rate_hz: float, per_register: bool) -> tuple[FakeBus, int]:
    """Poll DATA_RDY, then read accel + gyro: 12 single-register reads, or one block read."""
    clock = FakeClock()
    bus = FakeBus(clock)
    bus.attach(MPU, FakeMPU6050())
    driver = MPU6050(SMBusI2C(bus), MPU, rate_hz=rate_hz)
    driver.configure()
    bus.write_byte_data(MPU, 0x6A, 0)  # FIFO off: the naive reader uses the data registers
    bus.transactions = bus.bytes_read = 0
    period = 1 / driver.rate_hz
    samples = 0
    for _ in range(round(seconds * driver.rate_hz)):
        clock.advance(period)
        if not bus.read_byte_data(MPU, INT_STATUS) & 0x01:
            continue
        if per_register:
            for reg in (*range(0x3B, 0x41), *range(0x43, 0x49)):
                bus.read_byte_data(MPU, reg)
        else:
            bus.read_i2c_block_data(MPU, ACCEL_XOUT_H, 14)
        samples += 1
    return bus, samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=100.0, help="sample rate asked for, Hz")
    args = parser.parse_args(argv)

    runs = [
        ("MPU-6050 FIFO burst (I2CSource)", fifo_burst("MPU-6050", args.seconds, args.rate)),
        ("LSM6DS3 FIFO burst (I2CSource)", fifo_burst("LSM6DS3", args.seconds, args.rate)),
        ("LSM6DSOX FIFO burst (I2CSource)", fifo_burst("LSM6DSOX", args.seconds, args.rate)),
        ("MPU-6050 per sample, 14-byte block", per_sample(args.seconds, args.rate, False)),
        ("MPU-6050 per sample, 12 registers", per_sample(args.seconds, args.rate, True)),
    ]
    print(f"{args.seconds:g} s at {args.rate:g} Hz asked for (simulated clock)\n")
    header = f"{'reader':38} {'samples/s':>9} {'trans/s':>8} {'bytes/s':>8} {'bus@100k':>9} "
    print(header + f"{'bus@400k':>9}")
    for name, (bus, samples) in runs:
        per_s = 1 / args.seconds
        bits = wire_bits(bus) * per_s
        print(
            f"{name:38} {samples * per_s:9.1f} {bus.transactions * per_s:8.1f} "
            f"{bus.bytes_read * per_s:8.0f} {bits / 100e3:8.1%} {bits / 400e3:9.1%}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
