"""InvenSense MPU-6050 over smbus2, read through its 1024-byte FIFO.

Register map and scale factors: MPU-6000/6050 Register Map and Descriptions rev 4.2.
Each FIFO frame is accel X/Y/Z then gyro X/Y/Z (the FIFO follows register order),
big-endian int16: 12 bytes, so the FIFO holds 85 frames (0.85 s at 100 Hz).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .i2c import (
    MAX_BURST_BYTES,
    MPU_IDS,
    MPU_WHO_AM_I,
    FifoBatch,
    FifoChip,
    nearest_rate,
    pick,
    to_int16_frames,
)

SMPLRT_DIV = 0x19
CONFIG = 0x1A  # DLPF_CFG in bits 2:0
GYRO_CONFIG = 0x1B  # FS_SEL in bits 4:3
ACCEL_CONFIG = 0x1C  # AFS_SEL in bits 4:3
FIFO_EN = 0x23
INT_ENABLE = 0x38
INT_STATUS = 0x3A  # cleared by reading
USER_CTRL = 0x6A
PWR_MGMT_1 = 0x6B
FIFO_COUNT_H = 0x72  # then FIFO_COUNT_L, big-endian byte count
FIFO_R_W = 0x74  # reading it does not advance the register pointer: a burst drains the FIFO

FIFO_EN_ACCEL_GYRO = 0x78  # XG | YG | ZG | ACCEL
FIFO_OFLOW = 0x10  # INT_ENABLE.FIFO_OFLOW_EN and INT_STATUS.FIFO_OFLOW_INT
USER_CTRL_FIFO_EN = 0x40
USER_CTRL_FIFO_RESET = 0x04  # only acts while FIFO_EN is 0
PWR_CLK_PLL_XGYRO = 0x01  # awake, clocked from the X gyro PLL (more stable than 8 MHz RC)
PWR_SLEEP = 0x40

FIFO_BYTES = 1024
FRAME_BYTES = 12

#: accel full scale, g → (AFS_SEL, g per LSB)
ACCEL_RANGES = {2: (0, 1 / 16384), 4: (1, 1 / 8192), 8: (2, 1 / 4096), 16: (3, 1 / 2048)}
#: gyro full scale, deg/s → (FS_SEL, deg/s per LSB)
GYRO_RANGES = {250: (0, 1 / 131), 500: (1, 1 / 65.5), 1000: (2, 1 / 32.8), 2000: (3, 1 / 16.4)}
#: digital low-pass, accel bandwidth Hz → DLPF_CFG (0 leaves the gyro at 8 kHz internally)
LOWPASS = {260: 0, 184: 1, 94: 2, 44: 3, 21: 4, 10: 5, 5: 6}


class MPU6050(FifoChip):
    """One MPU-6050 at ``address`` (0x68, or 0x69 with AD0 high) on an SMBus-like ``bus``.

    ``rate_hz`` becomes the nearest rate the sample-rate divider gives (1 kHz / (1 + div));
    ``lowpass_hz`` None picks the widest filter below half the rate (anti-aliasing).
    Unsupported ranges or filters raise ValueError before the bus is touched.
    """

    name = "MPU-6050"
    frame_bytes = FRAME_BYTES
    fifo_frames = FIFO_BYTES // FRAME_BYTES

    def __init__(
        self,
        bus: Any,
        address: int = 0x68,
        rate_hz: float = 100,
        accel_range_g: int = 4,
        gyro_range_dps: int = 500,
        lowpass_hz: float | None = None,
        bus_id: int | str | None = None,
    ) -> None:
        super().__init__(bus, address, bus_id)
        self._afs, self._g_per_lsb = pick(ACCEL_RANGES, accel_range_g, "accel_range_g", self.name)
        self._fs, self._dps_per_lsb = pick(GYRO_RANGES, gyro_range_dps, "gyro_range_dps", self.name)
        if lowpass_hz is None:
            lowpass_hz = max((bw for bw in LOWPASS if bw < rate_hz / 2), default=5)
        self._dlpf = pick(LOWPASS, lowpass_hz, "lowpass_hz", self.name)
        self.lowpass_hz = lowpass_hz
        base_hz = 8000 if self._dlpf == 0 else 1000
        rates = {base_hz / (1 + div): div for div in range(256)}
        self.rate_hz = nearest_rate(rate_hz, list(rates), self.name)
        self._div = rates[self.rate_hz]

    def check_identity(self) -> None:
        self.expect(MPU_WHO_AM_I, MPU_IDS, (self.name,))

    def configure(self) -> None:
        self.write(PWR_MGMT_1, PWR_CLK_PLL_XGYRO)
        self.write(CONFIG, self._dlpf)
        self.write(SMPLRT_DIV, self._div)
        self.write(GYRO_CONFIG, self._fs << 3)
        self.write(ACCEL_CONFIG, self._afs << 3)
        self.write(INT_ENABLE, FIFO_OFLOW)
        self.write(FIFO_EN, FIFO_EN_ACCEL_GYRO)
        self.reset_fifo()

    def is_configured(self) -> bool:
        return (
            self.bus.read_byte_data(self.address, USER_CTRL) & USER_CTRL_FIFO_EN != 0
            and self.bus.read_byte_data(self.address, PWR_MGMT_1) & PWR_SLEEP == 0
        )

    def reset_fifo(self) -> None:
        self.write(USER_CTRL, 0)
        self.write(USER_CTRL, USER_CTRL_FIFO_RESET)
        self.write(USER_CTRL, USER_CTRL_FIFO_EN)
        self.burst(INT_STATUS, 1)  # clear a stale overflow flag

    def read_fifo(self) -> FifoBatch:
        if self.burst(INT_STATUS, 1)[0] & FIFO_OFLOW:
            return FifoBatch(np.empty((0, 3)), np.empty((0, 3)), "overflow", False)
        hi, lo = self.burst(FIFO_COUNT_H, 2)
        waiting = (int(hi) << 8 | int(lo)) // FRAME_BYTES
        n = min(waiting, MAX_BURST_BYTES // FRAME_BYTES)
        if n == 0:
            return FifoBatch(np.empty((0, 3)), np.empty((0, 3)), None, False)
        frames = to_int16_frames(self.burst(FIFO_R_W, n * FRAME_BYTES), 6, big_endian=True)
        accel = frames[:, 0:3] * self._g_per_lsb
        gyro = frames[:, 3:6] * self._dps_per_lsb
        return FifoBatch(accel, gyro, None, waiting > n)

    def stop(self) -> None:
        self.write(USER_CTRL, 0)
        self.write(PWR_MGMT_1, PWR_SLEEP)
