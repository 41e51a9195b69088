"""``heelraise log``: the subscriber that turns MQTT messages into the training log.

It keeps a persistent session (fixed client id, clean session off, QoS 1), so
the broker queues sets published while the logger is down and hands them over
when it is back. Each message is acknowledged only after it is stored (or
rejected): a crash between receipt and commit means the broker redelivers it,
and the store's primary key makes the redelivery harmless.

A message the log cannot use, for whatever reason (bad JSON, a value out of
range, a conflict, a bug of ours), is rejected: counted by reason, kept whole in
the store, logged with its topic, and acknowledged, so one poison message can
never stall the queue behind it. Only a failure of the database itself stops
the log, loudly and without acknowledging, so nothing is lost to a full disk.
After each stored set (a burst is coalesced) the retained aggregates and the
Home Assistant discovery configs are republished on a worker thread, so the
network thread only stores.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ..builders import ack_payload, log_status_payload
from ..errors import HeelRaiseError, PayloadError
from ..payloads import MAX_RECEIPTS, encode, message_id, parse_command, validate
from ..protocol import Protocol
from ..stages import load_protocol
from ..topics import DURABLE, LOG_STATUS, ROOT, ack_topic, split_topic, subscription
from . import homeassistant
from .aggregates import aggregate_topic, aggregates
from .progression import Rules, load_rules
from .store import Store, is_database_failure, utc_now_iso

log = logging.getLogger(__name__)

CLIENT_ID = "heelraise-log"
"""Fixed, so the broker keeps this logger's session (and queue) across restarts."""

EVENTS = ("set", "rep", "hold", "test", "status")
LEGACY_GAP_S = 1.0
"""Between clearing Home Assistant's old per-entity configs and sending the device config."""
WATCH_S = 2.0
"""How often the log looks for changes another process made to its database."""
COMMANDS = ("cmd/pain", "cmd/stiffness", "cmd/activity")


def topic_filters(discovery_prefix: str | None = None) -> list[tuple[str, int]]:
    """What the log subscribes to, every device, QoS 1 (and HA's birth message)."""
    filters = ([(subscription(kind), 1) for kind in EVENTS]
               + [(f"{ROOT}/+/{kind}", 1) for kind in COMMANDS])
    if discovery_prefix is not None:
        filters.append((f"{discovery_prefix}/status", 1))
    return filters


class StoreFailure(HeelRaiseError, RuntimeError):
    """The log's database failed (disk, lock, corruption): the log stops, loudly."""


@dataclass
class Counts:
    """What this run of the logger did, for the bench and the shutdown log line."""

    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    ratings: int = 0


class LogSubscriber:
    """Subscribes, validates, stores, republishes. A context manager; ``close()`` is idempotent.

    ``today`` is the edge's clock for the coaching aggregates (the local date by default).
    Aggregates are republished ``coalesce_s`` after a message changes the log (at most
    that often during a burst), on every (re)connect, and every ``refresh_s`` (so
    "today" rolls over at midnight).
    """

    def __init__(self, store: Store, *, host: str = "127.0.0.1", port: int = 1883,
                 username: str | None = None, password: str | None = None,
                 client_id: str = CLIENT_ID, protocol: Protocol | None = None,
                 rules: Rules | None = None, insertional: bool = False,
                 today: Callable[[], date] = date.today, publish_aggregates: bool = True,
                 discovery: bool = True, discovery_prefix: str = homeassistant.DISCOVERY_PREFIX,
                 coalesce_s: float = 0.2, refresh_s: float = 600.0,
                 keepalive_s: int = 30) -> None:
        self.store = store
        self.counts = Counts()
        self._host, self._port, self._keepalive_s = host, port, keepalive_s
        self._protocol = protocol or load_protocol()
        self._rules = rules or load_rules()
        self._insertional = insertional
        self._today = today
        self._publish_aggregates = publish_aggregates
        self._discovery = discovery
        self._prefix = discovery_prefix
        self._coalesce_s = coalesce_s
        self._refresh_s = refresh_s
        self._dirty: set[str] = set()
        self._receipts: dict[str, tuple[list[str], list[str]]] = {}
        self._announced: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._subscribed = threading.Event()
        self._worker: threading.Thread | None = None
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                   clean_session=False, manual_ack=True)
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.will_set(LOG_STATUS, encode("log_status", log_status_payload("offline")),
                              qos=1, retain=True)
        self._started = False
        self._closed = False
        self.failed = threading.Event()
        self.failure: StoreFailure | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> LogSubscriber:
        """Connect in the background (retrying while the broker is away) and start work."""
        if self._started:
            return self
        self._started = True
        self._worker = threading.Thread(target=self._work, name="heelraise-log-aggregates",
                                        daemon=True)
        self._worker.start()
        self._client.connect_async(self._host, self._port, keepalive=self._keepalive_s)
        self._client.loop_start()
        return self

    def wait_subscribed(self, timeout_s: float = 10.0) -> bool:
        """True once the broker has acknowledged our subscriptions."""
        return self._subscribed.wait(timeout_s)

    def flush(self, timeout_s: float = 10.0) -> None:
        """Publish pending aggregates now (used at shutdown and by tests)."""
        self._publish_dirty(wait_s=timeout_s)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout=10)
        if self._started:
            if self._client.is_connected():   # a clean disconnect sends no will: say it
                info = self._client.publish(LOG_STATUS, encode("log_status", log_status_payload(
                    "offline")), qos=1, retain=True)
                try:
                    info.wait_for_publish(timeout=2)
                except (RuntimeError, ValueError) as exc:
                    log.warning("offline status not sent: %s", exc)
            self._client.disconnect()
            self._client.loop_stop()
        log.info("log stopped: %d stored, %d duplicates, %d rejected, %d ratings",
                 self.counts.stored, self.counts.duplicates, self.counts.rejected,
                 self.counts.ratings)

    def __enter__(self) -> LogSubscriber:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- paho callbacks (network thread) ----------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker %s:%d refused the log: %s", self._host, self._port, reason_code)
            return
        log.info("log connected to %s:%d (session %s)", self._host, self._port,
                 "resumed" if flags.session_present else "new")
        client.subscribe(topic_filters(self._prefix if self._discovery else None))
        client.publish(LOG_STATUS, encode("log_status", log_status_payload("online")), qos=1,
                       retain=True)
        self._refresh()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        failed = [rc for rc in reason_codes if rc.is_failure]
        if failed:
            log.error("broker refused a log subscription: %s", failed[0])
        self._subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._subscribed.clear()
        if not self._stopping.is_set():
            log.warning("log lost the broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        if self.failed.is_set():
            return      # the database failed: nothing more is stored or acknowledged
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            topic = repr(msg._topic)  # paho keeps the raw bytes; the topic is unusable
        try:
            self.handle(topic, msg.payload)
        except StoreFailure as exc:
            # Not acknowledged: the broker redelivers it once the log runs again.
            log.critical("%s; the log stops, leaving the message on %s unacknowledged",
                         exc, topic)
            self.failure = exc
            self.failed.set()
            client.disconnect()
            return
        if msg.qos > 0:
            client.ack(msg.mid, msg.qos)

    # -- the work ----------------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes) -> str:
        """Validate and store one message; "stored", "duplicate", "rated", "seen" or "rejected".

        Anything wrong with the message, whatever raised it, is a counted, stored
        rejection. Raises :class:`StoreFailure` only when the database itself fails:
        the message must then be redelivered, to a log that works.
        """
        try:
            if topic == f"{self._prefix}/status":
                self._home_assistant_status(payload)
                return "seen"
            if topic == LOG_STATUS:   # our own, matched by heelraise/+/status
                return "seen"
            device, kind = split_topic(topic)
            if kind.startswith("cmd/"):
                outcome = self._command(device, topic, payload)
            else:
                outcome = self._event(device, kind, payload)
        except Exception as exc:
            if is_database_failure(exc):
                raise StoreFailure(f"{self.store.path}: the log database failed: {exc}") \
                    from exc
            self._reject(topic, payload, exc)
            return "rejected"
        if outcome != "duplicate":
            self.mark_changed(device)
        return outcome

    def _reject(self, topic: str, payload: bytes, exc: Exception) -> None:
        """Count and keep a message the log cannot use (so the broker may forget it)."""
        if isinstance(exc, PayloadError):
            reason, error = exc.reason, str(exc)
            log.warning("rejected message on %s: %s", topic, exc)
        else:   # a bug of ours, not the sender's: keep the message and say so loudly
            reason = error = f"could not be stored ({type(exc).__name__}: {exc})"[:200]
            log.exception("rejected message on %s: %s", topic, reason)
        self.counts.rejected += 1
        try:
            self.store.count_rejected(reason, topic, error, payload)
            device, kind = split_topic(topic)
            msg_id = message_id(payload) if kind in DURABLE else None
            if msg_id is not None:
                self._receipt(device, msg_id, stored=False)
        except PayloadError:
            pass    # not a device's topic: there is no one to send a receipt to
        except Exception as failure:
            if is_database_failure(failure):
                raise StoreFailure(f"{self.store.path}: the log database failed: "
                                   f"{failure}") from failure
            raise

    def _event(self, device: str, kind: str, payload: bytes) -> str:
        if kind not in EVENTS:
            raise PayloadError(f"{kind}: not a topic the log stores")
        data = validate(kind, payload)
        if data["device"] != device:
            raise PayloadError(f"{kind}: 'device' differs from the topic's device, "
                               f"got {data['device']!r}",
                               reason=f"{kind}: 'device' differs from the topic's device")
        if kind == "status":
            return "seen"
        added = {"set": self.store.add_set, "rep": self.store.add_rep,
                 "hold": self.store.add_hold, "test": self.store.add_test}[kind](data)
        if kind in DURABLE:
            self._receipt(device, data["id"], stored=True)
        if added:
            self.counts.stored += 1
            return "stored"
        self.counts.duplicates += 1
        return "duplicate"

    def _receipt(self, device: str, msg_id: str, stored: bool) -> None:
        """Confirm to ``device`` (soon, in a batch) that its set is stored, or refused."""
        with self._lock:
            self._receipts.setdefault(device, ([], []))[0 if stored else 1].append(msg_id)
        self._wake.set()

    def _send_receipts(self) -> None:
        """Publish the receipts collected since last time, at most MAX_RECEIPTS ids each."""
        with self._lock:
            receipts, self._receipts = self._receipts, {}
        for device, (stored, rejected) in receipts.items():
            for start in range(0, max(len(stored), len(rejected)), MAX_RECEIPTS):
                end = start + MAX_RECEIPTS
                self._client.publish(ack_topic(device), encode("ack", ack_payload(
                    device, stored[start:end], rejected[start:end])), qos=1)

    def _command(self, device: str, topic: str, payload: bytes) -> str:
        command = parse_command(topic, payload)
        rating_id = command.id
        day = date.fromisoformat(command.date) if command.date else self._today()
        if command.name == "pain":
            set_id = command.set_id or self.store.last_set_id(device, self._today())
            self.store.record_pain(command.value, device=device, set_id=set_id,
                                   rating_id=rating_id, source="mqtt")
        elif command.name == "stiffness":
            self.store.record_stiffness(command.value, device=device, day=day, source="mqtt")
        elif command.name == "activity":
            self.store.record_activity(command.value, device=device, day=day, source="mqtt")
        else:
            raise PayloadError(f"cmd/{command.name}: not a command the log handles")
        self.counts.ratings += 1
        return "rated"

    def _home_assistant_status(self, payload: bytes) -> None:
        """Home Assistant came (back) online: announce every known device again."""
        if payload.strip() != b"online":
            return
        with self._lock:
            self._announced.clear()
        self._refresh()

    def _refresh(self) -> None:
        """Republish everything for every device in the log (on connect, and periodically
        so that "today" rolls over at midnight without waiting for a set)."""
        try:
            devices = self.store.devices()
        except sqlite3.Error:
            log.exception("could not read the log's devices")
            return
        for device in devices:
            self.mark_changed(device)

    def mark_changed(self, device: str) -> None:
        """Republish ``device``'s aggregates shortly, coalesced with any other change.

        For changes that reach the store without an MQTT message, such as a rating
        entered on the dashboard's web page.
        """
        with self._lock:
            self._dirty.add(device)
        self._wake.set()

    def _work(self) -> None:
        version = self.store.data_version
        last_refresh = time.monotonic()
        while not self._stopping.is_set():
            if not self._wake.wait(min(self._refresh_s, WATCH_S)):
                # A command that wrote to the database itself (`heelraise strike`, a
                # rating with --db) changes it behind our back: republish within seconds.
                now, changed = time.monotonic(), self.store.data_version
                if changed == version and now - last_refresh < self._refresh_s:
                    continue
                version, last_refresh = changed, now
                self._refresh()
            if self._stopping.is_set():
                break
            # Coalesce a burst (a backlog after a restart) into one republish.
            self._stopping.wait(self._coalesce_s)
            self._send_receipts()
            try:
                self._publish_dirty()
            except Exception:
                log.exception("could not republish the log's aggregates")
        self._send_receipts()
        self._publish_dirty(wait_s=5.0)

    def _clear_legacy_discovery(self, device: str) -> None:
        """Once per device and log: remove the per-entity configs older versions published,
        and give Home Assistant a moment to forget them before the device config comes."""
        fact = f"homeassistant legacy cleared: {device}"
        if self.store.fact(fact) is not None:
            return
        for legacy in homeassistant.legacy_topics(device, self._prefix):
            self._client.publish(legacy, b"", qos=1, retain=True)
        self._stopping.wait(LEGACY_GAP_S)
        self.store.remember(fact, utc_now_iso())

    def _republish(self, device: str, announce: bool) -> list[mqtt.MQTTMessageInfo]:
        infos = []
        if announce:
            self._clear_legacy_discovery(device)
            for config_topic, config in homeassistant.discovery_messages(
                    device, self._prefix).items():
                infos.append(self._client.publish(config_topic, homeassistant.encode(config),
                                                  qos=1, retain=True))
        if self._publish_aggregates:
            for kind, body in aggregates(self.store, device, self._today(),
                                         protocol=self._protocol, rules=self._rules,
                                         insertional=self._insertional).items():
                infos.append(self._client.publish(
                    aggregate_topic(device, kind), json.dumps(body, separators=(",", ":")),
                    qos=1, retain=True))
        return infos

    def _publish_dirty(self, wait_s: float = 0.0) -> None:
        with self._lock:
            self._wake.clear()
            devices, self._dirty = sorted(self._dirty), set()
            announce = {d for d in devices if self._discovery and d not in self._announced}
            self._announced |= announce
        infos = []
        for device in devices:
            try:
                infos += self._republish(device, device in announce)
            except Exception:   # one device's summary must not hold up the others'
                log.exception("could not republish the aggregates of %s", device)
        for info in infos if wait_s > 0 else ():
            if self._client.is_connected():
                info.wait_for_publish(timeout=wait_s)
