"""Logins for the web page, checked by the broker itself, and ratings published as their owner.

The web server keeps no password list of its own: a person logs in with a broker
login, and the broker says whether it is valid (CONNACK) and whether that login
may write a rating (an MQTT v5 PUBACK carries "Not authorized" when the ACL
refuses it; v3.1.1 would acknowledge and drop). So the page's server can grant
nothing the broker's ACL does not, and a rating reaches the log by the same road
and the same checks as one sent from the command line.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from enum import Enum

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

log = logging.getLogger(__name__)


class Verdict(Enum):
    """What the broker said about one login and one publish."""

    OK = "ok"
    BAD_LOGIN = "bad login"
    NOT_ALLOWED = "not allowed"
    UNREACHABLE = "unreachable"


class BrokerGate:
    """Asks the broker at ``host:port`` about logins; a valid one is remembered ``cache_s``.

    Only a digest of a login that the broker accepted is cached, never a password.
    """

    def __init__(self, host: str, port: int, *, timeout_s: float = 5.0,
                 cache_s: float = 60.0, clock=time.monotonic) -> None:
        self.host, self.port = host, port
        self._timeout_s = timeout_s
        self._cache_s = cache_s
        self._clock = clock
        self._valid: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def login_ok(self, user: str, password: str) -> bool:
        """True when the broker accepts this login (remembered for a while)."""
        key = hashlib.sha256(f"{user}\0{password}".encode()).digest()
        now = self._clock()
        with self._lock:
            if self._valid.get(key, 0.0) > now:
                return True
        verdict = self._session(user, password, None, b"")
        if verdict is Verdict.OK:
            with self._lock:
                self._valid[key] = now + self._cache_s
        return verdict is Verdict.OK

    def publish(self, user: str, password: str, topic: str, payload: bytes) -> Verdict:
        """Publish ``payload`` at QoS 1 as ``user``; the broker's verdict on it."""
        return self._session(user, password, topic, payload)

    def _session(self, user: str, password: str, topic: str | None, payload: bytes) -> Verdict:
        done = threading.Event()
        result: list[Verdict] = []

        def finish(verdict: Verdict) -> None:
            if not result:
                result.append(verdict)
            done.set()

        def on_connect(client, userdata, flags, reason_code, properties) -> None:
            if reason_code.is_failure:
                finish(Verdict.BAD_LOGIN)
            elif topic is None:
                finish(Verdict.OK)
            else:
                client.publish(topic, payload, qos=1)

        def on_publish(client, userdata, mid, reason_code, properties) -> None:
            finish(Verdict.NOT_ALLOWED if reason_code.is_failure else Verdict.OK)

        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
        client.username_pw_set(user, password)
        client.on_connect = on_connect
        client.on_publish = on_publish
        client.on_connect_fail = lambda client, userdata: finish(Verdict.UNREACHABLE)
        try:
            client.connect(self.host, self.port, keepalive=10)
        except OSError as exc:
            log.warning("broker %s:%d unreachable for a web login: %s", self.host, self.port,
                        exc)
            return Verdict.UNREACHABLE
        client.loop_start()
        try:
            if not done.wait(self._timeout_s):
                return Verdict.UNREACHABLE
        finally:
            client.disconnect()
            client.loop_stop()
        return result[0]
