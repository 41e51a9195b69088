"""The dashboard in real headless Chromium, fed by a real Mosquitto over WebSockets.

The broker runs with passwords and the deployed ACL, so the page proves it works as the
read-only ``dashboard`` user; the page is served by pi_service/log/web.py, and its pain
and stiffness buttons go through that server, as the person's ``rating`` login, over
MQTT to the running log, which stores them.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboard" / "test"))
import harness  # noqa: E402
from mqtt_helpers import wait_until  # noqa: E402

from pi_service import (
    builders,  # noqa: E402
    mqtt_docs,  # noqa: E402
    topics,  # noqa: E402
)
from pi_service.errors import HeelRaiseError  # noqa: E402
from pi_service.log.aggregates import aggregate_topic, aggregates  # noqa: E402
from pi_service.log.progression import load_rules  # noqa: E402
from pi_service.log.web import DashboardServer, page_config  # noqa: E402
from pi_service.log.web import main as web_main  # noqa: E402
from pi_service.pipeline.events import Phase, PhaseChange, Rep, SetSummary, Verdict  # noqa: E402
from pi_service.stages import load_protocol, load_stage  # noqa: E402

needs_browser = pytest.mark.skipif(harness.missing() is not None,
                                   reason=harness.missing() or "")

DEVICE = "left"


def _rep(index: int, up_s: float = 3.1, verdict: Verdict = Verdict.OK) -> Rep:
    start = 8.0 * index
    return Rep(index=index, start_s=start, top_s=start + up_s, lower_s=start + up_s + 0.6,
               end_s=start + up_s + 3.5, up_s=up_s, hold_s=0.6, down_s=2.9, peak_deg=31.0,
               bottom_deg=-5.0, height_cm=9.4, verdict=verdict,
               faults=() if verdict is Verdict.OK else (verdict,))


HISTORY_DAYS = 21


def _history(store, stage) -> None:
    """Three weeks of logged training before today's session: one set a day, the last
    earlier today; 5 kg added until a week ago, 7.5 kg since."""
    reps = [_rep(i) for i in range(1, 16)]
    midnight = datetime.combine(date.today(), datetime.min.time()).timestamp()
    earlier_today = (midnight + time.time()) / 2  # a set ending then is today, before now
    for days_ago in range(HISTORY_DAYS - 1, -1, -1):
        end = earlier_today - days_ago * 86400
        ctx = builders.Context(DEVICE, f"s{days_ago}", stage,
                               builders.offset_clock(end - reps[-1].end_s),
                               load_kg=5.0 if days_ago >= 7 else 7.5)
        summary = SetSummary(index=1, stage=2, start_s=8.0, end_s=reps[-1].end_s, reps=15,
                             target_reps=stage.reps, ok_reps=12 + days_ago % 3,
                             tempo_compliance=(12 + days_ago % 3) / 15, rest_before_s=None,
                             rep_indices=tuple(range(1, 16)))
        store.add_set(builders.set_payload(ctx, summary, reps, pain=2 + days_ago % 2))
        store.record_stiffness(3 + days_ago % 2, device=DEVICE,
                               day=date.today() - timedelta(days=days_ago))


@pytest.fixture
def stack(tmp_path):
    with harness.dashboard_stack(tmp_path, DEVICE) as s:
        yield s


@pytest.fixture
def browser():
    with harness.Browser() as b:
        yield b


@needs_browser
def test_live_session_shows_reps_sets_rest_and_history(stack, browser, tmp_path):
    stage = load_stage(2)
    service, logger = stack.publisher(DEVICE), stack.publisher("heelraise-log")
    try:
        # Retained before the page opens: the service's status and the log's aggregates.
        service.publish(topics.topic(DEVICE, "status"), builders.status_payload(
            DEVICE, state="online", sensor="ok", source="simulator", stage=2, running=True),
            retain=True)
        _history(stack.store, stage)
        for kind, body in aggregates(stack.store, DEVICE, date.today(),
                                     protocol=load_protocol(), rules=load_rules()).items():
            logger.publish(aggregate_topic(DEVICE, kind), body, retain=True)

        browser.call("open", url=stack.server.url, login=["rating", harness.USERS["rating"]])
        browser.wait_text("#conn", "connected")
        browser.wait_text(".sensor", "sensor ok")
        browser.wait_text("#stage-progress", "stage 2 bilateral")
        # The charts run over calendar weeks, this one (Monday to today) last.
        today = date.today()
        first, this = (f"{d.isocalendar().year}-W{d.isocalendar().week:02d}"
                       for d in (today - timedelta(days=HISTORY_DAYS - 1), today))
        browser.wait_text("#chart-period", f"weeks ({first} to {this})")
        browser.wait_text(".chart h3", f"Reps per week: {15 * (today.weekday() + 1)}")
        titles = browser.call("texts", selector=".chart h3")
        assert len(titles) == 5 and "Load (mean): 7.5 kg" in titles
        labels = browser.call("evaluate", expression=(
            "[...document.querySelectorAll('.chart')[0].querySelectorAll('svg text')]"
            ".map(t => t.textContent)"))
        assert labels[-1] == this[5:] and all(x.startswith("W") for x in labels[2:]), labels

        # Today's session, live: three reps of set 1 (the third rushed up), then the set,
        # which ends just now, after the log computed its aggregates.
        reps = [_rep(1), _rep(2), _rep(3, up_s=1.2, verdict=Verdict.TOO_FAST_UP)]
        clock = builders.offset_clock(time.time() - reps[-1].end_s)
        ctx = builders.Context(DEVICE, "today", stage, clock)
        service.publish(topics.topic(DEVICE, "phase"), builders.phase_payload(
            ctx, PhaseChange(t_s=8.0, phase=Phase.RISING, pitch_deg=2.0)), qos=0)
        browser.wait_text(".phase", "rising")
        for rep in reps:
            service.publish(topics.topic(DEVICE, "rep"),
                            builders.rep_payload(ctx, rep, set_index=1))
        browser.wait_text(".rep-count", "3")
        assert browser.text(".rep-target") == "15"
        assert "set 1 of 3" in browser.text(".set-label")
        assert browser.text(".verdict") == "Too fast up"
        assert browser.text(".ph-up .val") == "1.2s"
        assert browser.text(".ph-up .tgt") == "target 3.0s"
        assert browser.call("attr", selector=".ph-up", name="data-ok") == "false"
        assert browser.call("attr", selector=".ph-down", name="data-ok") == "true"
        assert not browser.call("visible", selector=".rest")

        summary = SetSummary(index=1, stage=2, start_s=8.0, end_s=reps[-1].end_s, reps=3,
                             target_reps=stage.reps, ok_reps=2, tempo_compliance=2 / 3,
                             rest_before_s=None, rep_indices=(1, 2, 3))
        set_body = builders.set_payload(ctx, summary, reps)
        service.publish(topics.topic(DEVICE, "set"), set_body)
        service.publish(topics.topic(DEVICE, "set"), set_body)  # a redelivery: shown once
        service.publish(topics.topic(DEVICE, "phase"), builders.phase_payload(
            ctx, PhaseChange(t_s=reps[-1].end_s, phase=Phase.REST, pitch_deg=0.0)), qos=0)
        browser.wait_text(".phase", "rest")
        browser.call("waitVisible", selector=".rest")
        assert re.fullmatch(r"\d+:\d\d", browser.text(".rest-timer"))
        assert "target 1:00" in browser.text(".rest-target")
        # Today's table: the set logged earlier today (from the log's retained summary, so
        # a page opened late lists it too), then the one just done
        browser.wait_text("#sets tbody", "3/15")
        rows = browser.call("texts", selector="#sets tbody tr")
        assert len(rows) == 2 and "15/15" in rows[0] and "3/15" in rows[1] and "67%" in rows[1]
        browser.wait_text("#today-summary", "2 sets · 18 reps")

        # Pain for that set goes through web.py, as the rating login, to the log: tied to
        # the set's id, which the log stored from the service's message.
        assert wait_until(lambda: stack.store.count("sets") == HISTORY_DAYS + 1)
        browser.call("click", selector='#pain-scale button[data-value="2"]')
        browser.wait_text("#entry-status", "Saved pain 2 for set 1")
        assert wait_until(lambda: [(r.value, r.set_id) for r in stack.store.pain(
            DEVICE, since=date.today()) if r.set_id == set_body["id"]] == [(2.0, set_body["id"])])
        assert browser.call("texts", selector="#sets tbody tr td:nth-child(5)")[-1] == "2"
        browser.call("click", selector='#stiffness-scale button[data-value="5"]')
        browser.wait_text("#entry-status", "Saved stiffness 5")
        assert wait_until(lambda: stack.store.stiffness(DEVICE, since=date.today())[-1].value
                          == 5.0)

        assert browser.call("errors") == []
        shot = browser.call("screenshot", path=str(tmp_path / "dashboard.png"))
        assert Path(shot).stat().st_size > 10_000
        if os.environ.get("DASHBOARD_SCREENSHOT"):
            shutil.copy(shot, os.environ["DASHBOARD_SCREENSHOT"])
    finally:
        service.close()
        logger.close()


@needs_browser
def test_page_credentials_are_read_only(stack, browser):
    """What config.json hands any visitor cannot publish, and a wrong password is reported."""
    dashboard = stack.publisher("dashboard")
    try:
        reason = dashboard.publish(topics.topic(DEVICE, "cmd/stage"), {"stage": 4})
        assert reason.is_failure and "authori" in str(reason).lower()
    finally:
        dashboard.close()
    browser.call("open", url=stack.server.url + "?password=wrong")
    browser.wait_text("#problem", "refused")
    assert browser.text("#conn") == "error"


def _post(url: str, body: bytes, content_type: str = "application/json",
          login: str | None = "rating") -> tuple[int, dict]:
    headers = {"Content-Type": content_type}
    if login is not None:
        token = base64.b64encode(f"{login}:{harness.USERS[login]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    request = Request(url, data=body, headers=headers, method="POST")
    try:
        with urlopen(request, timeout=5) as reply:
            return reply.status, json.loads(reply.read())
    except HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def page_stack(tmp_path, page_dir):
    """The stack without a browser: broker with logins and ACL, the log, the page's server."""
    with harness.dashboard_stack(tmp_path, DEVICE, dist=page_dir) as s:
        yield s


def test_server_serves_config_and_sends_good_ratings_to_the_log(page_stack):
    server, store = page_stack.server, page_stack.store
    with urlopen(server.url + "config.json", timeout=5) as reply:
        served = json.loads(reply.read())
    assert (served["device"], served["username"]) == (DEVICE, "dashboard")
    assert served["entry"] is True and served["stages"]["2"]["reps"] == [15, 15]
    with urlopen(server.url, timeout=5) as reply:
        assert b"heel-raise" in reply.read()
    with pytest.raises(HTTPError) as missing:
        urlopen(server.url + "../../etc/passwd", timeout=5)
    assert missing.value.code == 404

    store.add_set({**mqtt_docs.examples()["set"], "id": "abc", "device": DEVICE})
    code, reply = _post(server.url + "api/pain", b'{"pain": 3, "set_id": "abc"}')
    assert code == 202 and (reply["pain"], reply["set_id"]) == (3, "abc")
    assert _post(server.url + "api/stiffness", b'{"stiffness": 4, "date": "2026-11-20"}')[0] \
        == 202
    bad = [
        (b'{"pain": 11}', "application/json", 400, "cmd/pain: 'pain' must be in 0..10, got 11"),
        (b'{"pain": "x"}', "application/json", 400, "'pain' must be a number, got string"),
        (b"pain=3", "application/x-www-form-urlencoded", 415, "send application/json"),
        (b"{not json", "application/json", 400, "payload is not JSON"),
        (b"[3]", "application/json", 400, "payload must be a JSON object"),
        (b'{"pain": ' + b"[" * 50 + b"]" * 50 + b"}", "application/json", 400,
         "nested deeper than 32 levels"),
    ]
    for body, kind, status, message in bad:
        code, reply = _post(server.url + "api/pain", body, kind)
        assert code == status and message in reply["error"], (body, reply)
    code, reply = _post(server.url + "api/stiffness", b'{"stiffness": 2, "date": "20-11"}')
    assert code == 400 and "'date' must be a date YYYY-MM-DD" in reply["error"]

    assert wait_until(lambda: store.count("stiffness") == 1 and store.count("pain") == 1)
    assert [(r.value, r.set_id) for r in store.pain(DEVICE)] == [(3.0, "abc")]
    assert [(r.day.isoformat(), r.value) for r in store.stiffness(DEVICE)] == [
        ("2026-11-20", 4.0)]


def test_pain_without_a_set_goes_on_todays_last_set(page_stack):
    """As a rating over MQTT or from the CLI does: the set just done gets the pain."""
    now = time.time()
    sets = {name: {**mqtt_docs.examples()["set"], "id": name, "device": DEVICE, "pain": None,
                   "time": builders.iso_utc(at), "start_time": builders.iso_utc(at - 60)}
            for name, at in (("yesterday", now - 86400), ("today", now))}
    for payload in sets.values():
        page_stack.store.add_set(payload)
    code, reply = _post(page_stack.server.url + "api/pain", b'{"pain": 5}')
    assert code == 202 and reply["pain"] == 5
    assert wait_until(lambda: {s.id: s.pain for s in page_stack.store.sets()} ==
                      {"yesterday": None, "today": 5.0})


def test_server_without_the_broker_has_no_entry(page_dir):
    with DashboardServer(page_config(DEVICE), dist_dir=page_dir) as server:
        with urlopen(server.url + "config.json", timeout=5) as reply:
            assert json.loads(reply.read())["entry"] is False
        code, reply = _post(server.url + "api/pain", b'{"pain": 2}', login=None)
        assert code == 404 and "no rating entry" in reply["error"]


def test_server_refuses_to_start_without_a_built_page(tmp_path):
    with pytest.raises(HeelRaiseError, match="no built dashboard"):
        DashboardServer(page_config(DEVICE), dist_dir=tmp_path)


@needs_browser
def test_page_reconnects_after_the_broker_restarts(stack, browser):
    browser.call("open", url=stack.server.url)
    browser.wait_text("#conn", "connected")
    stack.broker.stop()
    browser.wait_text("#conn", "reconnecting")
    stack.broker.start()
    browser.wait_text("#conn", "connected")
    service = stack.publisher(DEVICE)
    try:
        ctx = builders.Context(DEVICE, "after", load_stage(2), builders.offset_clock(time.time()))
        service.publish(topics.topic(DEVICE, "rep"), builders.rep_payload(ctx, _rep(1), 1))
        browser.wait_text(".rep-count", "1")
        assert browser.text(".verdict") == "Good"
    finally:
        service.close()


def test_main_writes_config_for_a_page_mosquitto_serves(page_dir, tmp_path, capsys):
    secret = tmp_path / "dashboard.password"
    secret.write_text("s3cret\n")
    assert web_main(["--device", "right", "--ws-port", "9002", "--username", "dashboard",
                     "--password-file", str(secret), "--dist", str(page_dir),
                     "--write-config"]) == 0
    written = json.loads((page_dir / "config.json").read_text())
    assert (written["device"], written["ws_port"], written["username"], written["password"],
            written["entry"]) == ("right", 9002, "dashboard", "s3cret", False)
    assert web_main(["--password-file", str(tmp_path / "nope"), "--dist", str(page_dir),
                     "--write-config"]) == 2
    assert "nope: cannot read" in capsys.readouterr().err


@needs_browser
def test_page_served_by_mosquitto_takes_its_login_from_the_address(tmp_path, browser):
    """The deployment in systemd/: no web.py, the page and its login in the bookmark."""
    with harness.dashboard_stack(tmp_path, DEVICE, broker_serves_page=True) as stack:
        service = stack.publisher(DEVICE)
        try:
            page = (f"http://127.0.0.1:{stack.broker.websockets_port}/"
                    f"?user=dashboard&password={harness.USERS['dashboard']}&device={DEVICE}")
            browser.call("open", url=page)
            browser.wait_text("#conn", "connected")
            assert not browser.call("visible", selector="#pain-scale")
            ctx = builders.Context(DEVICE, "s", load_stage(2), builders.offset_clock(time.time()))
            service.publish(topics.topic(DEVICE, "rep"), builders.rep_payload(
                ctx, _rep(1, up_s=1.0, verdict=Verdict.TOO_FAST_UP), 1))
            browser.wait_text(".rep-count", "1")
            assert browser.text(".verdict") == "Too fast up"
            assert browser.text(".ph-up .tgt") == "target 3.0s"
        finally:
            service.close()


def test_a_low_clip_on_battery_is_a_warning_on_the_page(stack, browser):
    """The wireless clip-on's retained status (heelraise/<device>/sensor), as its firmware
    sends it, reaches the read-only page: charged, low (warn), gone (its will)."""
    from pi_service.payloads import validate

    clip = stack.publisher("sensor")   # the clip-on's own login, through the deployed ACL
    status = {"v": 1, "id": "1a2b3c4d-3", "device": DEVICE, "state": "online",
              "boot_id": "1a2b3c4d", "firmware": "1.0", "uptime_s": 60, "imu": "ok",
              "chip": "MPU-6050", "rate_hz": 100.0, "battery_v": 3.91, "battery_pct": 67,
              "battery_low": False, "rssi_dbm": -61, "ring_frames": 0, "ring_capacity": 150,
              "ring_dropped": 0, "fifo_restarts": 0, "frames_sent": 290, "seq": 292}
    validate("sensor", json.dumps(status).encode())
    topic = f"heelraise/{DEVICE}/sensor"
    browser.call("open", url=stack.server.url)
    browser.wait_text("#conn", "connected")
    assert not browser.call("visible", selector=".clip")   # no clip-on: nothing said
    clip.publish(topic, status, retain=True)
    browser.wait_text(".clip", "clip-on battery 67 %")
    clip.publish(topic, {**status, "battery_v": 3.41, "battery_pct": 4, "battery_low": True},
                 retain=True)
    browser.wait_text(".clip", "clip-on battery low (3.41 V): charge it")
    assert browser.call("attr", selector=".clip", name="data-state") == "low"
    clip.publish(topic, {k: status[k] for k in ("v", "device", "boot_id", "firmware")}
                 | {"id": "1a2b3c4d-will", "state": "offline"}, retain=True)
    browser.wait_text(".clip", "clip-on offline")
    clip.close()


def _live(device: str, *, set_index: int, reps: int, set_open: bool,
          rest_from: str | None = None) -> dict:
    status = {"source": "mpu6050", "stage": 2, "running": True}
    rep = builders.rep_payload(builders.Context(device, "s1", load_stage(2),
                                                builders.offset_clock(time.time())), _rep(reps), 1)
    return builders.live_payload(device, "s1", status, {
        "set_index": set_index, "set_open": set_open, "reps": reps if set_open else 0,
        "holds": 0, "sets_done": set_index - 1, "rest_from": rest_from, "rest_s": 60.0,
        "last_rep": {k: rep[k] for k in builders.LIVE_REP}, "last_hold": None})


@needs_browser
def test_two_feet_side_by_side_and_a_reload_shows_the_set_and_the_rest(stack, browser):
    """A page opened mid-set (left) and mid-rest (right) shows both, from retained state only."""
    services = {d: stack.publisher(d) for d in ("left", "right")}
    try:
        for device, service in services.items():
            service.publish(topics.topic(device, "status"), builders.status_payload(
                device, state="online", sensor="ok", source="mpu6050", stage=2, running=True),
                retain=True)
        services["left"].publish(topics.topic("left", "live"),
                                 _live("left", set_index=2, reps=7, set_open=True), retain=True)
        services["right"].publish(topics.topic("right", "live"), _live(
            "right", set_index=3, reps=0, set_open=False,
            rest_from=builders.iso_utc(time.time() - 20)), retain=True)
        for _ in range(2):                    # the page, and the same page reloaded
            browser.call("open", url=stack.server.url, login=["rating", harness.USERS["rating"]])
            browser.wait_text("#conn", "connected")
            browser.wait_text('[data-device="right"] .set-label', "set 3 of 3 next")
            assert browser.call("texts", selector=".device-card .device") == ["left", "right"]
            assert browser.text('[data-device="left"] .rep-count') == "7"
            assert browser.text('[data-device="left"] .set-label').startswith("set 2 of 3 ·")
            assert browser.text('[data-device="left"] .verdict') == "Good"
            assert not browser.call("visible", selector='[data-device="left"] .rest')
            assert browser.text('[data-device="right"] .rep-count') == "0"
            assert browser.call("visible", selector='[data-device="right"] .rest')
            assert re.fullmatch(r"0:[23]\d", browser.text('[data-device="right"] .rest-timer'))
        # the day's activity, rated on the page, reaches the log
        browser.call("click", selector='#activity-scale button[data-value="8"]')
        browser.wait_text("#entry-status", "Saved 8/10 on your feet today")
        assert wait_until(lambda: [r.value for r in stack.store.activity()] == [8.0])
        assert browser.call("errors") == []
    finally:
        for service in services.values():
            service.close()


def _test_leg(leg: str, raises: int, peak_deg: float):
    """A judged leg: ``raises`` valid raises on the beat, then two late ones."""
    from pi_service.heelrise.judge import Raise, TestJudge
    from pi_service.heelrise.outcomes import leg_result
    from pi_service.heelrise.protocol import TestProtocol

    judge = TestJudge(TestProtocol(), first_beat_s=100.0, lever_cm=19.0, incline_deg=10.0)
    for k in range(raises + 2):
        late = 0.0 if k < raises else 0.8
        judge.on_raise(Raise(100.0 + 2 * k + late, 101.9 + 2 * k + late, peak_deg))
    judge.on_time(100.0 + 2 * raises + 10)
    return leg_result(judge, leg, 70.0, calibrated=True)


@needs_browser
def test_the_latest_heel_rise_test_and_its_symmetry_over_the_weeks(stack, browser):
    """Three tests two weeks apart, the involved left calf recovering: the latest result
    by leg, its symmetry beside the norms, and the symmetry chart over the weeks."""
    logger = stack.publisher("heelraise-log")
    try:
        today = date.today()
        for i, (raises, peak) in enumerate([(10, 20.0), (14, 24.0), (18, 28.0)]):
            day = today - timedelta(days=28 - 14 * i)
            noon = datetime.combine(day, datetime.min.time()).timestamp() + 12 * 3600
            ctx = builders.Context(DEVICE, f"t{i}", None, builders.offset_clock(noon - 200),
                                   source="mpu6050")
            for result in (_test_leg("left", raises, peak), _test_leg("right", 22, 30.0)):
                stack.store.add_test(builders.test_payload(
                    ctx, result, test_id=f"test{i}", involved="left", bpm=60.0))
        body = aggregates(stack.store, DEVICE, today, protocol=load_protocol(),
                          rules=load_rules())["heel_rise"]
        assert len(body["history"]) == 3
        logger.publish(aggregate_topic(DEVICE, "heel_rise"), body, retain=True)

        browser.call("open", url=stack.server.url)
        browser.wait_text("#conn", "connected")
        browser.wait_text("#heel-rise-symmetry", "symmetry (left / other)")
        rows = browser.call("texts", selector="#heel-rise-legs tbody tr")
        assert len(rows) == 2 and "left (involved)" in rows[0] and "18" in rows[0]
        assert "22" in rows[1] and "lost the beat" in rows[1] and "cm" in rows[1]
        sym = body["latest"]["symmetry"]
        text = browser.text("#heel-rise-symmetry")
        assert f"reps {round(sym['reps_pct'])} %" in text
        assert f"work {round(sym['work_pct'])} %" in text
        assert "median 24 raises (men)" in browser.text("#heel-rise-norms")
        chart = '[data-chart="Symmetry, involved / other"]'
        dots = browser.call("evaluate", expression=(
            f"[...document.querySelectorAll('{chart} .series')]"
            ".map(g => [g.dataset.series, g.querySelectorAll('circle').length])"))
        assert dots == [["reps", 3], ["height", 3], ["work", 3]]
        legend = browser.text(f"{chart} .legend")
        assert f"work {round(sym['work_pct'])}%" in legend
        assert browser.call("errors") == []
        if os.environ.get("HEEL_RISE_SCREENSHOT"):
            browser.call("screenshot", path=os.environ["HEEL_RISE_SCREENSHOT"])
    finally:
        logger.close()


@needs_browser
def test_a_set_both_sensors_saw_shows_both_feet_side_by_side(stack, browser):
    """A sensor on each shoe: today's bilateral set is one row, each foot's height and
    tempo beneath it, the foot rising clearly less marked."""
    import uuid

    base_set, base_rep = mqtt_docs.examples()["set"], mqtt_docs.examples()["rep"]
    start = time.time() - 600
    for device, height, up_s in (("left", 9.3, 3.1), ("right", 7.6, 2.2)):
        session = f"{device}-today"
        detail = [{"index": i, "up_s": up_s, "hold_s": 0.5, "down_s": 3.0, "peak_deg": 30.0,
                   "verdict": "ok"} for i in range(1, 16)]
        stack.store.add_set({**base_set, "id": uuid.uuid4().hex, "device": device,
                             "session": session, "reps": 15, "ok_reps": 15,
                             "tempo_compliance": 1.0, "rep_detail": detail, "pain": None,
                             "start_time": builders.iso_utc(start),
                             "time": builders.iso_utc(start + 100)})
        for i in range(1, 16):
            stack.store.add_rep({**base_rep, "id": uuid.uuid4().hex, "device": device,
                                 "session": session, "set_index": 1, "index": i,
                                 "time": builders.iso_utc(start + 6 * i), "height_cm": height})
    logger = stack.publisher("heelraise-log")
    try:
        body = aggregates(stack.store, DEVICE, date.today(), protocol=load_protocol(),
                          rules=load_rules())["today"]
        logger.publish(aggregate_topic(DEVICE, "today"), body, retain=True)
        browser.call("open", url=stack.server.url)
        browser.wait_text("#sets tbody tr.feet", "right 7.6")
        assert browser.call("texts", selector="#sets tbody tr:not(.feet)") != []
        assert len(browser.call("texts", selector="#sets tbody tr:not(.feet)")) == 1
        left = browser.text('#sets tr.feet [data-foot="left"]')
        right = browser.text('#sets tr.feet [data-foot="right"]')
        assert left.startswith("left 9.3") and "up 3.1s" in left
        assert right.startswith("right 7.6") and "up 2.2s" in right
        assert browser.call("attr", selector='#sets tr.feet [data-foot="right"]',
                            name="class") == "foot low"
        assert browser.call("errors") == []
    finally:
        logger.close()
