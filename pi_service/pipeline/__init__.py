"""The pure signal pipeline: samples → pitch → phases → reps, verdicts and sets.

Nothing here touches hardware, the network, files or the clock.

The event types load at once; the signal code (and scipy with it) only when
``Pipeline`` or ``analyze`` is first used, so the log and the MQTT payload
code, which only need the events, start in a fraction of the time.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from .events import (
    Event,
    Gap,
    Hold,
    PaceWarning,
    Partial,
    Phase,
    PhaseChange,
    Rep,
    SetSummary,
    Verdict,
)

if TYPE_CHECKING:
    from .analysis import Analysis, analyze
    from .calibration import Calibration
    from .condition import SampleError
    from .live import Pipeline
    from .params import DetectorParams

_LAZY = {"Analysis": ".analysis", "analyze": ".analysis", "Calibration": ".calibration",
         "Pipeline": ".live", "DetectorParams": ".params", "SampleError": ".condition"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Analysis", "Calibration", "DetectorParams", "Event", "Gap", "Hold",
    "PaceWarning", "Partial", "Phase", "PhaseChange", "Pipeline", "Rep", "SampleError",
    "SetSummary", "Verdict", "analyze",
]
