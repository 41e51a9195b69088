"""The coaching LED on gpiozero's mock pins: which pattern plays, in what rhythm, and when.

Patterns are shortened through the real ``[feedback]`` config table so the file
runs in seconds. Timing checks are one-sided-tight: a flash never ends before its
``on_s`` (gpiozero waits at least that long) but may end late on a busy machine.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import tomllib

import pytest
from gpiozero import LED, Device
from gpiozero.exc import GPIOPinInUse
from gpiozero.pins.mock import MockFactory, MockPWMPin

from pi_service.errors import ConfigError
from pi_service.feedback import DEFAULT_PATTERNS, Feedback, FeedbackConfig, open_feedback
from pi_service.pipeline.events import (
    Hold,
    PaceWarning,
    Phase,
    PhaseChange,
    Rep,
    SetSummary,
    Verdict,
)
from pi_service.stages import load_stage

SHORT = """
[feedback]
led = 17
[feedback.patterns]
good_rep = [[0.25, 0.05]]
too_fast = [[0.04, 0.04], [0.04, 0.04], [0.04, 0.04], [0.04, 0.04]]
pace_cue = [[0.08, 0.12], [0.08, 0.12]]
hold_30 = [[0.12, 0.05], [0.12, 0.05]]
hold_45 = [[0.12, 0.05], [0.12, 0.05], [0.12, 0.05]]
rest_over = [[0.3, 0.05]]
sensor_lost = {pairs = [[0.05, 0.05]]}
"""
SLOP_S = 0.25     # how late a change may come on a loaded machine
EARLY_S = 0.01    # how early (clock granularity only)


def config(text: str = SHORT, **changes: object) -> FeedbackConfig:
    table = tomllib.loads(text)["feedback"]
    table.update(changes)
    return FeedbackConfig.from_dict(table, "svc.toml")


def pattern(name: str) -> list[list[float]]:
    return tomllib.loads(SHORT)["feedback"]["patterns"][name]


def rep(verdict: Verdict) -> Rep:
    return Rep(index=1, start_s=0.0, top_s=1.5, lower_s=2.0, end_s=3.5, up_s=1.5, hold_s=0.5,
               down_s=1.5, peak_deg=30.0, bottom_deg=0.0, height_cm=9.0, verdict=verdict)


def wait_changes(pin, count: int, timeout_s: float = 5.0) -> None:
    """Wait for ``count`` changes after the initial state, then a little for any extras."""
    deadline = time.monotonic() + timeout_s
    while len(pin.states) < 1 + count and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.15)


def assert_flashes(pin, pairs, on: object = True, off: object = False,
                   endless: bool = False) -> None:
    """The pin went on/off once per pair, each flash lasting on_s and each gap off_s.

    ``endless``: the pattern repeats, so only its first changes are compared.
    """
    wait_changes(pin, 2 * len(pairs))
    changes = pin.states[1:1 + 2 * len(pairs)] if endless else pin.states[1:]
    expected = []
    for i, (on_s, _) in enumerate(pairs):
        expected.append((None if i == 0 else pairs[i - 1][1], on))
        expected.append((on_s, off))
    assert [s.state for s in changes] == [state for _, state in expected], changes
    for change, (interval_s, _) in zip(changes, expected, strict=True):
        if interval_s is not None:
            assert interval_s - EARLY_S <= change.timestamp <= interval_s + SLOP_S, changes


def assert_quiet(pin, for_s: float = 0.1) -> None:
    before = list(pin.states)
    time.sleep(for_s)
    assert pin.states == before


@pytest.fixture
def factory():
    f = MockFactory()
    yield f
    f.reset()


@pytest.fixture
def stage2():
    return load_stage(2)


@pytest.fixture
def fb(factory, stage2):
    with Feedback(config(), stage2, pin_factory=factory) as sink:
        yield sink


# -- reps and pace ---------------------------------------------------------------------

def test_too_fast_rep_flutters_the_led_in_the_too_fast_pattern(fb, factory):
    pin = factory.pin(17)
    fb.on_event(rep(Verdict.TOO_FAST_UP))
    assert_flashes(pin, pattern("too_fast"))


def test_good_rep_plays_its_own_pattern_and_other_faults_play_none(fb, factory):
    pin = factory.pin(17)
    fb.on_event(rep(Verdict.OK))
    assert_flashes(pin, pattern("good_rep"))
    pin.clear_states()
    fb.on_event(rep(Verdict.PARTIAL_RANGE))
    assert_quiet(pin)


def test_every_rushed_verdict_is_flagged_too_fast(fb, factory):
    pin = factory.pin(17)
    for verdict in (Verdict.TOO_FAST_DOWN, Verdict.TOO_FAST):
        pin.clear_states()
        fb.on_event(rep(verdict))
        assert_flashes(pin, pattern("too_fast"))


def test_pace_warning_cues_during_the_rise(fb, factory):
    pin = factory.pin(17)
    fb.on_event(PhaseChange(10.0, Phase.RISING, 5.0))
    assert_quiet(pin, 0.05)
    fb.on_event(PaceWarning(t_s=10.4, predicted_up_s=1.2, min_up_s=2.0))
    assert_flashes(pin, pattern("pace_cue"))


def test_a_new_cue_cuts_the_playing_one_short(factory, stage2):
    slow = config(patterns={"good_rep": [[2.0, 0.1]],
                            "too_fast": [[0.04, 0.04], [0.04, 0.04]]})
    with Feedback(slow, stage2, pin_factory=factory) as sink:
        pin = factory.pin(17)
        sink.on_event(rep(Verdict.OK))
        time.sleep(0.1)
        sink.on_event(rep(Verdict.TOO_FAST))
        wait_changes(pin, 6)
        states = [s.state for s in pin.states[1:]]
        # the long flash is cut, then the flutter plays in full
        assert states == [True, False, True, False, True, False]
        assert pin.states[2].timestamp < 1.0


def test_a_pattern_of_different_pairs_plays_them_in_order(factory, stage2):
    pairs = [[0.2, 0.05], [0.05, 0.1], [0.05, 0.1]]
    with Feedback(config(patterns={"good_rep": pairs}), stage2, pin_factory=factory) as sink:
        pin = factory.pin(17)
        sink.on_event(rep(Verdict.OK))
        assert_flashes(pin, pairs)


def test_active_low_led_inverts_the_pin(factory, stage2):
    with Feedback(config(active_high=False), stage2, pin_factory=factory) as sink:
        pin = factory.pin(17)
        assert pin.state is True          # off = high
        pin.clear_states()
        sink.on_event(rep(Verdict.TOO_FAST))
        assert_flashes(pin, pattern("too_fast"), on=False, off=True)


# -- isometric hold countdown on the sensor clock --------------------------------------

def test_hold_countdown_signals_30_then_45_seconds_after_top(factory):
    with Feedback(config(), load_stage(1), pin_factory=factory) as sink:
        pin = factory.pin(17)
        sink.on_event(PhaseChange(10.0, Phase.RISING, 5.0))
        sink.on_event(PhaseChange(12.0, Phase.TOP, 30.0))
        sink.on_time(41.9)
        assert_quiet(pin)
        sink.on_time(42.0)
        assert_flashes(pin, pattern("hold_30"))
        pin.clear_states()
        sink.on_time(50.0)
        sink.on_time(56.9)
        assert_quiet(pin)
        sink.on_time(57.0)
        assert_flashes(pin, pattern("hold_45"))
        pin.clear_states()
        sink.on_time(80.0)
        assert_quiet(pin)


def test_hold_ending_early_cancels_the_countdown(fb, factory):
    pin = factory.pin(17)
    fb.on_event(PhaseChange(12.0, Phase.TOP, 30.0))
    fb.on_event(PhaseChange(25.0, Phase.LOWERING, 28.0))
    fb.on_time(60.0)
    assert_quiet(pin)
    fb.on_event(PhaseChange(70.0, Phase.TOP, 30.0))
    fb.on_event(Hold(start_s=70.0, end_s=90.0, hold_s=20.0, peak_deg=30.0,
                     verdict="too_short"))
    fb.on_time(120.0)
    assert_quiet(pin)


def test_a_long_hold_in_a_tempo_stage_is_timed_with_stage_1_figures(fb, factory):
    pin = factory.pin(17)                       # fb runs stage 2 (no hold figures)
    fb.on_event(PhaseChange(5.0, Phase.TOP, 30.0))
    fb.on_time(34.9)
    assert_quiet(pin)
    fb.on_time(35.0)
    assert_flashes(pin, pattern("hold_30"))


def test_a_block_spanning_both_marks_plays_only_the_later_signal(factory):
    stage1 = load_stage(1)
    with Feedback(config(), stage1, pin_factory=factory) as sink:
        pin = factory.pin(17)
        sink.on_event(PhaseChange(0.0, Phase.TOP, 30.0))
        sink.on_time(stage1.hold_max_s + 1.0)
        assert_flashes(pin, pattern("hold_45"))


# -- rest between sets -------------------------------------------------------------------

def summary(end_s: float) -> SetSummary:
    return SetSummary(index=1, stage=2, start_s=end_s - 90, end_s=end_s, reps=15,
                      target_reps=(15, 15), ok_reps=15, tempo_compliance=1.0,
                      rest_before_s=None)


def test_rest_over_signals_after_the_stages_rest(fb, factory, stage2):
    pin = factory.pin(17)
    fb.on_event(summary(100.0))
    fb.on_time(100.0 + stage2.rest_between_sets_s - 0.1)
    assert_quiet(pin)
    fb.on_time(100.0 + stage2.rest_between_sets_s)
    assert_flashes(pin, pattern("rest_over"))
    pin.clear_states()
    fb.on_time(500.0)
    assert_quiet(pin)


def test_starting_the_next_set_early_cancels_rest_over(fb, factory):
    pin = factory.pin(17)
    fb.on_event(summary(100.0))
    fb.on_event(PhaseChange(130.0, Phase.RISING, 4.0))
    fb.on_time(200.0)
    assert_quiet(pin)


def test_rest_follows_a_stage_change(fb, factory, stage2):
    pin = factory.pin(17)
    stage4 = load_stage(4)
    assert stage4.rest_between_sets_s > stage2.rest_between_sets_s
    fb.on_event(summary(100.0))
    fb.set_stage(stage4)
    fb.on_time(100.0 + stage2.rest_between_sets_s + 1)
    assert_quiet(pin)
    fb.on_time(100.0 + stage4.rest_between_sets_s)
    assert_flashes(pin, pattern("rest_over"))


# -- sensor lost -------------------------------------------------------------------------

def test_sensor_lost_blinks_until_back_and_holds_off_other_cues(fb, factory):
    pin = factory.pin(17)
    fb.sensor_lost()
    wait_changes(pin, 6)
    fb.on_event(rep(Verdict.TOO_FAST))          # not shown while lost
    time.sleep(0.3)
    gaps = [s.timestamp for s in pin.states[2:]]
    assert len(gaps) >= 6
    assert all(0.05 - EARLY_S <= g <= 0.05 + SLOP_S for g in gaps), gaps
    fb.sensor_back()
    assert pin.state is False
    assert_quiet(pin)
    pin.clear_states()
    fb.on_event(rep(Verdict.TOO_FAST))          # back: cues again
    wait_changes(pin, 2)
    assert [s.state for s in pin.states[1:3]] == [True, False]


def test_a_mixed_lost_pattern_repeats_whole_until_back(factory, stage2):
    pairs = [[0.15, 0.05], [0.05, 0.05]]
    with Feedback(config(patterns={"sensor_lost": pairs}), stage2,
                  pin_factory=factory) as sink:
        pin = factory.pin(17)
        sink.sensor_lost()
        assert_flashes(pin, pairs * 2, endless=True)   # the cycle starts over
        sink.sensor_back()
        assert pin.state is False
        assert_quiet(pin)


# -- buzzer and RGB ------------------------------------------------------------------------

def test_buzzer_beeps_with_the_cues_that_beep(factory, stage2):
    with Feedback(config(buzzer=22), stage2, pin_factory=factory) as sink:
        led, buzzer = factory.pin(17), factory.pin(22)
        sink.on_event(rep(Verdict.OK))                  # good_rep: light only
        assert_flashes(led, pattern("good_rep"))
        assert [s.state for s in buzzer.states] == [False]
        sink.on_event(rep(Verdict.TOO_FAST_UP))         # too_fast: light and sound
        assert_flashes(buzzer, pattern("too_fast"))


def test_rgb_led_shows_each_cue_in_its_colour(stage2):
    factory = MockFactory(pin_class=MockPWMPin)
    rgb = {"red": 5, "green": 6, "blue": 13}
    text = SHORT.replace("led = 17", "")
    with Feedback(config(text, rgb=rgb), stage2, pin_factory=factory) as sink:
        red, green, blue = (factory.pin(p) for p in (5, 6, 13))
        sink.on_event(rep(Verdict.TOO_FAST))
        assert_flashes(red, pattern("too_fast"), on=1.0, off=0.0)
        assert [s.state for s in green.states + blue.states] == [0.0, 0.0]
        sink.on_event(rep(Verdict.OK))
        assert_flashes(green, pattern("good_rep"), on=1.0, off=0.0)
    factory.reset()


def test_rgb_on_pins_without_pwm_falls_back_to_plain_colours(factory, stage2):
    text = SHORT.replace("led = 17", "")
    table = {"rgb": {"red": 5, "green": 6, "blue": 13},
             "patterns": {"pace_cue": {"pairs": [[0.05, 0.05]], "colour": [1.0, 0.6, 0.2]}}}
    with Feedback(config(text, **table), stage2, pin_factory=factory) as sink:
        red, green, blue = (factory.pin(p) for p in (5, 6, 13))
        sink.on_event(PaceWarning(t_s=1.0, predicted_up_s=1.0, min_up_s=2.0))
        assert_flashes(red, [[0.05, 0.05]])
        assert_flashes(green, [[0.05, 0.05]])
        assert [s.state for s in blue.states] == [False]


# -- lifecycle ---------------------------------------------------------------------------

def test_close_turns_off_and_releases_the_pins(factory, stage2):
    sink = Feedback(config(buzzer=22), stage2, pin_factory=factory)
    with pytest.raises(GPIOPinInUse):
        LED(17, pin_factory=factory)
    sink.sensor_lost()
    time.sleep(0.02)
    sink.close()
    sink.close()                                   # idempotent
    assert factory.pin(17).state is False
    state = list(factory.pin(17).states)
    sink.on_event(rep(Verdict.TOO_FAST))           # a late event after close is ignored
    sink.on_time(1e6)
    assert factory.pin(17).states == state
    LED(17, pin_factory=factory).close()
    LED(22, pin_factory=factory).close()


def test_disabled_sink_touches_no_pins(factory, stage2):
    sink = open_feedback(config(enabled=False), stage2, pin_factory=factory)
    assert not sink.enabled
    sink.sensor_lost()
    sink.on_event(rep(Verdict.TOO_FAST))
    sink.on_time(100.0)
    sink.set_stage(stage2)
    sink.sensor_back()
    sink.close()
    assert not factory.pins
    with Feedback.disabled() as quiet:
        quiet.on_event(rep(Verdict.OK))
        assert not quiet.enabled


def test_open_feedback_without_gpio_warns_once_and_runs_without_led(
        monkeypatch, caplog, stage2):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")
    monkeypatch.setattr(Device, "pin_factory", None)
    with caplog.at_level(logging.WARNING, logger="pi_service.feedback"):
        sink = open_feedback(config(), stage2)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "running without LED" in warnings[0].getMessage()
    assert not sink.enabled
    sink.on_event(rep(Verdict.TOO_FAST))
    sink.close()


def test_open_feedback_with_pins_in_use_warns_and_runs_without_led(factory, caplog, stage2):
    with LED(17, pin_factory=factory), caplog.at_level(logging.WARNING):
        sink = open_feedback(config(), stage2, pin_factory=factory)
    assert not sink.enabled
    assert "running without LED" in caplog.text


def test_open_feedback_returns_a_working_led(factory, stage2):
    with open_feedback(config(), stage2, pin_factory=factory) as sink:
        assert sink.enabled
        sink.on_event(rep(Verdict.TOO_FAST))
        assert_flashes(factory.pin(17), pattern("too_fast"))


def test_unknown_pin_name_is_a_config_error(factory, stage2):
    with pytest.raises(ConfigError, match=r"^svc\.toml: feedback: .*GPIO99"):
        open_feedback(config(led="GPIO99"), stage2, pin_factory=factory)
    assert not factory.pins or all(p.function == "input" for p in factory.pins.values())


# -- config ------------------------------------------------------------------------------

def test_empty_table_gives_led_on_gpio17_and_default_patterns():
    c = FeedbackConfig.from_dict({}, "svc.toml")
    assert c.enabled and c.led == 17 and c.rgb is None and c.buzzer is None
    assert dict(c.patterns) == dict(DEFAULT_PATTERNS)
    names = {"good_rep", "too_fast", "pace_cue", "hold_30", "hold_45", "rest_over",
             "sensor_lost", "beat_up", "beat_down", "test_prompt", "test_end"}
    assert set(c.patterns) == names
    rhythms = {tuple(p.pairs) for p in c.patterns.values()}
    assert len(rhythms) == len(names)             # a single LED can tell every cue apart


def test_config_table_sets_pins_colours_and_beeps():
    c = config("""
[feedback]
rgb = {red = "GPIO5", green = 6, blue = "BOARD33"}
buzzer = 22
active_high = false
[feedback.patterns]
good_rep = {pairs = [[0.3, 0.1]], colour = "orange", beep = true}
too_fast = [[0.05, 0.05]]
""")
    assert c.led is None and c.rgb == ("GPIO5", 6, "BOARD33") and c.buzzer == 22
    assert not c.active_high
    good = c.patterns["good_rep"]
    assert good.pairs == ((0.3, 0.1),) and good.beep
    assert good.colour == pytest.approx((1.0, 0.647, 0.0), abs=0.01)
    too_fast = c.patterns["too_fast"]
    assert too_fast.pairs == ((0.05, 0.05),)
    assert too_fast.colour == DEFAULT_PATTERNS["too_fast"].colour
    assert dataclasses.replace(c, where="x").patterns["hold_30"] == DEFAULT_PATTERNS["hold_30"]


@pytest.mark.parametrize(("table", "fault"), [
    ({"patterns": {"too_fast": [[0.1, -1]]}},
     "'feedback.patterns.too_fast[0][1]' must be in 0..60, got -1"),
    ({"patterns": {"too_fast": [[0, 0.1]]}},
     "'feedback.patterns.too_fast[0]' must be [on_s, off_s] with on_s > 0"),
    ({"patterns": {"too_fast": [[0.1]]}}, "'feedback.patterns.too_fast[0]' must have 2 items"),
    ({"patterns": {"too_fast": []}}, "'feedback.patterns.too_fast' must have 1..100 items"),
    ({"patterns": {"too_fast": "fast"}},
     "'feedback.patterns.too_fast' must be a list of [on_s, off_s] pairs or a table"),
    ({"patterns": {"too_fast": [[True, 0.1]]}},
     "'feedback.patterns.too_fast[0][0]' must be a number, got boolean"),
    ({"patterns": {"good_rep": {"pairs": [[0.1, 0.1]], "color": "red"}}},
     "'feedback.patterns.good_rep.color' is not a known key (known: pairs, colour, beep)"),
    ({"patterns": {"good_rep": {"colour": "blurple"}}},
     "'feedback.patterns.good_rep.colour' is not a colour name"),
    ({"patterns": {"good_rep": {"colour": [1, 2, 0]}}},
     "'feedback.patterns.good_rep.colour[1]' must be in 0..1, got 2"),
    ({"patterns": {"good_rep": {"beep": "yes"}}},
     "'feedback.patterns.good_rep.beep' must be true or false"),
    ({"patterns": {"great_rep": [[0.1, 0.1]]}},
     "'feedback.patterns.great_rep' is not a known key (known: good_rep, "),
    ({"patterns": [[0.1, 0.1]]}, "'feedback.patterns' must be a table, got array"),
    ({"led": True}, "'feedback.led' must be a BCM number or a pin name"),
    ({"led": -3}, "'feedback.led' must be in 0..63, got -3"),
    ({"led": ""}, "'feedback.led' must not be empty"),
    ({"led": 17, "rgb": {"red": 1, "green": 2, "blue": 3}},
     "'feedback.rgb' cannot be set with led"),
    ({"rgb": {"red": 1, "green": 2}}, "'feedback.rgb.blue' is missing"),
    ({"rgb": {"red": 1, "green": 2, "blue": 2.5}},
     "'feedback.rgb.blue' must be a BCM number or a pin name"),
    ({"led": 17, "buzzer": 17}, "'feedback.buzzer' uses pin 17, which is already in use"),
    ({"enabled": "no"}, "'feedback.enabled' must be true or false"),
    ({"active_high": 1}, "'feedback.active_high' must be true or false"),
    ({"pin": 17}, "'feedback.pin' is not a known key"),
])
def test_bad_config_values_fail_with_one_line_naming_the_key(table, fault):
    with pytest.raises(ConfigError) as err:
        FeedbackConfig.from_dict(table, "svc.toml")
    message = str(err.value)
    assert message.startswith(f"svc.toml: {fault}"), message
    assert "\n" not in message
