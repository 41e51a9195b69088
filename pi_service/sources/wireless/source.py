"""``heelraise run --source wireless``: the clip-on's frames from the broker as a Source.

A paho-mqtt subscriber on ``heelraise/<device>/imu`` and ``/sensor`` hands every
message, stamped with the Pi's monotonic clock on arrival, to the iterating thread,
where a :class:`~.sequencer.FrameSequencer` turns them into sample blocks. While
nothing arrives the source yields empty blocks every ``poll_s``, so the service
keeps answering commands and the watchdog; ``connected`` turns False when frames
stop for ``lost_after_s`` or the clip-on's last will says it went offline, and True
again with the next frame. ``iso_time`` maps stream times to the wall clock through
the drift-corrected clock map, for the payloads' ``time`` fields.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from ...errors import PayloadError
from ...payloads import validate
from ...samples import SampleBlock
from ...topics import CLIP_QOS, topic
from .sequencer import FrameSequencer

log = logging.getLogger(__name__)


class WirelessSource:
    """Samples from the wireless clip-on of ``device``, through the broker at host:port.

    ``username``/``password`` log in as the service (the ACL lets it read the
    clip-on's topics); ``tls`` is a :class:`pi_service.publish.TLSOptions` or None.
    ``clock`` stamps arrivals (tests pass their own). Context manager; ``close()``
    is idempotent.
    """

    kind = "wireless"

    def __init__(self, device: str, host: str = "127.0.0.1", port: int = 1883, *,
                 username: str | None = None, password: str | None = None,
                 tls: Any | None = None, lost_after_s: float = 3.0, poll_s: float = 0.2,
                 reorder_s: float = 0.3, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        if lost_after_s <= 0 or poll_s <= 0:
            raise ValueError("lost_after_s and poll_s must be > 0")
        self.device = device
        self.lost_after_s = lost_after_s
        self.poll_s = poll_s
        self.sequencer = FrameSequencer(reorder_s)
        self.sensor_status: dict[str, Any] | None = None
        self.status_rejected = 0
        self.connected = False
        self._clock = clock
        self._wall = wall
        self._inbox: queue.SimpleQueue[tuple[float, str, bytes]] = queue.SimpleQueue()
        self._last_frame_s: float | None = None
        self._closed = threading.Event()
        self._imu, self._sensor = topic(device, "imu"), topic(device, "sensor")
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                   client_id=f"heelraise-{device}-wireless",
                                   clean_session=True, protocol=MQTTProtocolVersion.MQTTv311)
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        if username is not None:
            self._client.username_pw_set(username, password)
        if tls is not None:
            self._client.tls_set(ca_certs=tls.ca_certs, certfile=tls.certfile,
                                 keyfile=tls.keyfile)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.connect_async(host, port, keepalive=30)
        self._client.loop_start()

    # -- paho's thread ----------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object,
                    reason_code: Any, properties: object) -> None:
        if reason_code.is_failure:
            log.warning("broker refused the wireless source: %s", reason_code)
            return
        client.subscribe([(self._imu, CLIP_QOS["imu"]), (self._sensor, CLIP_QOS["sensor"])])

    def _on_message(self, client: mqtt.Client, userdata: object,
                    message: mqtt.MQTTMessage) -> None:
        self._inbox.put((self._clock(), message.topic, message.payload))

    # -- the iterating thread ---------------------------------------------------------

    def __iter__(self) -> Iterator[SampleBlock]:
        while not self._closed.is_set():
            blocks = self._take(self.poll_s)
            now = self._clock()
            blocks += self.sequencer.poll(now)
            if blocks:
                self._last_frame_s = now
                self.connected = True
                yield SampleBlock.concat(blocks)
                continue
            if self.connected and (self._last_frame_s is None
                                   or now - self._last_frame_s > self.lost_after_s):
                log.warning("no frames from the clip-on for %.1f s: sensor lost",
                            self.lost_after_s)
                self.connected = False
            yield SampleBlock(_EMPTY_T, _EMPTY_XYZ)

    def _take(self, timeout_s: float) -> list[SampleBlock]:
        """Everything waiting (at least one message or ``timeout_s``), as blocks."""
        blocks: list[SampleBlock] = []
        try:
            item = self._inbox.get(timeout=timeout_s)
        except queue.Empty:
            return blocks
        while True:
            arrival, topic, payload = item
            if topic == self._imu:
                blocks += self.sequencer.feed(payload, arrival)
            else:
                self._status(payload)
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return blocks

    def _status(self, payload: bytes) -> None:
        if not payload:
            return   # a retained status cleared
        try:
            status = validate("sensor", payload)
        except PayloadError as exc:
            self.status_rejected += 1
            log.warning("%s", exc)
            return
        self.sensor_status = status
        if status["state"] == "offline" and self.connected:
            log.warning("the clip-on went offline (its last will)")
            self.connected = False
            self._last_frame_s = None
        elif status.get("battery_low"):
            log.warning("clip-on battery low: %s V", status.get("battery_v"))

    # -- clocks -----------------------------------------------------------------------

    def wall_time(self, t_s: float) -> float:
        """Unix seconds at stream time ``t_s``: the sensor clock through the drift-
        corrected map to the Pi's monotonic clock, then to the wall clock as it is now."""
        pi = self.sequencer.to_pi(t_s)
        if pi is None:
            return self._wall()
        return pi + (self._wall() - self._clock())

    def iso_time(self, t_s: float) -> str:
        from ...builders import iso_utc

        return iso_utc(self.wall_time(t_s))

    # -- resource ---------------------------------------------------------------------

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> WirelessSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_EMPTY_T = SampleBlock.concat([]).t
_EMPTY_XYZ = SampleBlock.concat([]).accel_g
