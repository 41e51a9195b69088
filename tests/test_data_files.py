"""The files people edit by hand: the protocol (stages.toml) and the service config."""

from __future__ import annotations

import pytest

from pi_service.config import load_config
from pi_service.errors import ConfigError, InputError
from pi_service.stages import load_protocol, load_stage


def test_the_packaged_protocol_has_the_four_stages_of_the_guide():
    protocol = load_protocol()
    assert sorted(protocol.stages) == [1, 2, 3, 4]
    assert protocol.pain_limit == 4
    one, two, four = protocol.stage(1), protocol.stage(2), protocol.stage(4)
    assert one.isometric and (one.hold_min_s, one.hold_max_s) == (30, 45)
    assert one.sessions_per_day == 2
    assert (two.up_s, two.down_s, two.reps) == (3, 3, (15, 15))
    assert four.hold_s == 2 and four.load_range_kg == (5, 10)


def test_a_clinician_can_change_a_tempo_in_the_data_file(tmp_path):
    from importlib import resources

    text = resources.files("pi_service").joinpath("stages.toml").read_text()
    edited = tmp_path / "stages.toml"
    edited.write_text(text.replace("up_s = 3.0\nup_tolerance_s = 1.0\nhold_s = 0.5",
                                   "up_s = 4.0\nup_tolerance_s = 1.0\nhold_s = 0.5"))
    assert load_stage(2, edited).min_up_s == 3.0


PROTOCOL = """[protocol]
name = "test protocol"
pain_limit = 4
sessions_per_day = 1
adaptation_months = [3, 6]
assess_after_weeks = [8, 10]

"""
STAGE = """[[stage]]
number = 1
name = "isometric"
movement = "hold"
legs = 2
heel_drop = false
sets = [4, 5]
reps = [1, 1]
hold_max_s = 45.0
sessions_per_day = 2
rest_between_sets_s = 60.0
load_kg = 0.0
typical_weeks = [0, 2]
"""


@pytest.mark.parametrize("content, fault", [
    ("[protocol\n", "not valid TOML"),
    ('[protocol]\nname = "x"\n', ":1: 'protocol.pain_limit' is missing"),
    ('[[stage]]\nnumber = 1\n', "'protocol' is missing"),
    (PROTOCOL + '[[stage]]\nnumber = 1\n', ":8: 'stage[0].name' is missing"),
    (PROTOCOL + STAGE + 'up_s = 3.0\n', ":21: 'stage[0].up_s' needs down_s with it, or neither"),
    (PROTOCOL + STAGE.replace("reps = [1, 1]", "reps = [15, 12]"),
     ":15: 'stage[0].reps' must be [low, high] with low <= high"),
    (PROTOCOL + STAGE + STAGE, "'stage' defines stage 1 twice"),
    (PROTOCOL + STAGE.replace("load_kg = 0.0", "load_kg = 1e308"),
     ":19: 'stage[0].load_kg' must be in 0..500, got 1e+308"),
    (PROTOCOL + STAGE.replace("legs = 2", "legs = 1979-05-27"),
     ":12: 'stage[0].legs' must be an integer, got date"),
])
def test_a_broken_protocol_file_is_one_line_naming_the_file(tmp_path, content, fault):
    """Each fault is one line naming the file, the line of the key, the key and the fault."""
    path = tmp_path / "stages.toml"
    path.write_text(content)
    with pytest.raises(InputError) as err:
        load_protocol(path)
    assert str(err.value).startswith(str(path)) and fault in str(err.value)
    assert "\n" not in str(err.value)


def test_asking_for_a_stage_that_does_not_exist_says_which_exist():
    with pytest.raises(InputError, match=r"no stage 7 \(known: 1, 2, 3, 4\)"):
        load_stage(7)


@pytest.mark.parametrize("content, message", [
    ('stage = 2\ncolour = "red"\n', ":2: 'colour' is not a known key (known: device, "),
    ('[broker]\nport = 99999\n', ":2: 'broker.port' must be in 1..65535, got 99999"),
    ('[sensor]\nsource = "usb"\n', ":2: 'sensor.source' must be one of"),
    ('device = "left shoe"\n', ":1: 'device' device name 'left shoe' must match"),
    ('device = "left\\n"\n', ":1: 'device' device name 'left\\n' must match"),
    ('device = "log"\n', ":1: 'device' device name 'log' is reserved"),
    ('[sensor]\nsource = "recording"\n', ":1: 'sensor.recording' is needed when source"),
    ('sensor = "i2c"\n', ":1: 'sensor' must be a table, got string"),
    ('broker = 5\n', ":1: 'broker' must be a table, got integer"),
    ('feedback = 5\n', ":1: 'feedback' must be a table, got integer"),
    ('[sensor]\nrate_hz = "fast"\n', ":2: 'sensor.rate_hz' must be a number, got string"),
    ('[sensor]\nbus = 99999999999999999999999\n', ":2: 'sensor.bus' must be in 0..255"),
    ('[feedback]\nled = 17\nbuzzer = 17\n', ":3: 'feedback.buzzer' uses pin 17, which is"),
    ('[feedback.patterns]\ntoo_fast = [[0, 1]]\n',
     ":2: 'feedback.patterns.too_fast[0]' must be [on_s, off_s] with on_s > 0"),
    ('[feedback.patterns]\ngood_rep = {colour = "mauvish"}\n',
     ":2: 'feedback.patterns.good_rep.colour' is not a colour name"),
])
def test_config_errors_name_file_line_and_key(tmp_path, content, message):
    path = tmp_path / "heelraise.toml"
    path.write_text(content)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(str(path)) and message in str(err.value)


def test_a_missing_or_binary_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nowhere.toml: cannot read"):
        load_config("/nowhere.toml")
    binary = tmp_path / "heelraise.toml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(ConfigError, match=r"heelraise.toml: is not UTF-8 text \(byte 0\)"):
        load_config(binary)


def test_a_config_sets_what_it_names_and_keeps_defaults_for_the_rest(tmp_path):
    path = tmp_path / "heelraise.toml"
    path.write_text('device = "left"\nstage = 3\n[sensor]\nrate_hz = 50\n[feedback]\nled = 4\n')
    config = load_config(path)
    assert (config.device, config.stage, config.sensor.rate_hz) == ("left", 3, 50.0)
    assert config.sensor.source == "auto" and config.broker.port == 1883
    assert config.feedback == {"led": 4}
