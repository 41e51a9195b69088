"""Publish path: set completion to broker acknowledgement, and outbox drain after an outage.

Runs a private Mosquitto on loopback, so the figures are the publisher's own
cost (SQLite commit with fsync, paho, the worker thread) plus a loopback round
trip; a real Wi-Fi link adds its round trip on top.

    .venv/bin/python bench/publish.py [--sets 200] [--backlog 1000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from pi_service import builders, mqtt_docs
from pi_service.broker import LocalBroker
from pi_service.publish import Publisher


def _sets(n: int) -> list[dict]:
    base = mqtt_docs.examples()["set"]
    return [{**base, "device": "bench", "id": builders.new_id(), "index": i + 1}
            for i in range(n)]


def _wait(predicate, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("publisher did not get there in time")
        time.sleep(0.001)


def ack_latency_ms(broker: LocalBroker, outbox: Path, sets: int) -> list[float]:
    """One set at a time, as in a session: publish_set() until its PUBACK is processed."""
    with Publisher("bench", broker.host, broker.port, outbox) as pub:
        _wait(lambda: pub.connected, 10)
        out = []
        for payload in _sets(sets):
            t0 = time.perf_counter()
            pub.publish_set(payload)
            if not pub.wait_idle(10):
                raise TimeoutError("set not acknowledged")
            out.append((time.perf_counter() - t0) * 1000)
        return out


def drain_after_outage(broker: LocalBroker, outbox: Path, backlog: int) -> dict[str, float]:
    """Queue ``backlog`` sets with the broker down, bring it back, time the drain."""
    broker.stop()
    with Publisher("bench", broker.host, broker.port, outbox, reconnect_max_s=1) as pub:
        t0 = time.perf_counter()
        for payload in _sets(backlog):
            pub.publish_set(payload)
        enqueue_s = time.perf_counter() - t0
        broker.start()
        t_up = time.perf_counter()
        _wait(lambda: pub.connected, 10)
        t_conn = time.perf_counter()
        if not pub.drain(120):
            raise TimeoutError(f"{pub.pending} sets left after 120 s")
        t_done = time.perf_counter()
    return {"enqueue_per_s": backlog / enqueue_s, "reconnect_s": t_conn - t_up,
            "drain_s": t_done - t_conn, "drain_per_s": backlog / (t_done - t_conn)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=int, default=200, help="sets for the latency run")
    parser.add_argument("--backlog", type=int, default=1000, help="sets queued during the outage")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the outbox lives (default: a temp dir; use the Pi's SD card)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp, LocalBroker() as broker:
        lat = sorted(ack_latency_ms(broker, Path(tmp) / "latency.db", args.sets))
        p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))]
        print(f"set -> PUBACK ({args.sets} sets, one at a time): "
              f"median {statistics.median(lat):.2f} ms, p95 {p95:.2f} ms, max {lat[-1]:.2f} ms")
        d = drain_after_outage(broker, Path(tmp) / "drain.db", args.backlog)
        print(f"outage backlog {args.backlog} sets: queued at {d['enqueue_per_s']:.0f} sets/s "
              f"(one fsync'd commit each); reconnect after broker start {d['reconnect_s']:.2f} s "
              f"(paho backoff); drained in {d['drain_s']:.2f} s = {d['drain_per_s']:.0f} sets/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
