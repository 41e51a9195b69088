"""The rehab protocol, loaded from the clinician-editable ``stages.toml``.

A bad value stops loading with one line naming the file and the key, since the
person fixing it is a clinician with a text editor, not a developer with a
traceback. The data itself (:class:`~.protocol.Stage`) lives in :mod:`.protocol`.
"""

from __future__ import annotations

from pathlib import Path

from .datafile import load_toml
from .errors import InputError
from .protocol import DEFAULT_STAGE, Protocol, Stage

_REQUIRED = ("number", "name", "movement", "legs", "heel_drop", "sets", "reps",
             "rest_between_sets_s", "sessions_per_day", "load_kg", "typical_weeks")
_PAIRS = ("sets", "reps", "typical_weeks", "effort", "load_range_kg")
_NUMBERS = ("up_s", "up_tolerance_s", "hold_s", "hold_min_s", "hold_max_s", "down_s",
            "down_tolerance_s", "rest_between_sets_s", "load_kg")


def _stage(path: Path, index: int, raw: dict) -> Stage:
    where = f"stage[{index}]"
    for key in _REQUIRED:
        if key not in raw:
            raise InputError(path, f"{where} is missing '{key}'")
    unknown = set(raw) - set(Stage.__dataclass_fields__)
    if unknown:
        raise InputError(path, f"{where} has unknown key '{sorted(unknown)[0]}'")
    values = dict(raw)
    for key in _PAIRS:
        if key in values:
            pair = values[key]
            if not (isinstance(pair, list) and len(pair) == 2 and pair[0] <= pair[1]):
                raise InputError(path, f"{where}.{key} must be [low, high], got {pair!r}")
            values[key] = tuple(pair)
    for key in _NUMBERS:
        value = values.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or value < 0):
            raise InputError(path, f"{where}.{key} must be a number >= 0, got {value!r}")
    if (values.get("up_s") is None) != (values.get("down_s") is None):
        raise InputError(path, f"{where} needs both up_s and down_s, or neither (isometric)")
    if values.get("up_s") is None and values.get("hold_max_s") is None:
        raise InputError(path, f"{where} is isometric (no up_s) but has no hold_max_s")
    return Stage(**values)


def load_protocol(path: str | Path | None = None) -> Protocol:
    """Read the protocol file; the packaged ``stages.toml`` when ``path`` is None."""
    path, _, raw = load_toml(path, "stages.toml")
    head = raw.get("protocol", {})
    stages: dict[int, Stage] = {}
    for index, entry in enumerate(raw.get("stage", [])):
        stage = _stage(path, index, entry)
        if stage.number in stages:
            raise InputError(path, f"stage {stage.number} is defined twice")
        stages[stage.number] = stage
    if not stages:
        raise InputError(path, "defines no [[stage]]")
    try:
        return Protocol(
            name=head["name"],
            pain_limit=int(head["pain_limit"]),
            sessions_per_day=int(head["sessions_per_day"]),
            adaptation_months=tuple(head["adaptation_months"]),
            assess_after_weeks=tuple(head["assess_after_weeks"]),
            stages=stages,
        )
    except KeyError as exc:
        raise InputError(path, f"[protocol] is missing {exc}") from None


def load_stage(number: int = DEFAULT_STAGE, path: str | Path | None = None) -> Stage:
    """The stage a session is judged against."""
    return load_protocol(path).stage(number)
