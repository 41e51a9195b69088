"""The dashboard's whole stack on loopback, for tests/test_dashboard.py and the bench.

A real Mosquitto with a password file and the deployed ACL (systemd/mosquitto/
heelraise.acl), pi_service/log/web.py serving the built page, and Debian's headless
Chromium driven by playwright-core through dashboard/test/driver.mjs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho

from pi_service.broker import LocalBroker, free_port
from pi_service.log.gate import BrokerGate
from pi_service.log.store import Store
from pi_service.log.subscriber import LogSubscriber
from pi_service.log.web import DashboardServer, page_config

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "dashboard" / "test" / "driver.mjs"
DIST = ROOT / "dashboard" / "dist"
ACL = ROOT / "systemd" / "mosquitto" / "heelraise.acl"
CHROMIUM = "/usr/bin/chromium"

# Logins as in the deployed ACL: the devices "left" and "right" (their services), the log,
# the read-only dashboard, the person rating on the page, and the clip-on.
USERS = {"left": "service-secret", "right": "right-secret", "heelraise-log": "log-secret",
         "dashboard": "dashboard-secret", "rating": "rating-secret", "sensor": "clip-secret"}


def missing() -> str | None:
    """Why the browser stack cannot run here, or None when it can."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is not installed (scripts/setup --test installs it)"
    if shutil.which("node") is None:
        return "node is not installed (scripts/setup --test installs it)"
    if not (ROOT / "dashboard" / "node_modules" / "playwright-core").is_dir():
        return "dashboard npm packages are not installed (scripts/setup runs npm ci)"
    return None


class BrowserError(RuntimeError):
    """The driver reported a failed command (a timeout, a missing element)."""


class Browser:
    """Headless Chromium behind driver.mjs; each method is one JSON line each way."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            ["node", str(DRIVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, env={**os.environ, "CHROMIUM": CHROMIUM})

    def call(self, op: str, **params: Any) -> Any:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps({"op": op, **params}) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise BrowserError(f"driver exited during {op} (code {self._proc.wait()})")
        reply = json.loads(line)
        if not reply["ok"]:
            raise BrowserError(f"{op} {params}: {reply['error']}")
        return reply["value"]

    def text(self, selector: str) -> str:
        return self.call("text", selector=selector)

    def wait_text(self, selector: str, text: str, timeout_ms: int = 10000) -> None:
        self.call("waitText", selector=selector, text=text, timeout=timeout_ms)

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self.call("close")
                self._proc.stdin.close()
            except (BrowserError, BrokenPipeError):
                pass
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Publisher:
    """A paho client logged in as one broker user; publish() returns once acknowledged."""

    def __init__(self, broker: LocalBroker, user: str) -> None:
        self._client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self._client.username_pw_set(user, USERS[user])
        self.reasons: dict[int, Any] = {}
        self._acked = threading.Condition()
        self._client.on_publish = self._on_publish
        self._client.connect(broker.host, broker.port)
        self._client.loop_start()

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self._acked:
            self.reasons[mid] = reason
            self._acked.notify_all()

    def publish(self, topic: str, payload: Any, *, qos: int = 1, retain: bool = False) -> Any:
        """Publish and wait for the broker's answer; returns its reason code (QoS 1)."""
        data = payload if isinstance(payload, str | bytes) else json.dumps(payload)
        info = self._client.publish(topic, data, qos=qos, retain=retain)
        info.wait_for_publish(timeout=5)
        with self._acked:
            self._acked.wait_for(lambda: info.mid in self.reasons, timeout=5)
            return self.reasons.get(info.mid)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


@dataclass
class Stack:
    broker: LocalBroker
    server: DashboardServer
    store: Store
    log: LogSubscriber
    device: str

    def publisher(self, user: str = "left") -> Publisher:
        return Publisher(self.broker, user)


@contextmanager
def dashboard_stack(tmp: Path, device: str = "left", broker_serves_page: bool = False,
                    dist: Path = DIST, http_host: str = "127.0.0.1") -> Iterator[Stack]:
    """Broker (passwords + the deployed ACL), the page's server, and the log (logged in as
    heelraise-log, storing in ``tmp``) that ratings entered on the page reach over MQTT.

    ``broker_serves_page`` also serves the page from Mosquitto's WebSockets listener
    (``http_dir``), as systemd/mosquitto/heelraise.conf deploys it.
    """
    extra = f"http_dir {DIST}\n" if broker_serves_page else ""   # the WebSockets listener's
    with (
        LocalBroker(websockets_port=free_port(), logins=USERS, acl_file=ACL,
                    extra_config=extra) as broker,
        Store(tmp / "log.sqlite3") as store,
    ):
        config = page_config(device, ws_port=broker.websockets_port, username="dashboard",
                             password=USERS["dashboard"])
        log = LogSubscriber(store, host=broker.host, port=broker.port, username="heelraise-log",
                            password=USERS["heelraise-log"], coalesce_s=0.05, discovery=False)
        with log, DashboardServer(config, dist_dir=dist, host=http_host, fail_delay_s=0.0,
                                  gate=BrokerGate(broker.host, broker.port)) as server:
            assert log.wait_subscribed(), "the log did not subscribe"
            yield Stack(broker, server, store, log, device)
