"""Shared fixtures: a real Mosquitto broker on a free loopback port."""

from __future__ import annotations

import pytest

from pi_service.broker import LocalBroker


@pytest.fixture
def broker():
    """A fresh broker per test (TCP only); tests may stop(), kill() and start() it."""
    with LocalBroker() as b:
        yield b


@pytest.fixture
def ws_broker():
    """A fresh broker with a WebSockets listener as well."""
    from pi_service.broker import free_port

    with LocalBroker(websockets_port=free_port()) as b:
        yield b
