"""Per-sensor calibration files: the standing baseline, raise axis and typical raise."""

from __future__ import annotations

from pi_service.pipeline.calibration import Calibration

from .file import load_calibration, save_calibration

__all__ = ["Calibration", "load_calibration", "save_calibration"]
