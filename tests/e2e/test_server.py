"""The intake behind the real server ``clawback serve`` runs (gunicorn, threaded workers),
over real sockets: the size limit holds exactly, with a ``Content-Length`` and chunked alike,
and clients that stall mid-body never delay a signed delivery from Shopify, which gives up
after 5 seconds."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.cli import CLAWBACK
from tests.support.signing import signed_headers

LIMIT = 2000
SHOP = "demo.myshopify.com"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """The server's instance folder; its standard output (gunicorn's access log) is ``stdout.log``."""
    return tmp_path_factory.mktemp("serve")


@pytest.fixture(scope="module")
def server(home) -> tuple[str, int]:
    """``clawback serve`` on SQLite with a small body limit; no worker (nothing to process)."""
    port = _free_port()
    env = {**os.environ, "CLAWBACK_DEV": "1", "CLAWBACK_INSTANCE_DIR": str(home), "DATABASE_URL": f"sqlite:///{home / 'db.sqlite3'}",
           "CLAWBACK_MAX_WEBHOOK_BYTES": str(LIMIT)}
    env.pop("SHOPIFY_API_SECRET", None)
    process = subprocess.Popen([CLAWBACK, "serve", "--port", str(port), "--no-worker", "--workers", "1"], env=env,
                               stdout=(home / "stdout.log").open("wb"), stderr=subprocess.PIPE, cwd=home)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail(f"clawback serve did not start: {process.stderr.read().decode()[-2000:]}")
    yield "127.0.0.1", port
    process.terminate()
    process.wait(timeout=30)


def _body(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes."""
    skeleton = json.dumps({"id": 1, "pad": ""}).encode()
    body = json.dumps({"id": 1, "pad": "x" * (size - len(skeleton))}).encode()
    assert len(body) == size
    return body


def _post(server, body: bytes, *, chunked: bool = False, webhook_id: str | None = None) -> int:
    host, port = server
    headers = signed_headers(body, "orders/paid", SHOP, webhook_id=webhook_id)
    connection = http.client.HTTPConnection(host, port, timeout=10)
    if chunked:
        connection.putrequest("POST", "/webhooks")
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        for start in range(0, len(body), 700):
            piece = body[start:start + 700]
            connection.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        connection.send(b"0\r\n\r\n")
    else:
        connection.request("POST", "/webhooks", body=body, headers=headers)
    status = connection.getresponse().status
    connection.close()
    return status


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_of_exactly_the_limit_is_taken_and_one_byte_more_is_413(server, chunked: bool) -> None:
    assert _post(server, _body(LIMIT), chunked=chunked) == 200
    assert _post(server, _body(LIMIT + 1), chunked=chunked) == 413
    assert _post(server, _body(LIMIT - 1), chunked=chunked) == 200


def test_clients_stalled_mid_body_never_delay_a_signed_delivery(server) -> None:
    host, port = server
    stalled = []
    for n in range(6):  # more stalled clients than gunicorn would have sync workers
        sock = socket.create_connection((host, port), timeout=10)
        sock.sendall(f"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {LIMIT}\r\n\r\n".encode())
        sock.sendall(b'{"id": 1, "pad": "' + b"x" * 100)  # ...and nothing more
        stalled.append(sock)
    time.sleep(0.3)  # they are being served (and waiting) now
    started = time.monotonic()
    assert _post(server, _body(500), webhook_id="wh-after-stall") == 200
    assert time.monotonic() - started < 2.0  # far inside Shopify's 5 s, not after the stalled clients
    # The stalled clients are answered 408 once the body timeout passes, freeing their threads.
    for sock in stalled:
        sock.settimeout(10)
        assert sock.recv(64).startswith(b"HTTP/1.1 408")
        sock.close()


def test_the_access_log_has_every_request_but_the_acknowledged_deliveries(server, home) -> None:
    def status(method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> int:
        connection = http.client.HTTPConnection(*server, timeout=10)
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse().status
        connection.close()
        return answer

    body = _body(300)
    assert status("POST", "/webhooks/", body, signed_headers(body, "orders/paid", SHOP, webhook_id="wh-logged")) == 200
    assert status("POST", "/webhooks/", body, signed_headers(body, "orders/paid", SHOP, secret="not-the-secret")) == 401
    assert status("GET", "/healthz") == 200
    deadline = time.monotonic() + 10  # gunicorn writes a request's line after its answer, each worker on its own
    wanted = ('"POST /webhooks/ HTTP/1.1" 401 ', '"GET /healthz HTTP/1.1" 200 ')
    while not all(line in (log := (home / "stdout.log").read_text()) for line in wanted) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert '"POST /webhooks/ HTTP/1.1" 401 ' in log and '"GET /healthz HTTP/1.1" 200 ' in log
    assert '"POST /webhooks/ HTTP/1.1" 200 ' not in log
