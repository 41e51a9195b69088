"""Shared fixtures: a real Mosquitto broker on a free loopback port."""

from __future__ import annotations

import paho.mqtt.client as mqtt
import pytest
from mqtt_helpers import Collector
from paho.mqtt.enums import CallbackAPIVersion

from pi_service.broker import LocalBroker, free_port


@pytest.fixture
def broker():
    """A fresh broker per test (TCP only); tests may stop(), kill() and start() it."""
    with LocalBroker() as b:
        yield b


@pytest.fixture
def ws_broker():
    """A fresh broker with a WebSockets listener as well."""
    with LocalBroker(websockets_port=free_port()) as b:
        yield b


@pytest.fixture
def publisher(broker):
    """A plain paho client on the test's broker, for sending raw payloads."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect(broker.host, broker.port)
    client.loop_start()
    yield client
    client.disconnect()
    client.loop_stop()


@pytest.fixture
def collect():
    made: list[Collector] = []

    def make(broker: LocalBroker, *args, **kwargs) -> Collector:
        made.append(Collector(broker, *args, **kwargs))
        return made[-1]

    yield make
    for c in made:
        c.close()


@pytest.fixture
def saved_broker():
    """A broker that keeps persistent subscriber sessions across stop()/start().

    Subscribers subscribe before it goes down, so when it comes back their
    sessions collect what the publisher sends, however the reconnects race.
    """
    with LocalBroker(persistence=True) as b:
        yield b


@pytest.fixture
def page_dir(tmp_path):
    """A stand-in for dashboard/dist, for tests about the page's server, not the page."""
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<!doctype html><title>heel-raise</title>")
    return dist
