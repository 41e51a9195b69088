"""Feedback latency: the sample that ends a rushed rep entering the service → the LED pin.

The service loop (``pi_service.service.Service``) reads a simulated sensor at its
real rate (blocks of 10 samples at 100 Hz, released when their last sample
would have been measured) and drives the LED through gpiozero's mock pin
factory, whose pins record when they change. For each rep judged too fast:

- detection: sensor time from the rep's true end (truth ``end_s``) to the last
  sample of the block after which the pipeline reported the rep — the core's
  detection latency, block buffering included;
- beyond: wall time from that block entering the service to the LED pin
  turning on — what the service loop and the feedback add;
- total: detection + beyond, the delay a person sees after the rep truly ended.

Target: beyond ≤ 100 ms at the 95th percentile.

Usage: python bench/feedback_latency.py [--reps N] [--seed S]
Runs in real time: about 5 s per rep.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
from gpiozero.pins.mock import MockFactory

from pi_service.config import ServiceConfig
from pi_service.feedback import Feedback, FeedbackConfig
from pi_service.pipeline.events import Rep
from pi_service.service import Service
from pi_service.sources.simulator import SimulatedSource
from pi_service.stages import load_stage


def pin_on_times(pin) -> list[float]:
    """Absolute monotonic times at which the mock pin went high (its log holds deltas)."""
    stamps, t = [], pin._last_change
    for state in reversed(pin.states):
        stamps.append((t, state.state))
        t -= state.timestamp
    return [t for t, state in reversed(stamps) if state]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=12)
    parser.add_argument("--seed", type=int, default=901)
    args = parser.parse_args(argv)

    stage = load_stage(2)
    source = SimulatedSource(2, args.seed, speed=1.0, rushed_fraction=1.0, n_sets=1,
                             walking=False)
    truth = source.simulation.truth
    last_end = truth.reps[min(args.reps, len(truth.reps)) - 1].end_s + 1.0
    factory = MockFactory()
    feedback = Feedback(FeedbackConfig.from_dict({}, "bench"), stage, pin_factory=factory)
    config = ServiceConfig()
    config.broker.enabled = False
    service = Service(config, stage, feedback, None, None, "simulator")

    entered: list[tuple[float, float]] = []      # (wall time, last sample time) per block
    reported: list[tuple[float, float, Rep]] = []  # (block entry wall time, its last t, rep)
    on_event = feedback.on_event

    def record(event):
        if isinstance(event, Rep):
            reported.append((*entered[-1], event))
        on_event(event)

    feedback.on_event = record

    def tap(blocks):
        for block in blocks:
            if len(block) and block.t[0] > last_end:
                return
            entered.append((time.monotonic(), float(block.t[-1])))
            yield block

    service.run(tap(iter(source)))
    led_on = pin_on_times(factory.pin(17))
    feedback.close()

    detection, total, beyond = [], [], []
    for wall, block_t, rep in reported:
        if not rep.verdict.rushed:
            continue
        true = min(truth.reps, key=lambda r: abs(r.start_s - rep.start_s))
        pin = next((t for t in led_on if t >= wall), None)
        if pin is None:
            continue
        detection.append((block_t - true.end_s) * 1e3)
        beyond.append((pin - wall) * 1e3)
        total.append(detection[-1] + beyond[-1])

    def stats(name: str, values: list[float]) -> None:
        print(f"{name:<38} median {np.median(values):7.1f} ms   p95 "
              f"{np.percentile(values, 95):7.1f} ms")

    print(f"feedback latency, {len(beyond)} rushed reps, seed {args.seed}, real time at 100 Hz, "
          f"{platform.machine()} python {platform.python_version()}")
    stats("core detection (sensor clock)", detection)
    stats("beyond detection (block in -> LED on)", beyond)
    stats("total (true end -> LED on)", total)
    verdict = "met" if np.percentile(beyond, 95) <= 100 else "MISSED"
    print(f"target p95 beyond detection <= 100 ms: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
