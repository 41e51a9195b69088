"""The log's ``heelraise`` subcommands: log, progress, pain, stiffness, activity, strike, export.

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

from .. import arguments
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
    g.add_argument("--port", type=arguments.port, help="MQTT broker port")
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
    given = config.path != "<defaults>"      # a device name only from a config file given
    return {"host": args.host or b.host, "port": args.port if args.port is not None else b.port,
            "username": args.username if args.username is not None else b.username,
            "password": password, "device": config.device if given else None}


def _open_store(args: argparse.Namespace, must_exist: bool) -> Store:
    """The log database; ``must_exist``: a path that is not a log is an error, never created."""
    from .store import Store

    return Store(args.db or default_db_path(), create=not must_exist)


def _rating_device(store: Store, wanted: str | None, set_id: str | None) -> str:
    """The device a rating is stored under: the one asked for, the set's, or the person's
    only (or first) device. A log is one person's, so any of their devices will do."""
    if wanted:
        return wanted
    owner = next((s.device for s in store.sets(struck=True) if s.id == set_id), None)
    devices = store.devices()
    if owner is None and not devices:
        raise InputError(store.path, "no sets logged yet")
    return owner or devices[0]


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
    g.add_argument("--http", type=arguments.whole(0, 65535), metavar="PORT",
                   help="serve the dashboard on this port (e.g. 8080; default: no page)")
    g.add_argument("--http-host", default="127.0.0.1", metavar="HOST",
                   help="address to serve it on (default: loopback; 0.0.0.0 lets a phone on "
                        "the LAN open it, and every page then needs a broker login)")
    g.add_argument("--dist", type=Path, metavar="DIR",
                   help="the built page (default: dashboard/dist of this checkout)")
    g.add_argument("--ws-port", type=arguments.port, metavar="PORT",
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
    parser.add_argument("--device", help="only this device's sets (default: the person's, "
                                         "every device in the log)")
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
        progress = evaluate(load_history(store, args.device), args.today or date.today(),
                            protocol=protocol, rules=rules,
                            insertional=_insertional(args, _config(args)))
    if args.json:
        json.dump(progress.to_json(), sys.stdout, indent=1)
        print()
    else:
        print(progress.to_text())
    return 0


# --------------------------------------------------------------------------- ratings


def _rating_args(parser: argparse.ArgumentParser, name: str,
                 scale: str = "0 (none) to 10 (worst)") -> None:
    parser.add_argument(name, type=arguments.rating, help=f"{name} from {scale}")
    _db_arg(parser, "write to this log database directly (default: send the rating to the "
                    "logger over MQTT)")
    parser.add_argument("--device", help="device the rating goes to (default: the config's, "
                                          "else the one the broker or the log knows)")
    _config_arg(parser)
    _broker_args(parser)


def configure_pain(parser: argparse.ArgumentParser) -> None:
    _rating_args(parser, "pain")
    parser.add_argument("--set", dest="set_id", metavar="ID",
                        help="set the rating is for (default: today's last set, or the session)")


def run_pain(args: argparse.Namespace) -> int:
    if args.db is not None:
        with _open_store(args, must_exist=True) as store:
            set_id = args.set_id or store.last_set_id(args.device, date.today())
            device = _rating_device(store, args.device, set_id)
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
    day = _daily_rating(args, "stiffness")
    print(f"morning stiffness {args.stiffness:g}/10 recorded for {day}")
    return 0


def configure_activity(parser: argparse.ArgumentParser) -> None:
    _rating_args(parser, "activity", "0 (resting all day) to 10 (on my feet all day)")
    parser.add_argument("--date", type=_day, metavar="YYYY-MM-DD",
                        help="the day it is for (default: today)")


def run_activity(args: argparse.Namespace) -> int:
    """The day's walking and standing besides the exercises: the coaching tempers its
    advice on a high-load day (progression.toml, rule high_load_day)."""
    day = _daily_rating(args, "activity")
    print(f"activity {args.activity:g}/10 recorded for {day}")
    return 0


def _daily_rating(args: argparse.Namespace, kind: str) -> date:
    """Record a once-a-day rating (stiffness, activity) in the log or over MQTT."""
    day = args.date or date.today()
    value = getattr(args, kind)
    if args.db is not None:
        with _open_store(args, must_exist=True) as store:
            device = _rating_device(store, args.device, None)
            record = store.record_stiffness if kind == "stiffness" else store.record_activity
            record(value, device=device, day=day, source="cli")
    else:
        _send(args, f"cmd/{kind}", {kind: value, "date": day.isoformat()})
    return day


def _send(args: argparse.Namespace, kind: str, body: dict, timeout_s: float = 10.0) -> str:
    """Publish a command at QoS 1 and wait for the broker's acknowledgement; the device."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from ..builders import new_id
    from ..discover import BrokerUnreachable, announced_devices
    from ..topics import topic

    broker = _broker(args, _config(args))
    login = {"username": broker["username"], "password": broker["password"]}
    device = args.device or broker["device"]
    if device is None:
        try:
            known = announced_devices(broker["host"], broker["port"], **login)
        except BrokerUnreachable as exc:
            raise BrokerUnreachable(f"{exc}; or pass --db to write to the log "
                                    "directly") from None
        if not known:
            raise BrokerUnreachable(f"no coach has announced itself on the broker at "
                                    f"{broker['host']}:{broker['port']}; start it, or pass "
                                    "--device")
        device = next(iter(known))      # one person's log: any of their devices will do
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    if broker["username"] is not None:
        client.username_pw_set(broker["username"], broker["password"])
    where = f"{broker['host']}:{broker['port']}"
    try:
        client.connect(broker["host"], broker["port"], keepalive=30)
    except OSError as exc:
        raise BrokerUnreachable(f"cannot reach the MQTT broker at {where}: "
                                f"{exc.strerror or exc}; "
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


def configure_strike(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("set_id", metavar="SET",
                        help="id of the set to strike (`heelraise export` lists them), or "
                             "'last' for the newest")
    parser.add_argument("--reason", default="", help="why, kept with it (e.g. 'a test')")
    parser.add_argument("--undo", action="store_true", help="put a struck set back")
    _db_arg(parser)


def run_strike(args: argparse.Namespace) -> int:
    """Take a set logged by mistake out of the history; it stays in the export, flagged."""
    with _open_store(args, must_exist=True) as store:
        set_id = args.set_id
        if set_id == "last":
            newest = store.sets(struck=args.undo)
            newest = [s for s in newest if (s.struck is not None) == args.undo]
            if not newest:
                raise InputError(store.path, "no set to " + ("put back" if args.undo
                                                             else "strike"))
            set_id = newest[-1].id
        row = store.strike(set_id, args.reason, undo=args.undo)
    when = row.time.astimezone().strftime("%Y-%m-%d %H:%M")
    what = f"set {row.index} of {when} ({row.reps} reps, {row.device})"
    print(f"{what} put back into the history" if args.undo else
          f"{what} struck from the history; `heelraise strike {row.id} --undo` puts it back")
    return 0


def configure_export(parser: argparse.ArgumentParser) -> None:
    from .export import FORMATS, TABLES

    _db_arg(parser)
    parser.add_argument("--format", dest="fmt", choices=FORMATS, default="csv")
    parser.add_argument("--table", choices=TABLES, default=None,
                        help="the one table to export (default: sets as CSV, everything "
                             "as JSON)")
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
