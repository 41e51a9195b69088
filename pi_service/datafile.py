"""Reading the editable data files (protocol, rules, config, calibration) with one-line errors.

Clinicians and makers edit these by hand, so every failure names the file and
what is wrong with it, never a traceback.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from .errors import InputError


def read_text(path: str | Path, error: type[InputError] = InputError) -> str:
    """The file's text, or ``error(path, "cannot read: ...")``."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise error(path, f"cannot read: {exc.strerror or exc}") from None


def load_toml(path: str | Path | None, packaged: str | None = None,
              error: type[InputError] = InputError) -> tuple[Path, str, dict]:
    """``(path, text, data)`` of a TOML file; the packaged file ``packaged`` when path is None."""
    if path is None:
        if packaged is None:
            raise ValueError("load_toml needs a path or a packaged file name")
        source = resources.files("pi_service").joinpath(packaged)
        path, text = Path(str(source)), source.read_text(encoding="utf-8")
    else:
        path, text = Path(path), read_text(path, error)
    try:
        return path, text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(path, f"not valid TOML: {exc}") from None
