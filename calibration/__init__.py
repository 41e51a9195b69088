"""Calibration: the guided flow that calibrates a sensor on a foot, and its files.

``guided`` is the flow as a pure state machine, ``standing``, ``faces`` and ``raises``
what it measures, ``shoe`` the lever from a shoe size, ``file`` the calibration file
held to its schema, ``command`` the ``heelraise calibrate`` command. Loaded lazily, so
the command line's parser can import ``command`` without numpy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pi_service.pipeline.calibration import Calibration

    from .file import load_calibration, save_calibration

_LAZY = {"Calibration": "pi_service.pipeline.calibration", "load_calibration": ".file",
         "save_calibration": ".file"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Calibration", "load_calibration", "save_calibration"]
