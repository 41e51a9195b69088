"""Register-level fakes of the MPU-6050 and LSM6DS IMUs behind a ``machine.I2C``-like bus.

Written from the datasheets, not from our drivers: each fake chip has a register
file, a WHO_AM_I, rate/range registers that decide when samples appear and how
they are quantised, a FIFO of the real size that fills at the configured output
data rate as the shared clock advances, overflow flags, count registers and
auto-incrementing burst reads. The bus counts transactions and bytes, can NACK
mid-read and can have chips unplugged and plugged back (power-on defaults).

Plain Python, so the very same model runs under CPython for the Pi's tests (behind
``fake_smbus.FakeBus``, smbus2's calls) and under MicroPython for the firmware's
(behind :class:`FakeI2C`, ``machine.I2C``'s calls).

A chip's ``motion(t)`` gives what the sensor feels at time ``t`` (seconds):
``(ax, ay, az, gx, gy, gz)`` in g and deg/s. Tests compare decoded samples with it.
"""

import math
import struct

EREMOTEIO = 121
EBADF = 9


def still(t):
    """Lying flat: 1 g on z, no rotation."""
    return 0.0, 0.0, 1.0, 0.0, 0.0, 0.0


class TableMotion:
    """Motion from a table of samples taken at ``rate_hz``: row k is what the sensor feels
    k periods after its first sample (rows past the end repeat the last one)."""

    def __init__(self, rows, rate_hz):
        self.rows = rows
        self.rate_hz = rate_hz
        self._t0 = None

    def __call__(self, t):
        if self._t0 is None:
            self._t0 = t
        k = int((t - self._t0) * self.rate_hz + 0.5)
        return self.rows[min(k, len(self.rows) - 1)]


class FakeClock:
    """Monotonic seconds that only move when a test (or the code under test's sleep) says so."""

    def __init__(self, start_s=1000.0):
        self.now_s = start_s

    def __call__(self):
        return self.now_s

    def advance(self, dt_s):
        self.now_s += dt_s

    sleep = advance


def quantise(value, lsb_per_unit):
    return max(-32768, min(32767, int(round(value * lsb_per_unit))))


class FakeChip:
    """What both fakes share: register file, sampling clock, FIFO bytes."""

    who_am_i_register = 0
    who_am_i = 0
    fifo_capacity = 0  # bytes
    fifo_word = 1  # bytes dropped at a time on overflow

    def __init__(self, motion=still, record=True):
        self.motion = motion
        self.record = record  # keep every sample's time (tests compare with it)
        self.clock = None
        self.samples_made = 0
        self.sample_times = []  # when each emitted sample was measured
        self.power_on()

    # -- power and time ----------------------------------------------------------

    def power_on(self):
        """Registers to their reset values, FIFO empty, sampling stopped."""
        self.regs = bytearray(256)
        self.regs[self.who_am_i_register] = self.who_am_i
        self.fifo = bytearray()
        self.fifo_start = 0  # bytes of ``fifo`` already taken off the front
        self.fifo_head = 0  # bytes ever taken off the front since the last FIFO reset
        self.overflowed = False
        self._tick0 = None
        self._ticks = 0
        self._period = None

    def sync(self):
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
        first = self._ticks + n - keep + 1
        self._ticks += n
        self.samples_made += n
        for k in range(first, first + keep):
            t = self._tick0 + k * period
            if self.record:
                self.sample_times.append(t)
            m = self.motion(t)
            a, g = self.accel_lsb_per_g(), self.gyro_lsb_per_dps()
            self.emit(k, [quantise(m[0], a), quantise(m[1], a), quantise(m[2], a)],
                      [quantise(m[3], g), quantise(m[4], g), quantise(m[5], g)])
        if n > keep and self.fifo_on():
            self.overflowed = True

    def times(self):
        """Measurement time of every sample emitted so far, in order."""
        return list(self.sample_times)

    def fifo_len(self):
        return len(self.fifo) - self.fifo_start

    def push_fifo(self, data):
        self.fifo += data
        excess = self.fifo_len() - self.fifo_capacity
        if excess > 0:
            excess = -(-excess // self.fifo_word) * self.fifo_word
            self.fifo_start += excess
            self.fifo_head += excess
            self.overflowed = True
        if self.fifo_start > 4096:  # compact now and then (bytearrays can't drop a prefix)
            self.fifo = bytearray(self.fifo[self.fifo_start:])
            self.fifo_start = 0

    def pop_fifo_into(self, buf, start, n):
        """``n`` bytes off the front of the FIFO into ``buf[start:]`` (zeros past its end)."""
        have = min(n, max(0, self.fifo_len()))
        s = self.fifo_start
        buf[start:start + have] = self.fifo[s:s + have]
        for i in range(start + have, start + n):
            buf[i] = 0
        self.fifo_start += have
        self.fifo_head += have

    def pop_fifo(self):
        """One byte off the front of the FIFO (0 when empty, as the chips read)."""
        if self.fifo_len() <= 0:
            return 0
        value = self.fifo[self.fifo_start]
        self.fifo_start += 1
        self.fifo_head += 1
        return value

    def clear_fifo(self):
        self.fifo = bytearray()
        self.fifo_start = 0
        self.fifo_head = 0
        self.overflowed = False

    # -- register access (one transaction) ---------------------------------------

    def read_into(self, register, buf, n):
        reg = register
        for i in range(n):
            value, reg = self.read_register(reg)
            buf[i] = value

    def read_register(self, reg):
        """One byte from ``reg`` and the register the pointer moves to."""
        return self.regs[reg], (reg + 1) & 0xFF

    def write(self, register, data):
        for i in range(len(data)):
            self.write_register((register + i) & 0xFF, data[i])

    def write_register(self, reg, value):
        if reg != self.who_am_i_register:
            self.regs[reg] = value

    # -- per chip ------------------------------------------------------------------

    def period_s(self):
        raise NotImplementedError

    def fifo_on(self):
        raise NotImplementedError

    def frame_size(self):
        raise NotImplementedError

    def accel_lsb_per_g(self):
        raise NotImplementedError

    def gyro_lsb_per_dps(self):
        raise NotImplementedError

    def emit(self, k, accel, gyro):
        raise NotImplementedError


class FakeMPU6050(FakeChip):
    """MPU-6050: 1024-byte FIFO, big-endian registers, FIFO_R_W does not auto-increment."""

    who_am_i_register = 0x75
    who_am_i = 0x68
    fifo_capacity = 1024

    def power_on(self):
        super().power_on()
        self.regs[0x6B] = 0x40  # PWR_MGMT_1: asleep at power-on

    def period_s(self):
        if self.regs[0x6B] & 0x40:
            return None
        dlpf = self.regs[0x1A] & 0x07
        gyro_rate = 8000.0 if dlpf in (0, 7) else 1000.0
        return (1 + self.regs[0x19]) / gyro_rate

    def fifo_on(self):
        return bool(self.regs[0x6A] & 0x40)

    def frame_size(self):
        en = self.regs[0x23]
        gyro_axes = bool(en & 0x40) + bool(en & 0x20) + bool(en & 0x10)
        return 6 * bool(en & 0x08) + 2 * bool(en & 0x80) + 2 * gyro_axes

    def accel_lsb_per_g(self):
        return 16384 / 2 ** ((self.regs[0x1C] >> 3) & 3)

    def gyro_lsb_per_dps(self):
        return (131.0, 65.5, 32.8, 16.4)[(self.regs[0x1B] >> 3) & 3]

    def emit(self, k, accel, gyro):
        self.regs[0x3B:0x49] = struct.pack(">7h", accel[0], accel[1], accel[2], 0,
                                           gyro[0], gyro[1], gyro[2])
        self.regs[0x3A] |= 0x01  # DATA_RDY
        if not self.fifo_on():
            return
        en = self.regs[0x23]
        words = []
        if en & 0x08:
            words += accel
        if en & 0x80:
            words.append(0)  # temperature
        for bit, axis in ((0x40, 0), (0x20, 1), (0x10, 2)):
            if en & bit:
                words.append(gyro[axis])
        if words:
            self.push_fifo(struct.pack(f">{len(words)}h", *words))  # register order
        if self.overflowed:
            self.regs[0x3A] |= 0x10  # FIFO_OFLOW_INT

    def read_into(self, register, buf, n):
        if register == 0x74:  # FIFO_R_W does not advance: a burst drains the FIFO
            self.pop_fifo_into(buf, 0, n)
        else:
            super().read_into(register, buf, n)

    def read_register(self, reg):
        if reg == 0x74:  # FIFO_R_W
            return self.pop_fifo(), reg
        if reg == 0x72:
            return min(self.fifo_len(), 0xFFFF) >> 8, reg + 1
        if reg == 0x73:
            return self.fifo_len() & 0xFF, reg + 1
        if reg == 0x3A:  # INT_STATUS clears on read
            value = self.regs[reg]
            self.regs[reg] = 0
            self.overflowed = False
            return value, reg + 1
        return super().read_register(reg)

    def write_register(self, reg, value):
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

    def __init__(self, variant="LSM6DSOX", motion=still, record=True):
        self.variant = variant
        self.who_am_i, self.fifo_capacity, self.diff_mask, self.tagged = self.SPECS[variant]
        self.fifo_word = 7 if self.tagged else 2
        super().__init__(motion, record)

    def power_on(self):
        super().power_on()
        self.regs[0x12] = 0x04  # CTRL3_C: IF_INC
        self.ovr_latched = False

    def period_s(self):
        code = self.regs[0x10] >> 4
        return 1.0 / ST_ODR_HZ[code] if code in ST_ODR_HZ else None

    def fifo_on(self):
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

    def _parts(self):
        if self.tagged:
            return bool(self.regs[0x09] >> 4), bool(self.regs[0x09] & 0x0F)
        dec_g, dec_xl = (self.regs[0x08] >> 3) & 7, self.regs[0x08] & 7
        assert dec_g in (0, 1) and dec_xl in (0, 1), "fake emulates no FIFO decimation"
        return bool(dec_g), bool(dec_xl)

    def frame_size(self):
        gyro, accel = self._parts()
        return (gyro + accel) * (7 if self.tagged else 6) or 6

    def accel_lsb_per_g(self):
        return 1000.0 / ST_ACCEL_MG_PER_LSB[(self.regs[0x10] >> 2) & 3]

    def gyro_lsb_per_dps(self):
        return 1000.0 / ST_GYRO_MDPS_PER_LSB[(self.regs[0x11] >> 2) & 3]

    def emit(self, k, accel, gyro):
        g = struct.pack("<3h", gyro[0], gyro[1], gyro[2])  # little-endian registers
        a = struct.pack("<3h", accel[0], accel[1], accel[2])
        self.regs[0x22:0x28] = g
        self.regs[0x28:0x2E] = a
        if not self.fifo_on():
            return
        want_g, want_a = self._parts()
        data = bytearray()
        if self.tagged:
            slot = (k % 4) << 1
            if want_g:
                data.append(0x01 << 3 | slot)
                data += g
            if want_a:
                data.append(0x02 << 3 | slot)
                data += a
        else:
            if want_g:
                data += g
            if want_a:
                data += a
        self.push_fifo(data)
        if self.overflowed:
            self.ovr_latched = True

    def _diff_words(self):
        return self.fifo_len() // self.fifo_word

    def read_into(self, register, buf, n):
        # A burst from the first FIFO output register rolls back over the output
        # registers (2 bytes untagged, 7 tagged), so it reads the FIFO bytes in order.
        if (register == 0x78 and self.tagged) or (register == 0x3E and not self.tagged):
            self.pop_fifo_into(buf, 0, n)
        else:
            super().read_into(register, buf, n)

    def read_register(self, reg):
        inc = bool(self.regs[0x12] & 0x04)
        nxt = (reg + 1) & 0xFF if inc else reg
        if not self.tagged and reg in (0x3E, 0x3F):
            return self.pop_fifo(), 0x3E if reg == 0x3F else 0x3F
        if self.tagged and 0x78 <= reg <= 0x7E:
            return self.pop_fifo(), 0x78 if reg == 0x7E else reg + 1
        diff = min(self._diff_words(), self.diff_mask)
        if reg == 0x3A:
            return diff & 0xFF, nxt
        if reg == 0x3B:
            full = self.fifo_len() + self.fifo_word > self.fifo_capacity
            value = (diff >> 8) | 0x20 * full | 0x10 * (not self.fifo_len()) \
                | 0x40 * self.overflowed
            if self.tagged:
                value |= 0x08 * self.ovr_latched
                self.ovr_latched = False
            return value, nxt
        if not self.tagged and reg in (0x3C, 0x3D):
            pattern = (self.fifo_head // 2) % (3 * sum(self._parts()) or 1)
            return (pattern & 0xFF if reg == 0x3C else pattern >> 8), nxt
        return self.regs[reg], nxt

    def write_register(self, reg, value):
        if reg == 0x12 and value & 0x01:  # SW_RESET
            self.power_on()
            return
        super().write_register(reg, value)
        if reg == 0x0A and value & 0x07 == 0:  # bypass mode empties the FIFO
            self.clear_fifo()
            self.ovr_latched = False


def remote_io_error():
    return OSError(EREMOTEIO, "Remote I/O error")


class FakeI2C:
    """``machine.I2C``'s memory calls in front of fake chips (what the drivers use).

    ``transactions`` counts bus transactions (each call is one), ``bytes_read`` /
    ``bytes_written`` the data bytes moved. ``clock`` is any callable giving seconds.
    """

    def __init__(self, clock=None, bus_id=1):
        self.clock = clock or FakeClock()
        self.bus_id = bus_id
        self.chips = {}
        self.unplugged = set()
        self.transactions = 0
        self.bytes_read = 0
        self.bytes_written = 0
        self.closed = False
        self._nack = None

    def attach(self, address, chip):
        chip.clock = self.clock
        self.chips[address] = chip
        return chip

    def unplug(self, address):
        self.unplugged.add(address)

    def replug(self, address):
        """Plug back in: the chip powers up with reset values."""
        self.unplugged.discard(address)
        chip = self.chips[address]
        chip.power_on()
        chip.sync()

    def nack_next_read(self, address, after_bytes):
        """The next read from ``address`` longer than ``after_bytes`` fails after that many."""
        self._nack = (address, after_bytes)

    def chip_at(self, address):
        """The chip that answers at ``address`` (one transaction), synced to now."""
        if self.closed:
            raise OSError(EBADF, "Bad file descriptor")
        self.transactions += 1
        chip = self.chips.get(address)
        if chip is None or address in self.unplugged:
            raise remote_io_error()
        chip.sync()
        return chip

    def read_chip(self, chip, address, register, buf, n):
        """Read ``n`` bytes into ``buf`` within a transaction already begun on ``chip``."""
        if self._nack is not None and self._nack[0] == address and n > self._nack[1]:
            k = self._nack[1]
            self._nack = None
            chip.read_into(register, bytearray(k), k)
            self.bytes_read += k
            raise remote_io_error()
        chip.read_into(register, buf, n)
        self.bytes_read += n

    def readfrom_mem_into(self, addr, memaddr, buf):
        self.read_chip(self.chip_at(addr), addr, memaddr, buf, len(buf))

    def readfrom_mem(self, addr, memaddr, nbytes):
        buf = bytearray(nbytes)
        self.readfrom_mem_into(addr, memaddr, buf)
        return bytes(buf)

    def writeto_mem(self, addr, memaddr, buf):
        self.chip_at(addr).write(memaddr, buf)
        self.bytes_written += len(buf)

    def scan(self):
        return sorted(a for a in self.chips if a not in self.unplugged)
