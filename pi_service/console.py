"""Live terminal view of the pipeline's events, for the demo and the service.

A person standing at the step glances at it: each rep as one line the moment
it completes, with its phase times against the stage's targets and a plain
verdict; the current phase on a status line that rewrites itself when the
output is a terminal.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from .pipeline.events import Event, Hold, PaceWarning, Partial, PhaseChange, Rep, SetSummary
from .protocol import Stage

VERDICT_TEXT = {
    "ok": "good",
    "too_fast_up": "TOO FAST going up",
    "too_fast_down": "TOO FAST coming down",
    "too_fast": "TOO FAST up and down",
    "hold_too_short": "hold a little longer at the top",
    "partial_range": "go higher",
}

HOLD_TEXT = {"ok": "good", "too_short": "too short: hold longer", "too_long": "held too long"}
"""How a stage-1 hold's verdict reads (the pipeline says ``too_short``, a person reads words)."""


def _s(value: float | None) -> str:
    """A phase duration, or "  ? s" where a gap hid it."""
    return "  ? s" if value is None else f"{value:4.1f}s"


class LiveConsole:
    """Prints events as they arrive; ``summary()`` at the end."""

    def __init__(self, stage: Stage, out: TextIO | None = None) -> None:
        self.stage = stage
        self.out = out = out if out is not None else sys.stdout
        self._tty = out.isatty()
        self._status = False
        self.reps: list[Rep] = []
        self.sets: list[SetSummary] = []
        self.holds: list[Hold] = []

    def _line(self, text: str) -> None:
        if self._status:
            self.out.write("\r\033[K")
            self._status = False
        self.out.write(text + "\n")
        self.out.flush()

    def _targets(self) -> str:
        s = self.stage
        if s.isometric:
            return f"hold {s.hold_min_s:.0f}-{s.hold_max_s:.0f} s"
        return f"target {s.up_s:.0f}s up / {s.hold_s:.1f}s hold / {s.down_s:.0f}s down"

    def on_event(self, event: Event) -> None:
        if isinstance(event, PhaseChange):
            if self._tty:
                self.out.write(f"\r\033[K  [{event.t_s:7.1f}s] {event.phase.value:<9} "
                               f"{event.pitch_deg:5.1f}°")
                self.out.flush()
                self._status = True
        elif isinstance(event, PaceWarning):
            self._line(f"  [{event.t_s:7.1f}s] slow down: this rise is on pace for "
                       f"{event.predicted_up_s:.1f}s (at least {event.min_up_s:.1f}s)")
        elif isinstance(event, Rep):
            self.reps.append(event)
            text = VERDICT_TEXT.get(event.verdict.value, event.verdict.value)
            self._line(f"rep {len(self.reps):>3}  up {_s(event.up_s)}  hold {_s(event.hold_s)}"
                       f"  down {_s(event.down_s)}  peak {event.peak_deg:4.1f}° "
                       f"({event.height_cm:.1f} cm)  {text}{self.rep_suffix()}")
        elif isinstance(event, Partial):
            self._line(f"  partial raise ({event.peak_deg:.0f}°) not counted")
        elif isinstance(event, Hold):
            self.holds.append(event)
            if event.hold_s is None:
                self._line(f"hold cut off by a gap ({self._targets()}): how long it went on "
                           "is not known")
            else:
                words = HOLD_TEXT.get(event.verdict, event.verdict.replace("_", " "))
                self._line(f"hold {event.hold_s:5.1f}s  ({self._targets()}): {words}")
        elif isinstance(event, SetSummary):
            self.sets.append(event)
            lo, hi = event.target_reps
            target = f"{lo}" if lo == hi else f"{lo}-{hi}"
            if event.holds and not event.reps:
                judged = ("none judged" if event.tempo_compliance is None
                          else f"{event.tempo_compliance:.0%} in range")
                what = f"{event.holds} hold(s), {judged}"
            else:
                what = (f"{event.reps} reps (target {target}), tempo ok in "
                        f"{event.tempo_compliance:.0%}")
            self._line(f"== set {event.index}: {what}; {self._targets()}")

    def rep_suffix(self) -> str:
        """What follows each rep line (the session view adds where the set stands)."""
        return ""

    def summary(self) -> None:
        ok = sum(1 for r in self.reps if r.verdict.value == "ok")
        self._line(f"session: {len(self.sets)} sets, {len(self.reps)} reps "
                   f"({ok} at a good tempo), {len(self.holds)} holds")


_BAR = 15
"""Cells in the set's progress bar."""


class SessionConsole(LiveConsole):
    """The live view of ``heelraise start``: rep lines that say where the set stands, and on a
    terminal a status line with the phase, a progress bar for the set and the LED.

    The LED is the coach's real feedback (the same patterns a wired LED plays), driven
    through gpiozero onto :class:`TerminalLED`, which calls :meth:`led` on each change
    from gpiozero's own threads; writes are serialised so lines never interleave.
    """

    def __init__(self, stage: Stage, out: TextIO | None = None) -> None:
        super().__init__(stage, out)
        self._write = threading.Lock()
        self._phase = "waiting"
        self._set = 1
        self._in_set = 0
        self._rgb: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def _line(self, text: str) -> None:
        with self._write:
            super()._line(text)
            self._redraw()

    def _progress(self) -> str:
        lo, hi = self.stage.reps
        if self.stage.isometric:
            return f"set {self._set}: {len(self.holds)} hold(s) today"
        target = f"{lo}" if lo == hi else f"{lo}-{hi}"
        sets = self.stage.sets[1]
        return f"set {self._set} of {sets}: {self._in_set}/{target}"

    def _redraw(self) -> None:
        """The status line (terminals only), rewritten in place; caller holds the lock."""
        if not self._tty:
            return
        done = min(_BAR, round(_BAR * self._in_set / max(1, self.stage.reps[0])))
        r, g, b = (round(255 * c) for c in self._rgb)
        lamp = (f"\033[38;2;{r};{g};{b}m●\033[0m" if any(self._rgb) else "○")
        self.out.write(f"\r\033[K  {self._phase:<9} {'▮' * done}{'▯' * (_BAR - done)} "
                       f"{self._progress()}   LED {lamp}")
        self.out.flush()
        self._status = True

    def on_event(self, event: Event) -> None:
        if isinstance(event, PhaseChange):
            self._phase = event.phase.value
            with self._write:
                self._redraw()
            return
        if isinstance(event, Rep):
            self._in_set += 1
        super().on_event(event)
        if isinstance(event, SetSummary):
            self._set, self._in_set = event.index + 1, 0
            with self._write:
                self._redraw()

    def rep_suffix(self) -> str:
        return f"  [{self._progress()}]"

    def led(self, rgb: tuple[float, float, float]) -> None:
        """The LED's colour now (0..1 each); off is (0, 0, 0)."""
        self._rgb = rgb
        with self._write:
            self._redraw()


class TerminalLED:
    """An RGB LED on the screen: gpiozero's mock pins, each change reported to a console.

    Hardware absent is replaced at its lowest layer: the coach's :class:`~.feedback.Feedback`
    drives three gpiozero PWM pins exactly as on a Pi, and these pins tell ``console``.
    """

    PINS = {"red": 5, "green": 6, "blue": 13}

    def __init__(self, console: SessionConsole) -> None:
        from gpiozero.pins.mock import MockFactory, MockPWMPin

        values = dict.fromkeys(self.PINS.values(), 0.0)
        names = {pin: name for name, pin in self.PINS.items()}

        class Pin(MockPWMPin):
            def _change_state(self, value: float) -> bool:
                changed = super()._change_state(value)
                number = getattr(self.info, "name", "").removeprefix("GPIO")
                if changed and number.isdigit() and int(number) in names:
                    values[int(number)] = float(value)
                    console.led(tuple(values[pin] for pin in TerminalLED.PINS.values()))
                return changed

        self.factory = MockFactory(pin_class=Pin)
        self.config = {"rgb": dict(self.PINS)}
