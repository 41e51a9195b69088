"""Progression coaching: each rule of progression.toml against a constructed training log.

Histories are built as the logger would build them (set payloads into a real
store), on fixed dates, and judged with ``today`` passed in.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, time, timedelta

import pytest

from pi_service import builders, mqtt_docs
from pi_service.errors import InputError
from pi_service.log.progression import evaluate, load_history, load_rules
from pi_service.log.store import Store

START = date(2026, 3, 2)
BASE_SET = mqtt_docs.examples()["set"]
BASE_REP = mqtt_docs.examples()["rep"]


def _iso(day: date, at: time) -> str:
    """A local wall-clock moment as the payloads carry it (UTC, "Z")."""
    local = datetime.combine(day, at).astimezone()
    return builders.iso_utc(local.timestamp())


class Log:
    """A person's training log, built session by session."""

    def __init__(self, store: Store, device: str = "left") -> None:
        self.store, self.device = store, device

    def session(self, day: date, *, stage: int = 2, sets: int = 3, reps: int = 15,
                compliance: float = 0.9, hour: int = 10, pain: float | None = None,
                holds: int = 0, bottom_deg: float | None = None) -> None:
        for n in range(sets):
            at = time(hour, 5 * n)
            self.store.add_set({**BASE_SET, "id": uuid.uuid4().hex, "device": self.device,
                                "time": _iso(day, at), "start_time": _iso(day, at),
                                "stage": stage, "reps": reps, "index": n + 1,
                                "ok_reps": round(reps * compliance),
                                "tempo_compliance": compliance, "holds": holds,
                                "pain": pain})
            if bottom_deg is not None:
                self.store.add_rep({**BASE_REP, "id": uuid.uuid4().hex, "device": self.device,
                                    "time": _iso(day, time(hour, 5 * n, 30)),
                                    "stage": stage, "bottom_deg": bottom_deg})

    def daily(self, first: date, days: int, **kw) -> None:
        for n in range(days):
            self.session(first + timedelta(days=n), **kw)

    def pain(self, day: date, value: float) -> None:
        self.store.record_pain(value, device=self.device, time=_iso(day, time(11)))

    def stiffness(self, day: date, value: float) -> None:
        self.store.record_stiffness(value, device=self.device, day=day,
                                    time=_iso(day, time(7)))

    def advise(self, today: date, insertional: bool = False):
        return evaluate(load_history(self.store, self.device), today, insertional=insertional)


@pytest.fixture
def log(tmp_path):
    with Store(tmp_path / "log.sqlite3") as store:
        yield Log(store)


def ids(progress) -> set[str]:
    return {a.id for a in progress.advice}


def advice(progress, rule_id: str):
    return next(a for a in progress.advice if a.id == rule_id)


# --------------------------------------------------------------------------- progress


def test_progress_advised_when_every_criterion_is_met(log):
    log.daily(START, 9, pain=2)
    log.stiffness(START + timedelta(days=6), 2)
    log.stiffness(START + timedelta(days=7), 2)
    log.stiffness(START + timedelta(days=8), 2)
    progress = log.advise(START + timedelta(days=8))
    assert all(c.met for c in progress.criteria), progress.criteria
    ready = advice(progress, "progress")
    assert ready.level == "progress"
    assert "stage 3" in ready.title and "single-leg" in ready.title
    assert "8 days" in ready.reasoning and "90%" in ready.reasoning


def test_no_progress_before_enough_time_in_stage(log):
    log.daily(START, 6, pain=1)          # the full dose, but only days 0-5 of stage 2
    progress = log.advise(START + timedelta(days=5))
    assert "progress" not in ids(progress)
    unmet = {c.name for c in progress.criteria if not c.met}
    assert unmet == {"time in stage"}


def test_no_progress_when_the_dose_or_tempo_falls_short(log):
    log.daily(START, 9, reps=12, pain=1)   # 3 x 12 is short of stage 2's 3 x 15
    short = log.advise(START + timedelta(days=8))
    assert "progress" not in ids(short)
    assert [c.name for c in short.criteria if not c.met] == ["full dose"]


def test_rushed_tempo_blocks_progress(log):
    log.daily(START, 9, compliance=0.6, pain=1)
    rushed = log.advise(START + timedelta(days=8))
    assert "progress" not in ids(rushed)
    assert [c.name for c in rushed.criteria if not c.met] == ["tempo"]


def test_stage_one_needs_its_two_sessions_a_day_to_progress(log):
    log.daily(START, 8, stage=1, sets=1, reps=0, holds=5, hour=8, pain=1)
    once = log.advise(START + timedelta(days=7))
    assert [c.name for c in once.criteria if not c.met] == ["full dose"]
    log.daily(START, 8, stage=1, sets=1, reps=0, holds=5, hour=18)
    ready = advice(log.advise(START + timedelta(days=7)), "progress")
    assert "stage 2 (bilateral)" in ready.title and "holds in range" in ready.reasoning


def test_top_stage_suggests_load_instead_of_a_next_stage(log):
    log.daily(START, 25, stage=4, reps=10, pain=1)
    ready = advice(log.advise(START + timedelta(days=24)), "progress")
    assert ready.title == "Ready to add load"


# --------------------------------------------------------------------------- scale back


def test_pain_at_the_limit_says_scale_back(log):
    log.daily(START, 3)
    log.pain(START + timedelta(days=2), 4)
    stop = advice(log.advise(START + timedelta(days=2)), "pain_limit")
    assert stop.level == "stop"
    assert "4/10" in stop.title and "both legs" in stop.reasoning
    assert "progress" not in ids(log.advise(START + timedelta(days=2)))


def test_pain_below_the_limit_is_fine_and_old_pain_is_forgotten(log):
    log.daily(START, 6)
    log.pain(START, 6)                   # five days ago: outside the 2-day window
    log.pain(START + timedelta(days=5), 3)
    assert "pain_limit" not in ids(log.advise(START + timedelta(days=5)))


def test_pain_on_a_set_counts_like_a_rating(log):
    log.session(START, pain=5)
    assert "pain_limit" in ids(log.advise(START))


def test_stiffness_clearly_worse_than_baseline_says_scale_back(log):
    log.daily(START, 6)
    for n, value in enumerate([2, 2, 3, 2, 2]):
        log.stiffness(START + timedelta(days=n), value)
    log.stiffness(START + timedelta(days=5), 5)
    progress = log.advise(START + timedelta(days=5))
    worse = advice(progress, "stiffness_worse")
    assert worse.level == "caution"
    assert "5/10" in worse.reasoning and "usual 2/10" in worse.reasoning
    assert "stiffness_ok" not in ids(progress)
    assert progress.trends["stiffness"]["direction"] == "worse"


def test_stiffness_slightly_up_or_steady_is_not_a_warning(log):
    log.daily(START, 6)
    for n in range(5):
        log.stiffness(START + timedelta(days=n), 2)
    log.stiffness(START + timedelta(days=5), 3)     # up by 1: not "clearly worse"
    assert "stiffness_worse" not in ids(log.advise(START + timedelta(days=5)))
    log.stiffness(START + timedelta(days=6), 2)
    assert "stiffness_ok" in ids(log.advise(START + timedelta(days=6)))


# --------------------------------------------------------------------------- sessions


def test_second_session_warned_once_the_days_session_is_done(log):
    log.session(START - timedelta(days=1), hour=8)
    assert "second_session" not in ids(log.advise(START))
    log.session(START, hour=8)
    done = advice(log.advise(START), "second_session")
    assert done.level == "info" and "no extra session" in done.title
    assert "1 session(s) today" in done.reasoning and "1 a day" in done.reasoning
    log.session(START, hour=18)
    progress = log.advise(START)
    assert progress.dose_today["sessions"] == 2
    over = advice(progress, "second_session")
    assert over.level == "caution"
    assert over.title == "2 sessions today: stage 2 calls for 1"
    assert "second_session" not in ids(log.advise(START + timedelta(days=1)))


def test_stage_one_is_twice_a_day(log):
    log.session(START, stage=1, sets=1, reps=0, holds=5, hour=8)
    morning = log.advise(START)
    assert morning.dose_today["sessions_allowed"] == 2
    assert "second_session" not in ids(morning)
    log.session(START, stage=1, sets=1, reps=0, holds=5, hour=18)
    assert advice(log.advise(START), "second_session").level == "info"
    log.session(START, stage=1, sets=1, reps=0, holds=5, hour=21)
    assert advice(log.advise(START), "second_session").level == "caution"


def test_sets_close_together_are_one_session(log):
    log.session(START, sets=3, hour=8)
    log.session(START, sets=1, hour=9)   # within 90 min of the last set: same session
    assert log.advise(START).dose_today["sessions"] == 1


# --------------------------------------------------------------------------- stopping


def test_pain_gone_early_warns_not_to_stop(log):
    log.daily(START, 28)
    for n in range(0, 21, 3):
        log.pain(START + timedelta(days=n), 4 if n < 7 else 3)
    for n in (22, 25, 27):
        log.pain(START + timedelta(days=n), 0)
    gone = advice(log.advise(START + timedelta(days=27)), "pain_gone")
    assert "3 to 6 months" in gone.reasoning and "3 weeks ago" in gone.reasoning


def test_pain_gone_after_the_adaptation_period_is_not_warned(log):
    log.daily(START, 100, sets=1, reps=15)
    log.pain(START, 5)
    for n in (95, 97, 99):
        log.pain(START + timedelta(days=n), 0)
    assert "pain_gone" not in ids(log.advise(START + timedelta(days=99)))


def test_stopping_early_is_warned(log):
    log.daily(START, 20)
    gap = log.advise(START + timedelta(days=25))
    stopped = advice(gap, "stopped_early")
    assert "6 days" in stopped.title
    assert "stopped_early" not in ids(log.advise(START + timedelta(days=21)))


# --------------------------------------------------------------------------- assessment


def _nine_weeks(log, pain_then: float, pain_now: float, per_week: int = 4) -> date:
    for week in range(9):
        for n in range(per_week):
            log.session(START + timedelta(days=7 * week + n))
    for n in range(14):
        log.pain(START + timedelta(days=n), pain_then)
        log.pain(START + timedelta(days=63 - 14 + n), pain_now)
    return START + timedelta(days=63)


def test_assessment_after_eight_weeks_without_improvement(log):
    today = _nine_weeks(log, pain_then=3, pain_now=3)
    assess = advice(log.advise(today), "assessment")
    assert "9 weeks" in assess.title
    assert "8 to 10" in assess.reasoning and "3 then, 3 now" in assess.reasoning


def test_no_assessment_when_pain_improved(log):
    today = _nine_weeks(log, pain_then=5, pain_now=2)
    assert "assessment" not in ids(log.advise(today))


def test_no_assessment_before_eight_weeks(log):
    _nine_weeks(log, pain_then=3, pain_now=3)
    assert "assessment" not in ids(log.advise(START + timedelta(days=50)))


def test_no_assessment_when_loading_was_not_consistent(log):
    today = _nine_weeks(log, pain_then=3, pain_now=3, per_week=1)
    assert "assessment" not in ids(log.advise(today))


# --------------------------------------------------------------------------- insertional


def test_insertional_mode_flags_heel_drops_early_on(log):
    log.session(START, bottom_deg=-5.0)
    flagged = advice(log.advise(START, insertional=True), "insertional_heel_drop")
    assert "3 rep(s)" in flagged.title and "-5 degrees" in flagged.reasoning
    assert "insertional_heel_drop" not in ids(log.advise(START, insertional=False))


def test_insertional_mode_accepts_a_level_heel(log):
    log.session(START, bottom_deg=-2.0)
    assert "insertional_heel_drop" not in ids(log.advise(START, insertional=True))


# --------------------------------------------------------------------------- the picture


def test_picture_reports_stage_week_dose_and_trends(log):
    log.daily(START, 3, stage=2)
    log.daily(START + timedelta(days=3), 9, stage=3, reps=12, sets=2)
    log.pain(START + timedelta(days=11), 2)
    progress = log.advise(START + timedelta(days=11))
    assert progress.stage.number == 3
    assert progress.stage_since == START + timedelta(days=3)
    assert progress.week_in_stage == 2
    assert progress.dose_today["sets"] == 2 and progress.dose_today["reps"] == 24
    assert progress.dose_today["done"] is False          # 2 sets of stage 3's 3
    assert progress.compliance["last_session"] == pytest.approx(11 / 12, abs=0.03)
    doc = progress.to_json()
    assert doc["v"] == 1 and doc["stage"]["week"] == 2
    assert "Stage 3 (single-leg): week 2" in progress.to_text()


def test_only_history_up_to_today_counts(log):
    log.daily(START, 3)
    log.pain(START + timedelta(days=2), 8)
    assert "pain_limit" not in ids(log.advise(START + timedelta(days=1)))
    assert log.advise(START + timedelta(days=1)).dose_today["sets"] == 3


def test_skipping_a_stage_is_warned(log):
    log.session(START, stage=2)
    log.session(START + timedelta(days=1), stage=4, reps=10)
    skipped = advice(log.advise(START + timedelta(days=1)), "skipped_stage")
    assert "stage 3" in skipped.reasoning


def test_rules_file_errors_name_the_file_and_rule(tmp_path):
    bad = tmp_path / "rules.toml"
    bad.write_text('[sessions]\ngap_min = 90\n[trends]\nwindow_days = 7\nsame_within = 1\n'
                   '[[rule]]\nid = "x"\ncheck = "moon_phase"\nlevel = "info"\n'
                   'title = "t"\nreasoning = "r"\n')
    with pytest.raises(InputError, match=r"rules.toml:8: 'rule\[0\].check' must be one of "
                                         r"[a-z_, ]*high_activity, .*, got 'moon_phase'$"):
        load_rules(bad)
    bad.write_text('[sessions]\ngap_min = 90\n[trends]\nwindow_days = 7\nsame_within = 1\n'
                   '[[rule]]\nid = "p"\ncheck = "pain_at_limit"\nlevel = "stop"\n'
                   'title = "t"\nreasoning = "r"\n')
    with pytest.raises(InputError, match=r"rules.toml:6: 'rule\[0\].window_days' is a number "
                                         r"the check 'pain_at_limit' needs$"):
        load_rules(bad)
    bad.write_text('[sessions]\ngap_min = 90\n[trends]\nwindow_days = 7\nsame_within = 1\n'
                   '[[rule]]\nid = "p"\ncheck = "sessions_today"\nlevel = "stop"\n'
                   'title = "t"\nreasoning = "r"\nover_level = "panic"\n')
    with pytest.raises(InputError, match=r"rules.toml:12: 'rule\[0\].over_level' must be one "
                                         r"of stop, caution, progress, info$"):
        load_rules(bad)


def _run(configure, run, argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser()
    configure(parser)
    return run(parser.parse_args(argv))


def test_progress_command_prints_the_picture_for_a_given_day(log, capsys, monkeypatch):
    from pi_service.log import commands

    monkeypatch.delenv("HEELRAISE_DB", raising=False)
    log.daily(START, 3)
    log.pain(START + timedelta(days=2), 5)
    db = str(log.store.path)
    today = (START + timedelta(days=2)).isoformat()
    assert _run(commands.configure_progress, commands.run_progress,
                ["--db", db, "--today", today, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["today"] == today and doc["stage"]["number"] == 2 and doc["stage"]["days"] == 2
    assert doc["advice"][0]["id"] == "pain_limit" and doc["advice"][0]["level"] == "stop"
    assert _run(commands.configure_progress, commands.run_progress,
                ["--db", db, "--today", today]) == 0
    text = capsys.readouterr().out
    assert "Stage 2 (bilateral): week 1, day 3" in text
    assert "STOP: Pain reached 5/10: scale back" in text


def test_progress_command_needs_an_existing_log(tmp_path):
    from pi_service.log import commands

    with pytest.raises(InputError, match="no training log here"):
        _run(commands.configure_progress, commands.run_progress,
             ["--db", str(tmp_path / "missing.sqlite3")])
