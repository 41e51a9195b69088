"""The rehab protocol, loaded from the clinician-editable ``stages.toml``.

A bad value stops loading with one line naming the file and the key, since the
person fixing it is a clinician with a text editor, not a developer with a
traceback. The data itself (:class:`~.protocol.Stage`) lives in :mod:`.protocol`.
"""

from __future__ import annotations

from pathlib import Path

from .datafile import load_toml
from .protocol import DEFAULT_STAGE, Protocol, Stage
from .schema import Field, array, boolean, integer, number, pair, string, table


def _tempo_both_or_neither(stage: object) -> tuple[str, str] | None:
    if ("up_s" in stage) != ("down_s" in stage):  # type: ignore[operator]
        return "up_s", "needs down_s with it, or neither (isometric)"
    if "up_s" not in stage and "hold_max_s" not in stage:  # type: ignore[operator]
        return "hold_max_s", "is needed by an isometric stage (no up_s)"
    return None


def _numbered_once(stages: object) -> str | None:
    numbers = [s["number"] for s in stages]  # type: ignore[attr-defined]
    twice = sorted({n for n in numbers if numbers.count(n) > 1})
    return f"defines stage {twice[0]} twice" if twice else None


def _seconds(doc: str, hi: float = 600) -> Field:
    return number(doc, 0, hi, required=False)


_STAGE = table("one [[stage]]", {
    "number": integer("stage number", 1, 99),
    "name": string("short name", max_len=80),
    "movement": string("what the person does", max_len=500),
    "legs": integer("legs loaded", 1, 2),
    "heel_drop": boolean("heel drop below step level allowed"),
    "sets": pair("[low, high] sets (holds in stage 1) per session", integer("", 0, 100)),
    "reps": pair("[low, high] reps per set", integer("", 0, 1000)),
    "rest_between_sets_s": number("rest between sets", 0, 3600),
    "sessions_per_day": integer("sessions a day", 1, 10),
    "load_kg": number("added load", 0, 500),
    "typical_weeks": pair("[first, last] week people are in this stage", number("", 0, 520)),
    "up_s": _seconds("target rise"),
    "up_tolerance_s": _seconds("how much quicker a rise may be"),
    "hold_s": _seconds("target hold at the top"),
    "hold_min_s": _seconds("shortest hold"),
    "hold_max_s": _seconds("longest hold", 3600),
    "down_s": _seconds("target lowering"),
    "down_tolerance_s": _seconds("how much quicker a lowering may be"),
    "effort": pair("[low, high] effort out of 10", integer("", 0, 10), required=False),
    "load_range_kg": pair("[low, high] added load", number("", 0, 500), required=False),
}, checks=(_tempo_both_or_neither,))

SCHEMA = table("the protocol file", {
    "protocol": table("[protocol]", {
        "name": string("the protocol's name", max_len=200),
        "pain_limit": integer("pain during exercise stays below this (0-10)", 0, 10),
        "sessions_per_day": integer("sessions a day, unless a stage says", 1, 10),
        "adaptation_months": pair("[low, high] months full adaptation takes",
                                  integer("", 0, 60)),
        "assess_after_weeks": pair("[low, high] weeks without improvement before assessment",
                                   integer("", 0, 520)),
    }),
    "stage": array("the stages", _STAGE, 20, min_items=1, checks=(_numbered_once,)),
})
"""The shape of ``stages.toml``; a fault names the file, the line and the key."""


def load_protocol(path: str | Path | None = None) -> Protocol:
    """Read the protocol file; the packaged ``stages.toml`` when ``path`` is None."""
    _, raw = load_toml(path, SCHEMA, "stages.toml")
    head = raw["protocol"]
    stages = {}
    for entry in raw["stage"]:
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()}
        stages[entry["number"]] = Stage(**values)
    return Protocol(name=head["name"], pain_limit=head["pain_limit"],
                    sessions_per_day=head["sessions_per_day"],
                    adaptation_months=tuple(head["adaptation_months"]),
                    assess_after_weeks=tuple(head["assess_after_weeks"]), stages=stages)


def load_stage(number: int = DEFAULT_STAGE, path: str | Path | None = None) -> Stage:
    """The stage a session is judged against."""
    return load_protocol(path).stage(number)
