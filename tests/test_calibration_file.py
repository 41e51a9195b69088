"""Calibration files: shape and physics checked before a session trusts them.

Each case is run as the person meets it, through ``heelraise analyze --calibration``,
so what is asserted is the one line they read, not an exception inside.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from calibration.file import load_calibration, save_calibration
from pi_service.cli import main
from pi_service.errors import InputError
from pi_service.pipeline import analyze
from pi_service.samples import SampleBlock
from pi_service.sources.recording import write_recording
from pi_service.stages import load_stage

GOOD = {"baseline_g": [0.0, 0.0, 1.0], "raise_axis": [0.0, 1.0, 0.0],
        "typical_peak_deg": 30.0, "lever_cm": 19.0}


def cal(**changes) -> str:
    return json.dumps({**GOOD, **changes}, indent=2)


@pytest.mark.parametrize("text, fault", [
    ("{not json", "the file is not JSON (Expecting property name enclosed in double quotes "
                  "at char 1)"),
    ("[1, 2, 3]", "must be a table, got array"),
    ('{"raise_axis": [0, 1, 0]}', "'baseline_g' is missing"),
    (cal(lever_cm=None), ":13: 'lever_cm' must not be null"),
    (cal(lever_cm="big"), ":13: 'lever_cm' must be a number, got string"),
    (cal(lever_cm=70), ":13: 'lever_cm' must be in 10..30, got 70"),
    (cal(baseline_g=[1000, 0, 0]), ":2: 'baseline_g[0]' must be in -16..16, got 1000"),
    (cal(baseline_g=[0.0, 0.0, 2.0]), ":2: 'baseline_g' must measure gravity, 0.8..1.2 g long"),
    (cal(raise_axis=[0.0, 0.0, 1.0]), ":7: 'raise_axis' must be horizontal"),
    (cal(raise_axis=[0.0, 1.0]), ":7: 'raise_axis' must have 3 items, got 2"),
    (cal(raise_axis=[0.0, 3.0, 0.0]), ":7: 'raise_axis' must be a unit vector, got length 3"),
    (cal(typical_peak_deg=89.0), ":12: 'typical_peak_deg' must be in 5..75, got 89"),
    (cal(rotation=[1, 0, 0]), "'rotation' is not a known key"),
    (cal().replace('"lever_cm": 19.0', '"lever_cm": ' + "9" * 400),
     "the file has an integer longer than 30 digits"),
    ('{"baseline_g": ' + "[" * 100 + "]" * 100 + "}", "the file is nested deeper than 32"),
])
def test_a_bad_calibration_file_is_one_line_naming_file_line_and_key(tmp_path, capsys,
                                                                      text, fault):
    path = tmp_path / "cal.json"
    path.write_text(text)
    recording = tmp_path / "still.csv"
    t = np.arange(0, 2, 0.01)
    write_recording(recording, SampleBlock(t, np.tile([0.0, 0.0, 1.0], (len(t), 1))))
    assert main(["analyze", str(recording), "--calibration", str(path)]) == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith(f"heelraise: {path}") and fault in message, message
    assert "\n" not in message


def test_a_binary_file_is_not_a_calibration(tmp_path):
    path = tmp_path / "cal.json"
    path.write_bytes(bytes(range(256)))
    with pytest.raises(InputError, match=r"cal.json: is not UTF-8 text \(byte 128\)"):
        load_calibration(path)


def test_what_calibrate_writes_loads_back_exactly(tmp_path):
    from pi_service.sources.simulator import simulate

    learned = analyze(simulate(2, 1, 100.0, walking=False, n_sets=1).block,
                      load_stage(2)).calibration
    path = tmp_path / "sensor.json"
    save_calibration(learned, path)
    assert load_calibration(path) == learned
