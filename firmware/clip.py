"""The clip-on: drain the IMU's FIFO into frames, publish them, say how it is.

A soft timer drains the FIFO every DRAIN_MS, also while the main loop is blocked
joining Wi-Fi or connecting to the broker (soft timers run inside blocking calls),
straight into frame buffers in a ring that holds RING_S seconds. The main loop
publishes the oldest frames whenever the broker is there, reports the clip-on's
state on its retained topic and blinks the heartbeat. Frame format: hrframe
(docs/wireless.md); drivers: the imu package the Pi uses too.
"""

import os
import time

import hrframe
import imu
import status
from link import Link
from ring import FrameRing

IMU_TOPIC = "heelraise/{}/imu"
SENSOR_TOPIC = "heelraise/{}/sensor"
LOOP_MS = 20
FIND_IMU_MS = 2000
#: heartbeat: (period ms, ((on, off) ms offsets within it), ...) by state
BLINK = {"ok": (2000, ((0, 60),)),                           # streaming: a short blink
         "offline": (500, ((0, 100),)),                      # Wi-Fi or broker away
         "no-imu": (2000, ((0, 80), (200, 280), (400, 480)))}  # IMU missing: three


def boot_id():
    """A random id for this boot: a reboot is a new clock epoch for the Pi."""
    try:
        return int.from_bytes(os.urandom(4), "little")
    except AttributeError:  # a port without os.urandom: its random is seeded at boot
        import random

        return random.getrandbits(32)


class Clip:
    def __init__(self, settings, i2c, wlan, led=None, adc=None):
        s = self.s = settings
        self.i2c = i2c
        self.led = led
        self.wlan = wlan
        self.boot_id = boot_id()
        self.boot_ms = time.ticks_ms()
        self.frame_n = max(1, round(s.FRAME_S * s.RATE_HZ))
        self.ring = FrameRing(max(2, round(s.RING_S / s.FRAME_S)),
                              hrframe.frame_bytes(self.frame_n))
        self.imu_topic = IMU_TOPIC.format(s.DEVICE)
        self.sensor_topic = SENSOR_TOPIC.format(s.DEVICE)
        will = status.payload(s.DEVICE, "{:08x}-will".format(self.boot_id), "offline",
                              self.boot_id)
        self.link = Link(s, wlan, "heelraise-clip-" + s.DEVICE, self.sensor_topic, will)
        self.battery = status.Battery(adc, s.BATTERY_DIVIDER)
        self.chip = None
        self.imu_state = "missing"
        self.period_ns = round(1e9 / s.RATE_HZ)
        self.seq = 0              # next frame's number
        self.index = 0            # next sample's number on the sensor clock
        self.restart = False      # the stream restarted: the next frame says so
        self.restarts = 0
        self.frames_sent = 0
        self._buf = None          # the frame being filled, and what it holds so far
        self._k = 0
        self._first = 0
        self._flags = hrframe.FLAG_GYRO
        self._drained_us = None   # when a drain last emptied the FIFO
        self._drained_ms = None
        self._data_ms = time.ticks_ms()  # when samples last came
        self._draining = False
        self._next_find = time.ticks_ms()
        self._status_due = None
        self._status_n = 0
        self._led_on = None

    # -- the IMU (the drain runs in a soft timer callback) ------------------------------

    def find_imu(self):
        """Look for the IMU, configure it and restart the stream; True if found."""
        want = self.s.CHIP
        for address, name, _ in imu.scan(self.i2c):
            driver = imu.driver_for(name)
            if driver is None or want not in ("auto", driver.KEY):
                continue
            if self.s.ADDRESS is not None and address != self.s.ADDRESS:
                continue
            chip = driver(self.i2c, address, rate_hz=self.s.RATE_HZ,
                          accel_range_g=self.s.ACCEL_RANGE_G,
                          gyro_range_dps=self.s.GYRO_RANGE_DPS, bus_id=self.s.I2C_ID,
                          burst_bytes=hrframe.SAMPLE_BYTES * 2 * self.frame_n)
            try:
                chip.check_identity()
                chip.configure()
            except OSError:
                continue
            self.period_ns = round(1e9 / chip.rate_hz)
            self._restart()
            self._data_ms = time.ticks_ms()
            self.chip = chip
            self._set_imu("ok")
            return True
        return False

    def drain(self, _timer=None):
        """Move what the FIFO holds into frames (the timer's callback)."""
        if self.chip is None or self.ring.busy or self._draining:
            return
        self._draining = True
        try:
            self._drain(self.chip)
        except OSError:  # a bus error mid-read: start the FIFO afresh, or the IMU is gone
            self._close_frame()
            self.restarts += 1
            try:
                self.chip.reset_fifo()
                self._restart()
            except OSError:
                self._lose_imu()
        finally:
            self._draining = False

    def _drain(self, chip):
        head = hrframe.HEADER_BYTES
        size = hrframe.SAMPLE_BYTES
        while True:
            if self._buf is None:
                self._buf = self.ring.filling()
                self._k = 0
            view = memoryview(self._buf)[head + size * self._k:head + size * self.frame_n]
            n = chip.read_fifo(view)
            if chip.lost is not None:
                self.restarts += 1
                self._close_frame()
                chip.reset_fifo()
                self._restart()
                return
            if n:
                if self._k == 0:
                    self._first = self.index
                    self._flags = hrframe.FLAG_GYRO | (hrframe.FLAG_RESTART if self.restart
                                                       else 0)
                    self.restart = False
                self._k += n
                self.index += n
                self._data_ms = time.ticks_ms()
                if self._k == self.frame_n:
                    self._close_frame()
            if not chip.more:
                self._drained_us, self._drained_ms = time.ticks_us(), time.ticks_ms()
                return

    def _restart(self):
        """The FIFO starts afresh: skip the sample numbers of the time it was not read."""
        now_us, now_ms = time.ticks_us(), time.ticks_ms()
        if self._drained_us is not None:
            gap_ms = time.ticks_diff(now_ms, self._drained_ms)
            gap_s = time.ticks_diff(now_us, self._drained_us) / 1e6 if gap_ms < 100000 \
                else gap_ms / 1e3
            self.index += max(0, round(gap_s * 1e9 / self.period_ns))
        self._drained_us, self._drained_ms = now_us, now_ms
        self.restart = True

    def _close_frame(self):
        if self._k == 0 or self.chip is None:
            return
        hrframe.pack_header(self._buf, self._flags, self.boot_id, self.seq, self._first,
                            self.period_ns, self._k, self.ring.dropped,
                            self.chip.accel_g_per_lsb, self.chip.gyro_dps_per_lsb)
        self.ring.commit(hrframe.frame_bytes(self._k))
        self.seq += 1
        self._buf = None
        self._k = 0

    def _lose_imu(self):
        self._close_frame()
        self.chip = None
        self._set_imu("lost")

    def _set_imu(self, state):
        if state != self.imu_state:
            self.imu_state = state
            self._status_due = time.ticks_ms()  # say so at once

    # -- the main loop ------------------------------------------------------------------

    def step(self):
        now = time.ticks_ms()
        if self.chip is not None and self._drained_ms is not None and \
                time.ticks_diff(now, self._data_ms) > FIND_IMU_MS:
            self._data_ms = now
            try:
                if not self.chip.is_configured():  # a power glitch reset it: set it up again
                    self._lose_imu()
            except OSError:
                self._lose_imu()
        if self.chip is None and time.ticks_diff(now, self._next_find) >= 0:
            self._next_find = time.ticks_add(now, FIND_IMU_MS)
            self.find_imu()
        if self.link.up():
            if self._status_due is None or time.ticks_diff(now, self._status_due) >= 0:
                self._publish_status(now)
            self._publish_frames()
        elif self.link.client is None:
            self._status_due = None  # the first thing after a reconnect
        self._heartbeat(now)

    def _publish_frames(self):
        while True:
            got = self.ring.take()
            if got is None:
                return
            buf, n = got
            sent = self.link.publish(self.imu_topic, memoryview(buf)[:n])
            self.ring.give_back(buf, n, sent)
            if not sent:
                return
            self.frames_sent += 1

    def _publish_status(self, now):
        volts = self.battery.volts()
        try:
            rssi = self.wlan.status("rssi")
        except (OSError, ValueError):
            rssi = None
        self._status_n += 1
        msg = status.payload(
            self.s.DEVICE, "{:08x}-{}".format(self.boot_id, self._status_n), "online",
            self.boot_id, uptime_s=time.ticks_diff(now, self.boot_ms) // 1000,
            imu=self.imu_state, chip=self.chip.name if self.chip else None,
            rate_hz=self.chip.rate_hz if self.chip else None,
            battery_v=volts, battery_pct=None if volts is None else status.battery_pct(volts),
            battery_low=volts is not None and volts < self.s.LOW_BATTERY_V,
            rssi_dbm=rssi, ring_frames=self.ring.count, ring_capacity=self.ring.capacity,
            ring_dropped=self.ring.dropped, fifo_restarts=self.restarts,
            frames_sent=self.frames_sent, seq=self.seq)
        if self.link.publish(self.sensor_topic, msg, retain=True):
            self._status_due = time.ticks_add(now, self.s.STATUS_S * 1000)

    def _heartbeat(self, now):
        if self.led is None:
            return
        state = "no-imu" if self.chip is None else "ok" if self.link.client else "offline"
        period, windows = BLINK[state]
        phase = time.ticks_diff(now, self.boot_ms) % period
        on = any(a <= phase < b for a, b in windows)
        if on != self._led_on:
            self.led.value(on)
            self._led_on = on

    def run(self, timer):
        """Forever: the timer drains, the loop publishes."""
        self.find_imu()
        timer.init(period=self.s.DRAIN_MS, mode=timer.PERIODIC, callback=self.drain)
        try:
            while True:
                self.step()
                time.sleep_ms(LOOP_MS)
        finally:
            timer.deinit()


def main():
    import machine
    import network
    import settings

    i2c = machine.I2C(settings.I2C_ID, scl=machine.Pin(settings.SCL),
                      sda=machine.Pin(settings.SDA), freq=settings.I2C_HZ)
    led = machine.Pin(settings.LED, machine.Pin.OUT) if settings.LED is not None else None
    adc = machine.ADC(settings.BATTERY_ADC) if settings.BATTERY_ADC is not None else None
    clip = Clip(settings, i2c, network.WLAN(network.STA_IF), led, adc)
    clip.run(machine.Timer(getattr(settings, "TIMER_ID", -1)))
