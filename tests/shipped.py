"""Debian's Mosquitto on the shipped config (systemd/mosquitto/heelraise.conf), for tests
and benches: only its ports and file paths rewritten, the shipped ACL, and a password
file made with mosquitto_passwd as scripts/install-pi makes it.

Persistence, autosave, queue and size limits are the shipped ones, so a test that kills
this broker sees what a Pi's broker would lose.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pi_service.broker import LocalBroker, free_port

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "systemd" / "mosquitto" / "heelraise.conf"
ACL = ROOT / "systemd" / "mosquitto" / "heelraise.acl"


def rewrite_config(text: str, port: int, ws_port: int, paths: dict[str, Path],
                   state: Path) -> str:
    """The shipped config with the two ports and the file paths replaced, nothing else.

    Every rewrite must apply exactly once, so a reshaped config fails here loudly
    instead of being tested half-rewritten. Debian's own mosquitto.conf, which
    includes the snippet, sets where persistence lives: here it is ``state``.
    """
    rules = [
        (r"^listener 1883 127\.0\.0\.1$", f"listener {port} 127.0.0.1"),
        (r"^listener 9001$", f"listener {ws_port}"),
    ] + [(rf"^{key} \S+$", f"{key} {path}") for key, path in paths.items()]
    for pattern, replacement in rules:
        text, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
        assert count == 1, f"{CONF.name}: expected one line matching {pattern!r}"
    # as root, mosquitto would drop to its own user, who cannot write the test's state
    head = "user root\n" if os.geteuid() == 0 else ""
    return f"{head}persistence_location {state}/\nlog_dest stderr\n{text}"


@dataclass
class ShippedBroker:
    broker: LocalBroker
    passwords: dict[str, str]
    dashboard_dir: Path

    @property
    def port(self) -> int:
        return self.broker.port

    @property
    def ws_port(self) -> int:
        return self.broker.websockets_port  # type: ignore[return-value]


@contextmanager
def shipped_broker(users: tuple[str, ...]) -> Iterator[ShippedBroker]:
    """The shipped broker with a random password for each of ``users``."""
    # mosquitto drops root for its own user before it reads the password and ACL
    # files, so they live in a directory that user can read (as on the Pi, where
    # install-pi makes the password file root:mosquitto 0640).
    workdir = Path(tempfile.mkdtemp(prefix="heelraise-shipped-"))
    workdir.chmod(0o755)
    dashboard_dir = workdir / "dist"
    dashboard_dir.mkdir()
    (dashboard_dir / "index.html").write_text("<title>heel-raise dashboard</title>\n")
    state = workdir / "state"
    state.mkdir()
    passwd = workdir / "heelraise.passwd"
    passwords = {user: secrets.token_urlsafe(24) for user in users}
    passwd.write_text("".join(f"{user}:{password}\n" for user, password in passwords.items()))
    subprocess.run(["mosquitto_passwd", "-U", str(passwd)], check=True, capture_output=True)
    acl = workdir / "heelraise.acl"
    shutil.copyfile(ACL, acl)
    for path in (passwd, acl):
        path.chmod(0o644)
    port = ws_port = free_port()
    while ws_port == port:
        ws_port = free_port()
    config = rewrite_config(
        CONF.read_text(), port, ws_port,
        {"password_file": passwd, "acl_file": acl, "http_dir": dashboard_dir}, state)
    try:
        with LocalBroker(port=port, websockets_port=ws_port, config_text=config) as broker:
            yield ShippedBroker(broker, passwords, dashboard_dir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def shipped_setting(name: str) -> str:
    """The value of one directive in the shipped config."""
    match = re.search(rf"^{name} (\S+)$", CONF.read_text(), flags=re.MULTILINE)
    assert match, f"{CONF.name} sets no {name}"
    return match.group(1)
