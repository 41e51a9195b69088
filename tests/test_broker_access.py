"""The shipped broker config keeps strangers out and each client to its own topics.

Runs Debian's mosquitto on systemd/mosquitto/heelraise.conf itself, with only its
ports and file paths rewritten, the shipped ACL, and a password file made with
mosquitto_passwd, then talks to it over TCP and WebSockets with paho-mqtt.
"""

from __future__ import annotations

import secrets
import shutil
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import shipped
from shipped import ShippedBroker

USERS = ("left", "right", "shoe", "heelraise-log", "dashboard", "rating", "sensor",
         "homeassistant")
"""Two devices (each logs in as its own name), and every login that is not a device."""
TIMEOUT_S = 5.0

pytestmark = pytest.mark.skipif(
    shutil.which("mosquitto_passwd") is None, reason="mosquitto_passwd is not installed"
)


@pytest.fixture(scope="module")
def shipped_broker() -> Iterator[ShippedBroker]:
    with shipped.shipped_broker(USERS) as broker:
        yield broker


class Session:
    """One paho client; records its CONNACK and every message it receives."""

    def __init__(self, broker: ShippedBroker, user: str | None, password: str | None,
                 websockets: bool) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"test-{user}-{secrets.token_hex(4)}",
                                  protocol=mqtt.MQTTv311,
                                  transport="websockets" if websockets else "tcp")
        if user is not None:
            self.client.username_pw_set(user, password)
        self.connack: mqtt.ReasonCode | None = None
        self.messages: list[tuple[str, bytes]] = []
        self._changed = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.granted: list[mqtt.ReasonCode] | None = None
        self.client.connect("127.0.0.1", broker.ws_port if websockets else broker.port)
        self.client.loop_start()
        self.wait(lambda: self.connack is not None, "a CONNACK")

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._changed:
            self.connack = reason_code
            self._changed.notify_all()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        with self._changed:
            self.granted = reason_codes
            self._changed.notify_all()

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        with self._changed:
            self.messages.append((message.topic, message.payload))
            self._changed.notify_all()

    def wait(self, done, what: str) -> None:
        with self._changed:
            if not self._changed.wait_for(done, timeout=TIMEOUT_S):
                raise AssertionError(f"no {what} within {TIMEOUT_S} s")

    @property
    def accepted(self) -> bool:
        return self.connack is not None and not self.connack.is_failure

    def subscribe(self, topic: str) -> None:
        self.granted = None
        self.client.subscribe(topic, qos=1)
        self.wait(lambda: self.granted is not None, f"SUBACK for {topic}")
        assert not self.granted[0].is_failure, f"subscription to {topic} refused"

    def publish(self, topic: str, payload: str) -> None:
        """Publish at QoS 1 and wait for the PUBACK: the broker has then handled it."""
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout=TIMEOUT_S)
        assert info.is_published(), f"no PUBACK for {topic}"

    def payloads(self) -> list[tuple[str, str]]:
        with self._changed:
            return [(topic, payload.decode()) for topic, payload in self.messages]

    def wait_for_payload(self, payload: str) -> None:
        self.wait(lambda: any(p == payload.encode() for _, p in self.messages),
                  f"message {payload!r}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def connect(shipped_broker: ShippedBroker):
    sessions: list[Session] = []

    def _connect(user: str | None, websockets: bool = False,
                 password: str | None = None) -> Session:
        if user is not None and password is None:
            password = shipped_broker.passwords[user]
        session = Session(shipped_broker, user, password, websockets)
        sessions.append(session)
        return session

    yield _connect
    for session in sessions:
        session.close()


def _connected(connect, user: str, websockets: bool = False) -> Session:
    session = connect(user, websockets)
    assert session.accepted, f"{user} refused: {session.connack}"
    return session


def assert_dropped(publisher: Session, topic: str, watcher: Session, marker_from: Session,
                   marker_topic: str) -> None:
    """``publisher``'s message on ``topic`` never reaches ``watcher``.

    The forbidden publish is acknowledged first, then an allowed one follows; the
    broker handles them in order, so once the allowed one has arrived the forbidden
    one would have too.
    """
    forged = f"forged-{secrets.token_hex(4)}"
    marker = f"marker-{secrets.token_hex(4)}"
    publisher.publish(topic, forged)
    marker_from.publish(marker_topic, marker)
    watcher.wait_for_payload(marker)
    assert forged not in [payload for _, payload in watcher.payloads()], \
        f"{topic} from a client not allowed to write it was delivered"


@pytest.mark.parametrize("websockets", [False, True], ids=["mqtt", "websockets"])
def test_anonymous_clients_are_refused_on_both_listeners(connect, websockets):
    session = connect(None, websockets)
    assert not session.accepted
    assert session.connack == "Not authorized"


@pytest.mark.parametrize("websockets", [False, True], ids=["mqtt", "websockets"])
def test_wrong_password_is_refused(connect, websockets):
    session = connect("dashboard", websockets, password="not-the-password")
    assert not session.accepted


def test_plain_listener_is_on_loopback_only(shipped_broker):
    """Port 1883 must not be reachable from the network; only WebSockets is."""
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == shipped_broker.port:
                listening.append(address)
    assert listening == ["0100007F"], f"plain MQTT listens on {listening} (hex), not 127.0.0.1"


def test_dashboard_reads_over_websockets_but_cannot_write(connect):
    dashboard = _connected(connect, "dashboard", websockets=True)
    dashboard.subscribe("heelraise/#")
    service = _connected(connect, "left")
    service.subscribe("heelraise/left/cmd/#")
    log = _connected(connect, "heelraise-log")
    log.subscribe("heelraise/#")

    service.publish("heelraise/left/rep", "rep-1")
    dashboard.wait_for_payload("rep-1")
    log.publish("heelraise/log/left/today", "today-1")
    dashboard.wait_for_payload("today-1")

    assert_dropped(dashboard, "heelraise/left/set", log, service, "heelraise/left/set")
    assert_dropped(dashboard, "heelraise/log/left/today", log, log, "heelraise/log/left/today")
    assert_dropped(dashboard, "heelraise/left/cmd/stage", service, service,
                   "heelraise/left/cmd/stage")
    assert_dropped(dashboard, "heelraise/dashboard/set", log, service, "heelraise/left/set")


def test_a_device_publishes_its_own_topics_and_no_other_devices(connect):
    left = _connected(connect, "left")
    log = _connected(connect, "heelraise-log")
    log.subscribe("heelraise/#")

    for kind in ("status", "phase", "rep", "set", "hold", "cmd/pain"):
        left.publish(f"heelraise/left/{kind}", f"{kind}-from-left")
        log.wait_for_payload(f"{kind}-from-left")
    for forged in ("heelraise/right/set", "heelraise/right/cmd/stage", "heelraise/right/status",
                   "heelraise/log/left/today", "heelraise/log/left/ack", "heelraise/log/status"):
        assert_dropped(left, forged, log, left, "heelraise/left/rep")


def test_a_device_reads_its_commands_and_receipts_only(connect):
    left = _connected(connect, "left")
    left.subscribe("heelraise/#")
    right = _connected(connect, "right")
    log = _connected(connect, "heelraise-log")

    right.publish("heelraise/right/cmd/stage", "right-3")
    right.publish("heelraise/right/set", "right-set")
    log.publish("heelraise/log/right/ack", "right-ack")
    left.publish("heelraise/left/cmd/stage", "3")
    log.publish("heelraise/log/left/ack", "left-ack")
    log.publish("heelraise/log/status", "log-online")
    left.wait_for_payload("log-online")
    assert [topic for topic, _ in left.payloads()] == [
        "heelraise/left/cmd/stage", "heelraise/log/left/ack", "heelraise/log/status"]


def test_the_rating_login_writes_ratings_and_nothing_else(connect):
    rating = _connected(connect, "rating")
    log = _connected(connect, "heelraise-log")
    log.subscribe("heelraise/#")
    rating.publish("heelraise/left/cmd/pain", "pain-2")
    log.wait_for_payload("pain-2")
    rating.publish("heelraise/left/cmd/stiffness", "stiff-3")
    log.wait_for_payload("stiff-3")
    for forged in ("heelraise/left/cmd/stage", "heelraise/left/set", "heelraise/rating/set",
                   "heelraise/log/left/ack"):
        assert_dropped(rating, forged, log, rating, "heelraise/left/cmd/pain")


def test_log_publishes_aggregates_and_discovery_but_cannot_forge_sets(connect):
    log = _connected(connect, "heelraise-log")
    dashboard = _connected(connect, "dashboard", websockets=True)
    dashboard.subscribe("heelraise/#")
    home_assistant = _connected(connect, "homeassistant")
    home_assistant.subscribe("homeassistant/#")
    log.subscribe("homeassistant/status")

    log.publish("heelraise/log/pi/week", "week-1")
    dashboard.wait_for_payload("week-1")
    log.publish("homeassistant/sensor/heelraise_pi_reps/config", "discovery-1")
    home_assistant.wait_for_payload("discovery-1")
    home_assistant.publish("homeassistant/status", "online")
    log.wait_for_payload("online")
    assert_dropped(log, "heelraise/pi/set", dashboard, log, "heelraise/log/pi/week")
    assert_dropped(log, "heelraise/heelraise-log/set", dashboard, log, "heelraise/log/pi/week")


def test_sensor_writes_only_imu_batches_and_its_status_and_the_service_reads_them(connect):
    sensor = _connected(connect, "sensor")
    service = _connected(connect, "shoe")
    service.subscribe("heelraise/shoe/imu")
    service.subscribe("heelraise/shoe/sensor")
    log = _connected(connect, "heelraise-log")
    log.subscribe("heelraise/#")

    sensor.publish("heelraise/shoe/imu", "batch-1")
    service.wait_for_payload("batch-1")
    log.wait_for_payload("batch-1")
    sensor.publish("heelraise/shoe/sensor", "battery-1")
    service.wait_for_payload("battery-1")
    assert_dropped(sensor, "heelraise/shoe/rep", log, sensor, "heelraise/shoe/imu")
    assert_dropped(sensor, "heelraise/shoe/cmd/stage", log, sensor, "heelraise/shoe/imu")


def test_websockets_port_serves_the_dashboard(shipped_broker):
    url = f"http://127.0.0.1:{shipped_broker.ws_port}/index.html"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=TIMEOUT_S) as response:
        assert b"heel-raise dashboard" in response.read()
