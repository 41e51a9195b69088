"""The ``[feedback]`` table of the service config: pins, polarity and the coaching patterns.

Apart from :mod:`.feedback` (which drives gpiozero), so that reading a config
never imports GPIO code. Its shape is a :mod:`.schema` spec, checked with the
rest of the config file; :meth:`FeedbackConfig.from_dict` turns a checked
table into the values :class:`~.feedback.Feedback` plays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from colorzero import Color

from .datafile import checked
from .errors import ConfigError
from .schema import Field, array, boolean, either, integer, number, optional, string, table

Pin = int | str
Colour = tuple[float, float, float]


@dataclass(frozen=True)
class Pattern:
    """One cue: flashes played in order, in one colour (RGB LED), with or without the buzzer."""

    pairs: tuple[tuple[float, float], ...]
    colour: Colour = (1.0, 1.0, 1.0)
    beep: bool = False

    def runs(self) -> list[tuple[float, float, int]]:
        """Consecutive equal pairs folded into ``(on_s, off_s, n)``: one gpiozero blink each."""
        runs: list[tuple[float, float, int]] = []
        for on_s, off_s in self.pairs:
            if runs and runs[-1][:2] == (on_s, off_s):
                runs[-1] = (on_s, off_s, runs[-1][2] + 1)
            else:
                runs.append((on_s, off_s, 1))
        return runs


_RED, _GREEN, _BLUE = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)

DEFAULT_PATTERNS: Mapping[str, Pattern] = MappingProxyType({
    # one calm flash: counted, tempo fine
    "good_rep": Pattern(((0.4, 0.1),), _GREEN),
    # a flutter: that rep was rushed
    "too_fast": Pattern(((0.1, 0.1),) * 5, _RED, beep=True),
    # a short double mid-rise: this rise is heading for "too fast", slow down now
    "pace_cue": Pattern(((0.15, 0.15),) * 2, (1.0, 1.0, 0.0), beep=True),
    # two long flashes: the minimum hold (30 s in stage 1) is reached
    "hold_30": Pattern(((0.5, 0.3),) * 2, (0.0, 1.0, 1.0), beep=True),
    # three long flashes: the maximum hold (45 s) is reached, lower now
    "hold_45": Pattern(((0.5, 0.3),) * 3, _BLUE, beep=True),
    # three very long flashes: rest between sets is over
    "rest_over": Pattern(((1.0, 0.5),) * 3, (0.6, 0.0, 1.0), beep=True),
    # slow blinking, repeated until the sensor is back
    "sensor_lost": Pattern(((1.0, 1.0),), (1.0, 0.4, 0.0)),
    # the heel-rise test's metronome: a tick to rise on, a shorter one to lower on
    "beat_up": Pattern(((0.12, 0.02),), _GREEN, beep=True),
    "beat_down": Pattern(((0.06, 0.02),), _BLUE, beep=True),
    # the test's first miss (keep to the beat, rise higher) and its end
    "test_prompt": Pattern(((0.1, 0.05),) * 2, (1.0, 1.0, 0.0), beep=True),
    "test_end": Pattern(((0.8, 0.2),) * 2, _RED, beep=True),
})

_MAX_FLASH_S = 60.0


def _colour_name(value: object) -> str | None:
    try:
        Color(value)
    except ValueError:
        return 'is not a colour name like "red" or "#ff8000"'
    return None


def _lit(value: object) -> str | None:
    return None if value[0] > 0 else "must be [on_s, off_s] with on_s > 0"  # type: ignore[index]


def _one_led(table_: object) -> tuple[str, str] | None:
    return ("rgb", "cannot be set with led: set one of them") if {"led", "rgb"} <= set(table_) \
        else None  # type: ignore[arg-type]


def _distinct_pins(table_: object) -> tuple[str, str] | None:
    pins = [table_.get("led"), *(table_.get("rgb") or {}).values(), table_.get("buzzer")]  # type: ignore[union-attr]
    used = [p for p in pins if p is not None]
    for pin in used:
        if used.count(pin) > 1:
            return "buzzer" if pin == table_.get("buzzer") else "rgb", \
                f"uses pin {pin!r}, which is already in use"  # type: ignore[union-attr]
    return None


_PIN = either('a BCM number or a pin name like "GPIO17"', integer("BCM pin number", 0, 63),
              string("gpiozero pin name", max_len=16))
_PAIRS = array("[on_s, off_s] flashes, played in order",
               array("", number("seconds", 0, _MAX_FLASH_S), 2, min_items=2, checks=(_lit,)),
               max_items=100, min_items=1)
_COLOUR = either("a colour name or [r, g, b] from 0 to 1",
                 string("colour name", max_len=32, checks=(_colour_name,)),
                 array("", number("", 0, 1), 3, min_items=3))
_PATTERN = either('a list of [on_s, off_s] pairs or a table {pairs = [...], colour = "red", '
                  'beep = true}', _PAIRS,
                  table("", optional({"pairs": _PAIRS, "colour": _COLOUR,
                                      "beep": boolean("sound the buzzer too")})))

FEEDBACK: Field = table("[feedback]", optional({
    "enabled": boolean("false: no LED or buzzer (machines without GPIO)"),
    "led": _PIN,
    "rgb": table("an RGB LED instead", {"red": _PIN, "green": _PIN, "blue": _PIN}),
    "buzzer": _PIN,
    "active_high": boolean("the LED lights when its pin is high"),
    "buzzer_active_high": boolean("the buzzer sounds when its pin is high"),
    "patterns": table("cues", optional({name: _PATTERN for name in DEFAULT_PATTERNS})),
}), checks=(_one_led, _distinct_pins))
"""The ``[feedback]`` table, checked with the rest of the config (config.SCHEMA)."""


def _colour(value: Any) -> Colour:
    if isinstance(value, str):
        return tuple(Color(value))  # type: ignore[return-value]
    return (float(value[0]), float(value[1]), float(value[2]))


def _pattern(name: str, value: Any) -> Pattern:
    """A list of pairs keeps the default colour and beep; a table may set all three."""
    default = DEFAULT_PATTERNS[name]
    table_ = {"pairs": value} if isinstance(value, list) else value
    pairs = table_.get("pairs")
    return Pattern(
        tuple((float(on), float(off)) for on, off in pairs) if pairs else default.pairs,
        _colour(table_["colour"]) if "colour" in table_ else default.colour,
        table_.get("beep", default.beep),
    )


@dataclass(frozen=True)
class FeedbackConfig:
    """The ``[feedback]`` table: which pins, which polarity, which patterns.

    ``led`` and the ``rgb`` pins are BCM numbers or gpiozero pin names ("GPIO17",
    "BOARD11"); without either, the LED is on GPIO17. ``enabled = false`` gives a
    sink that does nothing, for machines without GPIO.
    """

    enabled: bool = True
    led: Pin | None = 17
    rgb: tuple[Pin, Pin, Pin] | None = None
    buzzer: Pin | None = None
    active_high: bool = True
    buzzer_active_high: bool = True
    patterns: Mapping[str, Pattern] = field(default_factory=lambda: DEFAULT_PATTERNS)
    where: str = "<defaults>"   # the config file, for errors found when the pins open

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str) -> FeedbackConfig:
        """The ``[feedback]`` table as values; a bad one raises a one-line ConfigError."""
        where = str(where)
        checked(where, {"feedback": d}, table("", {"feedback": FEEDBACK}), ConfigError)
        rgb = d.get("rgb")
        patterns = dict(DEFAULT_PATTERNS)
        for name, value in d.get("patterns", {}).items():
            patterns[name] = _pattern(name, value)
        return cls(
            enabled=d.get("enabled", True),
            led=None if rgb else d.get("led", 17),
            rgb=None if rgb is None else (rgb["red"], rgb["green"], rgb["blue"]),
            buzzer=d.get("buzzer"),
            active_high=d.get("active_high", True),
            buzzer_active_high=d.get("buzzer_active_high", True),
            patterns=MappingProxyType(patterns), where=where,
        )
