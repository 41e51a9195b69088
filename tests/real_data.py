"""The real foot-IMU recordings (negatives), read where the team keeps them.

They live beside the repository in ``../shared/data/real`` (DESIGN.md) and are never
copied into it; ``HEELRAISE_REAL_DATA`` points elsewhere. Tests that need them skip
on a machine without them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REAL_DATA = Path(os.environ.get(
    "HEELRAISE_REAL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data" / "real"))


def real_recordings() -> list[Path]:
    """Every real recording, or a skip when they are not on this machine."""
    files = sorted(REAL_DATA.glob("*.csv"))
    if not files:
        pytest.skip(f"no real recordings in {REAL_DATA}")
    return files
