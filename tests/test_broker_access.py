"""The shipped broker config keeps strangers out and each client to its own topics.

Runs Debian's mosquitto on systemd/mosquitto/heelraise.conf itself, with only its
ports and file paths rewritten, the shipped ACL, and a password file made with
mosquitto_passwd, then talks to it over TCP and WebSockets with paho-mqtt.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from pi_service.broker import LocalBroker, free_port

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "systemd" / "mosquitto" / "heelraise.conf"
ACL = ROOT / "systemd" / "mosquitto" / "heelraise.acl"
USERS = ("heelraise", "heelraise-log", "dashboard", "sensor", "homeassistant")
TIMEOUT_S = 5.0

pytestmark = pytest.mark.skipif(
    shutil.which("mosquitto_passwd") is None, reason="mosquitto_passwd is not installed"
)


@dataclass
class Broker:
    port: int
    ws_port: int
    passwords: dict[str, str]
    dashboard_dir: Path


def rewrite_config(text: str, port: int, ws_port: int, paths: dict[str, Path]) -> str:
    """The shipped config with the two ports and the file paths replaced, nothing else.

    Every rewrite must apply exactly once, so a reshaped config fails here loudly
    instead of being tested half-rewritten.
    """
    rules = [
        (r"^listener 1883 127\.0\.0\.1$", f"listener {port} 127.0.0.1"),
        (r"^listener 9001$", f"listener {ws_port}"),
    ] + [(rf"^{key} \S+$", f"{key} {path}") for key, path in paths.items()]
    for pattern, replacement in rules:
        text, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
        assert count == 1, f"{CONF.name}: expected one line matching {pattern!r}"
    return text


@pytest.fixture(scope="module")
def shipped_broker() -> Iterator[Broker]:
    # mosquitto drops root for its own user before it reads the password and ACL
    # files, so they live in a directory that user can read (as on the Pi, where
    # install-pi makes the password file root:mosquitto 0640).
    workdir = Path(tempfile.mkdtemp(prefix="heelraise-acl-"))
    workdir.chmod(0o755)
    dashboard_dir = workdir / "dist"
    dashboard_dir.mkdir()
    (dashboard_dir / "index.html").write_text("<title>heel-raise dashboard</title>\n")
    passwd = workdir / "heelraise.passwd"
    passwords = {user: secrets.token_urlsafe(24) for user in USERS}
    # As scripts/install-pi does it: plain "login:password" lines hashed in place.
    passwd.write_text("".join(f"{user}:{password}\n" for user, password in passwords.items()))
    subprocess.run(["mosquitto_passwd", "-U", str(passwd)], check=True, capture_output=True)
    acl = workdir / "heelraise.acl"
    shutil.copyfile(ACL, acl)
    for path in (passwd, acl):
        path.chmod(0o644)
    port = ws_port = free_port()
    while ws_port == port:
        ws_port = free_port()
    config = rewrite_config(
        CONF.read_text(), port, ws_port,
        {"password_file": passwd, "acl_file": acl, "http_dir": dashboard_dir},
    )
    try:
        with LocalBroker(port=port, websockets_port=ws_port, config_text=config):
            yield Broker(port, ws_port, passwords, dashboard_dir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class Session:
    """One paho client; records its CONNACK and every message it receives."""

    def __init__(self, broker: Broker, user: str | None, password: str | None,
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
def connect(shipped_broker: Broker):
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
    service = _connected(connect, "heelraise")
    service.subscribe("heelraise/+/cmd/#")
    log = _connected(connect, "heelraise-log")
    log.subscribe("heelraise/#")

    service.publish("heelraise/pi/rep", "rep-1")
    dashboard.wait_for_payload("rep-1")
    log.publish("heelraise/log/pi/today", "today-1")
    dashboard.wait_for_payload("today-1")

    assert_dropped(dashboard, "heelraise/pi/set", log, service, "heelraise/pi/set")
    assert_dropped(dashboard, "heelraise/log/pi/today", log, log, "heelraise/log/pi/today")
    assert_dropped(dashboard, "heelraise/pi/cmd/stage", service, service,
                   "heelraise/pi/cmd/stage")


def test_service_publishes_its_device_topics_but_not_the_logs(connect):
    service = _connected(connect, "heelraise")
    log = _connected(connect, "heelraise-log")
    log.subscribe("heelraise/#")

    for kind in ("status", "phase", "rep", "set", "hold"):
        service.publish(f"heelraise/pi/{kind}", f"{kind}-from-service")
        log.wait_for_payload(f"{kind}-from-service")
    assert_dropped(service, "heelraise/log/pi/today", log, log, "heelraise/log/pi/today")


def test_service_reads_only_commands(connect):
    service = _connected(connect, "heelraise")
    service.subscribe("heelraise/#")
    sender = _connected(connect, "heelraise")

    sender.publish("heelraise/pi/cmd/stage", "3")
    service.wait_for_payload("3")
    assert_dropped(sender, "heelraise/pi/rep", service, sender, "heelraise/pi/cmd/pain")
    assert [topic for topic, _ in service.payloads()] == [
        "heelraise/pi/cmd/stage", "heelraise/pi/cmd/pain"]


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


def test_sensor_writes_only_imu_batches_and_its_status_and_the_service_reads_them(connect):
    sensor = _connected(connect, "sensor")
    service = _connected(connect, "heelraise")
    service.subscribe("heelraise/+/imu")
    service.subscribe("heelraise/+/sensor")
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
