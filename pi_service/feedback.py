"""LED (and optional buzzer) coaching driven by pipeline events.

The person is mid-exercise and not looking at a screen: an LED on the shoe or the
step says "good rep", "too fast", "slow down, you are rushing this rise", "30 s
held", "45 s held, lower now", "rest is over" and "sensor lost". Each cue is a
pattern of ``[on_s, off_s]`` flashes from the ``[feedback]`` table of the service
config, played by gpiozero's own ``blink``/``beep`` threads, so ``on_event``
returns at once and a new cue simply replaces the one still playing.

Timers (hold countdown, rest between sets) run on the sensor clock that the
service passes to :meth:`Feedback.on_time`, never on the wall clock, so a
recording replayed at any speed coaches the same way.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from colorzero import Color
from gpiozero import LED, RGBLED, Buzzer
from gpiozero.exc import GPIOZeroError, PinFactoryFallback, PinInvalidPin, PinPWMUnsupported
from gpiozero.threads import GPIOThread

from .errors import ConfigError
from .pipeline.events import (
    Event,
    Hold,
    PaceWarning,
    Phase,
    PhaseChange,
    Rep,
    SetSummary,
    Verdict,
)
from .protocol import Stage
from .stages import load_stage

log = logging.getLogger(__name__)

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
})

_KEYS = ("enabled", "led", "rgb", "buzzer", "active_high", "buzzer_active_high", "patterns")
_MAX_FLASH_S = 60.0


def _fail(where: str, key: str, fault: str) -> ConfigError:
    return ConfigError(where, f"feedback.{key}: {fault}")


def _pin(where: str, key: str, value: Any) -> Pin:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _fail(where, key, f"must be a BCM number or a pin name like \"GPIO17\", "
                                f"got {value!r}")
    if isinstance(value, int) and value < 0:
        raise _fail(where, key, f"must be a BCM number >= 0, got {value}")
    if isinstance(value, str) and not value.strip():
        raise _fail(where, key, "must not be empty")
    return value


def _bool(where: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(where, key, f"must be true or false, got {value!r}")
    return value


def _colour(where: str, key: str, value: Any) -> Colour:
    if isinstance(value, str):
        try:
            return tuple(Color(value))  # type: ignore[return-value]
        except ValueError:
            raise _fail(where, key, f"unknown colour {value!r} (a name like \"red\" or "
                                    f"\"#ff8000\", or [r, g, b] from 0 to 1)") from None
    if (isinstance(value, list) and len(value) == 3
            and all(isinstance(c, int | float) and not isinstance(c, bool) and 0 <= c <= 1
                    for c in value)):
        return (float(value[0]), float(value[1]), float(value[2]))
    raise _fail(where, key, f"must be a colour name or [r, g, b] from 0 to 1, got {value!r}")


def _pairs(where: str, key: str, value: Any) -> tuple[tuple[float, float], ...]:
    if not isinstance(value, list) or not value:
        raise _fail(where, key, f"must be a non-empty list of [on_s, off_s] pairs, got {value!r}")
    pairs = []
    for i, pair in enumerate(value):
        if not (isinstance(pair, list) and len(pair) == 2
                and all(isinstance(x, int | float) and not isinstance(x, bool) for x in pair)):
            raise _fail(where, key, f"pair {i + 1} must be [on_s, off_s], got {pair!r}")
        on_s, off_s = float(pair[0]), float(pair[1])
        if not (0 < on_s <= _MAX_FLASH_S and 0 <= off_s <= _MAX_FLASH_S):
            raise _fail(where, key, f"pair {i + 1} needs 0 < on_s <= {_MAX_FLASH_S:g} and "
                                    f"0 <= off_s <= {_MAX_FLASH_S:g}, got {pair!r}")
        pairs.append((on_s, off_s))
    return tuple(pairs)


def _pattern(where: str, name: str, value: Any) -> Pattern:
    """A list of pairs keeps the default colour and beep; a table may set all three."""
    key = f"patterns.{name}"
    default = DEFAULT_PATTERNS[name]
    if isinstance(value, list):
        return Pattern(_pairs(where, key, value), default.colour, default.beep)
    if not isinstance(value, dict):
        raise _fail(where, key, "must be a list of [on_s, off_s] pairs or a table "
                                "{pairs = [...], colour = \"red\", beep = true}")
    unknown = sorted(set(value) - {"pairs", "colour", "beep"})
    if unknown:
        raise _fail(where, key, f"unknown key '{unknown[0]}' (known: pairs, colour, beep)")
    return Pattern(
        _pairs(where, f"{key}.pairs", value["pairs"]) if "pairs" in value else default.pairs,
        _colour(where, f"{key}.colour", value["colour"]) if "colour" in value
        else default.colour,
        _bool(where, f"{key}.beep", value["beep"]) if "beep" in value else default.beep,
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
        """Validate the TOML ``[feedback]`` table; any bad value raises a one-line ConfigError."""
        where = str(where)
        unknown = sorted(set(d) - set(_KEYS))
        if unknown:
            raise _fail(where, unknown[0], f"unknown key (known: {', '.join(_KEYS)})")
        enabled = _bool(where, "enabled", d.get("enabled", True))
        rgb = None
        if "rgb" in d:
            if "led" in d:
                raise _fail(where, "rgb", "set either led or rgb, not both")
            table = d["rgb"]
            if not isinstance(table, dict) or set(table) != {"red", "green", "blue"}:
                raise _fail(where, "rgb", f"must be {{red = <pin>, green = <pin>, blue = "
                                          f"<pin>}}, got {table!r}")
            rgb = tuple(_pin(where, f"rgb.{c}", table[c]) for c in ("red", "green", "blue"))
        led = None if rgb else _pin(where, "led", d.get("led", 17))
        buzzer = _pin(where, "buzzer", d["buzzer"]) if "buzzer" in d else None
        used = [p for p in (led, *(rgb or ()), buzzer) if p is not None]
        for pin in used:
            if used.count(pin) > 1:
                raise _fail(where, "buzzer" if pin == buzzer else "rgb",
                            f"pin {pin!r} is used twice")
        raw_patterns = d.get("patterns", {})
        if not isinstance(raw_patterns, dict):
            raise _fail(where, "patterns", f"must be a table, got {raw_patterns!r}")
        patterns = dict(DEFAULT_PATTERNS)
        for name, value in raw_patterns.items():
            if name not in DEFAULT_PATTERNS:
                raise _fail(where, f"patterns.{name}",
                            f"unknown pattern (known: {', '.join(DEFAULT_PATTERNS)})")
            patterns[name] = _pattern(where, name, value)
        return cls(
            enabled=enabled, led=led, rgb=rgb, buzzer=buzzer,  # type: ignore[arg-type]
            active_high=_bool(where, "active_high", d.get("active_high", True)),
            buzzer_active_high=_bool(where, "buzzer_active_high",
                                     d.get("buzzer_active_high", True)),
            patterns=MappingProxyType(patterns), where=where,
        )


class Feedback:
    """Plays a pattern for each coaching moment; a context manager with idempotent close().

    ``stage`` supplies the rest between sets and, when it is isometric, the hold
    figures; otherwise ``hold_stage`` does (default: stage 1 of the packaged
    protocol), because a raise held for many seconds is a hold in any stage.
    ``stage`` may be None only when the config is disabled.
    """

    def __init__(self, config: FeedbackConfig, stage: Stage | None,
                 pin_factory: Any = None, *, hold_stage: Stage | None = None) -> None:
        self._config = config
        self._stage = stage
        self._lock = threading.RLock()
        self._led: LED | RGBLED | None = None
        self._buzzer: Buzzer | None = None
        self._pwm = True
        self._player: GPIOThread | None = None
        self._lost = False
        self._phase = Phase.REST
        self._hold_from_s: float | None = None
        self._hold_signals = 0
        self._rest_from_s: float | None = None
        if not config.enabled:
            return
        if stage is None:
            raise ValueError("Feedback needs a stage unless the config is disabled")
        self._hold_stage = hold_stage or load_stage(1)
        try:
            self._open(pin_factory)
        except PinInvalidPin as exc:
            self.close()
            raise ConfigError(config.where, f"feedback: {exc}") from None
        except BaseException:
            self.close()
            raise

    @classmethod
    def disabled(cls) -> Feedback:
        """A sink that accepts every call and lights nothing (no GPIO on this machine)."""
        return cls(FeedbackConfig(enabled=False), None)

    @property
    def enabled(self) -> bool:
        """True while an LED is being driven."""
        return self._led is not None

    def _open(self, pin_factory: Any) -> None:
        c = self._config
        if c.rgb is not None:
            try:
                self._led = RGBLED(*c.rgb, active_high=c.active_high, pin_factory=pin_factory)
            except PinPWMUnsupported:
                # Pins without PWM still show the seven primary mixes.
                self._pwm = False
                self._led = RGBLED(*c.rgb, active_high=c.active_high, pwm=False,
                                   pin_factory=pin_factory)
        else:
            self._led = LED(c.led, active_high=c.active_high, pin_factory=pin_factory)
        if c.buzzer is not None:
            self._buzzer = Buzzer(c.buzzer, active_high=c.buzzer_active_high,
                                  pin_factory=pin_factory)
        log.info("feedback: %s%s", self._led,
                 f", {self._buzzer}" if self._buzzer is not None else "")

    # -- playing patterns -----------------------------------------------------------
    def _stop(self) -> None:
        if self._player is not None:
            self._player.stop()
            self._player = None
        if self._led is not None:
            self._led.off()
        if self._buzzer is not None:
            self._buzzer.off()

    def _start_run(self, pattern: Pattern, on_s: float, off_s: float, n: int | None) -> None:
        if isinstance(self._led, RGBLED):
            colour = pattern.colour if self._pwm else tuple(round(c) for c in pattern.colour)
            self._led.blink(on_s, off_s, on_color=colour, n=n)
        elif self._led is not None:
            self._led.blink(on_s, off_s, n=n)
        if self._buzzer is not None:
            if pattern.beep:
                self._buzzer.beep(on_s, off_s, n=n)
            else:
                self._buzzer.off()

    def _sequence(self, pattern: Pattern, runs: list[tuple[float, float, int]],
                  forever: bool) -> None:
        """Chain the blinks of a pattern whose pairs differ; gpiozero times each flash."""
        stopping = threading.current_thread().stopping  # type: ignore[attr-defined]
        while True:
            for on_s, off_s, n in runs:
                self._start_run(pattern, on_s, off_s, n)
                if stopping.wait((on_s + off_s) * n):
                    return
            if not forever:
                return

    def _play(self, name: str, forever: bool = False) -> None:
        if self._lost and name != "sensor_lost":
            log.debug("feedback: %s not shown while the sensor is lost", name)
            return
        pattern = self._config.patterns[name]
        self._stop()
        runs = pattern.runs()
        if len(runs) == 1:
            on_s, off_s, n = runs[0]
            self._start_run(pattern, on_s, off_s, None if forever else n)
        else:
            self._player = GPIOThread(self._sequence, (pattern, runs, forever))
            self._player.start()

    # -- the sink API -------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        """React to one pipeline event; returns at once (patterns play in the background)."""
        with self._lock:
            if self._led is None:
                return
            if isinstance(event, Rep):
                if event.verdict.rushed:
                    self._play("too_fast")
                elif event.verdict is Verdict.OK:
                    self._play("good_rep")
            elif isinstance(event, PaceWarning):
                self._play("pace_cue")
            elif isinstance(event, PhaseChange):
                self._phase = event.phase
                self._hold_from_s = event.t_s if event.phase is Phase.TOP else None
                self._hold_signals = 0
                if event.phase is Phase.RISING:
                    self._rest_from_s = None
            elif isinstance(event, Hold):
                self._hold_from_s = None
            elif isinstance(event, SetSummary) and self._phase is Phase.REST:
                # A set closed only once the next one began needs no "rest over".
                self._rest_from_s = event.end_s

    def on_time(self, t_s: float) -> None:
        """Advance the hold and rest timers to sensor time ``t_s`` (newest sample)."""
        with self._lock:
            if self._led is None or self._stage is None:
                return
            if self._hold_from_s is not None:
                hold = self._stage if self._stage.isometric else self._hold_stage
                marks = [(hold.hold_min_s, "hold_30"), (hold.hold_max_s, "hold_45")]
                due = None
                while self._hold_signals < len(marks):
                    mark_s, name = marks[self._hold_signals]
                    if mark_s is None or mark_s <= 0:
                        self._hold_signals += 1
                    elif t_s - self._hold_from_s >= mark_s:
                        self._hold_signals += 1
                        due = name
                    else:
                        break
                if due is not None:
                    self._play(due)
            if (self._rest_from_s is not None
                    and t_s - self._rest_from_s >= self._stage.rest_between_sets_s):
                self._rest_from_s = None
                self._play("rest_over")

    def set_stage(self, stage: Stage) -> None:
        """Judge timers against a new stage from now on (pending timers keep their start)."""
        with self._lock:
            self._stage = stage

    def sensor_lost(self) -> None:
        """Blink the lost pattern until :meth:`sensor_back`; other cues are dropped meanwhile."""
        with self._lock:
            if self._led is None or self._lost:
                return
            self._lost = True
            self._play("sensor_lost", forever=True)

    def sensor_back(self) -> None:
        """End the lost pattern: a dark LED again means "all fine"."""
        with self._lock:
            if self._led is None or not self._lost:
                return
            self._lost = False
            self._stop()

    def close(self) -> None:
        """Stop any pattern, turn everything off and release the pins (idempotent)."""
        with self._lock:
            self._stop()
            for device in (self._buzzer, self._led):
                if device is not None:
                    device.close()
            self._led = self._buzzer = None

    def __enter__(self) -> Feedback:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_feedback(config: FeedbackConfig, stage: Stage, pin_factory: Any = None, *,
                  hold_stage: Stage | None = None) -> Feedback:
    """The service's feedback: the configured LED, or a quiet sink when no GPIO can be opened.

    gpiozero tries lgpio, RPi.GPIO, pigpio and its native driver in turn (or the one
    named by ``GPIOZERO_PIN_FACTORY``) and raises when none works, as on a laptop;
    the coach still counts reps without an LED, so that is one warning, not a crash.
    A pin name gpiozero does not know is a config error and still raises.
    """
    if not config.enabled:
        log.info("feedback disabled in the config")
        return Feedback.disabled()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            feedback = Feedback(config, stage, pin_factory, hold_stage=hold_stage)
        except (GPIOZeroError, OSError) as exc:
            tried = "; ".join(str(w.message) for w in caught
                              if issubclass(w.category, PinFactoryFallback))
            log.warning("feedback: cannot open GPIO pins (%s%s); running without LED",
                        exc, f"; {tried}" if tried else "")
            return Feedback.disabled()
    for w in caught:
        if not issubclass(w.category, PinFactoryFallback):
            log.warning("feedback: %s", w.message)
    return feedback


__all__ = ["DEFAULT_PATTERNS", "Feedback", "FeedbackConfig", "Pattern", "open_feedback"]
