"""The small things a person meets on the command line and on a reload, each as it is met:
bad numbers, a mistyped database, finding the only device, the live state a page reads,
words for verdicts, and the QR code of the dashboard's address."""

from __future__ import annotations

import io
import json
import re

import pytest
from mqtt_helpers import Collector, wait_until

from pi_service import builders, mqtt_docs, qr
from pi_service.cli import main
from pi_service.console import LiveConsole
from pi_service.log.store import Store
from pi_service.pipeline.events import Hold, Rep, SetSummary, Verdict
from pi_service.publish import Publisher
from pi_service.stages import load_stage


@pytest.mark.parametrize("argv, fault", [
    (["demo", "--speed", "0"], "argument --speed: must be above 0"),
    (["demo", "--speed", "-2"], "argument --speed: must be above 0"),
    (["demo", "--speed", "nan"], "argument --speed: must be a finite number"),
    (["demo", "--speed", "inf"], "argument --speed: must be a finite number"),
    (["demo", "--seed", "-1"], "argument --seed: must be 0 to"),
    (["simulate", "--out", "x.csv", "--rate", "0"], "argument --rate: must be at least 1"),
    (["run", "--speed", "0"], "argument --speed"),
    (["run", "--port", "70000"], "argument --port: must be 1 to 65535"),
    (["start", "--http", "-1"], "argument --http: must be 0 to 65535"),
    (["sensors", "--bus", "-1"], "argument --bus: must be 0 to 255"),
    (["pain", "11"], "argument pain: must be at least 0 and at most 10"),
    (["activity", "nan"], "argument activity: must be a finite number"),
    (["pain", "3", "--port", "0"], "argument --port: must be 1 to 65535"),
])
def test_a_bad_number_is_one_line_naming_the_argument(argv, fault, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and fault in err.strip().splitlines()[-1]


@pytest.mark.parametrize("argv", [["pain", "3"], ["stiffness", "2"], ["activity", "5"],
                                  ["strike", "last"], ["export"], ["progress"]])
def test_a_mistyped_database_is_an_error_and_is_not_created(argv, tmp_path, capsys):
    typo = tmp_path / "typo.sqlite3"
    assert main([*argv, "--db", str(typo)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(typo) in err and "no training log here" in err
    assert not typo.exists()


def test_a_rating_finds_the_only_device_the_broker_knows(broker, collect):
    seen = collect(broker, "heelraise/+/cmd/#")
    status = builders.status_payload("left", state="online", sensor="ok", source="mpu6050",
                                     stage=2, running=True)
    seen.client.publish("heelraise/left/status", json.dumps(status), qos=1, retain=True)
    seen.flush()
    assert main(["pain", "3", "--port", str(broker.port)]) == 0
    assert main(["activity", "8", "--port", str(broker.port)]) == 0
    assert wait_until(lambda: len(seen.of("pain")) == 1 and len(seen.of("activity")) == 1)
    assert seen.of("pain")[0]["pain"] == 3 and seen.of("activity")[0]["activity"] == 8
    assert {t for t, _, _ in seen.messages if "/cmd/" in t} == {
        "heelraise/left/cmd/pain", "heelraise/left/cmd/activity"}


def test_a_rating_with_no_coach_on_the_broker_says_so(broker, capsys):
    assert main(["pain", "3", "--port", str(broker.port)]) == 2
    assert "no coach has announced itself" in capsys.readouterr().err


def test_strike_last_from_the_command_line_and_undo(tmp_path, capsys):
    db = tmp_path / "log.sqlite3"
    with Store(db) as store:
        store.add_set(mqtt_docs.examples()["set"])
    assert main(["strike", "last", "--db", str(db), "--reason", "a test"]) == 0
    assert "struck from the history" in capsys.readouterr().out
    with Store(db) as store:
        assert store.sets() == [] and len(store.sets(struck=True)) == 1
    assert main(["strike", "last", "--undo", "--db", str(db)]) == 0
    with Store(db) as store:
        assert len(store.sets()) == 1


def test_holds_read_in_words_and_a_set_of_holds_is_not_a_tempo(capsys):
    out = io.StringIO()
    console = LiveConsole(load_stage(1), out)
    console.on_event(Hold(start_s=0, end_s=50, hold_s=50, peak_deg=25, verdict="too_long"))
    console.on_event(SetSummary(index=1, stage=1, start_s=0, end_s=50, reps=0,
                                target_reps=(0, 0), ok_reps=0, tempo_compliance=0.0,
                                rest_before_s=None, rep_indices=(), holds=1, hold_s=(50.0,)))
    text = out.getvalue()
    assert "held too long" in text and "too_long" not in text
    assert "tempo ok" not in text and "1 hold(s), 0% in range" in text


def test_a_hold_a_gap_cut_short_reads_as_unknown_not_as_a_verdict():
    out = io.StringIO()
    console = LiveConsole(load_stage(1), out)
    console.on_event(Hold(start_s=0, end_s=None, hold_s=None, peak_deg=25, verdict=None))
    console.on_event(SetSummary(index=1, stage=1, start_s=0, end_s=14, reps=0,
                                target_reps=(0, 0), ok_reps=0, tempo_compliance=None,
                                rest_before_s=None, rep_indices=(), holds=1, hold_s=(None,)))
    text = out.getvalue()
    assert "cut off by a gap" in text and "not known" in text
    assert "1 hold(s), none judged" in text


def _rep(index: int) -> Rep:
    return Rep(index=index, start_s=8.0 * index, top_s=8.0 * index + 3, lower_s=8.0 * index + 3.5,
               end_s=8.0 * index + 6.5, up_s=3.0, hold_s=0.5, down_s=3.0, peak_deg=30.0,
               bottom_deg=0.0, height_cm=9.0, verdict=Verdict.OK)


def _retained(broker, topic: str) -> dict:
    late = Collector(broker, topic)            # a page opened now
    try:
        late.flush()
        return late.of(topic.rsplit("/", 1)[1])[-1]
    finally:
        late.close()


def test_the_live_state_is_retained_so_a_late_page_sees_the_set_and_the_rest(broker,
                                                                             tmp_path):
    stage = load_stage(2)
    with Publisher("left", broker.host, broker.port, tmp_path / "outbox.db", stage=2,
                   source="mpu6050", running=True, confirm="broker") as pub:
        for i in (1, 2, 3):
            pub.publish_rep(_rep(i), stage)
        assert pub.wait_idle(5)
        live = _retained(broker, "heelraise/left/live")
        assert (live["set_index"], live["set_open"], live["reps"]) == (1, True, 3)
        assert live["last_rep"]["index"] == 3 and live["rest_from"] is None
        pub.publish_set(SetSummary(index=1, stage=2, start_s=8, end_s=30.5, reps=3,
                                   target_reps=stage.reps, ok_reps=3, tempo_compliance=1.0,
                                   rest_before_s=None, rep_indices=(1, 2, 3)), stage)
        assert pub.wait_idle(5)
        live = _retained(broker, "heelraise/left/live")
        assert (live["set_index"], live["set_open"], live["sets_done"]) == (2, False, 1)
        assert live["rest_from"] is not None and live["rest_s"] == stage.rest_between_sets_s
    status = _retained(broker, "heelraise/left/status")
    assert status["state"] == "offline" and status["running"] is False


def test_the_qr_code_drawn_in_the_terminal_is_the_addresss_modules():
    url = "http://192.168.1.20:8080/"
    lines = qr.terminal_qr(url).splitlines()
    cells = [re.sub(r"\033\[[0-9;]*m", "", line) for line in lines]
    top = {"█": True, "▀": True, "▄": False, " ": False}
    bottom = {"█": True, "▀": False, "▄": True, " ": False}
    drawn = [row for line in cells for row in ([top[c] for c in line], [bottom[c] for c in line])]
    modules = qr.matrix(url)
    assert drawn[:len(modules)] == modules
    assert not any(modules[0]) and not any(row[0] for row in modules)     # the quiet zone
    assert all(line.startswith("\033[30;47m") and line.endswith("\033[0m") for line in lines)
