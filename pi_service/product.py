"""``heelraise start``: the whole product in one command, on a machine with nothing running.

It starts, in one process and for as long as it runs: a private Mosquitto (TCP and
WebSockets on free ports, a login each for the service, the log, the read-only page
and the rating person, under the deployed ACL), the service (the wired IMU when one
answers on the I2C bus, else the simulated person, labelled as such), the training log
and the dashboard's page server. It prints the page's address (on loopback; with
``--lan``, on the LAN behind the broker's logins, with a QR code for a phone), shows
each rep with its verdict, a terminal LED and where the set stands, and at the end the
session's summary and the coaching advice.

A simulated person gets a log and an outbox of their own in a temporary folder, thrown
away at the end: nothing simulated reaches the person's log. Ctrl-C (or SIGTERM/SIGHUP)
closes the open set, lets the log store it, and stops everything it started; the
broker dies with this process even on SIGKILL (:mod:`.broker`).

When the systemd units already run the product (``scripts/install-pi``), it starts
nothing: it says so, where their dashboard is, and follows their reps live.
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from contextlib import ExitStack
from datetime import date
from pathlib import Path

from . import arguments
from .errors import HeelRaiseError

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
ACLS = (ROOT / "systemd" / "mosquitto" / "heelraise.acl", Path("/etc/mosquitto/heelraise.acl"))
UNITS = ("heelraise.service", "heelraise-log.service")
SYSTEM_CONFIG = Path("/etc/heelraise/heelraise.toml")
SYSTEM_CREDENTIALS = Path("/etc/heelraise/credentials")
SYSTEM_DASHBOARD_PORT = 8080


def configure_start(parser: argparse.ArgumentParser) -> None:
    arguments.configure_sensor(parser)
    parser.add_argument("--device", help="device name in the MQTT topics (default heelraise)")
    parser.add_argument("--stage", type=arguments.whole(1, 99), help="rehab stage 1-4")
    parser.add_argument("--http", type=arguments.whole(0, 65535), default=8080, metavar="PORT",
                        help="the dashboard's port (default %(default)s; 0: any free port)")
    parser.add_argument("--lan", action="store_true",
                        help="serve the dashboard on the LAN (every page then needs a login, "
                             "which is printed) and show a QR code of its address")
    parser.add_argument("--db", type=Path, metavar="PATH",
                        help="the person's training log (default: $HEELRAISE_DB, else "
                             "log.sqlite3 in ~/.local/share/heelraise); a simulated person "
                             "always gets a temporary one")


def run_start(args: argparse.Namespace) -> int:
    running = running_units()
    if running:
        return follow_running(running)
    return start(args)


# --------------------------------------------------------------------------- already running


def running_units() -> list[str]:
    """The product's systemd units that are active on this machine (none without systemd)."""
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        return []
    try:
        result = subprocess.run([systemctl, "is-active", *UNITS], capture_output=True,
                                text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    states = result.stdout.split()
    return [unit for unit, state in zip(UNITS, states, strict=False) if state == "active"]


def follow_running(units: list[str]) -> int:
    """Say that the product runs already, where, and show its reps as they come."""
    from .config import load_config

    config = load_config(SYSTEM_CONFIG if SYSTEM_CONFIG.is_file() else None)
    host = socket.gethostname()
    print(f"The coach already runs here as system services ({', '.join(units)}): nothing "
          "new is started.\n"
          f"  dashboard: http://{host}.local:{SYSTEM_DASHBOARD_PORT}/ (log in as 'rating', "
          f"password in {SYSTEM_CREDENTIALS}/rating)\n"
          f"  its journal: journalctl -u heelraise -f", flush=True)
    try:
        password = (SYSTEM_CREDENTIALS / "dashboard").read_text().strip()
    except OSError:
        print(f"(run as root to follow its reps here: the read-only login is in "
              f"{SYSTEM_CREDENTIALS}/dashboard)")
        return 0
    print("Following its reps; Ctrl-C stops following (the coach goes on).", flush=True)
    try:
        follow(config.broker.host, config.broker.port, "dashboard", password)
    except KeyboardInterrupt:
        pass
    return 0


def rep_line(rep: dict) -> str:
    """A rep from the rep topic as one line, in the words the live console uses."""
    from .console import VERDICT_TEXT

    def s(key: str) -> str:
        value = rep.get(key)
        return "  ? s" if value is None else f"{value:4.1f}s"
    verdict = rep.get("verdict", "")
    return (f"{rep.get('device', '?')}: rep {rep.get('index', '?'):>3} of set "
            f"{rep.get('set_index', '?')}  up {s('up_s')}  hold {s('hold_s')}  down "
            f"{s('down_s')}  {VERDICT_TEXT.get(verdict, verdict.replace('_', ' '))}")


def follow(host: str, port: int, username: str, password: str,
           stop: threading.Event | None = None) -> None:
    """Print every device's reps and sets from the broker until ``stop`` (or Ctrl-C)."""
    from .discover import connected

    def on_message(client, userdata, msg) -> None:
        try:
            body = json.loads(msg.payload)
        except ValueError:
            return
        if msg.topic.endswith("/rep"):
            print(rep_line(body), flush=True)
        else:
            print(f"{body.get('device', '?')}: == set {body.get('index', '?')}: "
                  f"{body.get('reps', '?')} reps", flush=True)

    def on_connect(client, *args) -> None:
        client.subscribe([("heelraise/+/rep", 1), ("heelraise/+/set", 1)])

    with connected(host, port, username, password, on_connect=on_connect,
                   on_message=on_message):
        (stop or threading.Event()).wait()


# --------------------------------------------------------------------------- starting


def _acl() -> Path:
    for path in ACLS:
        if path.is_file():
            return path
    raise HeelRaiseError("no broker ACL found (systemd/mosquitto/heelraise.acl of the "
                         "checkout, or /etc/mosquitto/heelraise.acl)")


def lan_address() -> str:
    """This machine's address on the LAN, as a phone would reach it (else its .local name)."""
    ip = shutil.which("ip")
    if ip is not None:
        try:
            out = subprocess.run([ip, "-j", "-4", "addr", "show", "scope", "global"],
                                 capture_output=True, text=True, timeout=5).stdout
            for link in json.loads(out or "[]"):
                for addr in link.get("addr_info", []):
                    if addr.get("local"):
                        return addr["local"]
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass
    return f"{socket.gethostname()}.local"


def start(args: argparse.Namespace) -> int:
    """Start the broker, the log, the page and the service; run until Ctrl-C; summarise."""
    from .broker import LocalBroker, free_port
    from .config import default_state_dir
    from .console import SessionConsole, TerminalLED
    from .feedback import Feedback, FeedbackConfig, open_feedback
    from .log.commands import default_db_path
    from .log.gate import BrokerGate
    from .log.progression import evaluate, load_history, load_rules
    from .log.store import Store
    from .log.subscriber import LogSubscriber
    from .log.web import DashboardServer, page_config
    from .service import config_from_args, open_source, serve
    from .stages import load_protocol, load_stage

    config = config_from_args(args)
    stage = load_stage(config.stage, config.stages_file)
    protocol = load_protocol(config.stages_file)
    if not args.verbose:      # the console says what matters; the parts' chatter would bury it
        logging.getLogger("pi_service").setLevel(logging.ERROR)
    device = config.device
    logins = {name: secrets.token_urlsafe(18)
              for name in (device, "heelraise-log", "dashboard", "rating")}
    with ExitStack() as stack:
        broker = stack.enter_context(LocalBroker(
            websockets_port=free_port(), logins=logins, acl_file=_acl(),
            websockets_host="0.0.0.0" if args.lan else "127.0.0.1"))
        b = config.broker
        b.host, b.port, b.username, b.password = broker.host, broker.port, device, logins[device]
        b.password_file, b.start_local, b.confirm, b.enabled = None, "never", "log", True
        source = open_source(config)
        simulated = source[1] == "simulator"
        if simulated:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(
                prefix="heelraise-simulated-")))
            config.state_dir, db = str(folder), folder / "log.sqlite3"
        else:
            config.state_dir = config.state_dir or str(default_state_dir())
            db = args.db or default_db_path()
        store = stack.enter_context(Store(db, simulated_person=simulated))
        logger = stack.enter_context(LogSubscriber(
            store, host=broker.host, port=broker.port, username="heelraise-log",
            password=logins["heelraise-log"], protocol=protocol, discovery=False,
            client_id=f"heelraise-log-{secrets.token_hex(4)}"))
        if not logger.wait_subscribed(10):
            raise HeelRaiseError("the training log could not subscribe to its broker")
        server = stack.enter_context(DashboardServer(
            page_config(device, ws_port=broker.websockets_port, username="dashboard",
                        password=logins["dashboard"], protocol=protocol),
            gate=BrokerGate(broker.host, broker.port),
            host="0.0.0.0" if args.lan else "127.0.0.1", port=args.http,
            local_login=None if args.lan else ("rating", logins["rating"])))
        _banner(args, server, device, source[1], simulated, db, logins["rating"])
        console = SessionConsole(stage)
        feedback = open_feedback(FeedbackConfig.from_dict(config.feedback, config.path), stage,
                                 hold_stage=load_stage(1, config.stages_file))
        if not feedback.enabled:     # no GPIO here: the same patterns on a terminal LED
            led = TerminalLED(console)
            feedback = Feedback(FeedbackConfig.from_dict(led.config, "<terminal LED>"), stage,
                                led.factory, hold_stage=load_stage(1, config.stages_file))
        stopped = serve(config, console, source=source, feedback=feedback, confirm_s=10)
        logger.flush()
        console.summary()
        progress = evaluate(load_history(store), date.today(), protocol=protocol,
                            rules=load_rules(), insertional=config.insertional)
        print("\n" + progress.to_text(), flush=True)
        if not stopped:           # the recording or the simulated session came to its end
            print(f"\nThe session is over; the dashboard stays at {server.url} until "
                  "Ctrl-C.", flush=True)
            wait_for_stop()
    print("stopped: broker, log, dashboard and coach" +
          (", and the simulated person's log is gone" if simulated else ""), flush=True)
    return 0


def wait_for_stop() -> None:
    """Block until SIGINT, SIGTERM or SIGHUP (Ctrl-C, systemd, a closed terminal)."""
    import signal

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass


def _banner(args: argparse.Namespace, server, device: str, source: str, simulated: bool,
            db: Path, rating_password: str) -> None:
    who = ("No IMU answered on the I2C bus: a SIMULATED person trains. Their log is their "
           f"own ({db}) and goes when you stop; nothing reaches yours."
           if simulated else f"Sensor: {source}. Training log: {db}")
    lines = [f"heel-raise coach: device {device}", who]
    if args.lan:
        url = f"http://{lan_address()}:{server.port}/"
        from .qr import terminal_qr

        lines += [f"Dashboard on the LAN: {url}",
                  f"  log in as 'rating', password {rating_password}", terminal_qr(url)]
    else:
        lines.append(f"Dashboard: {server.url}")
    lines.append("Ctrl-C stops everything.")
    print("\n".join(lines), flush=True)
    sys.stdout.flush()
