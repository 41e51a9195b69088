"""The dashboard's web server: the built page, its config.json, and pain/stiffness entry.

The page reads MQTT over WebSockets as a read-only user. The only things it writes, a
pain rating and the morning stiffness, come here as POSTs and go straight into the log's
store, so the browser never holds a credential that could publish a command.
The standard library's threading HTTP server is enough for one phone and a laptop.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ..errors import ConfigError, HeelRaiseError
from ..protocol import Protocol
from ..stages import load_protocol
from .store import Store

log = logging.getLogger(__name__)

DEFAULT_DIST = Path(__file__).resolve().parents[2] / "dashboard" / "dist"
DEFAULT_PORT = 8080
DEFAULT_WS_PORT = 9001
_MAX_BODY_BYTES = 4096


def read_password(path: str | Path) -> str:
    """A password kept in a file of its own (systemd's LoadCredential=), without the newline."""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(path, f"cannot read: {exc.strerror}") from None


def page_config(
    device: str,
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


class _Handler(SimpleHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def end_headers(self) -> None:
        # A phone keeps an old page for days otherwise; the files are small.
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def list_directory(self, path: Any) -> None:
        self.send_error(HTTPStatus.NOT_FOUND)

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/config.json":
            self._json(HTTPStatus.OK, self.server.page_config)
        else:
            super().do_GET()

    def do_POST(self) -> None:
        route = {"/api/pain": self._pain, "/api/stiffness": self._stiffness}.get(self.path)
        if route is None:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no endpoint {self.path}"})
            return
        if self.server.store is None:
            self._json(HTTPStatus.NOT_FOUND, {"error": "no training log on this server"})
            return
        try:
            reply = route(self._body())
        except _BadRequest as exc:
            self._json(exc.status, {"error": str(exc)})
            return
        except (ValueError, HeelRaiseError) as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        if self.server.after_rating is not None:
            try:
                self.server.after_rating()
            except Exception:  # the rating is stored; a failed refresh must not hide that
                log.exception("after_rating hook failed")
        self._json(HTTPStatus.CREATED, reply)

    def _body(self) -> dict[str, Any]:
        # Requiring JSON also keeps other web sites out: a cross-site form cannot send it
        # without a CORS preflight, which this server never answers.
        if self.headers.get_content_type() != "application/json":
            raise _BadRequest(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send application/json")
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY_BYTES:
            raise _BadRequest(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _BadRequest(HTTPStatus.BAD_REQUEST, "body is not JSON") from None
        if not isinstance(body, dict):
            raise _BadRequest(HTTPStatus.BAD_REQUEST, "body must be a JSON object")
        return body

    def _pain(self, body: dict[str, Any]) -> dict[str, Any]:
        set_id = body.get("set_id")
        if set_id is not None and not isinstance(set_id, str):
            raise _BadRequest(HTTPStatus.BAD_REQUEST, "set_id must be a string")
        rating_id = body.get("id")
        if rating_id is not None and not isinstance(rating_id, str):
            raise _BadRequest(HTTPStatus.BAD_REQUEST, "id must be a string")
        pain = body.get("pain")
        # Like a rating over MQTT or the CLI: no set named means today's last set.
        store, device = self.server.store, self.server.device
        set_id = set_id or store.last_set_id(device, date.today())
        store.record_pain(pain, device=device, set_id=set_id, rating_id=rating_id,
                          source="dashboard")
        log.info("pain %s from the dashboard (set %s)", pain, set_id)
        return {"pain": pain, "set_id": set_id}

    def _stiffness(self, body: dict[str, Any]) -> dict[str, Any]:
        day = None
        if body.get("date") is not None:
            try:
                day = date.fromisoformat(body["date"])
            except (TypeError, ValueError):
                raise _BadRequest(HTTPStatus.BAD_REQUEST,
                                  f"date must be YYYY-MM-DD, got {body['date']!r}") from None
        stiffness = body.get("stiffness")
        self.server.store.record_stiffness(stiffness, device=self.server.device, day=day,
                                           source="dashboard")
        log.info("stiffness %s from the dashboard", stiffness)
        return {"stiffness": stiffness, "date": day.isoformat() if day else None}

    def _json(self, status: HTTPStatus, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    page_config: dict[str, Any]
    store: Store | None
    device: str
    after_rating: Callable[[], None] | None


class DashboardServer:
    """Serves ``dist_dir`` and the page's config, with pain/stiffness entry when given a store.

    ``after_rating`` runs after each stored rating (e.g. to republish the log's
    aggregates). A context manager; :meth:`close` is idempotent.
    """

    def __init__(
        self,
        page_config: dict[str, Any],
        *,
        dist_dir: str | Path = DEFAULT_DIST,
        store: Store | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        after_rating: Callable[[], None] | None = None,
    ) -> None:
        self.dist_dir = Path(dist_dir)
        if not (self.dist_dir / "index.html").is_file():
            raise HeelRaiseError(f"{self.dist_dir}: no built dashboard here "
                                 "(run scripts/setup, or npm ci && npm run build in dashboard/)")
        handler = partial(_Handler, directory=str(self.dist_dir))
        try:
            self._httpd = _Server((host, port), handler)
        except OSError as exc:
            raise HeelRaiseError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        self._httpd.page_config = page_config | {"entry": store is not None}
        self._httpd.store = store
        self._httpd.device = page_config["device"]
        self._httpd.after_rating = after_rating
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
            log.info("dashboard on %s", self.url)
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
    p.add_argument("--device", default="heelraise", help="device name in the MQTT topics")
    p.add_argument("--host", default="0.0.0.0",
                   help="address to listen on (default: all, so a phone on the LAN can open it)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--ws-url", help="broker WebSockets URL (default: ws://<page host>:WS_PORT)")
    p.add_argument("--ws-port", type=int, default=DEFAULT_WS_PORT)
    p.add_argument("--username", help="the broker's READ-ONLY dashboard user")
    p.add_argument("--password-file", type=Path, help="file holding that user's password")
    p.add_argument("--db", type=Path, help="the log's SQLite file; enables pain/stiffness entry")
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
        store = Store(args.db) if args.db else None
        try:
            with DashboardServer(config, dist_dir=args.dist, store=store, host=args.host,
                                 port=args.port) as server:
                print(f"dashboard: {server.url}", flush=True)
                threading.Event().wait()
        finally:
            if store is not None:
                store.close()
    except HeelRaiseError as exc:
        print(f"heelraise-dashboard: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
