"""A private Mosquitto on loopback, for when there is no broker to talk to.

``heelraise run`` starts one when the configured broker is local and nothing is
listening (a fresh machine running the demo), and the tests start one per test
session so they talk to a real broker over TCP and WebSockets. It is Debian's
``mosquitto`` binary with a generated config; nothing here speaks MQTT.

The broker lives exactly as long as whoever started it: the kernel kills it when
its parent dies, even by SIGKILL (``PR_SET_PDEATHSIG``), and a folder left by a
parent that was killed is removed by the next LocalBroker, so a later start finds
no stale broker and no stale folder.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .errors import HeelRaiseError

log = logging.getLogger(__name__)

_SEARCH = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
_PREFIX = "heelraise-broker-"
_OWNER = "owner"   # in each broker folder: "<pid> <start time>" of the process that made it
_PR_SET_PDEATHSIG = 1


class BrokerError(HeelRaiseError, RuntimeError):
    """The local broker could not be started."""


def find_mosquitto() -> str:
    """Path to the mosquitto binary, or a BrokerError saying how to install it."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for path in _SEARCH:
        if Path(path).exists():
            return path
    raise BrokerError("mosquitto is not installed (Debian: apt-get install mosquitto)")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_open(host: str, port: int, timeout_s: float = 0.2) -> bool:
    """True when something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _started_at(pid: int) -> str | None:
    """A process's start time (clock ticks since boot), to tell it from a later namesake."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def remove_stale_folders(root: Path | None = None) -> list[Path]:
    """Delete broker folders whose owner is dead (it was killed); the ones removed."""
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(_PREFIX + "*"):
        try:
            pid, started = (folder / _OWNER).read_text().split()
        except (OSError, ValueError):
            continue            # not ours to judge (an older version's, or half made)
        if _started_at(int(pid)) != started:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _die_with(parent: int) -> None:
    """In the broker's process, before exec: be killed when ``parent`` dies, however."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:       # it died before the line above took effect
        os._exit(1)


class LocalBroker:
    """Mosquitto on 127.0.0.1, started and stopped by us.

    The ports are chosen once and kept across :meth:`stop`/:meth:`start`, so a
    test can take the broker away and bring it back where clients expect it.
    ``extra_config`` is appended to the generated config (passwords, ACLs);
    ``config_text`` replaces it whole (a shipped config, its listeners rewritten
    to ``port`` and ``websockets_port``). ``logins`` (name -> password) are hashed into
    a password file of the broker's own, and ``acl_file`` says who may do what; then
    nobody is anonymous. ``websockets_host`` is where the WebSockets listener binds
    (a phone on the LAN needs ``0.0.0.0``; plain MQTT stays on ``host``).
    """

    def __init__(
        self,
        port: int = 0,
        websockets_port: int | None = None,
        extra_config: str = "",
        allow_anonymous: bool = True,
        persistence: bool = False,
        host: str = "127.0.0.1",
        config_text: str | None = None,
        logins: dict[str, str] | None = None,
        acl_file: str | Path | None = None,
        websockets_host: str | None = None,
    ) -> None:
        self.host = host
        self.websockets_host = websockets_host or host
        self.port = port or free_port(host)
        self.websockets_port = websockets_port
        self._extra = extra_config
        self._anonymous = allow_anonymous
        self._persistence = persistence
        self._config_text = config_text
        for stale in remove_stale_folders():
            log.info("removed %s, left by a killed run", stale)
        self._dir = Path(tempfile.mkdtemp(prefix=_PREFIX))
        me = os.getpid()
        (self._dir / _OWNER).write_text(f"{me} {_started_at(me)}\n")
        if logins:
            self._anonymous = False
            self._extra += f"password_file {self._password_file(logins)}\n"
        if acl_file is not None:
            self._extra += f"acl_file {acl_file}\n"
        self._proc: subprocess.Popen | None = None

    def _password_file(self, logins: dict[str, str]) -> Path:
        """``logins`` hashed by mosquitto_passwd (``-U`` in place: no password on a command
        line, where ``ps`` would show it)."""
        path = self._dir / "passwd"
        path.write_text("".join(f"{user}:{password}\n" for user, password in logins.items()))
        path.chmod(0o600)
        passwd = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
        try:
            subprocess.run([passwd, "-U", str(path)], check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise BrokerError(f"cannot hash the broker's logins with {passwd}: {exc}") from None
        return path

    @property
    def config_path(self) -> Path:
        return self._dir / "mosquitto.conf"

    def _config(self) -> str:
        lines = [
            # as root, mosquitto drops to the "mosquitto" user, who cannot write our dir
            *(["user root"] if os.geteuid() == 0 else []),
            f"persistence {'true' if self._persistence else 'false'}",
            f"persistence_location {self._dir}/",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            f"allow_anonymous {'true' if self._anonymous else 'false'}",
            "per_listener_settings false",
            f"listener {self.port} {self.host}",
        ]
        if self.websockets_port is not None:
            lines += [f"listener {self.websockets_port} {self.websockets_host}",
                      "protocol websockets"]
        return "\n".join(lines) + "\n" + self._extra + "\n"

    def start(self, timeout_s: float = 10.0) -> LocalBroker:
        if self.running:
            return self
        self.config_path.write_text(self._config_text or self._config())
        parent = os.getpid()
        # The death signal follows the thread that started the broker: start it from the
        # main thread (the service and the tests do).
        self._proc = subprocess.Popen(
            [find_mosquitto(), "-c", str(self.config_path)],
            stdout=subprocess.DEVNULL,
            stderr=open(self._dir / "mosquitto.log", "ab"),  # noqa: SIM115 - lives with the process
            preexec_fn=lambda: _die_with(parent),
            # Its own session: Ctrl-C in a terminal reaches the owner alone, which then
            # sends its last sets through the broker before stopping it.
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrokerError(f"mosquitto exited at start: {self.log_tail()}")
            if port_open(self.host, self.port) and (
                    self.websockets_port is None or port_open(
                        "127.0.0.1" if self.websockets_host == "0.0.0.0" else
                        self.websockets_host, self.websockets_port)):
                log.info("local broker on %s:%d", self.host, self.port)
                return self
            time.sleep(0.02)
        self.stop()
        raise BrokerError(f"mosquitto did not listen on {self.host}:{self.port}")

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL); idempotent."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """Take the broker away abruptly, as a crash or power cut would."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait()

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs (tests freeze it with SIGSTOP)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 5) -> str:
        path = self._dir / "mosquitto.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return " | ".join(text.strip().splitlines()[-lines:])

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
