"""The clip-on's firmware under MicroPython in a scripted world, against a real broker.

``run_clip`` boots firmware/main.py (every file as firmware/MANIFEST puts it on a
board) under the WebAssembly port with the fake board (tests/micropython/board:
machine, network, time, socket at their lowest layer) and a register-level fake
IMU whose motion the test gives; ``Recorder`` is a plain paho subscriber that keeps
each message's raw bytes and arrival time, as the Pi would receive them.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from mpy_harness import ROOT, UMQTT, board_files, missing, run
from paho.mqtt.enums import CallbackAPIVersion

from pi_service.broker import LocalBroker

BOARD = ROOT / "tests" / "micropython" / "board"
DEVICE = "clip"


def need_micropython() -> None:
    why = missing()
    if why:
        pytest.skip(why)


def run_clip(broker: LocalBroker, *, chip: str = "MPU-6050", motion: np.ndarray | None = None,
             motion_hz: float = 100.0, settings: dict[str, Any] | None = None,
             events: list[list[Any]] | None = None, realtime: bool = False,
             timeout_s: float = 180) -> dict[str, Any]:
    """Run the firmware until the ``stop`` event; returns the world's report (see
    tests/micropython/scenario.py). Raises with MicroPython's output if it failed."""
    with tempfile.TemporaryDirectory(prefix="clip-") as tmp:
        spec: dict[str, Any] = {
            "chip": chip, "motion_hz": motion_hz, "realtime": realtime,
            "events": events or [[10, "stop"]],
            "settings": {"BROKER": broker.host, "PORT": broker.port, "DEVICE": DEVICE,
                         "MQTT_USER": None, **(settings or {})}}
        files = {f"/{board}": path for board, path in board_files().items()}
        files["/lib/umqtt/simple.py"] = UMQTT
        for path in BOARD.glob("*.py"):
            files[f"/board/{path.name}"] = path
        files["/t/fake_i2c.py"] = ROOT / "tests" / "fake_i2c.py"
        files["/t/scenario.py"] = ROOT / "tests" / "micropython" / "scenario.py"
        if motion is not None:
            motion_file = Path(tmp) / "motion.f32"
            motion_file.write_bytes(np.asarray(motion, dtype="<f4").tobytes())
            files["/t/motion.f32"] = motion_file
            spec["motion"] = "/t/motion.f32"
        spec_file = Path(tmp) / "scenario.json"
        spec_file.write_text(json.dumps(spec))
        files["/t/scenario.json"] = spec_file
        proc, out = run(files, "/t/scenario.py", path=("/board", "/t", "/lib", "/"),
                        outputs=("/out/report.json",), timeout_s=timeout_s)
    if proc.returncode != 0 or "/out/report.json" not in out:
        raise AssertionError(f"MicroPython failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    report = json.loads(out["/out/report.json"])
    report["stdout"] = proc.stdout
    return report


class Recorder:
    """Every message on heelraise/<device>/#: (arrival monotonic s, topic, bytes, retained)."""

    def __init__(self, broker: LocalBroker, device: str = DEVICE) -> None:
        self.messages: list[tuple[float, str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, *a: c.subscribe(f"heelraise/{device}/#", qos=1)
        self.client.on_subscribe = lambda *a: self._ready.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self._ready.wait(5), "recorder did not subscribe"

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((time.monotonic(), msg.topic, bytes(msg.payload), msg.retain))

    def frames(self) -> list[bytes]:
        with self._lock:
            return [p for _, t, p, _ in self.messages if t.endswith("/imu")]

    def statuses(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(p) for _, t, p, _ in self.messages if t.endswith("/sensor") and p]

    def settle(self, quiet_s: float = 0.3, timeout_s: float = 10) -> None:
        """Wait until nothing has arrived for ``quiet_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                last = self.messages[-1][0] if self.messages else 0.0
            if time.monotonic() - last > quiet_s:
                return
            time.sleep(0.05)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
