"""Command-line argument types and the option groups several commands share.

Every number a person types is checked here, where argparse can answer with one
line naming the option ("argument --speed: must be above 0, got 0"), never deeper
down as a traceback. Nothing heavy is imported, so ``heelraise --help`` stays quick.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

SEED_MAX = 2 ** 31 - 1


def number(lo: float, hi: float, *, above: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number in ``lo..hi`` (strictly above ``lo`` when ``above``)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        low_ok = value > lo if above else value >= lo
        if not low_ok or value > hi:
            low = f"above {lo:g}" if above else f"at least {lo:g}"
            raise argparse.ArgumentTypeError(f"must be {low} and at most {hi:g}, got {text}")
        return value
    return parse


def whole(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse type: a whole number in ``lo..hi``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be {lo} to {hi}, got {text}")
        return value
    return parse


speed = number(0, 1e6, above=True)
"""Replay speed: 1 is real time; 0, negative, NaN and infinity are refused."""
port = whole(1, 65535)
seed = whole(0, SEED_MAX)
rating = number(0, 10)
"""A pain, stiffness or activity rating, 0..10."""


def configure_sensor(parser: argparse.ArgumentParser) -> None:
    """Options that choose the sample source (shared by ``run``, ``calibrate`` and ``start``)."""
    parser.add_argument("--config", metavar="TOML", help="service config file")
    parser.add_argument("--source", choices=("auto", "i2c", "wireless", "simulator", "recording"),
                        help="where samples come from (auto: I2C IMU, else the simulator; "
                             "wireless: the clip-on, through the broker)")
    parser.add_argument("--recording", metavar="CSV", help="recording to play (source=recording)")
    parser.add_argument("--speed", type=speed, help="replay speed for recordings/simulator")
    parser.add_argument("--seed", type=seed, help="simulated session seed")


def configure_run(parser: argparse.ArgumentParser) -> None:
    """The service's options (``heelraise run``, and ``heelraise start`` on top of its own)."""
    configure_sensor(parser)
    parser.add_argument("--device", help="device name used in MQTT topics")
    parser.add_argument("--stage", type=whole(1, 99), help="rehab stage 1-4")
    parser.add_argument("--host", help="MQTT broker host")
    parser.add_argument("--port", type=port, help="MQTT broker port")
    parser.add_argument("--no-mqtt", action="store_true", help="run without publishing")
    parser.add_argument("--state-dir", help="where the outbox lives")
    parser.add_argument("--quiet", action="store_true", help="no live rep lines on stdout")
