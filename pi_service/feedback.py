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
from typing import Any

from gpiozero import LED, RGBLED, Buzzer
from gpiozero.exc import GPIOZeroError, PinFactoryFallback, PinInvalidPin, PinPWMUnsupported
from gpiozero.threads import GPIOThread

from .errors import ConfigError
from .feedback_config import DEFAULT_PATTERNS, FeedbackConfig, Pattern
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

    def cue(self, name: str) -> None:
        """Play one named pattern now (the heel-rise test's metronome beats and prompts)."""
        with self._lock:
            if self._led is not None:
                self._play(name)

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
