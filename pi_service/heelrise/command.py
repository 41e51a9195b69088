"""``heelraise heel-rise-test``: the guided test on the live (or simulated) sensor, or a
recorded test analysed offline (``--recording FILE --leg L --json``).

The person's involved side and body mass are asked once and kept in the config file
(the one ``--config`` names, else ``heelraise.toml`` in the state directory), so the
next test only asks again if they are removed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from ..arguments import configure_sensor, number
from ..errors import HeelRaiseError
from .outcomes import LEGS

KEPT = "heelraise.toml"
"""The config file facts are kept in when no --config is given (in the state directory)."""


def configure(parser: argparse.ArgumentParser) -> None:
    configure_sensor(parser)
    parser.add_argument("--leg", choices=(*LEGS, "both"), default=None,
                        help="leg to test (default: both, the uninvolved first; with "
                             "--recording: the leg recorded, required)")
    parser.add_argument("--involved", choices=LEGS,
                        help="the side with the tendinopathy (asked once, kept in the config)")
    parser.add_argument("--body-mass", type=number(20, 400), metavar="KG",
                        help="body mass for the work in J (asked once, kept in the config)")
    parser.add_argument("--incline", type=number(0, 30), default=0.0, metavar="DEG",
                        help="incline board under the forefoot (the protocol's is 10)")
    parser.add_argument("--calibration", metavar="FILE",
                        help="calibration file: its lever (heel to ball) sets the heights")
    parser.add_argument("--test-file", metavar="TOML",
                        help="test protocol (default: the packaged heelrise.toml)")
    parser.add_argument("--rest", type=number(0, 3600), metavar="S",
                        help="rest between legs (default: the protocol's 120 s)")
    parser.add_argument("--no-warm-up", action="store_true",
                        help="skip the 10 bilateral warm-up raises")
    parser.add_argument("--device", help="device name in the MQTT topics")
    parser.add_argument("--state-dir", help="where the outbox (and, without --config, the "
                                            "kept facts) live")
    parser.add_argument("--no-mqtt", action="store_true", help="do not publish the result")
    parser.add_argument("--json", action="store_true", help="print the outcomes as JSON")


def config_path(args: argparse.Namespace) -> Path:
    """Where the person's facts are read from and kept."""
    if args.config:
        return Path(args.config)
    from ..config import default_state_dir

    return Path(args.state_dir or default_state_dir()) / KEPT


def keep(path: Path, key: str, value: str | float) -> None:
    """Write ``key = value`` into the config file (top-level keys go before any table)."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if re.search(rf"^\s*{key}\s*=", text, re.MULTILINE):
        return
    line = f'{key} = "{value}"' if isinstance(value, str) else f"{key} = {value:g}"
    lines = text.splitlines()
    at = 0
    while at < len(lines) and (not lines[at].strip() or lines[at].lstrip().startswith("#")):
        at += 1
    lines.insert(at, f"{line}                # kept by heelraise heel-rise-test")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError as exc:
        raise HeelRaiseError(f"{path}: cannot keep {key}: {exc.strerror}") from None


def _ask(question: str, parse: Callable[[str], object], ask: Callable[[str], str]) -> object:
    for _ in range(3):
        try:
            return parse(ask(question).strip())
        except (ValueError, argparse.ArgumentTypeError) as exc:
            print(f"  {exc}", file=sys.stderr)
    raise HeelRaiseError(f"no answer to: {question.strip()}")


def person(args: argparse.Namespace, config, ask: Callable[[str], str] | None = input,
           ) -> tuple[str | None, float | None]:
    """The involved side and body mass: the command line, else the config, else asked
    (and kept) where someone can answer; None where no one can."""
    path = config_path(args)
    involved = args.involved or config.involved_side
    mass = args.body_mass if args.body_mass is not None else config.body_mass_kg
    interactive = ask is not None and sys.stdin.isatty()
    if involved is None and interactive:
        involved = _ask("Which side has the tendinopathy (left/right)? ",
                        lambda s: s if s in LEGS else _no("answer left or right"), ask)
    if mass is None and interactive:
        mass = _ask("Body mass in kg (for the work in J)? ", number(20, 400), ask)
    for key, value, given in (("involved_side", involved, config.involved_side),
                              ("body_mass_kg", mass, config.body_mass_kg)):
        if value is not None and given is None:
            keep(path, key, value)
    return involved, None if mass is None else float(mass)


def _no(why: str) -> str:
    raise ValueError(why)


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from .protocol import load_test_protocol

    path = config_path(args)
    if args.config is None and path.is_file():
        args.config = str(path)
    config = load_config(args.config)
    protocol = load_test_protocol(args.test_file)
    calibration = None
    if args.calibration or config.calibration:
        from calibration.file import load_calibration

        calibration = load_calibration(args.calibration or config.calibration)
    if args.recording:
        return _offline(args, config, protocol, calibration)
    from .live import run_guided

    return run_guided(args, protocol, calibration, *person(args, config))


def _offline(args, config, protocol, calibration) -> int:
    from ..pipeline import SampleError
    from ..sources.recording import iter_recording
    from .outcomes import describe, norm_lines, norms, results_json
    from .run import analyze_test

    if args.leg not in LEGS:
        raise HeelRaiseError("--recording needs --leg left or --leg right (the leg recorded)")
    involved, mass = person(args, config, ask=None)
    try:
        result = analyze_test(iter_recording(args.recording), protocol, leg=args.leg,
                              body_mass_kg=mass, calibration=calibration,
                              incline_deg=args.incline)
    except SampleError as exc:
        raise HeelRaiseError(f"{args.recording}: {exc}") from None
    except HeelRaiseError as exc:
        raise HeelRaiseError(f"{args.recording}: {exc}") from None
    if args.json:
        out = results_json([result], protocol, involved)
        out["warnings"] = [] if mass is not None else [
            "no body mass (--body-mass KG, or body_mass_kg in the config): work is null"]
        json.dump(out, sys.stdout, indent=1)
        print()
    else:
        for line in describe(result, protocol, involved) + norm_lines(
                norms(protocol, args.incline)):
            print(line)
    return 0
