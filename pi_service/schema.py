"""The schema engine: plain-data field specs, and the checks that hold values to them.

The schemas themselves are data (field -> :class:`Field`) kept beside what they
describe; this module only knows how to check a decoded value against one, in
a few lines rather than a jsonschema dependency that a Pi Zero would carry.
Every failure is a one-line :class:`~.errors.PayloadError` naming the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from .errors import PayloadError


@dataclass(frozen=True)
class Field:
    """One field: its JSON type and the values it may take.

    ``type`` is one of string, integer, number, boolean, time (ISO 8601 UTC with
    "Z"), array, object. ``lo``/``hi`` bound numbers (inclusive); ``choices``
    lists allowed values; ``items`` types array elements, ``size`` fixes an
    array's length; ``fields`` types an object's members.
    """

    type: str
    doc: str = ""
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()
    nullable: bool = False
    required: bool = True
    items: Field | None = None
    size: int | None = None
    fields: Mapping[str, Field] | None = None


def number(doc: str, lo: float | None = None, hi: float | None = None, **kw) -> Field:
    """A number field (int or float in JSON) with optional inclusive bounds."""
    return Field("number", doc, lo=lo, hi=hi, **kw)


def integer(doc: str, lo: float | None = None, hi: float | None = None, **kw) -> Field:
    """An integer field with optional inclusive bounds."""
    return Field("integer", doc, lo=lo, hi=hi, **kw)


def type_name(value: object) -> str:
    """How a value's type reads in an error message ("null" for None)."""
    return "null" if value is None else type(value).__name__


def check(where: str, spec: Field, value: object) -> None:
    """Raise PayloadError naming ``where`` if ``value`` breaks ``spec``."""
    if value is None:
        if spec.nullable:
            return
        raise PayloadError(f"field '{where}' must not be null")
    kind = spec.type
    if kind in ("integer", "number"):
        is_bool = isinstance(value, bool)
        if kind == "integer" and (is_bool or not isinstance(value, int)):
            raise PayloadError(f"field '{where}' must be an integer, got {type_name(value)}")
        if is_bool or not isinstance(value, int | float):
            raise PayloadError(f"field '{where}' must be a number, got {type_name(value)}")
        if not math.isfinite(value):
            raise PayloadError(f"field '{where}' must be a finite number, got {value}")
        if (spec.lo is not None and value < spec.lo) or (spec.hi is not None and value > spec.hi):
            lo = "" if spec.lo is None else f"{spec.lo:g}"
            hi = "" if spec.hi is None else f"{spec.hi:g}"
            bound = f">= {lo}" if spec.hi is None else f"<= {hi}" if spec.lo is None else \
                f"in {lo}..{hi}"
            raise PayloadError(f"field '{where}' must be {bound}, got {value}")
    elif kind in ("string", "time"):
        if not isinstance(value, str):
            raise PayloadError(f"field '{where}' must be a string, got {type_name(value)}")
        if not value:
            raise PayloadError(f"field '{where}' must not be empty")
        if kind == "time" and not is_utc_time(value):
            raise PayloadError(
                f"field '{where}' must be ISO 8601 UTC like 2026-01-31T07:05:00.250Z, "
                f"got {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise PayloadError(f"field '{where}' must be true or false, got {type_name(value)}")
    elif kind == "array":
        if not isinstance(value, list):
            raise PayloadError(f"field '{where}' must be an array, got {type_name(value)}")
        if spec.size is not None and len(value) != spec.size:
            raise PayloadError(
                f"field '{where}' must have {spec.size} items, got {len(value)}")
        if spec.items is not None:
            for i, item in enumerate(value):
                check(f"{where}[{i}]", spec.items, item)
    elif kind == "object":
        if not isinstance(value, dict):
            raise PayloadError(f"field '{where}' must be an object, got {type_name(value)}")
        check_fields(where + ".", spec.fields or {}, value)
    if spec.choices and value not in spec.choices:
        allowed = ", ".join(str(c) for c in spec.choices)
        if len(spec.choices) == 1:
            raise PayloadError(f"field '{where}' must be {allowed}, got {value!r}")
        raise PayloadError(f"field '{where}' must be one of {allowed}; got {value!r}")


def check_fields(prefix: str, schema: Mapping[str, Field], obj: dict) -> None:
    """Check each field of ``schema`` in ``obj``; unknown members are left alone."""
    for name, spec in schema.items():
        if name not in obj:
            if spec.required:
                raise PayloadError(f"missing field '{prefix}{name}'")
            continue
        check(prefix + name, spec, obj[name])


def is_utc_time(text: str) -> bool:
    """True for an ISO 8601 time in UTC with a "Z"."""
    if not text.endswith("Z") or "T" not in text:
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def decode(payload: bytes | str | Mapping, max_bytes: int) -> object:
    """The decoded JSON value of a payload (dicts pass through)."""
    if isinstance(payload, Mapping):
        return dict(payload)
    raw = payload.encode() if isinstance(payload, str) else bytes(payload)
    if len(raw) > max_bytes:
        raise PayloadError(f"payload too large ({len(raw)} bytes > {max_bytes})")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("payload is not UTF-8") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"payload is not JSON ({exc.msg} at char {exc.pos})") from None
