"""The shipped systemd units are valid, hardened, and fit the config the Pi gets.

``systemd-analyze verify`` exits 0 on unknown keys and typos, so any line it prints
fails the test. It also insists that ExecStart's binary exists, and the venv
(/opt/heelraise/.venv) exists only on an installed Pi: the tests check a copy whose
ExecStart binary alone is swapped for one that exists here; every other line is
the shipped one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pi_service.config import load_config

ROOT = Path(__file__).resolve().parent.parent
SYSTEMD = ROOT / "systemd"
UNITS = ("heelraise.service", "heelraise-log.service")
INSTALLED_BINARY = "/opt/heelraise/.venv/bin/heelraise"
MAX_EXPOSURE = 2.5

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="systemd-analyze is not installed (Debian: systemd)")


def runnable_copy(unit: str, unit_dir: Path, text: str | None = None) -> Path:
    """``unit`` in ``unit_dir`` with ExecStart's binary pointed at one that exists here."""
    text = (SYSTEMD / unit).read_text() if text is None else text
    stand_in = Path(sys.executable).with_name("heelraise")
    if not stand_in.exists():
        stand_in = Path(shutil.which("true") or "/bin/true")
    text, count = re.subn(rf"^ExecStart={re.escape(INSTALLED_BINARY)} ",
                          f"ExecStart={stand_in} ", text, flags=re.MULTILINE)
    assert count == 1, f"{unit}: expected one ExecStart={INSTALLED_BINARY} line"
    path = unit_dir / unit
    path.write_text(text)
    return path


@pytest.fixture
def unit_dir(tmp_path: Path) -> Path:
    """A unit search path with a stand-in broker unit ahead of the system's.

    The units order themselves after mosquitto.service; the stand-in keeps the
    verdict about our units, whether or not (and however) mosquitto is installed.
    """
    (tmp_path / "mosquitto.service").write_text(
        "[Unit]\nDescription=stand-in broker\n[Service]\nExecStart=/bin/true\n")
    return tmp_path


def analyze(unit_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SYSTEMD_UNIT_PATH=f"{unit_dir}:", SYSTEMD_PAGER="", LC_ALL="C.UTF-8")
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True,
                          env=env, timeout=60)


def verify(path: Path) -> list[str]:
    """Every line ``systemd-analyze verify`` says about ``path``, errors and warnings."""
    result = analyze(path.parent, "verify", "--man=no", "--generators=no", str(path))
    lines = (result.stdout + result.stderr).strip().splitlines()
    if result.returncode != 0 and not lines:
        lines = [f"exit status {result.returncode}"]
    return lines


@pytest.mark.parametrize("unit", UNITS)
def test_unit_verifies_without_a_single_warning(unit, unit_dir):
    assert verify(runnable_copy(unit, unit_dir)) == []


def test_verify_does_report_a_mistyped_setting(unit_dir):
    """Guards the test above: a typo in a unit must show up as output."""
    text = (SYSTEMD / "heelraise.service").read_text().replace(
        "NoNewPrivileges=yes", "NoNewPrivilege=yes")
    lines = verify(runnable_copy("heelraise.service", unit_dir, text))
    assert any("NoNewPrivilege" in line for line in lines), lines


@pytest.mark.parametrize("unit", UNITS)
def test_unit_exposure_is_at_most_2_5(unit, unit_dir):
    result = analyze(unit_dir, "security", "--offline=true", "--no-pager",
                     f"--threshold={round(MAX_EXPOSURE * 10)}",
                     str(runnable_copy(unit, unit_dir)))
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, f"no exposure figure in: {result.stdout[-500:]}{result.stderr[-500:]}"
    exposure = float(found.group(1))
    print(f"{unit}: overall exposure {exposure}")
    assert exposure <= MAX_EXPOSURE
    assert result.returncode == 0, result.stderr


def settings(unit: str) -> dict[str, list[str]]:
    """The unit's [Service] settings; repeated keys keep every value in order."""
    values: dict[str, list[str]] = {}
    section = None
    text = (SYSTEMD / unit).read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = " ".join(line.split())
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values.setdefault(key, []).append(value)
    return values


def test_service_reaches_only_the_i2c_bus_and_gpio_chips():
    """The IMU and the LED need /dev/i2c-* and /dev/gpiochip*, and nothing else.

    A private /dev would hide both, so the unit keeps the host's /dev and closes
    every device but those through the device cgroup.
    """
    service = settings("heelraise.service")
    assert service.get("PrivateDevices", ["no"]) == ["no"]
    assert service["DevicePolicy"] == ["closed"]
    assert sorted(service["DeviceAllow"]) == ["char-gpiochip rw", "char-i2c rw"]
    assert service["SupplementaryGroups"] == ["i2c gpio"]
    log = settings("heelraise-log.service")
    assert log["PrivateDevices"] == ["yes"]
    assert "DeviceAllow" not in log and "SupplementaryGroups" not in log


def test_lgpio_fifo_directory_is_writable_under_protect_system_strict():
    """lgpio makes its notification FIFOs in $LG_WD, else the working directory.

    Anywhere read-only and gpiozero silently falls back from lgpio: no LED.
    """
    service = settings("heelraise.service")
    assert service["ProtectSystem"] == ["strict"]
    writable = [f"/run/{name}" for name in service.get("RuntimeDirectory", [])]
    writable += [f"/var/lib/{name}" for name in service.get("StateDirectory", [])]
    assert service["WorkingDirectory"][0] in writable
    environment = dict(item.split("=", 1) for item in service.get("Environment", []))
    assert environment.get("LG_WD", service["WorkingDirectory"][0]) in writable


def test_example_config_is_valid_and_reads_the_password_systemd_provides():
    """install-pi copies this file to /etc/heelraise; the service must accept it as is."""
    config = load_config(SYSTEMD / "heelraise.example.toml")
    credential = settings("heelraise.service")["LoadCredential"][0]
    name = credential.split(":", 1)[0]
    assert config.broker.password_file == f"/run/credentials/heelraise.service/{name}"
    assert config.broker.username == config.device    # each device logs in as itself
    assert config.broker.start_local == "never"
    args = command_line("heelraise.service")
    assert (args.command, args.config) == ("run", "/etc/heelraise/heelraise.toml")


def test_log_logs_in_as_itself_with_the_password_systemd_provides():
    name = settings("heelraise-log.service")["LoadCredential"][0].split(":", 1)[0]
    args = command_line("heelraise-log.service")
    assert (args.command, args.config) == ("log", "/etc/heelraise/heelraise.toml")
    assert args.username == "heelraise-log"
    assert args.password_file == f"/run/credentials/heelraise-log.service/{name}"


def test_log_serves_the_page_with_the_read_only_dashboard_login():
    """The page's config.json is public: it gets the dashboard login, never the log's own."""
    credentials = dict(value.split(":", 1)
                       for value in settings("heelraise-log.service")["LoadCredential"])
    assert credentials["dashboard-password"] == "/etc/heelraise/credentials/dashboard"
    assert credentials["mqtt-password"] == "/etc/heelraise/credentials/heelraise-log"
    args = command_line("heelraise-log.service")
    assert (args.http, args.http_host, str(args.dist)) == (8080, "0.0.0.0",
                                                          "/opt/heelraise/dashboard/dist")
    assert args.dashboard_username == "dashboard"
    assert args.dashboard_password_file == (
        "/run/credentials/heelraise-log.service/dashboard-password")
    acl = (SYSTEMD / "mosquitto" / "heelraise.acl").read_text()
    dashboard_rules = acl.split("user dashboard\n", 1)[1].split("\n\n", 1)[0]
    assert dashboard_rules.splitlines() == ["topic deny heelraise/dashboard/#",
                                            "topic read heelraise/#"]


def command_line(unit: str):
    """The unit's ExecStart as the ``heelraise`` command parses it (it must accept it)."""
    from pi_service.cli import build_parser

    binary, *argv = settings(unit)["ExecStart"][0].split()
    assert binary == INSTALLED_BINARY
    return build_parser().parse_args(argv)


# Everything install-pi may use to change the machine; in a dry run none may be called.
MUTATING = ("apt-get", "groupadd", "useradd", "usermod", "install", "python3", "cp", "chmod",
            "mv", "mkdir", "ln", "mosquitto_passwd", "systemctl", "sed", "tee")


def test_install_pi_dry_run_plans_the_install_and_changes_nothing(tmp_path):
    calls = tmp_path / "calls"
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for name in MUTATING:
        stub = stubs / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> {calls}\nexit 1\n')
        stub.chmod(0o755)
    env = dict(os.environ, PATH=f"{stubs}:/usr/sbin:/usr/bin:/sbin:/bin")
    result = subprocess.run([str(ROOT / "scripts" / "install-pi"), "--dry-run"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert not calls.exists(), f"a dry run ran: {calls.read_text()}"
    planned = [line[2:].split() for line in result.stdout.splitlines() if line.startswith("+ ")]
    assert ["/opt/heelraise/.venv/bin/pip", "install", "--quiet", "--disable-pip-version-check",
            "--upgrade", str(ROOT)] in planned
    assert ["systemctl", "enable", "mosquitto.service", *UNITS] in planned
    assert ["systemctl", "restart", *UNITS] in planned


# Linux >= 6.3 lets a process refuse writable+executable memory for itself
# (prctl PR_SET_MDWE): the same rule MemoryDenyWriteExecute= enforces with seccomp.
UNDER_WX_REFUSAL = """
import ctypes, mmap, sys
if ctypes.CDLL(None).prctl(65, 1, 0, 0, 0) != 0:   # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    sys.exit(77)
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    sys.exit("a writable and executable mapping was allowed")
except OSError:
    pass
import paho.mqtt.client, sqlite3
from pi_service.cli import build_parser
from pi_service.pipeline import analyze
from pi_service.sources.simulator import simulate
from pi_service.stages import load_stage
build_parser()
print(len(analyze(simulate(2, 1, n_sets=1).block, load_stage(2)).reps))
"""


def test_service_code_runs_where_memory_may_not_be_writable_and_executable():
    """Both units set MemoryDenyWriteExecute=yes; numpy, scipy and the pipeline must cope."""
    assert all(settings(unit)["MemoryDenyWriteExecute"] == ["yes"] for unit in UNITS)
    result = subprocess.run([sys.executable, "-c", UNDER_WX_REFUSAL], capture_output=True,
                            text=True, timeout=120, cwd=ROOT)
    if result.returncode == 77:
        pytest.skip("this kernel has no PR_SET_MDWE (Linux < 6.3)")
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.split()[-1]) > 0, "the pipeline found no reps"


# Applies the units' system call filter to itself, then runs the command: what systemd
# does with SystemCallFilter= and SystemCallErrorNumber=, with NoNewPrivileges= and
# MemoryDenyWriteExecute= (PR_SET_MDWE) on top. Debian's python3-seccomp, not the venv's.
SECCOMP_JAIL = """
import ctypes, errno, os, subprocess, sys
import seccomp

def expand(group):
    listing = subprocess.run(["systemd-analyze", "syscall-filter", group],
                             capture_output=True, text=True, check=True).stdout
    calls = set()
    for line in listing.splitlines()[1:]:
        line = line.strip()
        if line and not line.startswith("#"):
            calls |= expand(line) if line.startswith("@") else {line}
    return calls

allow, deny, command = sys.argv[1].split(), sys.argv[2].split(), sys.argv[3:]
calls = set().union(*map(expand, allow)) - set().union(set(), *map(expand, deny))
jail = seccomp.SyscallFilter(defaction=seccomp.ERRNO(errno.EPERM))
for call in calls:
    try:
        jail.add_rule(seccomp.ALLOW, call)
    except (RuntimeError, ValueError):
        pass  # not a system call on this architecture
libc = ctypes.CDLL(None)
assert libc.prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS
if libc.prctl(65, 1, 0, 0, 0) != 0:     # PR_SET_MDWE (Linux >= 6.3)
    print("no PR_SET_MDWE on this kernel", file=sys.stderr)
jail.load()
os.execv(command[0], command)
"""


def system_call_filter(unit: str) -> tuple[str, str]:
    """The unit's allowed and denied groups, e.g. ("@system-service", "@privileged ...")."""
    allow, deny = [], []
    for value in settings(unit)["SystemCallFilter"]:
        (deny if value.startswith("~") else allow).append(value.lstrip("~"))
    assert settings(unit)["SystemCallErrorNumber"] == ["EPERM"]
    return " ".join(allow), " ".join(deny)


def jailed(unit: str, *argv: str, tmp_path: Path) -> subprocess.Popen:
    env = dict(os.environ, STATE_DIRECTORY=str(tmp_path), PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        ["/usr/bin/python3", "-c", SECCOMP_JAIL, *system_call_filter(unit),
         str(Path(sys.executable).with_name("heelraise")), *argv],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.skipif(
    subprocess.run(["/usr/bin/python3", "-c", "import seccomp"], capture_output=True).returncode,
    reason="Debian's python3-seccomp is not installed")
def test_service_and_log_work_inside_the_units_system_call_filter(broker, tmp_path):
    """The coach publishes reps and the log republishes aggregates (and serves the
    dashboard page), each seccomp-confined.

    Each stops cleanly on SIGTERM, as systemd stops them.
    """
    import paho.mqtt.client as mqtt

    seen: list[str] = []
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    watcher.on_message = lambda client, userdata, message: seen.append(message.topic)
    watcher.connect(broker.host, broker.port)
    watcher.subscribe("heelraise/#")
    watcher.loop_start()
    where = ["--host", broker.host, "--port", str(broker.port)]
    page = tmp_path / "dist"
    page.mkdir()
    (page / "index.html").write_text("<!doctype html>")
    log = jailed("heelraise-log.service", "log", *where, "--db", str(tmp_path / "log.sqlite3"),
                 "--http", "0", "--http-host", "127.0.0.1", "--dist", str(page),
                 tmp_path=tmp_path)
    service = jailed("heelraise.service", "run", *where, "--source", "simulator",
                     "--speed", "50", "--device", "jail", "--quiet", tmp_path=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while not {"heelraise/jail/rep", "heelraise/log/jail/today"} <= set(seen):
            assert service.poll() is None and log.poll() is None, "a jailed process died"
            assert time.monotonic() < deadline, f"nothing published; saw {sorted(set(seen))}"
            time.sleep(0.1)
    finally:
        for process in (service, log):
            process.terminate()
        outputs = [process.communicate(timeout=30)[0] for process in (service, log)]
        watcher.loop_stop()
        watcher.disconnect()
    assert (service.returncode, log.returncode) == (0, 0), "\n".join(outputs)[-3000:]
    assert "Operation not permitted" not in "\n".join(outputs)
    assert "dashboard on http://127.0.0.1:" in outputs[1], outputs[1][-3000:]
