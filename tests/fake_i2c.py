"""Register-level fakes of the MPU-6050 and LSM6DS IMUs behind an smbus2-like bus.

Written from the datasheets, not from our drivers: each fake chip has a register
file, a WHO_AM_I, rate/range registers that decide when samples appear and how
they are quantised, a FIFO of the real size that fills at the configured output
data rate as the shared FakeClock advances, overflow flags, count registers and
auto-incrementing burst reads. The bus counts transactions and bytes, can NACK
mid-read and can have chips unplugged and plugged back (power-on defaults).

A chip's ``motion(t)`` gives what the sensor feels at times ``t`` (an (n,) array):
``(accel_g (n, 3), gyro_dps (n, 3))``. Tests compare decoded samples with it.
"""

from __future__ import annotations

import ctypes
import errno
import math
from collections.abc import Callable

import numpy as np
from smbus2.smbus2 import I2C_M_RD

Motion = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def still(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lying flat: 1 g on z, no rotation."""
    accel = np.zeros((len(t), 3))
    accel[:, 2] = 1.0
    return accel, np.zeros((len(t), 3))


class FakeClock:
    """Monotonic seconds that only move when a test (or the source's sleep) says so."""

    def __init__(self, start_s: float = 1000.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, dt_s: float) -> None:
        self.now_s += dt_s

    sleep = advance


def quantise(values: np.ndarray, lsb_per_unit: float) -> np.ndarray:
    return np.clip(np.rint(values * lsb_per_unit), -32768, 32767).astype(np.int16)


class FakeChip:
    """What both fakes share: register file, sampling clock, FIFO bytes."""

    who_am_i_register = 0
    who_am_i = 0
    fifo_capacity = 0  # bytes
    fifo_word = 1  # bytes dropped at a time on overflow

    def __init__(self, motion: Motion = still) -> None:
        self.motion = motion
        self.clock: FakeClock | None = None
        self.samples_made = 0
        self.sample_times: list[np.ndarray] = []  # when each emitted sample was measured
        self.power_on()

    # -- power and time ----------------------------------------------------------

    def power_on(self) -> None:
        """Registers to their reset values, FIFO empty, sampling stopped."""
        self.regs = bytearray(256)
        self.regs[self.who_am_i_register] = self.who_am_i
        self.fifo = bytearray()
        self.fifo_head = 0  # bytes ever taken off the front since the last FIFO reset
        self.overflowed = False
        self._tick0: float | None = None
        self._ticks = 0
        self._period: float | None = None

    def sync(self) -> None:
        """Make every sample due by now (the ODR grid since sampling started)."""
        period = self.period_s()
        now = self.clock()
        if period != self._period:
            self._period, self._tick0, self._ticks = period, now, 0
        if period is None:
            return
        due = math.floor((now - self._tick0) / period + 1e-9)
        n = due - self._ticks
        if n <= 0:
            return
        keep = min(n, self.fifo_capacity // max(1, self.frame_size()) + 2)
        k = np.arange(self._ticks + n - keep + 1, self._ticks + n + 1)
        self._ticks += n
        self.samples_made += n
        t = self._tick0 + k * period
        self.sample_times.append(t)
        accel, gyro = self.motion(t)
        self.emit(k, quantise(np.asarray(accel), self.accel_lsb_per_g()),
                  quantise(np.asarray(gyro), self.gyro_lsb_per_dps()))
        if n > keep and self.fifo_on():
            self.overflowed = True

    def times(self) -> np.ndarray:
        """Measurement time of every sample emitted so far, in order."""
        return np.concatenate(self.sample_times) if self.sample_times else np.empty(0)

    def push_fifo(self, data: bytes) -> None:
        self.fifo += data
        excess = len(self.fifo) - self.fifo_capacity
        if excess > 0:
            excess = -(-excess // self.fifo_word) * self.fifo_word
            del self.fifo[:excess]
            self.fifo_head += excess
            self.overflowed = True

    def pop_fifo(self, n: int) -> bytes:
        out = bytes(self.fifo[:n]) + bytes(max(0, n - len(self.fifo)))
        del self.fifo[:n]
        self.fifo_head += n
        return out

    def clear_fifo(self) -> None:
        self.fifo.clear()
        self.fifo_head = 0
        self.overflowed = False

    # -- register access (one transaction) ---------------------------------------

    def read(self, register: int, n: int) -> bytes:
        out = bytearray()
        reg = register
        for _ in range(n):
            value, reg = self.read_register(reg)
            out.append(value)
        return bytes(out)

    def read_register(self, reg: int) -> tuple[int, int]:
        """One byte from ``reg`` and the register the pointer moves to."""
        return self.regs[reg], (reg + 1) & 0xFF

    def write(self, register: int, data: bytes) -> None:
        for i, value in enumerate(data):
            self.write_register((register + i) & 0xFF, value)

    def write_register(self, reg: int, value: int) -> None:
        if reg != self.who_am_i_register:
            self.regs[reg] = value

    # -- per chip ------------------------------------------------------------------

    def period_s(self) -> float | None:
        raise NotImplementedError

    def fifo_on(self) -> bool:
        raise NotImplementedError

    def frame_size(self) -> int:
        raise NotImplementedError

    def accel_lsb_per_g(self) -> float:
        raise NotImplementedError

    def gyro_lsb_per_dps(self) -> float:
        raise NotImplementedError

    def emit(self, k: np.ndarray, accel: np.ndarray, gyro: np.ndarray) -> None:
        raise NotImplementedError


class FakeMPU6050(FakeChip):
    """MPU-6050: 1024-byte FIFO, big-endian registers, FIFO_R_W does not auto-increment."""

    who_am_i_register = 0x75
    who_am_i = 0x68
    fifo_capacity = 1024

    def power_on(self) -> None:
        super().power_on()
        self.regs[0x6B] = 0x40  # PWR_MGMT_1: asleep at power-on

    def period_s(self) -> float | None:
        if self.regs[0x6B] & 0x40:
            return None
        dlpf = self.regs[0x1A] & 0x07
        gyro_rate = 8000.0 if dlpf in (0, 7) else 1000.0
        return (1 + self.regs[0x19]) / gyro_rate

    def fifo_on(self) -> bool:
        return bool(self.regs[0x6A] & 0x40)

    def frame_size(self) -> int:
        en = self.regs[0x23]
        return 6 * bool(en & 0x08) + 2 * bool(en & 0x80) + 2 * bin(en & 0x70).count("1")

    def accel_lsb_per_g(self) -> float:
        return 16384 / 2 ** ((self.regs[0x1C] >> 3) & 3)

    def gyro_lsb_per_dps(self) -> float:
        return (131.0, 65.5, 32.8, 16.4)[(self.regs[0x1B] >> 3) & 3]

    def emit(self, k: np.ndarray, accel: np.ndarray, gyro: np.ndarray) -> None:
        temp = np.zeros((len(k), 1), dtype=np.int16)
        self.regs[0x3B:0x49] = np.hstack([accel[-1], temp[-1], gyro[-1]]).astype(">i2").tobytes()
        self.regs[0x3A] |= 0x01  # DATA_RDY
        if not self.fifo_on():
            return
        en = self.regs[0x23]
        cols = []
        if en & 0x08:
            cols.append(accel)
        if en & 0x80:
            cols.append(temp)
        for bit, axis in ((0x40, 0), (0x20, 1), (0x10, 2)):
            if en & bit:
                cols.append(gyro[:, axis : axis + 1])
        if cols:
            self.push_fifo(np.hstack(cols).astype(">i2").tobytes())  # big-endian, register order
        if self.overflowed:
            self.regs[0x3A] |= 0x10  # FIFO_OFLOW_INT

    def read_register(self, reg: int) -> tuple[int, int]:
        if reg == 0x74:  # FIFO_R_W
            return self.pop_fifo(1)[0], reg
        if reg == 0x72:
            return min(len(self.fifo), 0xFFFF) >> 8, reg + 1
        if reg == 0x73:
            return len(self.fifo) & 0xFF, reg + 1
        if reg == 0x3A:  # INT_STATUS clears on read
            value = self.regs[reg]
            self.regs[reg] = 0
            self.overflowed = False
            return value, reg + 1
        return super().read_register(reg)

    def write_register(self, reg: int, value: int) -> None:
        if reg == 0x6A and value & 0x04:  # FIFO_RESET, honoured only while FIFO_EN is 0
            if not value & 0x40:
                self.clear_fifo()
            value &= ~0x04
        if reg == 0x6B and value & 0x80:  # DEVICE_RESET
            self.power_on()
            return
        super().write_register(reg, value)


ST_ODR_HZ = {1: 12.5, 2: 26.0, 3: 52.0, 4: 104.0, 5: 208.0, 6: 416.0, 7: 833.0, 8: 1660.0}
ST_ACCEL_MG_PER_LSB = {0b00: 0.061, 0b10: 0.122, 0b11: 0.244, 0b01: 0.488}
ST_GYRO_MDPS_PER_LSB = {0b00: 8.75, 0b01: 17.5, 0b10: 35.0, 0b11: 70.0}


class FakeLSM6DS(FakeChip):
    """LSM6DS3 (8 KB FIFO), LSM6DS3TR-C (4 KB) or LSM6DSOX (512 tagged 7-byte words).

    Little-endian registers; CTRL3_C.IF_INC auto-increments; reading the FIFO output
    registers rolls the address back so a burst drains words.
    """

    who_am_i_register = 0x0F
    SPECS = {  # who_am_i, FIFO bytes, DIFF_FIFO mask, tagged
        "LSM6DS3": (0x69, 8192, 0x0FFF, False),
        "LSM6DS3TR-C": (0x6A, 4096, 0x07FF, False),
        "LSM6DSOX": (0x6C, 512 * 7, 0x03FF, True),
    }

    def __init__(self, variant: str = "LSM6DSOX", motion: Motion = still) -> None:
        self.variant = variant
        self.who_am_i, self.fifo_capacity, self.diff_mask, self.tagged = self.SPECS[variant]
        self.fifo_word = 7 if self.tagged else 2
        super().__init__(motion)

    def power_on(self) -> None:
        super().power_on()
        self.regs[0x12] = 0x04  # CTRL3_C: IF_INC
        self.ovr_latched = False

    def period_s(self) -> float | None:
        code = self.regs[0x10] >> 4
        return 1.0 / ST_ODR_HZ[code] if code in ST_ODR_HZ else None

    def fifo_on(self) -> bool:
        mode = self.regs[0x0A] & 0x07
        if mode == 0:
            return False
        assert mode == 0b110, "fake emulates only continuous FIFO mode"
        odr = self.regs[0x10] >> 4
        if self.tagged:
            bdr = self.regs[0x09]
            assert bdr >> 4 in (0, odr) and bdr & 0x0F in (0, odr), "fake: BDR must equal ODR"
            return bdr != 0
        fifo_odr = (self.regs[0x0A] >> 3) & 0x0F
        assert fifo_odr == odr, "fake emulates FIFO ODR equal to the sensor ODR only"
        return self.regs[0x08] & 0x3F != 0

    def _parts(self) -> tuple[bool, bool]:
        if self.tagged:
            return bool(self.regs[0x09] >> 4), bool(self.regs[0x09] & 0x0F)
        dec_g, dec_xl = (self.regs[0x08] >> 3) & 7, self.regs[0x08] & 7
        assert dec_g in (0, 1) and dec_xl in (0, 1), "fake emulates no FIFO decimation"
        return bool(dec_g), bool(dec_xl)

    def frame_size(self) -> int:
        gyro, accel = self._parts()
        return (gyro + accel) * (7 if self.tagged else 6) or 6

    def accel_lsb_per_g(self) -> float:
        return 1000.0 / ST_ACCEL_MG_PER_LSB[(self.regs[0x10] >> 2) & 3]

    def gyro_lsb_per_dps(self) -> float:
        return 1000.0 / ST_GYRO_MDPS_PER_LSB[(self.regs[0x11] >> 2) & 3]

    def emit(self, k: np.ndarray, accel: np.ndarray, gyro: np.ndarray) -> None:
        a = accel.astype("<i2")  # little-endian registers
        g = gyro.astype("<i2")
        self.regs[0x22:0x28] = g[-1].tobytes()
        self.regs[0x28:0x2E] = a[-1].tobytes()
        if not self.fifo_on():
            return
        want_g, want_a = self._parts()
        if self.tagged:
            slot = ((k % 4) << 1).astype(np.uint8)
            words = []
            if want_g:
                words.append(np.hstack([(0x01 << 3 | slot)[:, None], g.view(np.uint8)]))
            if want_a:
                words.append(np.hstack([(0x02 << 3 | slot)[:, None], a.view(np.uint8)]))
            data = np.stack(words, axis=1).astype(np.uint8).tobytes()
        else:
            parts = ([g] if want_g else []) + ([a] if want_a else [])
            data = np.hstack(parts).astype("<i2").tobytes()
        self.push_fifo(data)
        if self.overflowed:
            self.ovr_latched = True

    def _diff_words(self) -> int:
        return len(self.fifo) // self.fifo_word

    def read_register(self, reg: int) -> tuple[int, int]:
        inc = bool(self.regs[0x12] & 0x04)
        nxt = (reg + 1) & 0xFF if inc else reg
        if not self.tagged and reg in (0x3E, 0x3F):
            return self.pop_fifo(1)[0], 0x3E if reg == 0x3F else 0x3F
        if self.tagged and 0x78 <= reg <= 0x7E:
            return self.pop_fifo(1)[0], 0x78 if reg == 0x7E else reg + 1
        diff = min(self._diff_words(), self.diff_mask)
        if reg == 0x3A:
            return diff & 0xFF, nxt
        if reg == 0x3B:
            full = len(self.fifo) + self.fifo_word > self.fifo_capacity
            value = (diff >> 8) | 0x20 * full | 0x10 * (not self.fifo) | 0x40 * self.overflowed
            if self.tagged:
                value |= 0x08 * self.ovr_latched
                self.ovr_latched = False
            return value, nxt
        if not self.tagged and reg in (0x3C, 0x3D):
            pattern = (self.fifo_head // 2) % (3 * sum(self._parts()) or 1)
            return (pattern & 0xFF if reg == 0x3C else pattern >> 8), nxt
        return self.regs[reg], nxt

    def write_register(self, reg: int, value: int) -> None:
        if reg == 0x12 and value & 0x01:  # SW_RESET
            self.power_on()
            return
        super().write_register(reg, value)
        if reg == 0x0A and value & 0x07 == 0:  # bypass mode empties the FIFO
            self.clear_fifo()
            self.ovr_latched = False


def remote_io_error() -> OSError:
    return OSError(errno.EREMOTEIO, "Remote I/O error")


class FakeBus:
    """The part of smbus2.SMBus our drivers use, in front of fake chips.

    ``transactions`` counts bus transactions (each SMBus call or i2c_rdwr is one),
    ``bytes_read`` / ``bytes_written`` the data bytes moved.
    """

    def __init__(self, clock: FakeClock | None = None, bus_id: int = 1) -> None:
        self.clock = clock or FakeClock()
        self.bus_id = bus_id
        self.chips: dict[int, FakeChip] = {}
        self.unplugged: set[int] = set()
        self.transactions = 0
        self.bytes_read = 0
        self.bytes_written = 0
        self.closed = False
        self._nack: tuple[int, int] | None = None

    def attach(self, address: int, chip: FakeChip) -> FakeChip:
        chip.clock = self.clock
        self.chips[address] = chip
        return chip

    def unplug(self, address: int) -> None:
        self.unplugged.add(address)

    def replug(self, address: int) -> None:
        """Plug back in: the chip powers up with reset values."""
        self.unplugged.discard(address)
        chip = self.chips[address]
        chip.power_on()
        chip.sync()

    def nack_next_read(self, address: int, after_bytes: int) -> None:
        """The next read from ``address`` longer than ``after_bytes`` fails after that many."""
        self._nack = (address, after_bytes)

    def _chip(self, address: int) -> FakeChip:
        if self.closed:
            raise OSError(errno.EBADF, "Bad file descriptor")
        self.transactions += 1
        chip = self.chips.get(address)
        if chip is None or address in self.unplugged:
            raise remote_io_error()
        chip.sync()
        return chip

    def _read(self, chip: FakeChip, address: int, register: int, n: int) -> bytes:
        if self._nack is not None and self._nack[0] == address and n > self._nack[1]:
            k = self._nack[1]
            self._nack = None
            chip.read(register, k)
            self.bytes_read += k
            raise remote_io_error()
        self.bytes_read += n
        return chip.read(register, n)

    def read_byte_data(self, address: int, register: int) -> int:
        chip = self._chip(address)
        return self._read(chip, address, register, 1)[0]

    def write_byte_data(self, address: int, register: int, value: int) -> None:
        self._chip(address).write(register, bytes([value]))
        self.bytes_written += 1

    def read_i2c_block_data(self, address: int, register: int, length: int) -> list[int]:
        if length > 32:
            raise ValueError("Desired block length over 32 bytes")
        chip = self._chip(address)
        return list(self._read(chip, address, register, length))

    def write_i2c_block_data(self, address: int, register: int, data: list[int]) -> None:
        if len(data) > 32:
            raise ValueError("Data length cannot exceed 32 bytes")
        self._chip(address).write(register, bytes(data))
        self.bytes_written += len(data)

    def i2c_rdwr(self, *msgs) -> None:
        address = msgs[0].addr
        chip = self._chip(address)
        pointer = 0
        for msg in msgs:
            if msg.addr != address:
                chip = self._chip(msg.addr)
                address = msg.addr
            if msg.flags & I2C_M_RD:
                data = self._read(chip, address, pointer, msg.len)
                ctypes.memmove(msg.buf, data, len(data))
            else:
                raw = bytes(msg)
                pointer = raw[0]
                if len(raw) > 1:
                    chip.write(pointer, raw[1:])
                self.bytes_written += len(raw)

    def close(self) -> None:
        self.closed = True
