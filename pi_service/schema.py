"""The schema engine: every value from outside is held to a plain-data spec here, once.

MQTT payloads, HTTP bodies, the service config, the stages and progression
files and calibration files are all described as :class:`Field` trees beside
the code that uses them; this module only knows how to check a decoded value
against one (a few dozen lines, rather than a jsonschema dependency that a Pi
Zero would carry). What it guarantees, so nothing downstream has to:

* every number is finite and inside declared bounds (a spec without bounds is
  refused when it is written), so sums, SQLite integers and ``float()`` cannot
  overflow;
* every array and string has a maximum length, every string is valid Unicode;
* times are RFC 3339 UTC (``2026-01-31T07:05:00.250Z``) and dates
  ``YYYY-MM-DD``, both within :data:`YEARS`;
* decoded JSON is at most :data:`MAX_DEPTH` deep, has no duplicate keys, no
  NaN/Infinity and no integers longer than :data:`MAX_DIGITS`.

A failure is a :class:`SchemaError`: one line naming the key
(``rep_detail[3].up_s``) and what was wrong, plus a ``reason`` that leaves out
array indices and the offending value, so rejections can be counted by kind.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from .errors import PayloadError

YEARS = (1970, 2100)
"""Times and dates outside [first, last) are implausible: a clock that wrong is broken."""

MAX_DEPTH = 32
"""Deepest JSON nesting accepted; our deepest schema is 3 levels."""

MAX_DIGITS = 30
"""Longest integer literal accepted in JSON; every bounded field needs far fewer."""

TYPES = ("string", "integer", "number", "boolean", "time", "date", "array", "object", "either")

_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INDEX = re.compile(r"\[\d+\]")

Check = Callable[[object], "str | tuple[str, str] | None"]
"""An extra rule: returns None when the value is fine, else the fault (or ``(key, fault)``
for a member of an object, naming it relative to the object)."""


class SchemaError(PayloadError):
    """A value that breaks its spec: ``key`` (dotted path), ``fault``, and what was ``got``.

    Its ``reason`` is the error by kind: array indices and the offending value
    left out, so a thousand bad sets count as one reason, not a thousand.
    """

    def __init__(self, key: str, fault: str, got: str | None = None,
                 detail: str | None = None) -> None:
        self.key = key
        self.fault = fault
        self.got = got
        shown_key = key if key.isprintable() else key.encode("unicode_escape").decode()
        shown_key = shown_key if len(shown_key) <= 80 else shown_key[:77] + "..."
        subject = f"'{shown_key}' " if key else ""
        generic = f"'{_INDEX.sub('[]', shown_key)}' " if key else ""
        super().__init__(subject + fault + ("" if detail is None else f" ({detail})")
                         + ("" if got is None else f", got {got}"), reason=generic + fault)


def shown(value: object, limit: int = 40) -> str:
    """A value as an error message shows it: its repr, cut short, on one line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def type_name(value: object) -> str:
    """How a value's type reads in an error message ("null" for None)."""
    return {type(None): "null", dict: "object", list: "array", str: "string",
            bool: "boolean", int: "integer", float: "number"}.get(type(value),
                                                                  type(value).__name__)


@dataclass(frozen=True)
class Field:
    """One value's spec; build it with the helpers below (:func:`number`, :func:`table`, ...).

    ``lo``/``hi`` bound numbers (inclusive, both required); ``choices`` lists the
    allowed values; strings have ``pattern`` (full match) and ``max_len``;
    arrays ``items`` and ``min_items``..``max_items``; objects ``fields`` and
    ``extra``: what to do with members no field names: "ignore" (MQTT payloads
    are additive), "reject" (a typo in a file), or a Field every such member
    must meet. ``either`` holds the alternatives of a value that may take more
    than one shape. ``checks`` are extra rules run once the shape is right.
    """

    type: str
    doc: str = ""
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()
    nullable: bool = False
    required: bool = True
    pattern: str | None = None
    max_len: int = 200
    items: Field | None = None
    min_items: int = 0
    max_items: int | None = None
    fields: Mapping[str, Field] | None = None
    extra: str | Field = "reject"
    either: tuple[Field, ...] = ()
    checks: tuple[Check, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"unknown field type {self.type!r}")
        if self.type in ("integer", "number") and (self.lo is None or self.hi is None):
            raise ValueError(f"a {self.type} field needs both bounds ({self.doc!r})")
        if self.type == "array" and (self.items is None or self.max_items is None):
            raise ValueError(f"an array field needs items and max_items ({self.doc!r})")
        if self.type == "either" and len(self.either) < 2:
            raise ValueError(f"an either field needs two alternatives ({self.doc!r})")
        if isinstance(self.extra, str) and self.extra not in ("ignore", "reject"):
            raise ValueError(f"extra must be 'ignore', 'reject' or a Field, got {self.extra!r}")


def number(doc: str, lo: float, hi: float, **kw) -> Field:
    """A number (integer or not in JSON) from ``lo`` to ``hi`` inclusive."""
    return Field("number", doc, lo=lo, hi=hi, **kw)


def integer(doc: str, lo: int, hi: int, **kw) -> Field:
    """An integer from ``lo`` to ``hi`` inclusive."""
    return Field("integer", doc, lo=lo, hi=hi, **kw)


def string(doc: str, **kw) -> Field:
    """A non-empty string (``pattern``, ``max_len``, ``choices`` narrow it)."""
    return Field("string", doc, **kw)


def boolean(doc: str, **kw) -> Field:
    return Field("boolean", doc, **kw)


def utc_time(doc: str, **kw) -> Field:
    """An RFC 3339 UTC time with a "Z": ``2026-01-31T07:05:00.250Z``."""
    return Field("time", doc, **kw)


def day(doc: str, **kw) -> Field:
    """A calendar date, ``YYYY-MM-DD``."""
    return Field("date", doc, **kw)


def array(doc: str, items: Field, max_items: int, **kw) -> Field:
    """A list of up to ``max_items`` values, each meeting ``items``."""
    return Field("array", doc, items=items, max_items=max_items, **kw)


def pair(doc: str, items: Field, **kw) -> Field:
    """``[low, high]`` with low <= high."""
    return array(doc, items, 2, min_items=2, checks=(_ordered, *kw.pop("checks", ())), **kw)


def table(doc: str, fields: Mapping[str, Field], *, extra: str | Field = "reject",
          **kw) -> Field:
    """An object (a JSON object, a TOML table) with the members ``fields`` names."""
    return Field("object", doc, fields=fields, extra=extra, **kw)


def optional(fields: Mapping[str, Field]) -> dict[str, Field]:
    """The same fields, none of them required (a config file where every key has a default)."""
    return {name: replace(spec, required=False) for name, spec in fields.items()}


def either(doc: str, *options: Field, **kw) -> Field:
    """A value that meets any one of ``options`` (the first that fits is the one)."""
    return Field("either", doc, either=options, **kw)


def _ordered(value: object) -> str | None:
    low, high = value  # type: ignore[misc]
    return None if low <= high else "must be [low, high] with low <= high"


# --------------------------------------------------------------------------- checking


def check(spec: Field, value: object, key: str = "") -> None:
    """Raise :class:`SchemaError` naming ``key`` if ``value`` breaks ``spec``."""
    if value is None:
        if spec.nullable:
            return
        raise SchemaError(key, "must not be null")
    _SHAPES[spec.type](spec, value, key)
    if spec.choices and value not in spec.choices:
        allowed = ", ".join(str(c) for c in spec.choices)
        fault = f"must be {allowed}" if len(spec.choices) == 1 else f"must be one of {allowed}"
        raise SchemaError(key, fault, shown(value))
    for rule in spec.checks:
        fault = rule(value)
        if isinstance(fault, tuple):
            raise SchemaError(f"{key}.{fault[0]}" if key else fault[0], fault[1])
        if fault is not None:
            raise SchemaError(key, fault)


def check_members(schema: Mapping[str, Field], obj: Mapping, key: str = "",
                  extra: str | Field = "ignore") -> None:
    """Check each member of ``obj`` against ``schema``; ``extra`` as in :class:`Field`."""
    prefix = f"{key}." if key else ""
    for name, spec in schema.items():
        if name not in obj:
            if spec.required:
                raise SchemaError(prefix + name, "is missing")
            continue
        check(spec, obj[name], prefix + name)
    if extra == "ignore":
        return
    for name in obj:
        if name in schema:
            continue
        if extra == "reject":
            known = ", ".join(schema) or "none"
            raise SchemaError(prefix + str(name), f"is not a known key (known: {known})")
        check(extra, obj[name], prefix + str(name))  # type: ignore[arg-type]


def _number(spec: Field, value: object, key: str) -> None:
    is_bool = isinstance(value, bool)
    if spec.type == "integer" and (is_bool or not isinstance(value, int)):
        raise SchemaError(key, "must be an integer", type_name(value))
    if is_bool or not isinstance(value, int | float):
        raise SchemaError(key, "must be a number", type_name(value))
    if isinstance(value, float) and not math.isfinite(value):
        raise SchemaError(key, "must be a finite number", shown(value))
    if not spec.lo <= value <= spec.hi:  # type: ignore[operator]
        bound = f"{spec.lo:g}" if spec.lo == spec.hi else f"in {spec.lo:g}..{spec.hi:g}"
        raise SchemaError(key, f"must be {bound}", shown(value))


def _string(spec: Field, value: object, key: str) -> None:
    if not isinstance(value, str):
        raise SchemaError(key, "must be a string", type_name(value))
    if not value:
        raise SchemaError(key, "must not be empty")
    if len(value) > spec.max_len:
        raise SchemaError(key, f"must be at most {spec.max_len} characters", str(len(value)))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SchemaError(key, "must be valid Unicode (a lone surrogate)") from None
    if spec.pattern is not None and not re.fullmatch(spec.pattern, value):
        raise SchemaError(key, f"must match {spec.pattern}", shown(value))


def _time(spec: Field, value: object, key: str) -> None:
    fault = "must be RFC 3339 UTC like 2026-01-31T07:05:00.250Z"
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise SchemaError(key, fault, shown(value))
    try:
        parsed = parse_time(value)
    except ValueError:
        raise SchemaError(key, fault, shown(value)) from None
    if not YEARS[0] <= parsed.year < YEARS[1]:
        raise SchemaError(key, f"must be a time from {YEARS[0]} to {YEARS[1] - 1}",
                          shown(value))


def _date(spec: Field, value: object, key: str) -> None:
    fault = "must be a date YYYY-MM-DD"
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise SchemaError(key, fault, shown(value))
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise SchemaError(key, fault, shown(value)) from None
    if not YEARS[0] <= parsed.year < YEARS[1]:
        raise SchemaError(key, f"must be a date from {YEARS[0]} to {YEARS[1] - 1}",
                          shown(value))


def _boolean(spec: Field, value: object, key: str) -> None:
    if not isinstance(value, bool):
        raise SchemaError(key, "must be true or false", type_name(value))


def _array(spec: Field, value: object, key: str) -> None:
    if not isinstance(value, list):
        raise SchemaError(key, "must be an array", type_name(value))
    if not spec.min_items <= len(value) <= spec.max_items:  # type: ignore[operator]
        size = (f"{spec.max_items}" if spec.min_items == spec.max_items
                else f"{spec.min_items}..{spec.max_items}")
        raise SchemaError(key, f"must have {size} items", str(len(value)))
    for i, item in enumerate(value):
        check(spec.items, item, f"{key}[{i}]")  # type: ignore[arg-type]


def _object(spec: Field, value: object, key: str) -> None:
    if not isinstance(value, dict):
        raise SchemaError(key, "must be a table" if spec.extra == "reject" else
                          "must be an object", type_name(value))
    check_members(spec.fields or {}, value, key, spec.extra)


def _either(spec: Field, value: object, key: str) -> None:
    # The alternative made for the value's own JSON type says best what is wrong with it.
    fitting = [o for o in spec.either if type_name(value) in _JSON_TYPES[o.type]]
    if not fitting:
        raise SchemaError(key, f"must be {spec.doc}", shown(value))
    for option in fitting[:-1]:
        try:
            check(option, value, key)
            return
        except SchemaError:
            pass
    check(fitting[-1], value, key)


_JSON_TYPES = {
    "integer": ("integer",), "number": ("integer", "number"), "string": ("string",),
    "time": ("string",), "date": ("string",), "boolean": ("boolean",), "array": ("array",),
    "object": ("object",), "either": ("null", "object", "array", "string", "boolean",
                                     "integer", "number"),
}


_SHAPES: dict[str, Callable[[Field, object, str], None]] = {
    "integer": _number, "number": _number, "string": _string, "time": _time, "date": _date,
    "boolean": _boolean, "array": _array, "object": _object, "either": _either,
}


# --------------------------------------------------------------------------- times


def parse_time(text: str) -> datetime:
    """An RFC 3339 UTC time (as :func:`check` accepts) as an aware datetime."""
    if not _TIME.fullmatch(text):
        raise ValueError(f"not an RFC 3339 UTC time: {text!r}")
    head, _, frac = text[:-1].partition(".")
    parsed = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return parsed.replace(microsecond=int((frac + "000000")[:6])) if frac else parsed


def format_time(moment: datetime) -> str:
    """The one time format of the log and the payloads: UTC, milliseconds, "Z"."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment.astimezone(UTC).microsecond // 1000:03d}Z"


# --------------------------------------------------------------------------- decoding


def decode_json(raw: bytes | str, max_bytes: int, what: str = "payload") -> object:
    """Decode JSON from outside, refusing what the schemas could not bound.

    Too large, not UTF-8, nested deeper than :data:`MAX_DEPTH`, duplicate keys,
    NaN or Infinity, integers longer than :data:`MAX_DIGITS` digits and numbers
    that overflow a float are each a one-line :class:`SchemaError` about ``what``.
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    if len(data) > max_bytes:
        raise SchemaError("", f"{what} is too large (at most {max_bytes} bytes)",
                          str(len(data)))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SchemaError("", f"{what} is not UTF-8") from None
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float,
                           parse_constant=_constant, object_pairs_hook=_unique)
    except json.JSONDecodeError as exc:
        raise SchemaError("", f"{what} is not JSON",
                          detail=f"{exc.msg} at char {exc.pos}") from None
    except _BadLiteral as exc:
        raise SchemaError("", f"{what} has {exc.args[0]}") from None
    except RecursionError:   # the C decoder's own guard, far deeper than MAX_DEPTH
        value = _TOO_DEEP
    if value is _TOO_DEEP or _depth(value) > MAX_DEPTH:
        raise SchemaError("", f"{what} is nested deeper than {MAX_DEPTH} levels")
    return value


_TOO_DEEP = object()


class _BadLiteral(ValueError):
    pass


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise _BadLiteral(f"an integer longer than {MAX_DIGITS} digits")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _BadLiteral("a number too large for a float")
    return value


def _constant(text: str) -> float:
    raise _BadLiteral(f"{text}, which is not JSON")


def _unique(pairs: list[tuple[str, object]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise _BadLiteral(f"the key {shown(name)} twice")
            seen.add(name)
    return obj


def _depth(value: object) -> int:
    """How deep arrays and objects nest in a decoded value (iteratively: no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        children = node.values() if isinstance(node, dict) else \
            node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if level <= MAX_DEPTH:
            stack.extend((child, level + 1) for child in children)
    return deepest
