"""The fake chips of fake_i2c behind smbus2's calls, as the Pi's I2C source meets a bus.

Same register model, same transaction counting, NACKs and unplugging (it *is* a
:class:`fake_i2c.FakeI2C`); only the calling convention is smbus2's, down to the
``i2c_msg`` pairs of a burst read, so the Pi's adapter from smbus2 to the drivers'
``machine.I2C`` calls is exercised for real.
"""

from __future__ import annotations

import ctypes

from fake_i2c import FakeI2C
from smbus2.smbus2 import I2C_M_RD


class FakeBus(FakeI2C):
    """The part of smbus2.SMBus our I2C source uses, in front of fake chips."""

    def read_byte_data(self, address: int, register: int) -> int:
        buf = bytearray(1)
        self.readfrom_mem_into(address, register, buf)
        return buf[0]

    def write_byte_data(self, address: int, register: int, value: int) -> None:
        self.writeto_mem(address, register, bytes([value]))

    def read_i2c_block_data(self, address: int, register: int, length: int) -> list[int]:
        if length > 32:
            raise ValueError("Desired block length over 32 bytes")
        return list(self.readfrom_mem(address, register, length))

    def write_i2c_block_data(self, address: int, register: int, data: list[int]) -> None:
        if len(data) > 32:
            raise ValueError("Data length cannot exceed 32 bytes")
        self.writeto_mem(address, register, bytes(data))

    def i2c_rdwr(self, *msgs) -> None:
        address = msgs[0].addr
        chip = self.chip_at(address)
        pointer = 0
        for msg in msgs:
            if msg.addr != address:
                chip = self.chip_at(msg.addr)
                address = msg.addr
            if msg.flags & I2C_M_RD:
                data = bytearray(msg.len)
                self.read_chip(chip, address, pointer, data, msg.len)
                ctypes.memmove(msg.buf, bytes(data), msg.len)
            else:
                raw = bytes(msg)
                pointer = raw[0]
                if len(raw) > 1:
                    chip.write(pointer, raw[1:])
                self.bytes_written += len(raw)
