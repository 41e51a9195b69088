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


@pytest.mark.parametrize("content, fault", [
    ("[protocol\n", "not valid TOML"),
    ('[protocol]\nname = "x"\n', "defines no [[stage]]"),
    ('[[stage]]\nnumber = 1\n', "stage[0] is missing 'name'"),
])
def test_a_broken_protocol_file_is_one_line_naming_the_file(tmp_path, content, fault):
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
    ('stage = 2\ncolour = "red"\n', ":2: unknown key 'colour'"),
    ('[broker]\nport = 99999\n', ":2: 'broker.port' must be 1..65535, got 99999"),
    ('[sensor]\nsource = "usb"\n', ":2: 'sensor.source' must be one of"),
    ('device = "left shoe"\n', ":1: 'device' must be letters, digits"),
    ('[sensor]\nsource = "recording"\n', "'sensor.recording' is needed"),
])
def test_config_errors_name_file_line_and_key(tmp_path, content, message):
    path = tmp_path / "heelraise.toml"
    path.write_text(content)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(str(path)) and message in str(err.value)


def test_a_missing_config_file_is_named():
    with pytest.raises(ConfigError, match="nowhere.toml: cannot read"):
        load_config("/nowhere.toml")


def test_a_config_sets_what_it_names_and_keeps_defaults_for_the_rest(tmp_path):
    path = tmp_path / "heelraise.toml"
    path.write_text('device = "left"\nstage = 3\n[sensor]\nrate_hz = 50\n[feedback]\nled = 4\n')
    config = load_config(path)
    assert (config.device, config.stage, config.sensor.rate_hz) == ("left", 3, 50.0)
    assert config.sensor.source == "auto" and config.broker.port == 1883
    assert config.feedback == {"led": 4}
