"""MPU-6050 driver at register level: identity, configuration tables, FIFO reads."""

from __future__ import annotations

import struct

import pytest
from fake_i2c import FakeI2C, FakeLSM6DS, FakeMPU6050

from pi_service.sources.imu import SAMPLE_BYTES, ChipError
from pi_service.sources.imu.mpu6050 import MPU6050


def rig(address=0x68, motion=None, **kwargs):
    bus = FakeI2C(bus_id=1)
    chip = bus.attach(address, FakeMPU6050() if motion is None else FakeMPU6050(motion))
    return bus, chip, MPU6050(bus, address, bus_id=1, **kwargs)


def decoded(out: bytearray, n: int) -> list[tuple[int, ...]]:
    return [struct.unpack_from("<6h", out, i * SAMPLE_BYTES) for i in range(n)]


def test_wrong_who_am_i_names_bus_address_and_what_is_there():
    bus = FakeI2C(bus_id=1)
    bus.attach(0x6A, FakeLSM6DS("LSM6DSOX"))
    driver = MPU6050(bus, 0x6A, bus_id=1)
    with pytest.raises(ChipError) as err:
        driver.check_identity()
    assert str(err.value) == "found LSM6DSOX (0x6C) at 0x6a on bus 1, expected MPU-6050"
    assert isinstance(err.value, OSError)


def test_unknown_device_is_named_with_its_value():
    bus = FakeI2C(bus_id=3)
    chip = bus.attach(0x68, FakeMPU6050())
    chip.regs[0x75] = 0x42
    with pytest.raises(ChipError, match=r"found unknown device \(0x42\) at 0x68 on bus 3"):
        MPU6050(bus, 0x68, bus_id=3).check_identity()


@pytest.mark.parametrize(
    "kwargs, regs",
    [
        # rate 100 Hz: 1 kHz / (1 + 9); default filter 44 Hz (widest below 50 Hz);
        # gyro +-2000 deg/s (FS_SEL 3) so a rushed raise or a knock never saturates it
        ({}, {0x19: 9, 0x1A: 3, 0x1B: 0x18, 0x1C: 0x08}),
        (
            dict(rate_hz=200, accel_range_g=16, gyro_range_dps=2000, lowpass_hz=94),
            {0x19: 4, 0x1A: 2, 0x1B: 0x18, 0x1C: 0x18},
        ),
        (dict(rate_hz=208), {0x19: 4, 0x1A: 2}),  # nearest the divider gives is 200 Hz
        (
            dict(rate_hz=50, accel_range_g=2, gyro_range_dps=250),
            {0x19: 19, 0x1A: 4, 0x1B: 0, 0x1C: 0},
        ),
        (dict(rate_hz=100, lowpass_hz=260), {0x19: 79, 0x1A: 0}),  # filter off: 8 kHz base
    ],
)
def test_configuration_registers_follow_the_tables(kwargs, regs):
    bus, chip, driver = rig(**kwargs)
    driver.check_identity()
    driver.configure()
    for reg, value in regs.items():
        assert chip.regs[reg] == value, f"register 0x{reg:02X}"
    assert chip.regs[0x6B] == 0x01  # awake, PLL clock
    assert chip.regs[0x23] == 0x78  # accel + gyro into the FIFO
    assert chip.regs[0x6A] & 0x40  # FIFO enabled
    assert abs(1 / chip.period_s() - driver.rate_hz) < 1e-9


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(accel_range_g=3), "accel_range_g 3 not supported by MPU-6050; choose one of 2, 4"),
        (dict(gyro_range_dps=300), "gyro_range_dps 300 not supported"),
        (dict(lowpass_hz=50), "lowpass_hz 50 not supported by MPU-6050; choose one of 5, 10"),
        (dict(rate_hz=400), "rate_hz 400 not supported by MPU-6050; choose 50-208 Hz"),
        (dict(rate_hz=20), "rate_hz 20 not supported"),
    ],
)
def test_unsupported_settings_are_refused_before_touching_the_bus(kwargs, message):
    bus = FakeI2C()
    bus.attach(0x68, FakeMPU6050())
    with pytest.raises(ValueError, match=message):
        MPU6050(bus, 0x68, **kwargs)
    assert bus.transactions == 0


def test_fifo_read_is_status_count_and_one_burst():
    bus, chip, driver = rig()
    driver.configure()
    bus.clock.advance(0.1)
    before = bus.transactions
    out = bytearray(64 * SAMPLE_BYTES)
    n = driver.read_fifo(out)
    assert bus.transactions - before == 3
    assert n == 10 and driver.lost is None and not driver.more
    assert decoded(out, n) == [(0, 0, 8192, 0, 0, 0)] * 10  # 1 g at +-4 g
    assert chip.fifo_len() == 0


def test_big_endian_words_become_little_endian_accel_then_gyro():
    def motion(t):
        return 0.5, -0.25, 1.0, 100.0, -1500.0, 1900.0

    bus, chip, driver = rig(motion=motion)
    driver.configure()
    bus.clock.advance(0.05)
    out = bytearray(8 * SAMPLE_BYTES)
    n = driver.read_fifo(out)
    # +-4 g: 8192 LSB/g; +-2000 deg/s: 16.4 LSB per deg/s, so 1900 deg/s is not clipped
    assert n == 5 and decoded(out, n) == [(4096, -2048, 8192, 1640, -24600, 31160)] * n
    assert driver.gyro_dps_per_lsb == pytest.approx(1 / 16.4)


def test_a_small_output_buffer_caps_the_burst_and_says_more_is_waiting():
    bus, chip, driver = rig()
    driver.configure()
    bus.clock.advance(0.1)
    out = bytearray(4 * SAMPLE_BYTES)
    assert driver.read_fifo(out) == 4 and driver.more
    assert driver.read_fifo(out) == 4 and driver.more
    assert driver.read_fifo(out) == 2 and not driver.more


def test_overflow_flag_is_reported_and_reset_clears_it():
    bus, chip, driver = rig()
    driver.configure()
    bus.clock.advance(1.0)  # 100 frames > 85 that fit
    out = bytearray(128 * SAMPLE_BYTES)
    assert driver.read_fifo(out) == 0 and driver.lost == "overflow"
    driver.reset_fifo()
    bus.clock.advance(0.05)
    assert driver.read_fifo(out) == 5 and driver.lost is None


def test_stop_puts_the_chip_to_sleep():
    bus, chip, driver = rig()
    driver.configure()
    driver.stop()
    assert chip.regs[0x6B] & 0x40
    assert not driver.is_configured()
