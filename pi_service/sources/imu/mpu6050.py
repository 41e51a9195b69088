"""InvenSense MPU-6050, read through its 1024-byte FIFO.

Register map and scale factors: MPU-6000/6050 Register Map and Descriptions rev 4.2.
Each FIFO frame is accel X/Y/Z then gyro X/Y/Z (the FIFO follows register order),
big-endian int16: 12 bytes, so the FIFO holds 85 frames (0.85 s at 100 Hz).
"""

from .fifo import FifoChip, const, nearest_rate, pick

_SMPLRT_DIV = const(0x19)
_CONFIG = const(0x1A)  # DLPF_CFG in bits 2:0
_GYRO_CONFIG = const(0x1B)  # FS_SEL in bits 4:3
_ACCEL_CONFIG = const(0x1C)  # AFS_SEL in bits 4:3
_FIFO_EN = const(0x23)
_INT_ENABLE = const(0x38)
_INT_STATUS = const(0x3A)  # cleared by reading
_USER_CTRL = const(0x6A)
_PWR_MGMT_1 = const(0x6B)
_FIFO_COUNT_H = const(0x72)  # then FIFO_COUNT_L, big-endian byte count
_FIFO_R_W = const(0x74)  # reading it does not advance the register pointer
_WHO_AM_I = const(0x75)

_FIFO_EN_ACCEL_GYRO = const(0x78)  # XG | YG | ZG | ACCEL
_FIFO_OFLOW = const(0x10)  # INT_ENABLE.FIFO_OFLOW_EN and INT_STATUS.FIFO_OFLOW_INT
_USER_CTRL_FIFO_EN = const(0x40)
_USER_CTRL_FIFO_RESET = const(0x04)  # only acts while FIFO_EN is 0
_PWR_CLK_PLL_XGYRO = const(0x01)  # awake, clocked from the X gyro PLL (steadier than 8 MHz RC)
_PWR_SLEEP = const(0x40)

_FIFO_BYTES = const(1024)
_FRAME_BYTES = const(12)

#: accel full scale, g -> (AFS_SEL, g per LSB)
ACCEL_RANGES = {2: (0, 1 / 16384), 4: (1, 1 / 8192), 8: (2, 1 / 4096), 16: (3, 1 / 2048)}
#: gyro full scale, deg/s -> (FS_SEL, deg/s per LSB)
GYRO_RANGES = {250: (0, 1 / 131), 500: (1, 1 / 65.5), 1000: (2, 1 / 32.8), 2000: (3, 1 / 16.4)}
#: digital low-pass, accel bandwidth Hz -> DLPF_CFG (0 leaves the gyro at 8 kHz internally)
LOWPASS = {260: 0, 184: 1, 94: 2, 44: 3, 21: 4, 10: 5, 5: 6}


class MPU6050(FifoChip):
    """One MPU-6050 at ``address`` (0x68, or 0x69 with AD0 high).

    ``rate_hz`` becomes the nearest rate the sample-rate divider gives (1 kHz / (1 + div));
    ``lowpass_hz`` None picks the widest filter below half the rate (anti-aliasing).
    The gyro defaults to +-2000 deg/s: a rushed raise turns the foot at 140-260 deg/s and
    a knock far faster, and a saturated gyro would corrupt pitch exactly then.
    Unsupported ranges or filters raise ValueError before the bus is touched.
    """

    name = "MPU-6050"
    KEY = "mpu6050"  # the name the service config uses
    WHO_AM_I = _WHO_AM_I
    IDS = {0x68: "MPU-6050"}
    OTHER_IDS = {0x70: "MPU-6500", 0x71: "MPU-9250"}  # recognised, not driven
    ADDRESSES = (0x68, 0x69)
    FIFO_DATA = _FIFO_R_W
    frame_bytes = _FRAME_BYTES
    fifo_frames = _FIFO_BYTES // _FRAME_BYTES

    def __init__(self, bus, address=0x68, rate_hz=100, accel_range_g=4, gyro_range_dps=2000,
                 lowpass_hz=None, bus_id=None, burst_bytes=_FIFO_BYTES):
        super().__init__(bus, address, bus_id, burst_bytes)
        self._afs, self.accel_g_per_lsb = pick(ACCEL_RANGES, accel_range_g, "accel_range_g",
                                               self.name)
        self._fs, self.gyro_dps_per_lsb = pick(GYRO_RANGES, gyro_range_dps, "gyro_range_dps",
                                               self.name)
        if lowpass_hz is None:
            lowpass_hz = max([bw for bw in LOWPASS if bw < rate_hz / 2] or [5])
        self._dlpf = pick(LOWPASS, lowpass_hz, "lowpass_hz", self.name)
        self.lowpass_hz = lowpass_hz
        base_hz = 8000 if self._dlpf == 0 else 1000
        self.rate_hz = nearest_rate(rate_hz, [base_hz / (1 + d) for d in range(256)], self.name)
        self._div = round(base_hz / self.rate_hz) - 1

    def configure(self):
        self.write_reg(_PWR_MGMT_1, _PWR_CLK_PLL_XGYRO)
        self.write_reg(_CONFIG, self._dlpf)
        self.write_reg(_SMPLRT_DIV, self._div)
        self.write_reg(_GYRO_CONFIG, self._fs << 3)
        self.write_reg(_ACCEL_CONFIG, self._afs << 3)
        self.write_reg(_INT_ENABLE, _FIFO_OFLOW)
        self.write_reg(_FIFO_EN, _FIFO_EN_ACCEL_GYRO)
        self.reset_fifo()

    def is_configured(self):
        return (self.read_reg(_USER_CTRL) & _USER_CTRL_FIFO_EN != 0
                and self.read_reg(_PWR_MGMT_1) & _PWR_SLEEP == 0)

    def reset_fifo(self):
        self.write_reg(_USER_CTRL, 0)
        self.write_reg(_USER_CTRL, _USER_CTRL_FIFO_RESET)
        self.write_reg(_USER_CTRL, _USER_CTRL_FIFO_EN)
        self.read_reg(_INT_STATUS)  # clear a stale overflow flag

    def stop(self):
        self.write_reg(_USER_CTRL, 0)
        self.write_reg(_PWR_MGMT_1, _PWR_SLEEP)

    def _fifo_status(self):
        if self.read_reg(_INT_STATUS) & _FIFO_OFLOW:
            return "overflow", 0
        count = self.burst(_FIFO_COUNT_H, 2)
        return None, (count[0] << 8 | count[1]) // _FRAME_BYTES

    def _decode(self, raw, n, out):
        # Same order as our layout (accel then gyro), but big-endian: swap each pair.
        for i in range(0, n * _FRAME_BYTES, 2):
            out[i] = raw[i + 1]
            out[i + 1] = raw[i]
        return n
