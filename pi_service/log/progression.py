"""Progression coaching: what the log says about moving up, scaling back and keeping on.

The thresholds, windows and words live in ``progression.toml`` (a clinician edits
them) and the doses in ``stages.toml``; this module only knows how to evaluate
each named ``check`` against a person's history. It is a pure function of that
history and of ``today``, which the caller passes in: no wall clock here, so a
constructed history gives the same advice on any day it is run.

A log is one person's. A person may wear two sensors (left and right foot): their
history is every device's sets, with a bilateral set that both feet saw counted once
(:func:`person_sets`), and one set of ratings. What today's training amounts to, and
whether it is done, is worked out once (:func:`_dose_today`) and read by the advice,
``heelraise progress``, the aggregates and so the dashboard.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from string import Formatter
from typing import Any

from ..datafile import load_toml
from ..errors import InputError
from ..protocol import Protocol, Stage
from ..schema import array, either, integer, number, string, table
from ..stages import load_protocol
from .feet import asymmetry, pairs
from .heelrise import paired
from .store import Rating, RepRow, SetRow, Store, local_day

LEVELS = ("stop", "caution", "progress", "info")
"""Advice levels, most urgent first."""

_DAYS_PER_MONTH = 30.44


@dataclass(frozen=True)
class Advice:
    """One piece of coaching: what to do (``title``) and why (``reasoning``)."""

    id: str
    level: str
    title: str
    reasoning: str

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Rule:
    id: str
    check: str
    level: str
    title: str
    reasoning: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Rules:
    """The parsed ``progression.toml``."""

    session_gap_min: float
    trend_window_days: int
    same_within: float
    rules: tuple[Rule, ...]
    path: str = "<progression.toml>"


@dataclass(frozen=True)
class History:
    """Everything the log knows about one device, oldest first."""

    device: str
    sets: Sequence[SetRow] = ()
    reps: Sequence[RepRow] = ()
    pain: Sequence[Rating] = ()
    stiffness: Sequence[Rating] = ()
    activity: Sequence[Rating] = ()
    tests: Sequence[dict] = ()       # heel-rise tests, a payload a leg
    feet: Sequence[dict] = ()        # sets two sensors saw, both feet side by side (feet.py)


def load_history(store: Store, device: str | None = None,
                 protocol: Protocol | None = None) -> History:
    """The person's history (every device, ``device`` None) or one device's.

    Struck sets and (outside a simulated person's log) simulated ones are left out; the
    person's history goes by the names of their devices ("left, right"). ``protocol``
    says which stages are single-leg (where a set on each foot in turn is a pair).
    """
    name = device or ", ".join(store.devices()) or "no device"
    sets = store.sets(device)
    feet: Sequence[dict] = ()
    if device is None and len({s.device for s in sets}) > 1:
        single = [s.number for s in (protocol or load_protocol()).stages.values()
                  if s.legs == 1]
        feet = pairs(sets, store.rep_heights(), single_leg_stages=single)
    return History(name, person_sets(sets), store.reps(device),
                   store.pain(device), store.stiffness(device), store.activity(device),
                   store.tests(), feet)


def person_sets(sets: Sequence[SetRow], same_share: float = 0.5) -> list[SetRow]:
    """Time-ordered sets with a set that two devices saw at once kept once.

    In a bilateral stage both feet rise together, so a person with a sensor on each
    shoe logs every set twice; two sets of different devices whose spans overlap by
    at least ``same_share`` of the shorter one are one set, and the one with more reps
    (the foot the detector saw better) stands for it. Single-leg sets, left then
    right, do not overlap and both count.
    """
    kept: list[SetRow] = []
    for s in sorted(sets, key=lambda s: (s.time, s.id)):
        twin = next((k for k in reversed(kept) if k.device != s.device
                     and _overlap_share(k, s) >= same_share), None)
        if twin is None:
            kept.append(s)
        elif (s.reps, s.holds) > (twin.reps, twin.holds):
            kept[kept.index(twin)] = s
    return kept


def _overlap_share(a: SetRow, b: SetRow) -> float:
    start, end = max(a.start_time, b.start_time), min(a.time, b.time)
    shorter = min((a.time - a.start_time).total_seconds(), (b.time - b.start_time).total_seconds())
    overlap = (end - start).total_seconds()
    if shorter <= 0:
        return 1.0 if overlap >= 0 else 0.0
    return max(0.0, overlap) / shorter


@dataclass(frozen=True)
class Session:
    """Sets done in one sitting (no gap longer than the rules' ``gap_min`` between them)."""

    sets: tuple[SetRow, ...]

    @property
    def day(self) -> date:
        return self.sets[0].day

    @property
    def stage(self) -> int:
        return self.sets[-1].stage

    @property
    def reps(self) -> int:
        return sum(s.reps for s in self.sets)

    @property
    def holds(self) -> int:
        return sum(s.holds for s in self.sets)

    @property
    def tempo_compliance(self) -> float | None:
        return tempo_compliance(self.sets)


def group_sessions(sets: Sequence[SetRow], gap_min: float) -> list[Session]:
    """Split time-ordered sets into sessions at gaps longer than ``gap_min``."""
    groups: list[list[SetRow]] = []
    for s in sets:
        if groups:
            last = groups[-1][-1]
            gap_s = (s.start_time - last.time).total_seconds()
            if gap_s <= gap_min * 60:
                groups[-1].append(s)
                continue
        groups.append([s])
    return [Session(tuple(g)) for g in groups]


def at_dose(session: Session, stage: Stage) -> bool:
    """Did the session reach the stage's dose (the low end of its sets and reps)?"""
    if stage.isometric:
        return session.holds >= stage.sets[0]
    full_sets = sum(1 for s in session.sets if s.reps >= stage.reps[0])
    return full_sets >= stage.sets[0]


@dataclass(frozen=True)
class Criterion:
    """One condition for moving up a stage, as shown to the person."""

    name: str
    met: bool
    detail: str


@dataclass
class Progress:
    """The current picture for one device: stage, today's dose, trends, advice."""

    device: str
    today: date
    stage: Stage | None = None
    stage_since: date | None = None
    first_day: date | None = None
    dose_today: dict = field(default_factory=dict)
    compliance: dict = field(default_factory=dict)
    trends: dict = field(default_factory=dict)
    criteria: list[Criterion] = field(default_factory=list)
    advice: list[Advice] = field(default_factory=list)

    @property
    def days_in_stage(self) -> int | None:
        return None if self.stage_since is None else (self.today - self.stage_since).days

    @property
    def week_in_stage(self) -> int | None:
        days = self.days_in_stage
        return None if days is None else days // 7 + 1

    def to_json(self) -> dict:
        stage = None if self.stage is None else {
            "number": self.stage.number, "name": self.stage.name,
            "movement": self.stage.movement, "since": _iso(self.stage_since),
            "days": self.days_in_stage, "week": self.week_in_stage,
            "typical_weeks": list(self.stage.typical_weeks)}
        return {"v": 1, "device": self.device, "today": self.today.isoformat(),
                "first_day": _iso(self.first_day), "stage": stage,
                "dose_today": self.dose_today, "compliance": self.compliance,
                "trends": self.trends,
                "criteria": [asdict(c) for c in self.criteria],
                "advice": [a.to_json() for a in self.advice]}

    def to_text(self) -> str:
        """The picture as a person reads it in a terminal."""
        if self.stage is None:
            return f"{self.device}: no sets logged yet."
        lines = [f"{self.device}, {self.today.isoformat()}",
                 f"Stage {self.stage.number} ({self.stage.name}): week {self.week_in_stage}, "
                 f"day {self.days_in_stage + 1} (since {self.stage_since})"]
        d = self.dose_today
        if self.stage.isometric:
            lines.append(f"Today: {d['holds']} holds in {d['sessions']} session(s); "
                         f"target {_range(d['target']['sets'])} holds, "
                         f"{d['sessions_allowed']} session(s) a day")
        else:
            reps = " + ".join(str(r) for r in d["reps_per_set"]) or "none"
            lines.append(f"Today: {d['sets']} set(s), reps {reps}; target "
                         f"{_range(d['target']['sets'])} x {_range(d['target']['reps'])}, "
                         f"{d['sessions_allowed']} session(s) a day")
        c = self.compliance
        lines.append(f"Tempo compliance: last session {_pct(c.get('last_session'))}, "
                     f"last {c.get('window_days')} days {_pct(c.get('window'))}")
        p, s = self.trends.get("pain", {}), self.trends.get("stiffness", {})
        pain = ("not rated this week" if p.get("recent_max") is None
                else f"{_num(p['recent_max'])}/10 at most this week")
        lines.append(f"Pain: {pain}, trend {p.get('direction') or '-'}")
        stiff = ("not rated this week" if s.get("latest") is None
                 else f"latest {_num(s['latest'])}/10 (usual {_num(s.get('baseline'))})")
        lines.append(f"Morning stiffness: {stiff}, trend {s.get('direction') or '-'}")
        a = d.get("activity")
        lines.append("Activity today: " + ("not rated" if a is None else f"{_num(a)}/10 on "
                                                                         "your feet"))
        if self.criteria:
            lines.append("To move up:")
            lines += [f"  [{'x' if c.met else ' '}] {c.name}: {c.detail}" for c in self.criteria]
        for a in self.advice:
            lines += ["", f"{a.level.upper()}: {a.title}", f"  {a.reasoning}"]
        return "\n".join(lines)


# --------------------------------------------------------------------------- evaluation


@dataclass
class _Facts:
    """What every check reads, worked out once from the history."""

    history: History
    today: date
    protocol: Protocol
    rules: Rules
    insertional: bool
    stage: Stage
    sessions: list[Session]
    stage_since: date
    first_day: date
    dose: dict = field(default_factory=dict)

    def window(self, days: int) -> date:
        """First day of a window of ``days`` days ending today."""
        return self.today - timedelta(days=days - 1)

    def pain_between(self, first: date, last: date) -> list[Rating]:
        return [r for r in self.history.pain if first <= r.day <= last]

    @property
    def weeks(self) -> int:
        return (self.today - self.first_day).days // 7

    @property
    def adaptation(self) -> dict:
        lo, hi = self.protocol.adaptation_months
        return {"months_lo": lo, "months_hi": hi, "weeks": self.weeks}

    def before_adaptation(self) -> bool:
        return (self.today - self.first_day).days < self.protocol.adaptation_months[0] * \
            _DAYS_PER_MONTH


def evaluate(history: History, today: date, *, protocol: Protocol | None = None,
             rules: Rules | None = None, insertional: bool = False) -> Progress:
    """The coaching picture for ``history`` as of ``today`` (only data up to today counts)."""
    protocol = protocol or load_protocol()
    rules = rules or load_rules()
    history = History(history.device,
                      [s for s in history.sets if s.day <= today],
                      [r for r in history.reps if r.day <= today],
                      [p for p in history.pain if p.day <= today],
                      [s for s in history.stiffness if s.day <= today],
                      [a for a in history.activity if a.day <= today],
                      [t for t in history.tests if local_day(t["time"]) <= today],
                      [p for p in history.feet if p["day"] <= today])
    progress = Progress(history.device, today)
    if not history.sets:
        return progress
    stage = protocol.stage(history.sets[-1].stage)
    since = history.sets[-1].day
    for s in reversed(history.sets):
        if s.stage != stage.number:
            break
        since = s.day
    facts = _Facts(history, today, protocol, rules, insertional, stage,
                   group_sessions(history.sets, rules.session_gap_min), since,
                   history.sets[0].day)
    progress.stage, progress.stage_since, progress.first_day = stage, since, facts.first_day
    progress.dose_today = facts.dose = _dose_today(facts)
    progress.compliance = _compliance_summary(facts)
    progress.trends = _trends(facts)
    ready = next((r for r in rules.rules if r.check == "ready_to_progress"), None)
    if ready is not None:
        progress.criteria = _criteria(facts, ready)[0]
    for rule in rules.rules:
        values = CHECKS[rule.check](facts, rule)
        if values is None:
            continue
        # A check may name a variant ("top" stage, "over" the limit) with its own wording.
        variant = values.get("variant")
        p = rule.params
        level = p.get(f"{variant}_level", rule.level)
        title = p.get(f"{variant}_title", rule.title)
        reasoning = p.get(f"{variant}_reasoning", rule.reasoning)
        progress.advice.append(Advice(rule.id, level, _fill(rules, rule, title, values),
                                      _fill(rules, rule, reasoning, values)))
    progress.advice.sort(key=lambda a: LEVELS.index(a.level))
    return progress


def _fill(rules: Rules, rule: Rule, text: str, values: dict) -> str:
    try:
        return Formatter().vformat(text, (), values)
    except (KeyError, ValueError, IndexError) as exc:
        raise InputError(rules.path, f"rule '{rule.id}': cannot fill in {exc} "
                                     f"(known: {', '.join(sorted(values))})") from None


def _dose_today(f: _Facts) -> dict:
    """Today's training against the stage's dose: the one answer to "am I done today?".

    ``done`` once as many sessions reached the dose (its sets of its reps, or its holds)
    as the stage calls for a day; a session cut short leaves the day open.
    """
    today = [s for s in f.sessions if s.day == f.today]
    sets = [s for session in today for s in session.sets]
    at = sum(1 for s in today if at_dose(s, f.stage))
    activity = next((a.value for a in f.history.activity if a.day == f.today), None)
    return {"sessions": len(today), "sessions_at_dose": at,
            "sessions_allowed": f.stage.sessions_per_day,
            "sets": len(sets), "reps": sum(s.reps for s in sets),
            "reps_per_set": [s.reps for s in sets], "holds": sum(s.holds for s in sets),
            "done": at >= f.stage.sessions_per_day, "activity": activity,
            "target": {"sets": list(f.stage.sets), "reps": list(f.stage.reps),
                       "load_kg": f.stage.load_kg}}


def _compliance_summary(f: _Facts) -> dict:
    days = f.rules.trend_window_days
    recent = [s for s in f.history.sets if s.day >= f.window(days)]
    return {"last_session": _round(f.sessions[-1].tempo_compliance),
            "window": _round(tempo_compliance(recent)), "window_days": days}


def _trends(f: _Facts) -> dict:
    days = f.rules.trend_window_days
    recent_start, prev_start = f.window(days), f.window(2 * days)
    recent = f.pain_between(recent_start, f.today)
    previous = f.pain_between(prev_start, recent_start - timedelta(days=1))
    pain = {"recent_avg": _round(_daily_max_mean(recent)),
            "previous_avg": _round(_daily_max_mean(previous)),
            "recent_max": max((r.value for r in recent), default=None),
            "by_day": {d.isoformat(): v for d, v in daily_max(f.pain_between(
                prev_start, f.today)).items()}}
    pain["direction"] = _direction(pain["previous_avg"], pain["recent_avg"], f.rules.same_within)
    fresh = [r for r in f.history.stiffness if r.day >= recent_start]
    versus = _stiffness_vs_baseline(f, recent_days=days, baseline_days=2 * days,
                                    min_baseline=1)
    baseline = None if versus is None else versus["baseline"]
    latest = fresh[-1] if fresh else None
    stiff = {"latest": None if latest is None else latest.value,
             "latest_day": None if latest is None else latest.day.isoformat(),
             "baseline": baseline,
             "direction": None if latest is None else _direction(baseline, latest.value,
                                                                  f.rules.same_within),
             "by_day": {r.day.isoformat(): r.value for r in f.history.stiffness
                        if r.day >= prev_start}}
    return {"window_days": days, "pain": pain, "stiffness": stiff}


def _direction(before: float | None, now: float | None, same_within: float) -> str | None:
    if before is None or now is None:
        return None
    if abs(now - before) < same_within:
        return "same"
    return "better" if now < before else "worse"


# --------------------------------------------------------------------------- checks


def _pain_at_limit(f: _Facts, rule: Rule) -> dict | None:
    ratings = f.pain_between(f.window(int(rule.params["window_days"])), f.today)
    worst = max(ratings, key=lambda r: (r.value, r.time), default=None)
    if worst is None or worst.value < f.protocol.pain_limit:
        return None
    return {"pain": worst.value, "limit": f.protocol.pain_limit, "day": worst.day.isoformat(),
            "stage": f.stage.number}


def _stiffness_vs_baseline(f: _Facts, recent_days: int, baseline_days: int,
                           min_baseline: int) -> dict | None:
    """The latest fresh stiffness rating against the median of those before it."""
    fresh = [r for r in f.history.stiffness if r.day >= f.window(recent_days)]
    if not fresh:
        return None
    latest = fresh[-1]
    first = latest.day - timedelta(days=baseline_days)
    before = [r.value for r in f.history.stiffness if first <= r.day < latest.day]
    if len(before) < min_baseline:
        return None
    return {"stiffness": latest.value, "day": latest.day.isoformat(),
            "baseline": statistics.median(before), "stage": f.stage.number}


def _stiffness_for(f: _Facts, rule: Rule) -> dict | None:
    return _stiffness_vs_baseline(f, int(rule.params["recent_days"]),
                                  int(rule.params["baseline_days"]),
                                  int(rule.params["min_baseline_ratings"]))


def _stiffness_worse(f: _Facts, rule: Rule) -> dict | None:
    values = _stiffness_for(f, rule)
    if values is None or values["stiffness"] < values["baseline"] + rule.params["worse_by"]:
        return None
    return values


def _stiffness_steady(f: _Facts, rule: Rule) -> dict | None:
    values = _stiffness_for(f, rule)
    if values is None or values["stiffness"] > values["baseline"]:
        return None
    return values


def _criteria(f: _Facts, rule: Rule) -> tuple[list[Criterion], dict]:
    """Each condition for moving up, met or not, and the figures the advice quotes."""
    p = rule.params
    stage = f.stage
    lo_weeks, hi_weeks = stage.typical_weeks
    min_days = math.ceil(7 * (hi_weeks - lo_weeks) * p["min_fraction_of_typical"])
    days = (f.today - f.stage_since).days
    window_start = f.window(int(p["window_days"]))
    recent = [s for s in f.sessions if s.day >= window_start and s.stage == stage.number]
    full = sum(1 for s in recent if at_dose(s, stage))
    need = math.ceil(p["min_sessions_at_dose"] * stage.sessions_per_day)
    compliance = tempo_compliance([x for s in recent for x in s.sets])
    pain = f.pain_between(window_start, f.today)
    worst_pain = max((r.value for r in pain), default=None)
    worse = next((r for r in f.rules.rules if r.check == "stiffness_worse"), None)
    stiff_worse = worse is not None and _stiffness_worse(f, worse) is not None
    dose = (f"{_range(stage.sets)} holds" if stage.isometric
            else f"{_range(stage.sets)} x {_range(stage.reps)}")
    criteria = [
        Criterion("time in stage", days >= min_days,
                  f"{days} days completed (need {min_days})"),
        Criterion("full dose", full >= need,
                  f"{full} sessions at {dose} in the last {p['window_days']:g} days "
                  f"(need {need})"),
    ]
    if not stage.isometric:
        criteria.append(Criterion(
            "tempo", compliance is not None and compliance >= p["min_tempo_compliance"],
            f"{_pct(compliance)} of reps at tempo (need {_pct(p['min_tempo_compliance'])})"))
    criteria.append(Criterion(
        "pain", worst_pain is not None and worst_pain < f.protocol.pain_limit,
        f"not rated in the last {p['window_days']:g} days (rate it after a set)"
        if worst_pain is None else
        f"highest {worst_pain:g}/10 (must stay below {f.protocol.pain_limit})"))
    criteria.append(Criterion("morning stiffness", not stiff_worse,
                              "clearly worse than usual" if stiff_worse else "not worse"))
    nxt = f.protocol.stages.get(stage.number + 1)
    values = {"stage": stage.number, "name": stage.name, "days": days, "sessions": full,
              "compliance": 100 * (compliance if compliance is not None else 1.0),
              "compliance_of": "holds in range" if stage.isometric else "reps at the target tempo",
              "limit": f.protocol.pain_limit,
              "next": None if nxt is None else nxt.number,
              "next_name": None if nxt is None else nxt.name,
              "variant": "top" if nxt is None else None}
    return criteria, values


def _ready_to_progress(f: _Facts, rule: Rule) -> dict | None:
    criteria, values = _criteria(f, rule)
    if not all(c.met for c in criteria):
        return None
    busy = next((r for r in f.rules.rules if r.check == "high_activity"), None)
    load = None if busy is None else _high_activity(f, busy)
    if load is not None:      # ready, but not on a day the tendon already carried a lot
        return {**values, **load, "variant": "busy"}
    return values


def _sessions_today(f: _Facts, rule: Rule) -> dict | None:
    """Today's dose is done (the same ``done`` as the aggregates' and the dashboard's)."""
    done, sessions = f.dose["done"], f.dose["sessions"]
    allowed = f.stage.sessions_per_day
    if not done:
        return None
    return {"sessions": sessions, "allowed": allowed, "stage": f.stage.number,
            "variant": "over" if sessions > allowed else None}


def _high_activity(f: _Facts, rule: Rule) -> dict | None:
    """A day with much walking or standing besides the exercises (the person's rating)."""
    p = rule.params
    start = f.window(int(p["window_days"]))
    rated = [a for a in f.history.activity if start <= a.day <= f.today]
    busiest = max(rated, key=lambda a: (a.value, a.day), default=None)
    if busiest is None or busiest.value < p["high_at"]:
        return None
    return {"activity": busiest.value, "activity_day": busiest.day.isoformat(),
            "high_at": p["high_at"], "stage": f.stage.number,
            "when": "today" if busiest.day == f.today else f"on {busiest.day.isoformat()}"}


def _skipped_stage(f: _Facts, rule: Rule) -> dict | None:
    start = f.window(int(rule.params["window_days"]))
    sets = f.history.sets
    for before, after in zip(sets, sets[1:], strict=False):
        if after.day >= start and after.stage > before.stage + 1:
            return {"from_stage": before.stage, "to_stage": after.stage,
                    "missed": before.stage + 1, "stage": f.stage.number}
    return None


def _pain_gone_early(f: _Facts, rule: Rule) -> dict | None:
    p = rule.params
    if not f.before_adaptation():
        return None
    start = f.window(int(p["window_days"]))
    recent = f.pain_between(start, f.today)
    earlier = [r for r in f.history.pain if r.day < start]
    if len(recent) < p["min_ratings"] or not earlier:
        return None
    pain_max = max(r.value for r in recent)
    if pain_max > p["pain_free_max"] or max(r.value for r in earlier) <= p["pain_free_max"]:
        return None
    return {**f.adaptation, "pain_max": p["pain_free_max"], "stage": f.stage.number}


def _stopped_early(f: _Facts, rule: Rule) -> dict | None:
    gap_days = (f.today - f.sessions[-1].day).days
    if gap_days < rule.params["min_gap_days"] or not f.before_adaptation():
        return None
    return {**f.adaptation, "gap_days": gap_days, "stage": f.stage.number}


def _no_improvement(f: _Facts, rule: Rule) -> dict | None:
    p = rule.params
    assess_lo, assess_hi = f.protocol.assess_after_weeks
    days = (f.today - f.first_day).days
    if days < assess_lo * 7:
        return None
    weeks = days // 7
    per_week = [0] * weeks
    for s in f.sessions:
        week = (s.day - f.first_day).days // 7
        if week < weeks:
            per_week[week] += 1
    consistent = sum(1 for n in per_week if n >= p["min_sessions_per_week"])
    if consistent < p["min_consistent_share"] * weeks:
        return None
    span = timedelta(days=int(p["compare_days"]) - 1)
    first_end, last_start = f.first_day + span, f.today - span
    pairs = {}
    for name, ratings in (("pain", f.history.pain), ("stiff", f.history.stiffness)):
        then = _daily_max_mean([r for r in ratings if r.day <= first_end])
        now = _daily_max_mean([r for r in ratings if last_start <= r.day <= f.today])
        pairs[name] = (then, now)
    judged = [(a, b) for a, b in pairs.values() if a is not None and b is not None]
    if not judged or any(a - b >= p["min_improvement"] for a, b in judged):
        return None
    return {"weeks": weeks, "assess_lo": assess_lo, "assess_hi": assess_hi,
            "pain_then": _num(pairs["pain"][0]), "pain_now": _num(pairs["pain"][1]),
            "stiff_then": _num(pairs["stiff"][0]), "stiff_now": _num(pairs["stiff"][1]),
            "stage": f.stage.number}


def _insertional_heel_drop(f: _Facts, rule: Rule) -> dict | None:
    p = rule.params
    if not f.insertional or (f.today - f.first_day).days >= p["early_weeks"] * 7:
        return None
    start = f.window(int(p["window_days"]))
    drops = [r.bottom_deg for r in f.history.reps
             if r.day >= start and r.bottom_deg is not None and r.bottom_deg < p["heel_drop_deg"]]
    if not drops:
        return None
    return {"count": len(drops), "worst": min(drops), "limit_deg": p["heel_drop_deg"],
            "stage": f.stage.number}


def _heel_rise_symmetry(f: _Facts, rule: Rule) -> dict | None:
    p = rule.params
    tests = [t for t in paired(f.history.tests) if t["symmetry"]
             and t["symmetry"]["work_pct"] is not None
             and (f.today - date.fromisoformat(t["date"])).days <= p["max_age_days"]]
    if not tests:
        return None
    latest = tests[-1]
    sym = latest["symmetry"]
    return {"work_pct": sym["work_pct"], "reps_pct": sym["reps_pct"] or 0.0,
            "height_pct": sym["height_pct"] or 0.0, "min_work_pct": p["min_work_pct"],
            "day": latest["date"], "involved": sym["involved"],
            "variant": "ready" if sym["work_pct"] >= p["min_work_pct"] else None}


def _feet_asymmetry(f: _Facts, rule: Rule) -> dict | None:
    """With a sensor on each shoe: one foot consistently rising less (or, heights even,
    rising faster) than the other over the recent sets both sensors saw."""
    p = rule.params
    start = f.window(int(p["window_days"]))
    recent = [x for x in f.history.feet if start <= x["day"] <= f.today]
    options = {"min_sets": int(p["min_sets"]), "min_gap_pct": p["min_gap_pct"],
               "min_consistent_share": p["min_consistent_share"]}
    height = asymmetry(recent, "height_cm", **options)
    if height is not None:
        return {**height, "lower_cm": height["lower_mean"], "higher_cm": height["higher_mean"],
                "days": int(p["window_days"])}
    rise = asymmetry(recent, "up_s", **options)
    if rise is not None:
        return {**rise, "faster": rise["lower"], "slower": rise["higher"],
                "faster_s": rise["lower_mean"], "slower_s": rise["higher_mean"],
                "days": int(p["window_days"]), "variant": "tempo"}
    return None


CHECKS: dict[str, Callable[[_Facts, Rule], dict | None]] = {
    "pain_at_limit": _pain_at_limit,
    "stiffness_worse": _stiffness_worse,
    "stiffness_steady": _stiffness_steady,
    "ready_to_progress": _ready_to_progress,
    "sessions_today": _sessions_today,
    "skipped_stage": _skipped_stage,
    "pain_gone_early": _pain_gone_early,
    "stopped_early": _stopped_early,
    "no_improvement": _no_improvement,
    "insertional_heel_drop": _insertional_heel_drop,
    "high_activity": _high_activity,
    "heel_rise_symmetry": _heel_rise_symmetry,
    "feet_asymmetry": _feet_asymmetry,
}
"""Every check a rule may name, with the numeric parameters it reads below."""

_PARAMS: dict[str, tuple[str, ...]] = {
    "pain_at_limit": ("window_days",),
    "stiffness_worse": ("recent_days", "baseline_days", "min_baseline_ratings", "worse_by"),
    "stiffness_steady": ("recent_days", "baseline_days", "min_baseline_ratings"),
    "ready_to_progress": ("min_fraction_of_typical", "window_days", "min_sessions_at_dose",
                          "min_tempo_compliance"),
    "sessions_today": (),
    "skipped_stage": ("window_days",),
    "pain_gone_early": ("window_days", "pain_free_max", "min_ratings"),
    "stopped_early": ("min_gap_days",),
    "no_improvement": ("compare_days", "min_improvement", "min_sessions_per_week",
                       "min_consistent_share"),
    "insertional_heel_drop": ("early_weeks", "window_days", "heel_drop_deg"),
    "high_activity": ("window_days", "high_at"),
    "heel_rise_symmetry": ("min_work_pct", "max_age_days"),
    "feet_asymmetry": ("window_days", "min_sets", "min_gap_pct", "min_consistent_share"),
}


# --------------------------------------------------------------------------- loading


_CHECK_KEYS = ("id", "check", "level", "title", "reasoning")
_TEXT = 4000   # a rule's reasoning is a paragraph


def _rule_params(rule: object) -> tuple[str, str] | None:
    """The numbers a rule's check reads are there; a variant's level is a level."""
    for key, value in rule.items():  # type: ignore[attr-defined]
        if key.endswith("_level") and value not in LEVELS:
            return key, f"must be one of {', '.join(LEVELS)}"
    for name in _PARAMS[rule["check"]]:  # type: ignore[index]
        value = rule.get(name)  # type: ignore[attr-defined]
        if isinstance(value, bool) or not isinstance(value, int | float):
            return name, f"is a number the check {rule['check']!r} needs"  # type: ignore[index]
    return None


_RULE = table("one [[rule]]", {
    "id": string("the rule's name", max_len=64),
    "check": string("what it checks", choices=tuple(sorted(CHECKS))),
    "level": string("how urgent", choices=LEVELS),
    "title": string("what to do", max_len=_TEXT),
    "reasoning": string("why, shown to the person", max_len=_TEXT),
}, extra=either("a number or a text", number("", -1e6, 1e6), string("", max_len=_TEXT)),
   checks=(_rule_params,))

SCHEMA = table("the progression rules", {
    "sessions": table("[sessions]", {
        "gap_min": number("sets further apart than this are separate sessions", 1, 1440)}),
    "trends": table("[trends]", {
        "window_days": integer("recent = the last this many days", 1, 365),
        "same_within": number("a change smaller than this is about the same", 0, 10)}),
    "rule": array("the rules", _RULE, 100, required=False),
})
"""The shape of ``progression.toml``; a fault names the file, the line and the key."""


def load_rules(path: str | Path | None = None) -> Rules:
    """Read the coaching rules; the packaged ``progression.toml`` when ``path`` is None."""
    path, raw = load_toml(path, SCHEMA, "progression.toml")
    rules = tuple(Rule(*(entry[k] for k in _CHECK_KEYS),
                       {k: v for k, v in entry.items() if k not in _CHECK_KEYS})
                  for entry in raw.get("rule", []))
    return Rules(float(raw["sessions"]["gap_min"]), raw["trends"]["window_days"],
                 float(raw["trends"]["same_within"]), rules, str(path))


# --------------------------------------------------------------------------- helpers


def tempo_compliance(sets: Sequence[SetRow]) -> float | None:
    """Share of reps (or holds) at tempo, weighted by the size of each set."""
    weighted = [(s.tempo_compliance, max(s.reps, s.holds)) for s in sets
                if s.tempo_compliance is not None and max(s.reps, s.holds) > 0]
    total = sum(n for _, n in weighted)
    return None if total == 0 else sum(c * n for c, n in weighted) / total


def daily_max(ratings: Sequence[Rating]) -> dict[date, float]:
    days: dict[date, float] = {}
    for r in ratings:
        days[r.day] = max(days.get(r.day, r.value), r.value)
    return days


def _daily_max_mean(ratings: Sequence[Rating]) -> float | None:
    days = daily_max(ratings)
    return statistics.fmean(days.values()) if days else None


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def _iso(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _range(pair: Sequence[float]) -> str:
    lo, hi = pair
    return f"{lo:g}" if lo == hi else f"{lo:g}-{hi:g}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def _num(x: float | None) -> str:
    return "not rated" if x is None else f"{x:.1f}".removesuffix(".0")
