"""The guided test on the configured sensor: source, feedback and publisher around
:class:`~.guided.GuidedTest`, like ``heelraise run`` around its pipeline.

With no IMU (or ``--source simulator``) a simulated person does the test, labelled as
such, so anyone can try it; ``--speed`` plays it faster and ``--rest`` shortens the
two minutes between legs.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from contextlib import ExitStack

from ..builders import new_id
from ..errors import HeelRaiseError
from ..pipeline import Calibration
from .guided import GuidedTest
from .metronome import Beat
from .outcomes import LEGS, describe, describe_symmetry, results_json
from .protocol import TestProtocol
from .run import TEST_STAGE

log = logging.getLogger(__name__)

CONFIRM_S = 5.0
"""How long the test waits at the end for the training log's receipt of its result: a
test is one result, worth a few seconds, not a stream of sets the next start resends."""


def test_legs(leg: str | None, involved: str | None) -> list[str]:
    """The legs to test, in order: one, or both with the uninvolved side first."""
    if leg in LEGS:
        return [leg]
    first = "left" if involved is None else next(x for x in LEGS if x != involved)
    return [first, next(x for x in LEGS if x != first)]


def run_guided(args: argparse.Namespace, protocol: TestProtocol,
               calibration: Calibration | None, involved: str | None,
               body_mass_kg: float | None) -> int:
    from ..feedback import FeedbackConfig, open_feedback
    from ..service import config_from_args, make_publisher, open_source
    from ..sources.heelrise_sim import SimulatedTestSource
    from ..stages import load_stage

    config = config_from_args(args)
    legs = test_legs(args.leg, involved)
    stage = load_stage(TEST_STAGE)
    # With --json, stdout holds the JSON alone: the guidance goes to stderr (the terminal).
    talk = sys.stderr if args.json else sys.stdout
    tty = talk.isatty()
    test_id = new_id()[:16]

    def say(text: str) -> None:
        print(("\r\033[K" if tty else "") + text, file=talk, flush=True)

    def beat(b: Beat) -> None:
        if tty:
            word = {"count": f"{-b.index}...", "up": "UP  ", "down": "down"}[b.kind]
            print(f"\r\033[K  ♪ {word}", end="", file=talk, flush=True)

    with ExitStack() as stack:
        source, name = open_source(config)
        if name == "simulator":
            source.close()
            source = SimulatedTestSource(config.sensor.seed, protocol, legs, involved,
                                         speed=config.sensor.speed, incline_deg=args.incline,
                                         warm_up=not args.no_warm_up, rest_s=args.rest)
            say("No sensor: a SIMULATED person does the test (its result is marked so).")
        stack.callback(source.close)
        feedback = open_feedback(FeedbackConfig.from_dict(config.feedback, config.path), stage)
        stack.callback(feedback.close)
        publisher = None
        if config.broker.enabled:
            publisher = stack.enter_context(make_publisher(
                config, name, stage, getattr(source, "iso_time", None)))
        guided = GuidedTest(protocol, legs, say=say, cue=feedback.cue, beat=beat,
                            calibration=calibration, incline_deg=args.incline,
                            body_mass_kg=body_mass_kg, warm_up=not args.no_warm_up,
                            rest_s=args.rest)
        say(f"Heel-rise test, {' then '.join(legs)} leg, {protocol.bpm:g} beats a minute. "
            "Ctrl-C stops.")
        published = 0
        try:
            for block in source:
                guided.feed(block)
                while publisher is not None and published < len(guided.results):
                    publisher.publish_test(guided.results[published], test_id=test_id,
                                           involved=involved, bpm=protocol.bpm)
                    published += 1
                if guided.done:
                    break
        except KeyboardInterrupt:
            say("stopped")
        guided.finish()
        if publisher is not None:
            for result in guided.results[published:]:
                publisher.publish_test(result, test_id=test_id, involved=involved,
                                       bpm=protocol.bpm)
            if not publisher.wait_idle(timeout_s=10):
                log.warning("broker unreachable: the result waits in %s for next time",
                            config.outbox_path)
            elif publisher.confirmed_by_log and not publisher.wait_confirmed(CONFIRM_S):
                log.warning("the training log has not confirmed the result yet: it waits "
                            "in %s and goes again next time", config.outbox_path)
    if not guided.results:
        raise HeelRaiseError("no leg was measured" + (
            f" (the sensor did not learn its place on the {' or '.join(guided.unmeasured)} "
            "shoe)" if guided.unmeasured else ": the test ended before a leg was tested"))
    summary = results_json(guided.results, protocol, involved)
    summary["unmeasured"] = list(guided.unmeasured)
    if args.json:
        json.dump(summary, sys.stdout, indent=1)
        print()
        return 0
    say("")
    for result in guided.results:
        for line in describe(result, protocol, involved):
            say(line)
    for leg in guided.unmeasured:
        say(f"{leg} leg: not measured (the sensor did not learn its place); test it again "
            f"with --leg {leg}")
    say("\n".join(describe_symmetry(summary["symmetry"], summary["norms"])
                  if summary["symmetry"] else []) or "(one leg: no symmetry)")
    return 0
