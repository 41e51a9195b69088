"""The log's ``heelraise`` subcommands: log, progress, pain, stiffness, export.

Each is a ``configure_<name>(parser)`` / ``run_<name>(args) -> int`` pair that
``pi_service.cli`` registers. Errors a person can cause raise
:class:`~pi_service.errors.HeelRaiseError` subclasses, printed as one line there.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError, HeelRaiseError, InputError

if TYPE_CHECKING:
    from ..config import ServiceConfig
    from ..protocol import Protocol
    from .store import Store
    from .web import DashboardServer

log = logging.getLogger(__name__)


def default_db_path() -> Path:
    """$HEELRAISE_DB, else log.sqlite3 in the state directory (systemd's, or the user's)."""
    from ..config import default_state_dir

    env = os.environ.get("HEELRAISE_DB")
    return Path(env) if env else default_state_dir() / "log.sqlite3"


# --------------------------------------------------------------------------- arguments


def _rating(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 <= number <= 10:
        raise argparse.ArgumentTypeError(f"must be 0 to 10, got {value}")
    return number


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {value!r}") from None


def _db_arg(parser: argparse.ArgumentParser, help_text: str | None = None) -> None:
    parser.add_argument("--db", type=Path, metavar="PATH",
                        help=help_text or "log database (default: $HEELRAISE_DB, else "
                                          "log.sqlite3 in $STATE_DIRECTORY or "
                                          "~/.local/share/heelraise)")


def _broker_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("broker (default: from --config, else 127.0.0.1:1883)")
    g.add_argument("--host", help="MQTT broker host")
    g.add_argument("--port", type=int, help="MQTT broker port")
    g.add_argument("--username", help="MQTT user name")
    g.add_argument("--password", help="MQTT password (prefer --password-file)")
    g.add_argument("--password-file", metavar="FILE", help="file holding the MQTT password")


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="TOML",
                        help="the service's config (device, broker, insertional flag)")


def _coaching_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--insertional", action="store_true",
                        help="insertional tendinopathy: flag heel drops below step level "
                             "(also `insertional = true` in the config)")
    parser.add_argument("--stages-file", metavar="TOML", help="protocol (default: packaged)")
    parser.add_argument("--rules-file", metavar="TOML",
                        help="progression rules (default: packaged progression.toml)")


def _config(args: argparse.Namespace) -> ServiceConfig:
    from ..config import load_config

    return load_config(args.config)


def _insertional(args: argparse.Namespace, config: ServiceConfig) -> bool:
    """The person's insertional flag: the command line, else the config's setting."""
    return args.insertional or config.insertional


def _broker(args: argparse.Namespace, config: ServiceConfig) -> dict:
    """Broker settings: command line over the config file over the defaults."""
    b = config.broker
    password = args.password if args.password is not None else b.password
    password_file = args.password_file or b.password_file
    if password_file and args.password is None:
        from .web import read_password

        password = read_password(password_file)
    return {"host": args.host or b.host, "port": args.port or b.port,
            "username": args.username if args.username is not None else b.username,
            "password": password, "device": config.device}


def _open_store(args: argparse.Namespace, must_exist: bool):
    from .store import Store

    path = args.db or default_db_path()
    if must_exist and not Path(path).exists():
        raise InputError(path, "no training log here yet (run `heelraise log`, or pass --db)")
    return Store(path)


def _pick_device(store: Store, wanted: str | None) -> str:
    if wanted:
        return wanted
    devices = store.devices()
    if len(devices) == 1:
        return devices[0]
    if not devices:
        raise InputError(store.path, "no sets logged yet")
    raise InputError(store.path, f"several devices logged ({', '.join(devices)}); "
                                 "choose one with --device")


# --------------------------------------------------------------------------- log


def configure_log(parser: argparse.ArgumentParser) -> None:
    _db_arg(parser)
    _config_arg(parser)
    _broker_args(parser)
    _coaching_args(parser)
    parser.add_argument("--client-id", default=None,
                        help="MQTT client id; keep it fixed so the broker keeps the session "
                             "(default heelraise-log)")
    parser.add_argument("--no-discovery", action="store_true",
                        help="do not publish Home Assistant discovery configs")
    parser.add_argument("--discovery-prefix", default="homeassistant",
                        help="Home Assistant discovery prefix (default %(default)s)")
    g = parser.add_argument_group(
        "dashboard web page (the page, its config and pain/stiffness entry into this log)")
    g.add_argument("--http", type=int, metavar="PORT",
                   help="serve the dashboard on this port (e.g. 8080; default: no page)")
    g.add_argument("--http-host", default="127.0.0.1", metavar="HOST",
                   help="address to serve it on (default: loopback; 0.0.0.0 lets a phone on "
                        "the LAN open it, and every page then needs a broker login)")
    g.add_argument("--dist", type=Path, metavar="DIR",
                   help="the built page (default: dashboard/dist of this checkout)")
    g.add_argument("--ws-port", type=int, metavar="PORT",
                   help="the broker's WebSockets port the page reads from (default 9001)")
    g.add_argument("--ws-url", help="the broker's WebSockets URL, when not ws://<page host>:PORT")
    g.add_argument("--dashboard-username", default="dashboard", metavar="LOGIN",
                   help="the broker's READ-ONLY login the page uses (default %(default)s)")
    g.add_argument("--dashboard-password-file", metavar="FILE",
                   help="file holding that login's password (without it the page takes its "
                        "login from its address, ?user=...&password=...)")


def _dashboard(args: argparse.Namespace, broker: dict, protocol: Protocol) -> DashboardServer:
    """The web page's server; ratings entered there reach this log over MQTT.

    Everyone who can open the page can read its config, so it only ever gets the
    read-only dashboard login, never the log's own (which can publish). A rating is
    published as the person's own login, which the broker checks.
    """
    from .gate import BrokerGate
    from .web import DEFAULT_DIST, DEFAULT_WS_PORT, DashboardServer, page_config, read_password

    password = None
    if args.dashboard_password_file:
        password = read_password(args.dashboard_password_file)
        if broker["password"] is not None and password == broker["password"]:
            raise ConfigError(args.dashboard_password_file,
                              "is the log's own MQTT password; the page must get the "
                              "read-only dashboard login's")
    if broker["username"] is not None and args.dashboard_username == broker["username"]:
        raise HeelRaiseError(f"--dashboard-username {args.dashboard_username!r} is the log's "
                             "own login; the page must get the read-only dashboard login")
    device = broker["device"]
    config = page_config(device, ws_url=args.ws_url, ws_port=args.ws_port or DEFAULT_WS_PORT,
                         username=args.dashboard_username if password is not None else None,
                         password=password, protocol=protocol)
    return DashboardServer(config, dist_dir=args.dist or DEFAULT_DIST,
                           gate=BrokerGate(broker["host"], broker["port"]),
                           host=args.http_host, port=args.http)


def run_log(args: argparse.Namespace) -> int:
    """Run the logger (and with ``--http`` the dashboard page) until SIGTERM or Ctrl-C."""
    from ..stages import load_protocol
    from .progression import load_rules
    from .subscriber import CLIENT_ID, LogSubscriber

    config = _config(args)
    broker = _broker(args, config)
    protocol, rules = load_protocol(args.stages_file), load_rules(args.rules_file)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):     # systemd; a closed terminal
            signal.signal(signum, lambda *_: stop.set())
    with ExitStack() as resources:
        store = resources.enter_context(_open_store(args, must_exist=False))
        subscriber = LogSubscriber(
            store, host=broker["host"], port=broker["port"], username=broker["username"],
            password=broker["password"], client_id=args.client_id or CLIENT_ID,
            protocol=protocol, rules=rules, insertional=_insertional(args, config),
            discovery=not args.no_discovery, discovery_prefix=args.discovery_prefix)
        server = None
        if args.http is not None:
            # The log goes on without its page: sets keep being stored and summed up.
            try:
                server = _dashboard(args, broker, protocol)
            except HeelRaiseError as exc:
                log.error("no dashboard page: %s", exc)
            else:
                resources.callback(server.close)
        resources.enter_context(subscriber)
        if server is not None:
            # Stops taking ratings before the logger's last republish.
            resources.enter_context(server)
        log.info("logging to %s from %s:%d", store.path, broker["host"], broker["port"])
        try:
            while not stop.wait(0.2) and not subscriber.failed.is_set():
                pass
        except KeyboardInterrupt:
            pass
    if subscriber.failure is not None:
        raise subscriber.failure    # one line, exit status 2: systemd restarts the log
    return 0


# --------------------------------------------------------------------------- progress


def configure_progress(parser: argparse.ArgumentParser) -> None:
    _db_arg(parser)
    parser.add_argument("--device", help="which device's log (default: the only one)")
    parser.add_argument("--today", type=_day, metavar="YYYY-MM-DD",
                        help="judge as of this day (default: today)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    _config_arg(parser)
    _coaching_args(parser)


def run_progress(args: argparse.Namespace) -> int:
    from ..stages import load_protocol
    from .progression import evaluate, load_history, load_rules

    protocol, rules = load_protocol(args.stages_file), load_rules(args.rules_file)
    with _open_store(args, must_exist=True) as store:
        device = _pick_device(store, args.device)
        progress = evaluate(load_history(store, device), args.today or date.today(),
                            protocol=protocol, rules=rules,
                            insertional=_insertional(args, _config(args)))
    if args.json:
        json.dump(progress.to_json(), sys.stdout, indent=1)
        print()
    else:
        print(progress.to_text())
    return 0


# --------------------------------------------------------------------------- ratings


def _rating_args(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument(name, type=_rating, help=f"{name} from 0 (none) to 10 (worst)")
    _db_arg(parser, "write to this log database directly (default: send the rating to the "
                    "logger over MQTT)")
    parser.add_argument("--device", help="device the rating is for (default: the config's, "
                                          "or the only one in --db)")
    _config_arg(parser)
    _broker_args(parser)


def configure_pain(parser: argparse.ArgumentParser) -> None:
    _rating_args(parser, "pain")
    parser.add_argument("--set", dest="set_id", metavar="ID",
                        help="set the rating is for (default: today's last set, or the session)")


def run_pain(args: argparse.Namespace) -> int:
    if args.db is not None:
        with _open_store(args, must_exist=False) as store:
            device = _pick_device(store, args.device)
            set_id = args.set_id or store.last_set_id(device, date.today())
            store.record_pain(args.pain, device=device, set_id=set_id, source="cli")
        where = f"set {set_id}" if set_id else "today's session"
        print(f"pain {args.pain:g}/10 recorded for {where} ({device})")
        return 0
    body: dict = {"pain": args.pain}
    if args.set_id:
        body["set_id"] = args.set_id
    device = _send(args, "cmd/pain", body)
    print(f"pain {args.pain:g}/10 sent to the log ({device})")
    return 0


def configure_stiffness(parser: argparse.ArgumentParser) -> None:
    _rating_args(parser, "stiffness")
    parser.add_argument("--date", type=_day, metavar="YYYY-MM-DD",
                        help="the morning it is for (default: today)")


def run_stiffness(args: argparse.Namespace) -> int:
    day = args.date or date.today()
    if args.db is not None:
        with _open_store(args, must_exist=False) as store:
            device = _pick_device(store, args.device)
            store.record_stiffness(args.stiffness, device=device, day=day, source="cli")
    else:
        device = _send(args, "cmd/stiffness", {"stiffness": args.stiffness,
                                               "date": day.isoformat()})
    print(f"morning stiffness {args.stiffness:g}/10 recorded for {day} ({device})")
    return 0


class BrokerUnreachable(HeelRaiseError, ConnectionError):
    """The rating could not be handed to the broker."""


def _send(args: argparse.Namespace, kind: str, body: dict, timeout_s: float = 10.0) -> str:
    """Publish a command at QoS 1 and wait for the broker's acknowledgement."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from ..builders import new_id
    from ..topics import topic

    broker = _broker(args, _config(args))
    device = args.device or broker["device"]
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    if broker["username"] is not None:
        client.username_pw_set(broker["username"], broker["password"])
    where = f"{broker['host']}:{broker['port']}"
    try:
        client.connect(broker["host"], broker["port"], keepalive=30)
    except OSError as exc:
        raise BrokerUnreachable(f"cannot reach the MQTT broker at {where}: {exc}; "
                                "or pass --db to write to the log directly") from None
    client.loop_start()
    try:
        info = client.publish(topic(device, kind), json.dumps({**body, "id": new_id()}), qos=1)
        info.wait_for_publish(timeout=timeout_s)
        if not info.is_published():
            raise BrokerUnreachable(f"the broker at {where} did not acknowledge the rating "
                                    f"(check user name and password)")
    except RuntimeError as exc:
        raise BrokerUnreachable(f"the broker at {where} refused the rating: {exc}") from None
    finally:
        client.disconnect()
        client.loop_stop()
    return device


# --------------------------------------------------------------------------- export


def configure_export(parser: argparse.ArgumentParser) -> None:
    from .export import FORMATS, TABLES

    _db_arg(parser)
    parser.add_argument("--format", dest="fmt", choices=FORMATS, default="csv")
    parser.add_argument("--table", choices=TABLES, default="sets",
                        help="what a CSV holds (default sets; JSON holds everything)")
    parser.add_argument("--out", "-o", type=Path, metavar="FILE",
                        help="file to write (default: standard output)")


def run_export(args: argparse.Namespace) -> int:
    from .export import export

    with _open_store(args, must_exist=True) as store:
        if args.out is None:
            export(store, args.fmt, sys.stdout, args.table)
            return 0
        with open(args.out, "w", encoding="utf-8", newline="") as out:
            count = export(store, args.fmt, out, args.table)
    print(f"wrote {count} rows to {args.out}", file=sys.stderr)
    return 0
