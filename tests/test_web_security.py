"""The dashboard's web server against a stranger: no login, wrong host, hostile requests.

Requests go over a raw socket, byte for byte as an attacker would send them, to the
real server, with the real broker (logins and the deployed ACL) deciding who may rate
and the real log behind it. Whatever arrives, the answer is a 4xx with one line, the
server keeps serving, and nothing reaches the log that should not.
"""

from __future__ import annotations

import base64
import json
import socket
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboard" / "test"))
import harness  # noqa: E402
from mqtt_helpers import wait_until  # noqa: E402

from pi_service.mqtt_docs import examples  # noqa: E402

DEVICE = "left"


def basic(user: str, password: str | None = None) -> str:
    secret = harness.USERS[user] if password is None else password
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


def raw(server, request: bytes, shut: bool = True) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as it is; the status, headers and body of the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        if shut:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, body


def post(server, body: bytes, *, auth: str | None = None, host: str | None = None,
         extra: str = "", path: str = "/api/pain") -> tuple[int, dict[str, str], bytes]:
    host = host or f"127.0.0.1:{server.port}"
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json",
             f"Content-Length: {len(body)}", *([f"Authorization: {auth}"] if auth else []),
             *([extra] if extra else []), "Connection: close"]
    return raw(server, ("\r\n".join(lines) + "\r\n\r\n").encode() + body)


def get(server, path: str, *, auth: str | None = None, host: str | None = None) -> int:
    host = host or f"127.0.0.1:{server.port}"
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Connection: close",
             *([f"Authorization: {auth}"] if auth else [])]
    return raw(server, ("\r\n".join(lines) + "\r\n\r\n").encode())[0]


@pytest.fixture
def stack(tmp_path, page_dir):
    with harness.dashboard_stack(tmp_path, DEVICE, dist=page_dir) as s:
        s.store.add_set({**examples()["set"], "id": "set-1", "device": DEVICE, "pain": None})
        yield s


def test_writing_a_rating_needs_a_login_the_broker_lets_rate(stack):
    server, store = stack.server, stack.store
    body = b'{"pain": 3, "set_id": "set-1"}'
    status, headers, _ = post(server, body)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic ")
    assert post(server, body, auth=basic("rating", "guess"))[0] == 401
    status, _, reply = post(server, body, auth=basic("dashboard"))   # read-only login
    assert status == 403 and "does not let 'dashboard' send ratings" in json.loads(reply)["error"]
    time.sleep(0.5)
    assert store.count("pain") == 0
    assert post(server, body, auth=basic("rating"))[0] == 202
    assert wait_until(lambda: store.count("pain") == 1)
    assert store.sets()[0].pain == 3


@pytest.mark.parametrize(("extra", "body", "status", "fault"), [
    ("Content-Length: -1", b"", 411, "Content-Length must be a number of bytes"),
    ("Content-Length: 300000000", b"", 413, "body larger than 4096 bytes"),
    ("Transfer-Encoding: chunked", b"", 411, "not chunks"),
    ("Content-Length: 100", b'{"pain": 3}', 400, "body shorter than its Content-Length"),
])
def test_request_size_is_enforced_whatever_the_headers_say(stack, extra, body, status, fault):
    lines = ["POST /api/pain HTTP/1.1", f"Host: 127.0.0.1:{stack.server.port}",
             "Content-Type: application/json", extra, f"Authorization: {basic('rating')}"]
    code, _, reply = raw(stack.server, ("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    assert code == status and fault in json.loads(reply)["error"]
    assert get(stack.server, "/") == 200           # and the server is still there


@pytest.mark.parametrize(("path", "status"), [
    ("/%00", 400), ("/index.html%00.png", 400), ("/%0d%0aSet-Cookie:x", 400),
    ("/../../etc/passwd", 404), ("/%2e%2e/%2e%2e/etc/passwd", 404), ("x", 400),
    ("/" + "a" * 5000, 404),
])
def test_bad_paths_get_a_4xx(stack, path, status):
    assert get(stack.server, path) == status


@pytest.mark.parametrize("body", [
    b'{"pain": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    b'{"pain": 1' + b"0" * 400 + b"}",
    b'{"pain": NaN}', b'{"pain": 2, "pain": 3}', b"\xff\xfe", b'{"pain": 2, "set_id": "\\ud800"}',
])
def test_hostile_bodies_get_a_400_and_store_nothing(stack, body):
    body = body[:4096]
    status, _, reply = post(stack.server, body, auth=basic("rating"))
    assert status == 400 and "\n" not in json.loads(reply)["error"]
    assert stack.store.count("pain") == 0


def test_other_sites_cannot_use_the_server(stack):
    # DNS rebinding: a page at evil.example resolving to 127.0.0.1
    assert get(stack.server, "/", host="evil.example") == 421
    assert post(stack.server, b'{"pain": 1}', auth=basic("rating"), host="evil.example")[0] \
        == 421
    # a cross-site fetch that carries the person's cached login
    status, _, reply = post(stack.server, b'{"pain": 1}', auth=basic("rating"),
                            extra="Origin: http://evil.example")
    assert status == 403 and "own page" in json.loads(reply)["error"]
    code, _, _ = raw(stack.server, b"GET / HTTP/1.0\r\n\r\n")       # no Host at all
    assert code == 400
    assert stack.store.count("pain") == 0


def test_on_the_lan_every_page_needs_a_login(tmp_path, page_dir):
    with harness.dashboard_stack(tmp_path, DEVICE, dist=page_dir, http_host="0.0.0.0") as s:
        server = s.server
        assert get(server, "/") == 401
        assert get(server, "/config.json") == 401
        assert get(server, "/", auth=basic("dashboard", "wrong")) == 401
        assert get(server, "/", auth=basic("dashboard")) == 200
        assert get(server, "/config.json", auth=basic("rating")) == 200
        assert get(server, "/", host=f"192.168.1.20:{server.port}",
                   auth=basic("rating")) == 200                       # by its LAN address


def test_the_pi_unit_serves_the_lan_only_with_logins():
    unit = (Path(__file__).resolve().parents[1] / "systemd" / "heelraise-log.service").read_text()
    assert "--http-host 0.0.0.0" in unit
    from pi_service.errors import HeelRaiseError
    from pi_service.log.web import DashboardServer, page_config

    with pytest.raises(HeelRaiseError, match="needs the broker to check logins"):
        DashboardServer(page_config(DEVICE), dist_dir=harness.DIST, host="0.0.0.0")
