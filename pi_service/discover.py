"""Which devices a broker knows: the retained ``heelraise/<device>/status`` each one leaves.

A person should not have to know that their coach is called ``left``: a rating from
the command line, the dashboard and ``heelraise start`` find the devices by asking
the broker for their retained statuses (online, or offline by their last will).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .errors import HeelRaiseError, PayloadError
from .payloads import validate
from .topics import split_topic, subscription


class BrokerUnreachable(HeelRaiseError, ConnectionError):
    """The broker could not be reached, or refused the login."""


@contextmanager
def connected(host: str, port: int, username: str | None, password: str | None, *,
              on_connect: Callable, on_message: Callable,
              on_subscribe: Callable | None = None) -> Iterator[mqtt.Client]:
    """A paho client connected (or a one-line :class:`BrokerUnreachable`), looping in its
    own thread until the block ends."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    if username is not None:
        client.username_pw_set(username, password)
    client.on_connect = on_connect
    client.on_message = on_message
    if on_subscribe is not None:
        client.on_subscribe = on_subscribe
    try:
        client.connect(host, port, keepalive=30)
    except OSError as exc:
        raise BrokerUnreachable(f"cannot reach the MQTT broker at {host}:{port}: "
                                f"{exc.strerror or exc}") from None
    client.loop_start()
    try:
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def announced_devices(host: str, port: int, *, username: str | None = None,
                      password: str | None = None, timeout_s: float = 5.0,
                      settle_s: float = 0.3) -> dict[str, dict]:
    """Device name -> its retained status, for every device the broker holds one of.

    The broker sends retained messages right after it grants the subscription;
    ``settle_s`` after that grant, what has arrived is the answer.
    """
    found: dict[str, dict] = {}
    granted = threading.Event()
    refused: list[str] = []

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            refused.append(str(reason_code))
            granted.set()
        else:
            client.subscribe(subscription("status"), qos=1)

    def on_message(client, userdata, msg: mqtt.MQTTMessage) -> None:
        try:
            device, _ = split_topic(msg.topic)
            found[device] = validate("status", msg.payload)
        except PayloadError:
            pass      # the log's own status, or something not ours

    where = f"{host}:{port}"
    with connected(host, port, username, password, on_connect=on_connect,
                   on_message=on_message, on_subscribe=lambda *args: granted.set()):
        if not granted.wait(timeout_s):
            raise BrokerUnreachable(f"the MQTT broker at {where} did not answer")
        if refused:
            raise BrokerUnreachable(f"the MQTT broker at {where} refused the login: "
                                    f"{refused[0]}")
        threading.Event().wait(settle_s)
    return dict(sorted(found.items()))
