"""The dashboard's web server: the built page, its config.json, and pain/stiffness entry.

The page reads MQTT over WebSockets as a read-only user. The only things it writes, a
pain rating and the morning stiffness, come here as POSTs with the person's broker
login (HTTP Basic); the server publishes each as that login to the device's ``cmd``
topic, so the broker's ACL decides who may rate and the log stores it like any other
rating. The page itself never holds a credential that could publish.

What a stranger on the network meets: loopback only unless configured for the LAN,
and then a login for every page; a ``Host`` check against DNS rebinding; bodies cut
at 4 KB whatever ``Content-Length`` claims; a 4xx with one line for any bad path,
header or body. The standard library's threading HTTP server is enough for one phone
and a laptop.
"""

from __future__ import annotations

import argparse
import base64
import ipaddress
import json
import logging
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..builders import new_id
from ..errors import ConfigError, HeelRaiseError, PayloadError
from ..payloads import parse_command
from ..protocol import Protocol
from ..schema import decode_json
from ..stages import load_protocol
from ..topics import check_device, topic
from .gate import BrokerGate, Verdict

log = logging.getLogger(__name__)

DEFAULT_DIST = Path(__file__).resolve().parents[2] / "dashboard" / "dist"
DEFAULT_PORT = 8080
DEFAULT_WS_PORT = 9001
MAX_BODY_BYTES = 4096
"""Largest rating body accepted: a rating is about 100 bytes."""


def read_password(path: str | Path) -> str:
    """A password kept in a file of its own (systemd's LoadCredential=), without the newline."""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(path, f"cannot read: {exc.strerror}") from None


def page_config(
    device: str | None,
    *,
    ws_url: str | None = None,
    ws_port: int = DEFAULT_WS_PORT,
    username: str | None = None,
    password: str | None = None,
    protocol: Protocol | None = None,
) -> dict[str, Any]:
    """What the page reads from config.json: where the broker is, as whom, and the doses.

    ``username``/``password`` must be the broker's READ-ONLY dashboard user: anyone who
    can open the page can read them. Without ``ws_url`` the page connects to ``ws_port``
    on the host it was loaded from. The stages let the page show target reps and rest.
    :class:`DashboardServer` adds ``entry``: whether it takes pain/stiffness ratings.
    ``device`` is where a rating goes when the page names none; the page itself shows
    every device the broker knows (or the one its address names).
    """
    protocol = protocol or load_protocol()
    stages = {}
    for number, stage in protocol.stages.items():
        stages[str(number)] = asdict(stage) | {"isometric": stage.isometric}
    config: dict[str, Any] = {
        "device": device,
        "ws_port": ws_port,
        "stages": stages,
        "pain_limit": protocol.pain_limit,
    }
    if ws_url:
        config["ws_url"] = ws_url
    if username is not None:
        config["username"] = username
    if password is not None:
        config["password"] = password
    return config


class _BadRequest(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def allowed_hosts(bind: str) -> set[str]:
    """Names a browser may use for this server (its ``Host`` header), beside IP literals.

    Anything else is a DNS-rebinding page reaching a loopback server through a name
    of its own, and is refused.
    """
    names = {"localhost", "127.0.0.1", "[::1]", bind.lower()}
    if bind not in _LOOPBACK_HOSTS:
        host = socket.gethostname().lower()
        names |= {host, f"{host}.local", socket.getfqdn().lower()}
    return names


def _host_name(header: str) -> str:
    """The name part of a ``Host`` header (no port), lower case."""
    name = header.strip().lower()
    if name.startswith("["):
        return name.split("]", 1)[0] + "]"
    return name.rsplit(":", 1)[0] if name.count(":") == 1 else name


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


class _Handler(SimpleHTTPRequestHandler):
    server: _Server
    timeout = 10   # seconds a slow client may take for its request line, headers and body
    # A bad request line (no version, a bad version, HTTP/0.9) is answered with a status
    # line and headers, not as a bare HTTP/0.9 body.
    default_request_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def end_headers(self) -> None:
        # A phone keeps an old page for days otherwise; the files are small.
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def list_directory(self, path: Any) -> None:
        self.send_error(HTTPStatus.NOT_FOUND)

    def do_GET(self) -> None:
        self._answer(self._get)

    def do_HEAD(self) -> None:
        self._answer(super().do_HEAD)

    def do_POST(self) -> None:
        self._answer(self._post)

    def __getattr__(self, name: str) -> Any:
        """Any other method (PUT, DELETE, OPTIONS, ...) is a 405, not http.server's 501."""
        if name.startswith("do_"):
            return lambda: self._json(HTTPStatus.METHOD_NOT_ALLOWED,
                                      {"error": "only GET, HEAD and POST"},
                                      {"Allow": "GET, HEAD, POST"})
        raise AttributeError(name)

    def _answer(self, serve: Callable[[], None]) -> None:
        """Check the host, the path and (on the LAN) the login, then serve; a bad request
        is a 4xx with a one-line reason, never a traceback."""
        try:
            self._check_host()
            path = urlsplit(self.path).path
            if not path.startswith("/") or any(ord(c) < 32 for c in unquote(path)):
                raise _BadRequest(HTTPStatus.BAD_REQUEST, "bad path")
            if self.server.lan and self._login() is None:
                return
            serve()
        except _BadRequest as exc:
            self._json(exc.status, {"error": str(exc)})
        except (ValueError, UnicodeError) as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": f"bad request: {exc}"[:200]})

    def _check_host(self) -> None:
        name = _host_name(self.headers.get("Host", ""))
        if not name:
            raise _BadRequest(HTTPStatus.BAD_REQUEST, "no Host header")
        if name not in self.server.hosts and not (self.server.lan and _is_ip(name)):
            raise _BadRequest(HTTPStatus.MISDIRECTED_REQUEST, f"not served as {name!r}")

    def _login(self) -> tuple[str, str] | None:
        """The request's broker login if the broker accepts it; else a 401 has been sent."""
        gate = self.server.gate
        user, password = _basic_auth(self.headers.get("Authorization", ""))
        if gate is not None and user is not None and gate.login_ok(user, password):
            return user, password
        if user is not None:
            time.sleep(self.server.fail_delay_s)   # slow down password guessing
        self.close_connection = True
        self._json(HTTPStatus.UNAUTHORIZED, {"error": "log in with your broker login"},
                   {"WWW-Authenticate": 'Basic realm="heel-raise coach", charset="UTF-8"'})
        return None

    def _get(self) -> None:
        if urlsplit(self.path).path == "/config.json":
            self._json(HTTPStatus.OK, self.server.page_config)
        else:
            super().do_GET()

    def _post(self) -> None:
        kind = {"/api/pain": "pain", "/api/stiffness": "stiffness",
                "/api/activity": "activity"}.get(urlsplit(self.path).path)
        if kind is None:
            raise _BadRequest(HTTPStatus.NOT_FOUND, f"no endpoint {self.path[:100]}")
        if self.server.gate is None:
            raise _BadRequest(HTTPStatus.NOT_FOUND, "no rating entry on this server")
        origin = self.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc.lower() != \
                self.headers.get("Host", "").lower():
            raise _BadRequest(HTTPStatus.FORBIDDEN, "ratings come from this server's own page")
        body = self._body()
        login = self.server.local_login if self._local() else self._login()
        if login is None:
            return
        try:
            command = parse_command(kind, body)
            device = self._device(body)
        except PayloadError as exc:
            raise _BadRequest(HTTPStatus.BAD_REQUEST, str(exc)) from None
        message = {kind: command.value, "id": command.id or new_id()}
        if command.set_id:
            message["set_id"] = command.set_id
        if command.date:
            message["date"] = command.date
        verdict = self.server.gate.publish(*login, topic(device, f"cmd/{kind}"),
                                           json.dumps(message).encode())
        if verdict is Verdict.OK:
            log.info("%s %s from the dashboard as %s", kind, command.value, login[0])
            self._json(HTTPStatus.ACCEPTED, message)
        elif verdict is Verdict.NOT_ALLOWED:
            self._json(HTTPStatus.FORBIDDEN, {"error": f"the broker does not let {login[0]!r} "
                                                       "send ratings; log in as the rating user"})
        elif verdict is Verdict.BAD_LOGIN:
            self._login()
        else:
            self._json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "the broker is unreachable"})

    def _local(self) -> bool:
        """A rating from this machine's own screen with no login typed: the server's own
        rating login stands in (``heelraise start``, loopback only, never on the LAN)."""
        return (self.server.local_login is not None and not self.server.lan
                and "Authorization" not in self.headers)

    def _device(self, body: bytes) -> str:
        """The device a rating goes to: the page's choice (the set's), else the server's."""
        chosen = decode_json(body, MAX_BODY_BYTES).get("device") or self.server.device
        if chosen is None:
            raise PayloadError("no device: which coach is the rating for? ('device')")
        return check_device(chosen)

    def _body(self) -> bytes:
        """The request body, at most :data:`MAX_BODY_BYTES` whatever the headers claim.

        Requiring JSON also keeps other web sites out: a cross-site form cannot send it
        without a CORS preflight, which this server never answers.
        """
        if self.headers.get_content_type() != "application/json":
            raise _BadRequest(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send application/json")
        if self.headers.get("Transfer-Encoding") is not None:
            self.close_connection = True
            raise _BadRequest(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length, not chunks")
        length = self.headers.get("Content-Length", "")
        if not re.fullmatch(r"\d{1,12}", length.strip()):
            self.close_connection = True
            raise _BadRequest(HTTPStatus.LENGTH_REQUIRED,
                              "Content-Length must be a number of bytes")
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True    # the body is never read
            raise _BadRequest(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                              f"body larger than {MAX_BODY_BYTES} bytes")
        body = self.rfile.read(int(length))
        if len(body) < int(length):
            self.close_connection = True
            raise _BadRequest(HTTPStatus.BAD_REQUEST, "body shorter than its Content-Length")
        return body

    def _json(self, status: HTTPStatus, body: Any, headers: dict[str, str] | None = None
              ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _basic_auth(header: str) -> tuple[str | None, str]:
    """``(user, password)`` from an ``Authorization: Basic`` header; ``(None, "")`` if none."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None, ""
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode(
            "utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None, ""
    return (user, password) if sep and user else (None, "")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    page_config: dict[str, Any]
    gate: BrokerGate | None
    device: str | None
    local_login: tuple[str, str] | None
    lan: bool
    hosts: set[str]
    fail_delay_s: float


class DashboardServer:
    """Serves ``dist_dir`` and the page's config, with pain/stiffness entry given a ``gate``.

    Ratings are published over MQTT as the person's own broker login (checked by the
    ``gate``, i.e. by the broker), so the log receives them by the road every rating
    takes. Bound to loopback by default; on any other address (the LAN) every page and
    every write needs a broker login. ``local_login`` lets a person at this machine's own
    screen rate without typing a login (loopback only; ``heelraise start`` passes its
    private broker's rating login). A context manager; :meth:`close` is idempotent.
    """

    def __init__(
        self,
        page_config: dict[str, Any],
        *,
        dist_dir: str | Path = DEFAULT_DIST,
        gate: BrokerGate | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        fail_delay_s: float = 0.5,
        local_login: tuple[str, str] | None = None,
    ) -> None:
        self.dist_dir = Path(dist_dir)
        if not (self.dist_dir / "index.html").is_file():
            raise HeelRaiseError(f"{self.dist_dir}: no built dashboard here "
                                 "(run scripts/setup, or npm ci && npm run build in dashboard/)")
        lan = host not in _LOOPBACK_HOSTS
        if lan and gate is None:
            raise HeelRaiseError(f"serving the dashboard on {host} (the LAN) needs the broker "
                                 "to check logins; give it the broker's address")
        handler = partial(_Handler, directory=str(self.dist_dir))
        try:
            self._httpd = _Server((host, port), handler)
        except OSError as exc:
            raise HeelRaiseError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        self._httpd.page_config = page_config | {"entry": gate is not None}
        self._httpd.gate = gate
        self._httpd.device = page_config["device"]
        self._httpd.local_login = local_login
        self._httpd.lan = lan
        self._httpd.hosts = allowed_hosts(host)
        self._httpd.fail_delay_s = fail_delay_s
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        host = self._httpd.server_address[0]
        return f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{self.port}/"

    def start(self) -> DashboardServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever,
                                            name="dashboard-http", daemon=True)
            self._thread.start()
            log.info("dashboard on %s%s", self.url,
                     " (the LAN: every page needs a login)" if self._httpd.lan else "")
        return self

    def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._httpd.shutdown()
            thread.join()
        self._httpd.server_close()

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="heelraise-dashboard",
                                description="Serve the heel-raise dashboard page.")
    p.add_argument("--device", help="device ratings go to when the page names none (the "
                                    "page shows every device the broker knows)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: loopback; 0.0.0.0 for the LAN, where "
                        "every page then needs a broker login)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--ws-url", help="broker WebSockets URL (default: ws://<page host>:WS_PORT)")
    p.add_argument("--ws-port", type=int, default=DEFAULT_WS_PORT)
    p.add_argument("--username", help="the broker's READ-ONLY dashboard user")
    p.add_argument("--password-file", type=Path, help="file holding that user's password")
    p.add_argument("--mqtt-host", help="broker that checks logins and takes ratings; enables "
                                       "pain/stiffness entry (and is needed for the LAN)")
    p.add_argument("--mqtt-port", type=int, default=1883, help="its port (default 1883)")
    p.add_argument("--stages", type=Path, help="protocol file (default: the packaged one)")
    p.add_argument("--dist", type=Path, default=DEFAULT_DIST, help="built page directory")
    p.add_argument("--write-config", action="store_true",
                   help="write DIST/config.json and exit, for a page that Mosquitto's "
                        "http_dir serves (no pain/stiffness entry there)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        password = read_password(args.password_file) if args.password_file else None
        config = page_config(args.device, ws_url=args.ws_url, ws_port=args.ws_port,
                             username=args.username, password=password,
                             protocol=load_protocol(args.stages))
        if args.write_config:
            path = args.dist / "config.json"
            try:
                path.write_text(json.dumps(config | {"entry": False}), encoding="utf-8")
            except OSError as exc:
                raise HeelRaiseError(f"{path}: cannot write: {exc.strerror}") from None
            print(f"wrote {path}")
            return 0
        gate = BrokerGate(args.mqtt_host, args.mqtt_port) if args.mqtt_host else None
        with DashboardServer(config, dist_dir=args.dist, gate=gate, host=args.host,
                             port=args.port) as server:
            print(f"dashboard: {server.url}", flush=True)
            threading.Event().wait()
    except HeelRaiseError as exc:
        print(f"heelraise-dashboard: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
