"""The rehab protocol as plain data: the stages, their doses and tempos.

Verdicts, feedback and coaching read a :class:`Stage`; nothing in code knows a
tempo or a dose. This module is pure data, so the signal pipeline can import it
without touching files; :mod:`.stages` reads it from the clinician's TOML file.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError

DEFAULT_STAGE = 2


@dataclass(frozen=True)
class Stage:
    """One stage of the protocol: its dose and the tempo each rep is judged against."""

    number: int
    name: str
    movement: str
    legs: int
    heel_drop: bool
    sets: tuple[int, int]
    reps: tuple[int, int]
    rest_between_sets_s: float
    sessions_per_day: int
    load_kg: float
    typical_weeks: tuple[float, float]
    up_s: float | None = None
    up_tolerance_s: float = 0.0
    hold_s: float | None = None
    hold_min_s: float = 0.0
    hold_max_s: float | None = None
    down_s: float | None = None
    down_tolerance_s: float = 0.0
    effort: tuple[int, int] | None = None
    load_range_kg: tuple[float, float] | None = None

    @property
    def isometric(self) -> bool:
        """Stage 1 has no tempo: the exercise is a long hold at the top."""
        return self.up_s is None

    @property
    def min_up_s(self) -> float | None:
        """Shortest rise that is not "too fast"."""
        return None if self.up_s is None else self.up_s - self.up_tolerance_s

    @property
    def min_down_s(self) -> float | None:
        """Shortest lowering that is not "too fast"."""
        return None if self.down_s is None else self.down_s - self.down_tolerance_s


@dataclass(frozen=True)
class Protocol:
    """The whole protocol: the rules that span stages, and the stages themselves."""

    name: str
    pain_limit: int
    sessions_per_day: int
    adaptation_months: tuple[int, int]
    assess_after_weeks: tuple[int, int]
    stages: dict[int, Stage]

    def stage(self, number: int) -> Stage:
        try:
            return self.stages[number]
        except KeyError:
            known = ", ".join(str(n) for n in sorted(self.stages))
            raise InputError("stages", f"no stage {number} (known: {known})") from None
