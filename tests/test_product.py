"""``heelraise start``, the README's first command, as a person meets it: in a terminal and in
a browser.

The command runs as its own process in its own session (as a terminal runs it), with
nothing else running; the page it prints is opened in Debian's headless Chromium, a set
arrives, pain is rated on the page, the page is reloaded and shows the same day, and
Ctrl-C (SIGINT to the process group, as a terminal sends it) leaves no process and no
port behind.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboard" / "test"))
import harness  # noqa: E402
from mqtt_helpers import wait_until  # noqa: E402

from pi_service.broker import port_open  # noqa: E402

needs_browser = pytest.mark.skipif(harness.missing() is not None,
                                   reason=harness.missing() or "")


class Started:
    """``heelraise start`` in a session of its own, its output read as it comes."""

    def __init__(self, *args: str, env: dict | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pi_service.cli", "start", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
            env={**os.environ, "OPENBLAS_NUM_THREADS": "1", **(env or {})})
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout_s: float = 30) -> re.Match:
        found: list[re.Match] = []

        def seen() -> bool:
            found[:] = [m for line in list(self.lines) if (m := re.search(pattern, line))]
            return bool(found)

        assert wait_until(seen, timeout_s), f"no {pattern!r} in:\n" + "\n".join(self.lines)
        return found[0]

    def ctrl_c(self, timeout_s: float = 30) -> int:
        os.killpg(self.proc.pid, signal.SIGINT)
        code = self.proc.wait(timeout=timeout_s)
        self._reader.join(timeout=5)
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def _descendants(pid: int) -> list[int]:
    """Every process whose parent chain leads to ``pid``."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1]
                                               .split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        kids = [p for p, parent in parents.items() if parent in frontier]
        found += kids
        frontier = kids
    return found


def _broker_ports(pid: int) -> list[int]:
    """The listener ports of the private Mosquitto that ``pid`` started."""
    for child in _descendants(pid):
        try:
            cmd = (Path("/proc") / str(child) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"mosquitto"):
            config = Path(cmd[cmd.index(b"-c") + 1].decode()).read_text()
            return [int(p) for p in re.findall(r"^listener (\d+)", config, flags=re.M)]
    return []


@needs_browser
def test_one_command_runs_the_whole_product_and_ctrl_c_leaves_nothing(tmp_path):
    product = Started("--speed", "8", "--seed", "3", "--http", "0",
                      env={"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")})
    browser = harness.Browser()
    try:
        url = product.wait_for(r"Dashboard: (http://127\.0\.0\.1:\d+/)")[1]
        own_log = Path(product.wait_for(r"SIMULATED person.*\((/\S+)\)")[1])
        assert own_log.is_file() and not (tmp_path / "data").exists()   # not the person's
        ports = _broker_ports(product.proc.pid)
        assert len(ports) == 2 and all(port_open("127.0.0.1", p) for p in ports)

        browser.call("open", url=url)
        browser.wait_text("#conn", "connected")
        browser.wait_text(".sensor", "simulated person")
        browser.wait_text(".rep-count", "2", timeout_ms=30000)
        product.wait_for(r"rep +2 .*\[set 1 of 3: 2/15\]")
        # the first set, on the page and in the terminal
        browser.wait_text("#sets tbody", "/15", timeout_ms=60000)
        product.wait_for(r"== set 1: \d+ reps")
        browser.call("click", selector='#pain-scale button[data-value="3"]')
        browser.wait_text("#entry-status", "Saved pain 3 for set 1")
        # the row shows it once the log has stored it and republished the day
        browser.wait_text("#sets tbody tr:first-child td:last-child", "3")
        before = browser.call("texts", selector="#sets tbody tr")
        assert before[0].split("\t")[-1] == "3"

        # A reload: the page knows the day from the retained messages alone
        label = browser.text(".set-label")
        browser.call("open", url=url)
        browser.wait_text("#conn", "connected")
        browser.wait_text("#sets tbody tr td:nth-child(5)", "3")   # the log stored the pain
        after = browser.call("texts", selector="#sets tbody tr")
        assert after[:len(before)] == before
        shown = browser.text(".set-label")
        assert "no set yet" not in shown and re.match(r"set \d", shown), (label, shown)
        assert int(re.match(r"set (\d)", shown)[1]) >= int(re.match(r"set (\d)", label)[1])
        assert browser.call("errors") == []

        assert product.ctrl_c() == 0
        out = "\n".join(product.lines)
        assert "session: " in out and "Stage 2 (bilateral)" in out and "To move up:" in out
        assert "stopped: broker, log, dashboard and coach" in out
        assert "Traceback" not in out
        assert _descendants(product.proc.pid) == []
        port = int(url.rsplit(":", 1)[1].strip("/"))
        assert not any(port_open("127.0.0.1", p) for p in [port, *ports])
        assert not own_log.parent.exists()
    finally:
        browser.close()
        product.close()


def test_the_product_run_by_systemd_is_shown_not_started_again(tmp_path):
    """systemctl says the units are active: nothing is started, the running one is named."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "systemctl"
    fake.write_text("#!/bin/sh\necho active\necho active\n")
    fake.chmod(0o755)
    product = Started(env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    try:
        code = product.proc.wait(timeout=30)
        product._reader.join(timeout=5)
        out = "\n".join(product.lines)
        assert code == 0, out
        assert "already runs here as system services (heelraise.service, " \
               "heelraise-log.service): nothing new is started" in out
        assert ":8080/" in out and "Dashboard:" not in out
    finally:
        product.close()
