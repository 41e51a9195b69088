"""I2CSource against register-level fake chips: decoding, timing, gaps, recovery, scanning."""

from __future__ import annotations

import itertools
import logging
import math

import numpy as np
import pytest
from fake_i2c import FakeClock, FakeLSM6DS, FakeMPU6050
from fake_smbus import FakeBus

from pi_service.errors import SensorError
from pi_service.samples import SampleBlock
from pi_service.sources.i2c import (
    Found,
    FrameClock,
    I2CSource,
    describe_scan,
    scan,
    sensors_main,
)

CHIPS = {  # name → (fake factory, address, g per LSB at ±4 g, dps per LSB at ±2000 dps)
    "MPU-6050": (FakeMPU6050, 0x68, 1 / 8192, 1 / 16.4),
    "LSM6DS3": (lambda m: FakeLSM6DS("LSM6DS3", m), 0x6A, 0.122e-3, 70e-3),
    "LSM6DS3TR-C": (lambda m: FakeLSM6DS("LSM6DS3TR-C", m), 0x6A, 0.122e-3, 70e-3),
    "LSM6DSOX": (lambda m: FakeLSM6DS("LSM6DSOX", m), 0x6B, 0.122e-3, 70e-3),
}


def pitching(t: float) -> tuple[float, ...]:
    """A foot rocking ±30° at 0.5 Hz about y: gravity turns, the gyro sees the rate."""
    w = 2 * math.pi * 0.5
    pitch = math.radians(30) * math.sin(w * t)
    rate_dps = math.degrees(math.radians(30) * w * math.cos(w * t))
    return math.sin(pitch), 0.0, math.cos(pitch), 0.0, rate_dps, 0.1 * rate_dps


def motion_at(motion, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = np.array([motion(float(x)) for x in t]).reshape(-1, 6)
    return rows[:, :3], rows[:, 3:]


class Rig:
    """A fake bus with one chip, a source on it, and what the callbacks saw."""

    def __init__(self, name: str, motion=pitching, **source_kwargs) -> None:
        make, self.address, self.g_lsb, self.dps_lsb = CHIPS[name]
        self.motion = motion
        self.clock = FakeClock()
        self.bus = FakeBus(self.clock)
        self.chip = self.bus.attach(self.address, make(motion))
        self.events: list[tuple[str, float]] = []
        self.on_sleep = None
        self.source = I2CSource(
            self.bus,
            clock=self.clock,
            sleep=self.sleep,
            on_lost=lambda: self.events.append(("lost", self.clock())),
            on_back=lambda: self.events.append(("back", self.clock())),
            **source_kwargs,
        )

    def sleep(self, dt_s: float) -> None:
        self.clock.advance(dt_s)
        if self.on_sleep is not None:
            self.on_sleep()

    def take(self, n_blocks: int) -> list[SampleBlock]:
        return list(itertools.islice(self.source, n_blocks))

    def check_samples(self, blocks: list[SampleBlock]) -> None:
        """Every sample is one the chip measured, stamped within one period after it was
        measured, and decodes to the motion within half an LSB (so no torn words)."""
        period = 1 / self.source.rate_hz
        true_t = np.array(self.chip.times())
        for b in blocks:
            idx = np.searchsorted(true_t, b.t + 1e-9, side="right") - 1
            late = b.t - true_t[idx]
            assert np.all((late >= -1e-9) & (late < period + 1e-9)), late
            assert len(np.unique(idx)) == len(idx)
            accel, gyro = motion_at(self.motion, true_t[idx])
            np.testing.assert_allclose(b.accel_g, accel, atol=0.5 * self.g_lsb + 1e-12)
            np.testing.assert_allclose(b.gyro_dps, gyro, atol=0.5 * self.dps_lsb + 1e-12)


def steps(blocks: list[SampleBlock]) -> np.ndarray:
    return np.diff(np.concatenate([b.t for b in blocks]))


@pytest.mark.parametrize("name", CHIPS)
def test_bursts_decode_to_g_and_dps_with_few_transactions(name):
    rig = Rig(name, chip="auto")
    assert rig.source.chip.name == name
    before = rig.bus.transactions
    blocks = rig.take(30)  # 3 s
    spent = rig.bus.transactions - before
    n = sum(len(b) for b in blocks)
    assert n > 290
    rig.check_samples(blocks)
    np.testing.assert_allclose(steps(blocks), 1 / rig.source.rate_hz, rtol=1e-9)
    # One status/count read or two and one burst per poll, not a read per value.
    assert spent <= 3 * len(blocks) + 2  # + the first, empty poll
    assert n / spent > 3


@pytest.mark.parametrize("name", CHIPS)
def test_high_and_low_bytes_come_from_one_sample(name):
    """A ramp that changes both bytes of accel x every sample decodes exactly."""
    make, *_ = CHIPS[name]
    g_lsb = CHIPS[name][2]

    def ramp(t):
        k = round(t * 1e4) % 101  # distinct per sample whatever the ODR
        # +257 LSB per step: high and low byte move
        return (k * 257 - 13000) * g_lsb, 0.0, 1.0, 0.0, 0.0, 0.0

    rig = Rig(name, motion=ramp)
    blocks = rig.take(10)
    rig.check_samples(blocks)
    raw = np.rint(np.concatenate([b.accel_g[:, 0] for b in blocks]) / g_lsb).astype(int) + 13000
    assert np.all(raw % 257 == 0)
    assert len(np.unique(raw // 256)) > 20  # the high byte really did change


@pytest.mark.parametrize("name", CHIPS)
def test_overflow_becomes_a_gap_and_the_stream_recovers(name, caplog):
    rig = Rig(name)
    it = iter(rig.source)
    before = [next(it) for _ in range(5)]
    stall_s = 2 * rig.source.chip.fifo_frames / rig.source.rate_hz + 1.0
    rig.clock.advance(stall_s)  # the service stalled: the FIFO overflows meanwhile
    with caplog.at_level(logging.WARNING, logger="pi_service.sources.i2c"):
        after = [next(it) for _ in range(10)]
    rig.source.close()
    assert "overflow" in caplog.text
    gap = after[0].t[0] - before[-1].t[-1]
    assert stall_s - 0.2 < gap < stall_s + 0.3
    assert rig.source.connected and rig.events == []
    rig.check_samples(before + after)
    np.testing.assert_allclose(steps(after), 1 / rig.source.rate_hz, rtol=1e-9)


@pytest.mark.parametrize("name", CHIPS)
@pytest.mark.parametrize("after_bytes", [0, 1, 7, 13])
def test_nack_mid_read_drops_the_partial_read_and_continues(name, after_bytes, caplog):
    rig = Rig(name)
    it = iter(rig.source)
    before = [next(it) for _ in range(5)]
    rig.bus.nack_next_read(rig.address, after_bytes)
    with caplog.at_level(logging.WARNING, logger="pi_service.sources.i2c"):
        after = [next(it) for _ in range(10)]
    assert "Remote I/O error" in caplog.text
    assert rig.bus._nack is None  # the fault really happened
    assert rig.source.connected and rig.events == []
    rig.check_samples(before + after)  # no frame decoded from misaligned bytes
    assert after[0].t[0] - before[-1].t[-1] > 1.5 / rig.source.rate_hz  # a gap, not a splice


@pytest.mark.parametrize("name", CHIPS)
def test_unplug_is_reported_and_replug_resumes_with_a_gap(name):
    rig = Rig(name)
    it = iter(rig.source)
    before = [next(it) for _ in range(5)]
    unplugged_at = rig.clock()
    rig.bus.unplug(rig.address)

    def replug_later():
        if rig.address in rig.bus.unplugged and rig.clock() > unplugged_at + 4.0:
            rig.bus.replug(rig.address)

    rig.on_sleep = replug_later
    blocks = []
    while sum(1 for b in blocks if len(b)) < 10:
        blocks.append(next(it))
    after = [b for b in blocks if len(b)]
    # while the sensor is away, empty blocks hand control back to the service
    first_back = next(i for i, b in enumerate(blocks) if b is after[0])
    assert any(len(b) == 0 for b in blocks[:first_back])
    assert rig.source.chip.is_configured()  # identity and configuration ran again
    rig.source.close()
    assert [e for e, _ in rig.events] == ["lost", "back"]
    assert rig.events[1][1] >= unplugged_at + 4.0
    gap = after[0].t[0] - before[-1].t[-1]
    assert 4.0 < gap < 4.0 + 5.0 + 0.5  # outage plus at most one backoff step
    rig.check_samples(before + after)


@pytest.mark.parametrize("name", CHIPS)
def test_power_glitch_that_resets_the_chip_is_noticed(name):
    """Unplugged and back between two polls: no error, but the chip forgot its setup."""
    rig = Rig(name)
    it = iter(rig.source)
    before = [next(it) for _ in range(3)]
    rig.bus.replug(rig.address)  # power-on reset: FIFO off, sensors asleep
    after = [next(it) for _ in range(5)]
    assert [e for e, _ in rig.events] == ["lost", "back"]
    rig.check_samples(before + after)
    assert after[0].t[0] - before[-1].t[-1] > 1.0


def test_wrong_chip_at_the_address_is_named():
    clock = FakeClock()
    bus = FakeBus(clock, bus_id=1)
    bus.attach(0x6A, FakeLSM6DS("LSM6DSOX"))
    with pytest.raises(SensorError) as err:
        I2CSource(bus, address=0x6A, chip="mpu6050", clock=clock, sleep=clock.sleep)
    assert "found LSM6DSOX (0x6C) at 0x6a on bus 1, expected MPU-6050" in str(err.value)


def test_nothing_on_the_bus_says_what_to_check():
    clock = FakeClock()
    with pytest.raises(SensorError, match="i2cdetect -y 1"):
        I2CSource(FakeBus(clock), clock=clock, sleep=clock.sleep)


def test_missing_chip_names_what_is_there_instead():
    clock = FakeClock()
    bus = FakeBus(clock)
    bus.attach(0x6B, FakeLSM6DS("LSM6DS3"))
    with pytest.raises(SensorError) as err:
        I2CSource(bus, chip="mpu6050", clock=clock, sleep=clock.sleep)
    message = str(err.value)
    assert "nothing answered at 0x68 on bus 1" in message
    assert "LSM6DS3 at 0x6b" in message


def test_unknown_chip_name_is_a_value_error():
    with pytest.raises(ValueError, match="chip 'bmi160' unknown"):
        I2CSource(FakeBus(), chip="bmi160")


def test_close_is_idempotent_and_powers_the_chip_down():
    rig = Rig("MPU-6050")
    rig.take(2)
    rig.source.close()
    rig.source.close()
    assert rig.chip.regs[0x6B] & 0x40  # asleep
    assert list(rig.source) == []
    assert not rig.bus.closed  # a bus passed in stays open for its owner


def test_scan_finds_both_chips_at_their_addresses():
    bus = FakeBus()
    bus.attach(0x68, FakeMPU6050())
    bus.attach(0x6A, FakeLSM6DS("LSM6DS3TR-C"))
    bus.attach(0x6B, FakeLSM6DS("LSM6DSOX"))
    assert scan(bus) == [
        Found(0x68, "MPU-6050", 0x68),
        Found(0x6A, "LSM6DS3TR-C", 0x6A),
        Found(0x6B, "LSM6DSOX", 0x6C),
    ]
    text = describe_scan(scan(bus), 1)
    assert "0x68  MPU-6050" in text and "0x6b  LSM6DSOX" in text


def test_sensors_main_reports_found_and_missing(capsys):
    bus = FakeBus()
    bus.attach(0x69, FakeMPU6050())
    assert sensors_main(bus) == 0
    assert "0x69  MPU-6050 (WHO_AM_I 0x68), supported" in capsys.readouterr().out
    assert sensors_main(FakeBus()) == 1
    out = capsys.readouterr().out
    assert "No IMU found" in out and "raspi-config" in out and "i2cdetect -y 1" in out


def test_sensors_main_without_an_i2c_bus_explains(capsys):
    assert sensors_main(250) == 2  # /dev/i2c-250 does not exist
    assert "Cannot open /dev/i2c-250" in capsys.readouterr().out


def test_frame_clock_never_steps_back_after_a_gap():
    """A fast sensor oscillator runs ahead of the monotonic clock; a re-anchor must not
    take t backwards."""
    frames = FrameClock(0.01)
    first = frames.stamp(100, now_s=10.0)
    frames.restart()
    again = frames.stamp(5, now_s=first[-1] - 0.5)  # monotonic clock says "earlier"
    assert again[0] == pytest.approx(first[-1] + 0.01)
    np.testing.assert_allclose(np.diff(again), 0.01)


def test_a_bus_number_that_does_not_exist_is_a_sensor_error():
    with pytest.raises(SensorError, match="cannot open /dev/i2c-250"):
        I2CSource(250)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(accel_range_g=3), "accel_range_g 3 not supported by MPU-6050"),
        (dict(chip="lsm6dsox", rate_hz=400), "rate_hz 400 not supported by LSM6DS"),
        (dict(chip="lsm6dsox", lowpass_hz=30), "lowpass_hz at 104 Hz 30 not supported"),
    ],
)
def test_unsupported_settings_fail_before_the_bus_is_used(kwargs, message):
    bus = FakeBus()
    with pytest.raises(ValueError, match=message):
        I2CSource(bus, **kwargs)
    assert bus.transactions == 0


def test_a_sensor_missing_at_start_is_waited_for_when_asked():
    clock = FakeClock()
    bus = FakeBus(clock, bus_id=1)
    with pytest.raises(SensorError):
        I2CSource(bus, chip="mpu6050", clock=clock, sleep=clock.sleep)
    source = I2CSource(bus, chip="mpu6050", clock=clock, sleep=clock.sleep, wait=True)
    assert not source.connected and source.kind == "i2c"
    it = iter(source)
    assert len(next(it)) == 0 and not source.connected
    bus.attach(0x68, FakeMPU6050())
    block = next(b for b in it if len(b))
    assert source.connected and source.kind == "mpu6050"
    assert abs(block.accel_g[0, 2]) > 0.5
    source.close()


@pytest.mark.parametrize("name", CHIPS)
def test_default_gyro_range_keeps_quick_raises_and_knocks_unclipped(name):
    """A rushed raise turns the foot at 140-260 °/s and a knock far faster: the default
    range (±2000 °/s) must hold both, where the old ±500 °/s clipped a knock."""

    def knock(t):
        rate = 1500.0 * math.sin(2 * math.pi * 3 * t)
        return 0.0, 0.0, 1.0, rate, -0.2 * rate, 260.0

    rig = Rig(name, motion=knock)
    blocks = rig.take(10)
    rig.check_samples(blocks)
    gyro = np.concatenate([b.gyro_dps for b in blocks])
    assert gyro[:, 0].max() > 1400 and gyro[:, 0].min() < -1400
