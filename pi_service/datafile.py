"""Reading the editable data files (protocol, rules, config, calibration) with one-line errors.

Clinicians and makers edit these by hand, so every failure names the file, the
line where there is one, the key and what is wrong with it, never a traceback.
Each file's shape is a :mod:`.schema` spec kept beside the code that reads it;
this module reads the text, decodes it and holds it to that spec.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from .errors import InputError
from .schema import Field, SchemaError, check, decode_json

MAX_FILE_BYTES = 1024 * 1024
"""Largest data file read: the packaged ones are a few KB."""


def read_text(path: str | Path, error: type[InputError] = InputError) -> str:
    """The file's UTF-8 text, or ``error(path, "cannot read: ...")``."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise error(path, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise error(path, f"is larger than {MAX_FILE_BYTES // 1024} KB: not a data file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(path, f"is not UTF-8 text (byte {exc.start}): not a data file") from None


def load_toml(path: str | Path | None, spec: Field, packaged: str | None = None,
              error: type[InputError] = InputError) -> tuple[Path, dict]:
    """``(path, data)`` of a TOML file that meets ``spec``; the packaged file when path is None.

    A fault names the file, the line of the offending key (best effort) and the key.
    """
    if path is None:
        if packaged is None:
            raise ValueError("load_toml needs a path or a packaged file name")
        source = resources.files("pi_service").joinpath(packaged)
        path, text = Path(str(source)), source.read_text(encoding="utf-8")
    else:
        path, text = Path(path), read_text(path, error)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(path, f"not valid TOML: {exc}") from None
    checked(path, data, spec, error, lambda key: toml_line(text, key))
    return path, data


def load_json(path: str | Path, spec: Field, error: type[InputError] = InputError) -> dict:
    """The JSON object in ``path``, if it meets ``spec``."""
    text = read_text(path, error)
    try:
        data = decode_json(text, MAX_FILE_BYTES, what="the file")
    except SchemaError as exc:
        raise error(path, str(exc)) from None
    checked(path, data, spec, error, lambda key: json_line(text, key))
    return data  # type: ignore[return-value]


def checked(path: str | Path, data: object, spec: Field, error: type[InputError] = InputError,
            line_of: Callable[[str], int | None] | None = None) -> None:
    """Hold ``data`` to ``spec``; a fault is ``error(path, "'key' fault", line)``."""
    try:
        check(spec, data)
    except SchemaError as exc:
        raise error(path, str(exc), line_of(exc.key) if line_of else None) from None


_HEADER = re.compile(r"^\[(\[?)\s*([^\[\]]+?)\s*\]\]?")
_ASSIGN = re.compile(r"^([A-Za-z0-9_.\"' -]+?)\s*=")


def _parts(key: str) -> list[str]:
    """``"stage[2].up_s"`` -> ``["stage[2]", "up_s"]``."""
    return [p for p in key.split(".") if p]


def toml_line(text: str, key: str) -> int | None:
    """Best-effort line of ``key`` (``sensor.rate_hz``, ``stage[2].up_s``) in a TOML text.

    The line whose own path is the longest prefix of ``key``: the key itself, else the
    table or inline table that holds it.
    """
    target = _parts(key)
    best, best_len = None, 0
    table: list[str] = []
    arrays: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = _HEADER.match(line)
        if header:
            names = [n.strip().strip("\"'") for n in header.group(2).split(".")]
            dotted = ".".join(names)
            if header.group(1):               # [[array of tables]]
                arrays[dotted] = arrays.get(dotted, -1) + 1
                names[-1] = f"{names[-1]}[{arrays[dotted]}]"
            table, path = names, names
        else:
            assign = _ASSIGN.match(line)
            if not assign:
                continue
            path = table + [n.strip().strip("\"'") for n in assign.group(1).split(".")]
        if best_len < len(path) <= len(target) and all(
                map(_same_part, path, target[: len(path)])):
            best, best_len = number, len(path)
    return best


def _same_part(line_part: str, key_part: str) -> bool:
    """``too_fast`` in a file holds ``too_fast[0]`` of a key; ``stage[1]`` only itself."""
    return line_part == key_part or ("[" not in line_part and key_part.startswith(line_part + "["))


def json_line(text: str, key: str) -> int | None:
    """Best-effort line of a top-level ``key`` in a JSON text (its first mention)."""
    parts = _parts(key)
    if not parts:
        return None
    name = parts[0].split("[")[0]
    for number, line in enumerate(text.splitlines(), start=1):
        if re.search(rf'"{re.escape(name)}"\s*:', line):
            return number
    return None
