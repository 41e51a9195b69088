"""Wi-Fi and the broker, one step at a time: the main loop never waits long on either.

Wi-Fi joins in the background (``WLAN.connect`` returns at once); the broker is
tried with a doubling back-off; a dead link (a write error, or a broker that stops
answering pings) drops the client and the next ``up()`` starts again. The last will
(retained, QoS 1) tells the Pi and the dashboard the clip-on went away.
"""

import time

from umqtt.simple import MQTTClient, MQTTException

KEEPALIVE_S = 30
PING_MS = 10000          # ping this often; no answer by the next ping: the link is dead
WIFI_RETRY_MS = 15000    # a join that has not succeeded by then is started again
RETRY_MS = (500, 5000)   # broker back-off: first, longest (a patient is waiting)


class Link:
    def __init__(self, settings, wlan, client_id, will_topic, will_msg):
        self.s = settings
        self.wlan = wlan
        self.client = None
        self.client_id = client_id
        self.will = (will_topic, will_msg)
        self.connects = 0
        self.last_error = None
        self._retry_ms = 0
        self._next_try = time.ticks_ms()
        self._joining_since = None
        self._pinged = None

    def up(self):
        """True when the broker is connected; otherwise one step towards it."""
        now = time.ticks_ms()
        if not self.wlan.isconnected():
            if self.client is not None:
                self._drop("Wi-Fi lost")
            if self._joining_since is None or \
                    time.ticks_diff(now, self._joining_since) > WIFI_RETRY_MS:
                self.wlan.active(True)
                self.wlan.connect(self.s.WIFI_SSID, self.s.WIFI_PASSWORD)
                self._joining_since = now
            return False
        self._joining_since = None
        if self.client is not None:
            return self._alive(now)
        if time.ticks_diff(now, self._next_try) < 0:
            return False
        client = MQTTClient(self.client_id, self.s.BROKER, self.s.PORT, self.s.MQTT_USER,
                            self.s.MQTT_PASSWORD, keepalive=KEEPALIVE_S)
        client.set_last_will(self.will[0], self.will[1], retain=True, qos=1)
        try:
            client.connect()
        except (OSError, MQTTException, AssertionError, IndexError) as exc:
            self._close(client)
            self._back_off(now, exc)
            return False
        self.client = client
        self.connects += 1
        self._retry_ms = 0
        self._pinged = None
        self._last_ping = now
        return True

    def publish(self, topic, data, retain=False):
        """Send at QoS 0; False (and the link dropped) if the write failed."""
        try:
            self.client.publish(topic, data, retain)
            return True
        except OSError as exc:
            self._drop(exc)
            return False

    def _alive(self, now):
        """Answer pings, send one when due; a ping left unanswered means the link is dead."""
        sock = self.client.sock
        try:
            sock.setblocking(False)
            try:
                got = sock.read(1)
            finally:
                sock.setblocking(True)
            if got == b"":
                raise OSError("broker closed the connection")
            if got == b"\xd0":  # PINGRESP
                sock.read(1)
                self._pinged = None
            if time.ticks_diff(now, self._last_ping) >= PING_MS:
                if self._pinged is not None:
                    raise OSError("no answer to a ping")
                self.client.ping()
                self._pinged = self._last_ping = now
        except OSError as exc:
            self._drop(exc)
            return False
        return True

    def _drop(self, why):
        self._close(self.client)
        self.client = None
        self._back_off(time.ticks_ms(), why)

    def _back_off(self, now, why):
        self.last_error = str(why)
        self._retry_ms = min(max(2 * self._retry_ms, RETRY_MS[0]), RETRY_MS[1])
        self._next_try = time.ticks_add(now, self._retry_ms)

    @staticmethod
    def _close(client):
        if client is not None and client.sock is not None:
            try:
                client.sock.close()
            except OSError:
                pass
