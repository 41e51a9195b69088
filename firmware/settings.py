# The clip-on's settings: the one file on the board to edit (scripts/flash copies it).
# Values here are the defaults; the README says which to change for your network.

DEVICE = "left"                 # topics heelraise/<DEVICE>/imu and /sensor; the Pi's `device`
WIFI_SSID = "your-network"
WIFI_PASSWORD = "your-password"
BROKER = "192.168.1.10"         # the Pi running Mosquitto
PORT = 1883
MQTT_USER = "sensor"            # the broker's ACL lets this login publish imu and sensor only
MQTT_PASSWORD = "sensor-password"

# The IMU on I2C: Pico W GP4/GP5 (I2C 0); on an ESP32 use e.g. I2C_ID = 0, SDA = 21, SCL = 22.
I2C_ID = 0
SDA = 4
SCL = 5
I2C_HZ = 400000
CHIP = "auto"                   # auto | mpu6050 | lsm6ds
ADDRESS = None                  # None: the chip's usual addresses (0x68/0x69, 0x6A/0x6B)
RATE_HZ = 100                   # MPU-6050: 100 Hz; LSM6DS: nearest ODR, 104 Hz
ACCEL_RANGE_G = 4
GYRO_RANGE_DPS = 2000           # quick raises and knocks never saturate it

FRAME_S = 0.2                   # samples per frame: 0.2 s (20 samples at 100 Hz)
DRAIN_MS = 100                  # FIFO drained this often by a timer (MPU-6050 FIFO: 0.85 s)
RING_S = 30                     # frames kept in RAM while Wi-Fi or the broker is away
STATUS_S = 30                   # sensor status (battery, signal, buffer) this often

LED = "LED"                     # Pico W's on-board LED; an ESP32 dev board: 2
BATTERY_ADC = 29                # Pico W: VSYS/3 on ADC 3 (GPIO29); None: no battery reading
BATTERY_DIVIDER = 3.0
LOW_BATTERY_V = 3.5             # LiPo: warn on the dashboard below this
TIMER_ID = -1                   # a soft timer on the Pico W; an ESP32 needs a hardware one: 0
