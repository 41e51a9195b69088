"""Publishing to MQTT with paho-mqtt 2.x: status, live phases, reps, and durable sets.

What paho does on its own, and what we add:

* paho keeps QoS 1 messages in memory until PUBACK, re-sends them after a
  reconnect, and even queues a publish made while disconnected (it returns
  ``MQTT_ERR_NO_CONN`` but sends it later). Nothing of that survives a restart.
* So sets and holds go through :class:`~pi_service.outbox.Outbox`: committed to
  SQLite first, handed to paho only while connected. Mosquitto sends its PUBACK
  before it has saved the message (and saves only every few seconds), so a
  PUBACK is not enough to forget a set: a row leaves the outbox when the training
  log's receipt for its id arrives on ``heelraise/log/<device>/ack``, sent after
  the log's commit. Until then it is sent again after every reconnect (the broker
  may have been the one that crashed) and by every new process; the ids never
  change, and the log drops duplicates by id.
* ``confirm`` says whose word counts: "log" (the log's receipt), "broker" (the
  PUBACK, for setups without a log), or "auto": the PUBACK until a log has
  announced itself on ``heelraise/log/status`` (retained, online or offline;
  remembered in the outbox), the log's receipt from then on.
* Rows paho still holds are never handed again in this process (paho re-sends
  them itself, first, after a reconnect: other rows wait until those are acked).
* A refused CONNACK is not a connection (Frigate gets this wrong), and the
  retained status carries a last will, so the dashboard sees ``offline`` when
  the Pi dies and ``online`` again on every reconnect.

paho runs its network loop in its own thread (``loop_start``); a small worker
thread moves rows from the outbox to paho and acknowledgements back, because
paho calls ``on_publish`` while holding its own lock and must not be kept
waiting on SQLite.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from .builders import (
    LIVE_REP,
    Context,
    anchored_clock,
    hold_payload,
    live_payload,
    new_id,
    phase_payload,
    rep_payload,
    set_payload,
    status_payload,
    test_payload,
)
from .clock import clock_synced
from .errors import ConfigError, PayloadError
from .outbox import Outbox
from .payloads import Command, encode, parse_command, validate
from .pipeline.events import Hold, PhaseChange, Rep, SetSummary
from .protocol import DEFAULT_STAGE, Stage
from .topics import LOG_STATUS, QOS, RETAIN, ack_topic, check_device, subscription, topic

if TYPE_CHECKING:
    from .heelrise.outcomes import LegResult

log = logging.getLogger(__name__)

WINDOW = 64
"""Outbox rows in paho's hands at once: enough to keep the link busy, few to re-send."""

CONFIRM = ("auto", "log", "broker")
"""Whose word lets a set leave the outbox (see the module's docstring)."""
LOG_SEEN = "training log seen"
"""The outbox fact that a log has announced itself on this device's broker."""


@dataclass(frozen=True)
class TLSOptions:
    """TLS to the broker. ``ca_certs`` None trusts the system CAs."""

    ca_certs: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    insecure: bool = False   # skip the host-name check (a LAN broker's self-signed cert)


class Publisher:
    """One device's connection to the broker; a context manager.

    Connects in the background and keeps reconnecting with backoff, so it can
    be created before the broker is up. ``publish_set``/``publish_hold`` never
    lose a message while disconnected or across a restart; ``publish_rep`` is
    QoS 1 but kept in memory only; ``publish_phase`` is dropped when offline.
    """

    def __init__(
        self,
        device: str,
        host: str,
        port: int,
        outbox_path: str | Path,
        *,
        username: str | None = None,
        password: str | None = None,
        tls: TLSOptions | None = None,
        client_id: str | None = None,
        keepalive: int = 30,
        source: str = "unknown",
        stage: int = DEFAULT_STAGE,
        sensor: str = "none",
        running: bool = False,
        session: str | None = None,
        iso_time: Callable[[float], str] | None = None,
        reconnect_max_s: int = 30,
        confirm: str = "auto",
    ) -> None:
        if confirm not in CONFIRM:
            raise ValueError(f"confirm must be one of {', '.join(CONFIRM)}, got {confirm!r}")
        self.device = check_device(device)
        self.session = session or new_id()[:12]
        self._iso_time = iso_time or anchored_clock()
        self._reps: dict[int, Rep] = {}   # reps of the set in progress, for its rep_detail
        self._set_index = 1               # the set in progress (1-based)
        self._last_rep = 0                # index of the last rep, to see numbering restart
        self.host, self.port = host, port
        self._status = {"sensor": sensor, "source": source, "stage": stage, "running": running}
        # The retained live state: a dashboard opened mid-set or mid-rest shows the truth.
        self._live: dict = {"set_index": 1, "set_open": False, "reps": 0, "holds": 0,
                            "sets_done": 0, "rest_from": None, "rest_s": None,
                            "last_rep": None, "last_hold": None}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._acks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._connected = False
        self._barrier = False        # paho re-sends older rows first: hand no new ones yet
        self._inflight: dict[int, int] = {}   # paho mid -> outbox seq
        self._direct: set[int] = set()        # mids of QoS 1 messages outside the outbox
        self._handed_seq = 0                  # highest outbox seq handed to paho
        self._published: set[int] = set()     # seqs the broker acked since the last connect
        self._receipts: queue.SimpleQueue[tuple[str, list[str]]] = queue.SimpleQueue()
        self._confirm = confirm
        self._command_cb: Callable[[Command], None] | None = None
        self._closing = False
        self._closed = False
        self._stopping = False       # tells the worker to finish

        # A fixed client id lets a restarted service take over its own stale
        # session at once instead of waiting for keepalive to notice it is dead.
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or f"heelraise-{device}",
            clean_session=True, protocol=MQTTProtocolVersion.MQTTv311)
        self._client.max_inflight_messages_set(2 * WINDOW)
        self._client.reconnect_delay_set(min_delay=1, max_delay=reconnect_max_s)
        if username is not None:
            self._client.username_pw_set(username, password)
        if tls is not None:
            try:
                self._client.tls_set(ca_certs=tls.ca_certs, certfile=tls.certfile,
                                     keyfile=tls.keyfile)
            except (OSError, ValueError) as exc:   # ssl.SSLError is an OSError
                where = tls.certfile or tls.ca_certs or "tls"
                raise ConfigError(where, f"cannot use TLS settings: {exc}") from None
            self._client.tls_insecure_set(tls.insecure)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._set_will()

        self._outbox = Outbox(outbox_path)
        self._by_log = confirm == "log" or (confirm == "auto"
                                            and self._outbox.fact(LOG_SEEN) is not None)
        self._worker = threading.Thread(target=self._run, name=f"outbox-{device}", daemon=True)
        self._worker.start()
        self._client.connect_async(host, port, keepalive)
        self._client.loop_start()

    # ----------------------------------------------------------------- public API

    @property
    def connected(self) -> bool:
        """The broker accepted us and the link has not dropped since."""
        return self._connected

    @property
    def pending(self) -> int:
        """Durable messages (sets, holds) not yet confirmed (by the log, or the broker)."""
        return len(self._outbox)

    @property
    def confirmed_by_log(self) -> bool:
        """True when a set leaves the outbox only on the training log's receipt."""
        return self._by_log

    @property
    def in_flight(self) -> int:
        """Outbox rows handed to paho and not yet acknowledged."""
        with self._lock:
            return len(self._inflight)

    def publish_set(self, event: SetSummary | Mapping, stage: Stage | None = None, *,
                    pain: float | None = None) -> str:
        """Queue a set durably and send it when possible; returns its id.

        From a SetSummary, ``rep_detail`` comes from the reps this publisher
        sent with :meth:`publish_rep`; a payload dict is sent as it is.
        """
        if isinstance(event, SetSummary):
            reps = [self._reps.pop(i) for i in event.rep_indices if i in self._reps]
            ctx = replace(self._context(stage), clock_synced=clock_synced())
            payload = set_payload(ctx, event, reps, pain=pain)
            self._set_index = event.index + 1
        else:
            payload = event
        set_id = self._enqueue("set", payload)
        rest_s = None if stage is None else stage.rest_between_sets_s
        self._update_live(set_index=payload["index"] + 1, set_open=False, reps=0, holds=0,
                          sets_done=self._live["sets_done"] + 1, rest_from=payload["time"],
                          rest_s=rest_s)
        return set_id

    def publish_hold(self, event: Hold | Mapping) -> str:
        """Queue an isometric hold durably, like a set; returns its id."""
        payload = hold_payload(self._context(None), event) if isinstance(event, Hold) else event
        hold_id = self._enqueue("hold", payload)
        held = self._live["holds"] if self._live["set_open"] else 0
        self._update_live(set_open=True, holds=held + 1, rest_from=None,
                          last_hold={k: payload[k] for k in ("time", "hold_s", "verdict")})
        return hold_id

    def publish_test(self, result: LegResult, *, test_id: str, involved: str | None,
                     bpm: float) -> str:
        """Queue one leg's heel-rise test durably, like a set; returns its id."""
        return self._enqueue("test", test_payload(self._context(None), result,
                                                  test_id=test_id, involved=involved, bpm=bpm))

    def publish_rep(self, event: Rep | Mapping, stage: Stage | None = None, *,
                    set_index: int | None = None) -> str:
        """Send a rep at QoS 1 (kept in memory across reconnects, not restarts).

        From a Rep, ``set_index`` defaults to the set after the last one
        published (back to 1 when rep numbering restarts, i.e. a new pipeline).
        """
        if isinstance(event, Rep):
            if event.index <= self._last_rep:
                self._reps.clear()
                self._set_index = 1
            self._last_rep = event.index
            self._reps[event.index] = event
            payload = rep_payload(self._context(stage), event,
                                  set_index if set_index is not None else self._set_index)
        else:
            payload = event
        raw = self._encode("rep", payload)
        with self._lock:
            self._check_open()
            info = self._client.publish(topic(self.device, "rep"), raw, qos=QOS["rep"])
            self._direct.add(info.mid)
        same = self._live["set_open"] and self._live["set_index"] == payload["set_index"]
        self._update_live(set_index=payload["set_index"], set_open=True,
                          reps=self._live["reps"] + 1 if same else 1,
                          holds=self._live["holds"] if same else 0, rest_from=None,
                          last_rep={k: payload[k] for k in LIVE_REP if k in payload})
        return payload["id"]

    def publish_phase(self, event: PhaseChange | Mapping) -> bool:
        """Send a live phase change at QoS 0; False (dropped) when not connected."""
        payload = phase_payload(self._context(None), event) \
            if isinstance(event, PhaseChange) else event
        raw = self._encode("phase", payload)
        if not self._connected:
            return False
        info = self._client.publish(topic(self.device, "phase"), raw, qos=QOS["phase"])
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def publish_status(self, *, sensor: str | None = None, source: str | None = None,
                       stage: int | None = None, running: bool | None = None,
                       calibration: str | None = None) -> None:
        """Change what the retained status says (only the fields given) and send it.

        The last will is updated too, so an unexpected death reports the same
        sensor/stage state with ``"state": "offline"``.
        """
        changes = {"sensor": sensor, "source": source, "stage": stage, "running": running,
                   "calibration": calibration}
        with self._lock:
            self._check_open()
            status = {**self._status, **{k: v for k, v in changes.items() if v is not None}}
            encode("status", status_payload(self.device, state="online", **status))  # validate
            self._status = status
            self._set_will()
            if self._connected:
                self._send_status("online")
                self._send_live()

    def on_command(self, callback: Callable[[Command], None]) -> None:
        """Call ``callback(command)`` for each valid message on ``cmd/#``.

        It runs in paho's network thread: keep it short, and don't close the
        publisher from it. Bad commands are logged with their topic and dropped.
        """
        with self._lock:
            self._command_cb = callback
            if self._connected:
                self._subscribe([subscription("cmd/#", self.device)])

    def drain(self, timeout_s: float = 10.0) -> bool:
        """Send whatever is waiting now and wait for it to be acknowledged."""
        self._wake.set()
        return self.wait_idle(timeout_s)

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """True once the broker has acknowledged everything sent (outbox rows, reps, status,
        subscriptions); rows may still wait for the log's receipt (:meth:`wait_confirmed`)."""
        with self._changed:
            return self._changed.wait_for(
                lambda: not self._inflight and not self._direct
                and len(self._outbox) <= len(self._published), timeout=timeout_s)

    def wait_confirmed(self, timeout_s: float = 10.0) -> bool:
        """True once every set and hold is confirmed and gone from the outbox."""
        self._wake.set()
        with self._changed:
            return self._changed.wait_for(lambda: not len(self._outbox), timeout=timeout_s)

    def close(self, timeout_s: float = 2.0) -> None:
        """Let in-flight messages finish, say ``offline`` explicitly, disconnect.

        A clean DISCONNECT suppresses the last will, hence the explicit status.
        Unacknowledged rows stay in the outbox for the next start. Idempotent.
        """
        if self._closed:
            return
        self._closed = True
        if self._connected:
            self.wait_idle(timeout_s)
        with self._lock:
            self._closing = True
            info = self._send_status("offline") if self._connected else None
        if info is not None:
            try:
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError) as exc:
                log.warning("offline status not sent: %s", exc)
        self._client.disconnect()
        self._client.loop_stop()
        self._stopping = True
        self._wake.set()
        self._worker.join()
        self._outbox.close()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- internals

    def _context(self, stage: Stage | None) -> Context:
        return Context(self.device, self.session, stage, self._iso_time,
                       source=self._status["source"])

    def _check_open(self) -> None:
        if self._closing or self._closed:
            raise ValueError(f"publisher for {self.device} is closed")

    def _encode(self, kind: str, payload: Mapping) -> bytes:
        raw = encode(kind, payload)
        if payload["device"] != self.device:
            raise PayloadError(f"{kind}: 'device' is {payload['device']!r}, "
                               f"this publisher is {self.device!r}")
        return raw

    def _enqueue(self, kind: str, payload: Mapping) -> str:
        raw = self._encode(kind, payload)
        self._check_open()
        self._outbox.add(payload["id"], topic(self.device, kind), raw, qos=QOS[kind])
        self._wake.set()
        return payload["id"]

    def _status_payload(self, state: str) -> bytes:
        """The status; offline (the will, a clean shutdown) says no session is running."""
        status = self._status if state == "online" else {**self._status, "running": False}
        return encode("status", status_payload(self.device, state=state, **status))

    def _update_live(self, **changes: object) -> None:
        """Change the live state and send it, retained (while connected; on every connect)."""
        with self._lock:
            self._live.update(changes)
            if self._connected and not self._closing:
                self._send_live()

    def _send_live(self) -> None:
        """Publish the live state (caller holds the lock)."""
        payload = live_payload(self.device, self.session, self._status, self._live)
        info = self._client.publish(topic(self.device, "live"), encode("live", payload),
                                    qos=QOS["live"], retain=RETAIN["live"])
        self._direct.add(info.mid)

    def _set_will(self) -> None:
        self._client.will_set(topic(self.device, "status"), self._status_payload("offline"),
                              qos=QOS["status"], retain=True)

    def _send_status(self, state: str) -> mqtt.MQTTMessageInfo:
        """Publish the status (caller holds the lock, so the mid is tracked before its ack)."""
        info = self._client.publish(topic(self.device, "status"), self._status_payload(state),
                                    qos=QOS["status"], retain=RETAIN["status"])
        self._direct.add(info.mid)
        return info

    def _subscribe(self, filters: list[str]) -> None:
        """Subscribe (caller holds the lock); wait_idle covers the SUBACK."""
        rc, mid = self._client.subscribe([(f, 1) for f in filters])
        if rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._direct.add(mid)

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: mqtt.ConnectFlags,
                    reason_code: mqtt.ReasonCode, properties: object) -> None:
        if reason_code.is_failure:
            log.error("broker %s:%d refused %s: %s", self.host, self.port, self.device,
                      reason_code)
            return
        with self._lock:
            if self._closing:
                return
            self._connected = True
            self._barrier = bool(self._inflight)
            # The broker may be a new one (it crashed, it lost what it had acknowledged):
            # every row not confirmed by the log goes again, after paho's own in-flight.
            self._handed_seq = 0
            self._published.clear()
            filters = [ack_topic(self.device)]
            if self._confirm == "auto" and not self._by_log:
                filters.append(LOG_STATUS)
            if self._command_cb is not None:
                filters.append(subscription("cmd/#", self.device))
            self._subscribe(filters)
            self._send_status("online")
            self._send_live()
        log.info("connected to %s:%d as %s (%d waiting in the outbox)",
                 self.host, self.port, self.device, len(self._outbox))
        self._wake.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: object, flags: object,
                       reason_code: mqtt.ReasonCode, properties: object) -> None:
        with self._lock:
            self._connected = False
        if not self._closing:
            log.warning("lost the broker %s:%d (%s); sets wait in the outbox",
                        self.host, self.port, reason_code)

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int,
                    reason_code: mqtt.ReasonCode, properties: object) -> None:
        # paho holds its message lock here: hand over and return at once.
        self._acks.put(mid)
        self._wake.set()

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int,
                      reason_codes: list[mqtt.ReasonCode], properties: object) -> None:
        if any(code.is_failure for code in reason_codes):
            log.error("broker refused the command subscription for %s: %s", self.device,
                      reason_codes)
        self._acks.put(mid)
        self._wake.set()

    def _on_message(self, client: mqtt.Client, userdata: object,
                    message: mqtt.MQTTMessage) -> None:
        if message.topic in (ack_topic(self.device), LOG_STATUS):
            self._on_receipt(message)
            return
        try:
            command = parse_command(message.topic, message.payload)
        except PayloadError as exc:
            log.warning("ignoring command on %s: %s", message.topic, exc)
            return
        callback = self._command_cb
        if callback is None:
            return
        try:
            callback(command)
        except Exception:
            log.exception("command handler failed on %s", message.topic)

    def _on_receipt(self, message: mqtt.MQTTMessage) -> None:
        """The log confirmed (or refused) some rows, or announced itself: for the worker."""
        kind = "ack" if message.topic == ack_topic(self.device) else "log_status"
        try:
            data = validate(kind, message.payload)
        except PayloadError as exc:
            log.warning("ignoring %s on %s: %s", kind, message.topic, exc)
            return
        if kind == "log_status":      # online or offline, a log keeps this broker's sets
            self._receipts.put(("log seen", []))
        else:
            if data["device"] == self.device:
                self._receipts.put(("stored", data["stored"]))
                if data["rejected"]:
                    log.error("the training log refused %d set(s) (kept in its rejects): "
                              "%s", len(data["rejected"]), ", ".join(data["rejected"][:5]))
                    self._receipts.put(("rejected", data["rejected"]))
        self._wake.set()

    def _take_receipts(self) -> None:
        """Forget rows the log confirmed; from a log's first word on, wait for receipts."""
        while True:
            try:
                what, ids = self._receipts.get_nowait()
            except queue.Empty:
                return
            if self._confirm == "auto" and not self._by_log:
                log.info("a training log is on this broker: sets now wait for its receipt")
                self._outbox.remember(LOG_SEEN, "1")
                self._by_log = True
            gone = self._outbox.remove_ids(ids)
            with self._lock:
                self._published -= gone

    def _run(self) -> None:
        """Worker: settle acks (delete rows), then hand the next rows to paho."""
        while not self._stopping:
            self._wake.wait(1.0)
            self._wake.clear()
            self._take_receipts()
            self._settle()
            self._hand_over()
        self._take_receipts()
        self._settle()   # acks that arrived while closing

    def _settle(self) -> None:
        with self._lock:
            done: list[int] = []
            while True:
                try:
                    mid = self._acks.get_nowait()
                except queue.Empty:
                    break
                seq = self._inflight.pop(mid, None)
                if seq is None:
                    self._direct.discard(mid)
                elif self._by_log:
                    self._published.add(seq)     # the broker has it; the log has not said
                else:
                    done.append(seq)
            if self._barrier and not self._inflight:
                self._barrier = False
        if done:
            self._outbox.remove(done)
        with self._changed:
            self._changed.notify_all()

    def _hand_over(self) -> None:
        with self._lock:
            if not self._connected or self._barrier or self._closing:
                return
            room = WINDOW - len(self._inflight)
            if room <= 0:
                return
            held = set(self._inflight.values()) | self._published
            for row in self._outbox.after(self._handed_seq, room + len(held)):
                if row.seq in held:
                    self._handed_seq = row.seq
                    continue
                if room <= 0:
                    break
                room -= 1
                info = self._client.publish(row.topic, row.payload, qos=row.qos)
                if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                    log.warning("paho refused outbox row %d: %s", row.seq,
                                mqtt.error_string(info.rc))
                    break
                # NO_CONN: paho queued it anyway and sends it after reconnecting.
                self._inflight[info.mid] = row.seq
                self._handed_seq = row.seq
