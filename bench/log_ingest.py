"""How fast ``heelraise log`` stores sets, and that it stores each one exactly once.

A burst of 10,000 set messages (new sets mixed with redeliveries of sets already
sent, as a service's outbox produces after a flaky link) goes through a real
Mosquitto broker to the logger, which validates, stores (SQLite, WAL) and
republishes its aggregates as it does in service. Then a backlog published
while the logger is down is drained after it restarts (persistent session).

    .venv/bin/python bench/log_ingest.py [--messages 10000] [--duplicates 0.3]

Prints the figures; nothing is asserted on time.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from pi_service import builders, mqtt_docs
from pi_service.broker import LocalBroker
from pi_service.log.store import Store
from pi_service.log.subscriber import LogSubscriber

BROKER_CONFIG = "max_queued_messages 100000\n"
"""A logger that was down for weeks must get every queued set (Mosquitto's default is 1000)."""


BASE_SET = mqtt_docs.examples()["set"]
DETAIL = [{"index": i, "up_s": 3.1, "hold_s": 0.6, "down_s": 2.9, "peak_deg": 31.4,
           "verdict": "ok"} for i in range(1, 16)]


def set_payload(n: int) -> dict:
    """A realistic 15-rep stage-2 set (about 1.8 KB on the wire), 10 minutes after the last."""
    t = 1_767_225_600 + 600 * n
    return {**BASE_SET, "id": uuid.uuid4().hex, "device": "bench", "index": 1 + n % 3, "reps": 15,
            "ok_reps": 15, "tempo_compliance": 1.0, "target_reps": [15, 15], "rep_detail": DETAIL,
            "time": builders.iso_utc(t), "start_time": builders.iso_utc(t - 90)}


def burst(count: int, duplicate_share: float, rng: random.Random) -> tuple[list[bytes], int]:
    """``count`` messages: new sets, and redeliveries of earlier ones in among them."""
    distinct = round(count * (1 - duplicate_share))
    sent: list[bytes] = []
    out: list[bytes] = []
    fresh = (json.dumps(set_payload(n)).encode() for n in range(distinct))
    while len(out) < count:
        redeliver = sent and (len(sent) == distinct or rng.random() < duplicate_share)
        if redeliver:
            out.append(rng.choice(sent))
        else:
            raw = next(fresh)
            sent.append(raw)
            out.append(raw)
    return out, distinct


def publish_all(broker: LocalBroker, messages: Sequence[bytes]) -> float:
    """Publish at QoS 1 as fast as the broker acknowledges; seconds taken."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-publisher")
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    client.connect(broker.host, broker.port)
    client.loop_start()
    start = time.perf_counter()
    infos = [client.publish("heelraise/bench/set", raw, qos=1) for raw in messages]
    for info in infos:
        info.wait_for_publish(timeout=60)
    took = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return took


def wait_stored(logger: LogSubscriber, total: int, timeout_s: float = 300) -> float:
    start = time.perf_counter()
    while logger.counts.stored + logger.counts.duplicates + logger.counts.rejected < total:
        if time.perf_counter() - start > timeout_s:
            raise SystemExit(f"only {logger.counts.stored + logger.counts.duplicates} of "
                             f"{total} messages arrived")
        time.sleep(0.01)
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--duplicates", type=float, default=0.3,
                        help="share of the burst that are redeliveries (default 0.3)")
    parser.add_argument("--backlog", type=int, default=2_000,
                        help="sets published while the logger is down (default 2000)")
    args = parser.parse_args(argv)
    rng = random.Random(1)
    messages, distinct = burst(args.messages, args.duplicates, rng)
    size_kb = sum(map(len, messages)) / len(messages) / 1024
    with tempfile.TemporaryDirectory() as tmp, LocalBroker(extra_config=BROKER_CONFIG) as broker:
        db = Path(tmp) / "log.sqlite3"
        with Store(db) as store:
            with LogSubscriber(store, host=broker.host, port=broker.port) as logger:
                logger.wait_subscribed()
                start = time.perf_counter()
                publish_s = publish_all(broker, messages)
                wait_stored(logger, len(messages))
                live_s = time.perf_counter() - start
                stored, dups = logger.counts.stored, logger.counts.duplicates
            rows = store.count("sets")
            print(f"live burst: {len(messages)} messages ({distinct} distinct sets, "
                  f"{len(messages) - distinct} redeliveries, {size_kb:.1f} KB each)")
            print(f"  published (broker acked) in {publish_s:.2f} s")
            print(f"  stored in {live_s:.2f} s: {len(messages) / live_s:.0f} messages/s, "
                  f"{stored / live_s:.0f} new sets/s")
            print(f"  exactly once: rows {rows} == distinct ids {distinct}: {rows == distinct}"
                  f" (logger: {stored} stored, {dups} duplicates, "
                  f"{logger.counts.rejected} rejected)")

            backlog, _ = burst(args.backlog, 0.0, rng)
            publish_all(broker, backlog)            # the logger is down: the broker queues
            with LogSubscriber(store, host=broker.host, port=broker.port) as logger:
                drain_s = wait_stored(logger, len(backlog))
            rows_after = store.count("sets")
            print(f"backlog after restart: {len(backlog)} sets drained in {drain_s:.2f} s "
                  f"({len(backlog) / drain_s:.0f} sets/s); rows {rows_after} == "
                  f"{distinct + len(backlog)}: {rows_after == distinct + len(backlog)}")
        print(f"database: {db.stat().st_size / 1e6:.1f} MB for {rows_after} sets")
    ok = rows == distinct and rows_after == distinct + len(backlog)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
