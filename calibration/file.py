"""Calibration files: one JSON object per sensor, written after a guided calibration.

A bad file stops with one line naming the file and what is wrong with it, as
every input the coach reads does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pi_service.datafile import read_text
from pi_service.errors import InputError
from pi_service.pipeline.calibration import Calibration


def load_calibration(path: str | Path) -> Calibration:
    """Read a calibration file written by :func:`save_calibration`."""
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    try:
        return Calibration.from_dict(data)
    except ValueError as exc:
        raise InputError(path, f"not a calibration: {exc}") from None


def save_calibration(calibration: Calibration, path: str | Path) -> None:
    """Write ``calibration`` as JSON, replacing the file only once it is complete."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(calibration.to_dict(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
