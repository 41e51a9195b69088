"""LSM6DS3 / LSM6DS3TR-C / LSM6DSOX driver at register level."""

from __future__ import annotations

import struct

import pytest
from fake_i2c import FakeI2C, FakeLSM6DS, FakeMPU6050

from pi_service.sources.imu import SAMPLE_BYTES, ChipError
from pi_service.sources.imu.lsm6ds import LSM6DS

VARIANTS = ["LSM6DS3", "LSM6DS3TR-C", "LSM6DSOX"]


def rig(variant, address=0x6A, **kwargs):
    bus = FakeI2C(bus_id=1)
    chip = bus.attach(address, FakeLSM6DS(variant))
    driver = LSM6DS(bus, address, bus_id=1, **kwargs)
    driver.check_identity()
    return bus, chip, driver


def test_mpu_where_an_lsm6ds_was_expected_is_named():
    bus = FakeI2C(bus_id=1)
    bus.attach(0x68, FakeMPU6050())
    with pytest.raises(ChipError) as err:
        LSM6DS(bus, 0x68, bus_id=1).check_identity()
    assert str(err.value) == (
        "found MPU-6050 (0x68) at 0x68 on bus 1, expected LSM6DS3/LSM6DS3TR-C/LSM6DSOX"
    )


def test_other_variant_than_asked_for_is_named():
    bus = FakeI2C(bus_id=1)
    bus.attach(0x6B, FakeLSM6DS("LSM6DS3"))
    expected = r"found LSM6DS3 \(0x69\) at 0x6b on bus 1, expected LSM6DSOX"
    with pytest.raises(ChipError, match=expected):
        LSM6DS(bus, 0x6B, variant="LSM6DSOX", bus_id=1).check_identity()


@pytest.mark.parametrize("variant", VARIANTS)
def test_identity_tells_the_variants_apart(variant):
    _, _, driver = rig(variant)
    assert driver.name == variant
    words = {"LSM6DS3": 4096, "LSM6DS3TR-C": 2048, "LSM6DSOX": 512}[variant]
    assert driver.fifo_frames == words // (2 if variant == "LSM6DSOX" else 6)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(
    "kwargs, odr, fs_xl, fs_g",
    [
        ({}, 0b0100, 0b10, 0b11),  # 100 Hz → 104 Hz, ±4 g, ±2000 dps (never saturates)
        (dict(rate_hz=50, accel_range_g=2, gyro_range_dps=250), 0b0011, 0b00, 0b00),
        (dict(rate_hz=208, accel_range_g=16, gyro_range_dps=2000), 0b0101, 0b01, 0b11),
        (dict(rate_hz=170, accel_range_g=8, gyro_range_dps=1000), 0b0101, 0b11, 0b10),
    ],
)
def test_configuration_registers_follow_the_tables(variant, kwargs, odr, fs_xl, fs_g):
    bus, chip, driver = rig(variant, **kwargs)
    driver.configure()
    assert chip.regs[0x10] == odr << 4 | fs_xl << 2
    assert chip.regs[0x11] == odr << 4 | fs_g << 2
    assert chip.regs[0x12] == 0x44  # BDU + IF_INC
    if variant == "LSM6DSOX":
        assert chip.regs[0x09] == odr << 4 | odr  # gyro and accel batched at the ODR
        assert chip.regs[0x0A] == 0b110  # continuous
    else:
        assert chip.regs[0x08] == 0b001_001  # no decimation
        assert chip.regs[0x0A] == odr << 3 | 0b110
    assert driver.is_configured()


@pytest.mark.parametrize(
    "variant, lowpass_hz, ctrl1_lpf2, ctrl8",
    [
        ("LSM6DSOX", 10.4, 0x02, 1 << 5),  # 104 / 10
        ("LSM6DSOX", 2.31, 0x02, 3 << 5),  # 104 / 45
        ("LSM6DS3TR-C", 11.56, 0x00, 0x80 | 2 << 5),  # 104 / 9
        ("LSM6DS3", 2.08, 0x00, 0x80 | 0 << 5),  # 104 / 50
        ("LSM6DSOX", None, 0x00, 0x00),  # chip default, ODR/2
    ],
)
def test_lowpass_sets_lpf2(variant, lowpass_hz, ctrl1_lpf2, ctrl8):
    bus, chip, driver = rig(variant, lowpass_hz=lowpass_hz)
    driver.configure()
    assert chip.regs[0x10] & 0x02 == ctrl1_lpf2
    assert chip.regs[0x17] == ctrl8


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(accel_range_g=6), "accel_range_g 6 not supported by LSM6DS; choose one of 2, 4, 8"),
        (dict(gyro_range_dps=125), "gyro_range_dps 125 not supported"),
        (dict(rate_hz=416), "rate_hz 416 not supported by LSM6DS; choose 50-208 Hz"),
        (dict(variant="LSM6DSO32"), "variant 'LSM6DSO32' unknown"),
    ],
)
def test_unsupported_settings_are_refused_before_touching_the_bus(kwargs, message):
    bus = FakeI2C()
    with pytest.raises(ValueError, match=message):
        LSM6DS(bus, 0x6A, **kwargs)
    assert bus.transactions == 0


def test_unsupported_lowpass_lists_what_the_variant_offers():
    expected = r"lowpass_hz at 104 Hz 30 not supported by LSM6DSOX.*10\.4"
    with pytest.raises(ValueError, match=expected):
        rig("LSM6DSOX", lowpass_hz=30)


def decoded(out: bytearray, n: int) -> list[tuple[int, ...]]:
    return [struct.unpack_from("<6h", out, i * SAMPLE_BYTES) for i in range(n)]


@pytest.mark.parametrize("variant", VARIANTS)
def test_fifo_read_decodes_to_accel_then_gyro_in_two_transactions(variant):
    def motion(t):
        return 0.5, -0.25, 0.75, 10.0, -20.0, 1900.0

    bus = FakeI2C()
    bus.attach(0x6A, FakeLSM6DS(variant, motion))
    driver = LSM6DS(bus, 0x6A)
    driver.check_identity()
    driver.configure()
    bus.clock.advance(0.1)
    before = bus.transactions
    out = bytearray(64 * SAMPLE_BYTES)
    n = driver.read_fifo(out)
    assert bus.transactions - before == 2
    assert n == 10 and driver.lost is None
    # 0.122 mg/LSB at +-4 g; 70 mdps/LSB at +-2000 dps: 1900 deg/s is not clipped
    assert decoded(out, n) == [(4098, -2049, 6148, 143, -286, 27143)] * 10
    assert driver.accel_g_per_lsb == 0.122e-3 and driver.gyro_dps_per_lsb == 70e-3


@pytest.mark.parametrize("variant", VARIANTS)
def test_overflow_is_reported_then_cleared_by_reset(variant):
    bus, chip, driver = rig(variant)
    driver.configure()
    bus.clock.advance(1.5 * driver.fifo_frames / driver.rate_hz)
    out = bytearray(1024 * SAMPLE_BYTES)
    assert driver.read_fifo(out) == 0 and driver.lost == "overflow"
    driver.reset_fifo()
    bus.clock.advance(0.05)
    assert driver.read_fifo(out) == 5 and driver.lost is None


@pytest.mark.parametrize("variant", ["LSM6DS3", "LSM6DS3TR-C"])
def test_untagged_fifo_left_mid_pattern_is_not_decoded(variant):
    bus, chip, driver = rig(variant)
    driver.configure()
    bus.clock.advance(0.1)
    bus.nack_next_read(0x6A, 14)  # one frame and one word read, then NACK
    out = bytearray(64 * SAMPLE_BYTES)
    with pytest.raises(OSError):
        driver.read_fifo(out)
    assert driver.read_fifo(out) == 0 and driver.lost == "misaligned"


def word(tag, slot, xyz):
    return bytes([tag << 3 | slot << 1]) + struct.pack("<3h", *xyz)


class WordFifo:
    """A bus whose LSM6DSOX FIFO holds exactly the words a test wrote (DIFF_FIFO = count)."""

    def __init__(self):
        self.words = b""

    def readfrom_mem_into(self, addr, reg, buf):
        if reg == 0x0F:
            buf[0] = 0x6C
        elif reg == 0x3A:
            count = len(self.words) // 7
            buf[0], buf[1] = count & 0xFF, count >> 8
        else:
            assert reg == 0x78
            buf[:] = self.words[: len(buf)]
            self.words = self.words[len(buf):]


def test_tagged_words_pair_by_time_slot_drop_orphans_and_carry_the_last():
    bus = WordFifo()
    driver = LSM6DS(bus, 0x6A)
    driver.check_identity()
    bus.words = b"".join([
        word(1, 0, [1, 2, 3]), word(2, 0, [4, 5, 6]),  # gyro, accel: one sample
        word(4, 0, [0, 0, 0]),  # timestamp word: ignored
        word(1, 1, [9, 9, 9]),  # its accel was lost: dropped
        word(2, 2, [7, 8, 9]), word(1, 2, [-1, -2, -3]),  # accel first: still a pair
        word(1, 3, [5, 5, 5]),  # partner not read yet: carried
    ])
    out = bytearray(8 * SAMPLE_BYTES)
    assert driver.read_fifo(out) == 2
    assert decoded(out, 2) == [(4, 5, 6, 1, 2, 3), (7, 8, 9, -1, -2, -3)]
    bus.words = word(2, 3, [6, 6, 6])
    assert driver.read_fifo(out) == 1
    assert decoded(out, 1) == [(6, 6, 6, 5, 5, 5)]
    bus.words = word(2, 0, [1, 1, 1])
    assert driver.read_fifo(out) == 0  # nothing carried any more: waits for its partner
