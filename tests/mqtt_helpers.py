"""Test-side MQTT tools: a plain paho subscriber that records what a user's tool would see."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from pi_service import builders
from pi_service.broker import LocalBroker

FLUSH = "test/flush"


def wait_until(predicate: Callable[[], object], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


class Collector:
    """A plain paho subscriber that records every message it gets, as a user's tool would."""

    def __init__(self, broker: LocalBroker, pattern: str = "heelraise/#", *,
                 client_id: str = "", clean_session: bool = True) -> None:
        self.messages: list[tuple[str, dict, bool]] = []
        self._flushed: set[str] = set()
        self._lock = threading.Lock()
        self._pattern = pattern
        self.subscribed = threading.Event()
        self.subacks = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=clean_session)
        self.client.reconnect_delay_set(1, 1)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self.subscribed.wait(5), "collector did not subscribe"

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        client.subscribe([(self._pattern, 1), (FLUSH, 1)])

    def _on_subscribe(self, *args) -> None:
        self.subacks += 1
        self.subscribed.set()

    def _on_message(self, client, userdata, message):
        body = message.payload.decode()
        with self._lock:
            if message.topic == FLUSH:
                self._flushed.add(body)
                return
            self.messages.append((message.topic, json.loads(body) if body else {},
                                  message.retain))

    def of(self, kind: str) -> list[dict]:
        with self._lock:
            return [p for t, p, _ in self.messages if t.endswith("/" + kind)]

    def flush(self) -> None:
        """Wait until the broker has delivered everything sent to it before now."""
        marker = builders.new_id()
        self.client.publish(FLUSH, marker, qos=1)
        assert wait_until(lambda: marker in self._flushed)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
