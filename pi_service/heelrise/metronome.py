"""The test's metronome on the sensor clock: count-in, then up and down beats.

Beats are due at sensor times, like the feedback's hold and rest timers, so a
recording or the simulator played at any speed beats in step with the samples, and
the judge's beat grid is the very grid the person heard. What a beat sounds and
lights like is the feedback's ``beat_up`` / ``beat_down`` patterns (buzzer and LED);
the terminal shows it too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Beat:
    """One beat: ``index`` 0 is the first "up"; negative indices count in."""

    index: int
    t_s: float

    @property
    def kind(self) -> str:
        """"count" (the count-in), "up" (rise now) or "down" (lower now)."""
        if self.index < 0:
            return "count"
        return "up" if self.index % 2 == 0 else "down"


class Metronome:
    """Beats from ``first_beat_s - count_in * beat_s`` on, every ``beat_s``, until stopped."""

    def __init__(self, first_beat_s: float, beat_s: float, count_in: int = 0,
                 beats: int | None = None) -> None:
        if beat_s <= 0:
            raise ValueError(f"beat_s must be > 0, got {beat_s}")
        self.first_beat_s = first_beat_s
        self.beat_s = beat_s
        self._next = -count_in
        self._last = None if beats is None else beats - 1
        self.stopped = False

    def due(self, t_s: float) -> list[Beat]:
        """The beats that fell due up to sensor time ``t_s`` since the last call."""
        out = []
        while not self.stopped and self.first_beat_s + self._next * self.beat_s <= t_s:
            out.append(Beat(self._next, self.first_beat_s + self._next * self.beat_s))
            if self._next == self._last:
                self.stopped = True
            self._next += 1
        return out

    def stop(self) -> None:
        self.stopped = True
