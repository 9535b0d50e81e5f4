"""A real third-party NGSI-LD client against a running hub, on SQLite and on PostgreSQL.

``ngsildclient`` (Orange, PyPI) lives in ``.venv-interop`` (``scripts/setup_interop.sh``,
run by ``make test``) because it pins an older httpx. The hub runs as ``citysmart serve``;
the client creates, queries, batch-upserts, subscribes and reads temporal data through
tests/interop/ngsildclient_scenario.py, and the notification its subscription asks for
must reach a receiver this test runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port, unavailable
from tests.servers import wait_until

ROOT = Path(__file__).resolve().parents[2]
INTEROP_PYTHON = ROOT / ".venv-interop" / "bin" / "python"
SCENARIO = Path(__file__).with_name("ngsildclient_scenario.py")
OPERATOR = "interop-operator"


class Receiver(ThreadingHTTPServer):
    """An HTTP endpoint that keeps every notification posted to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        super().__init__(("127.0.0.1", free_port()), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/notify"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
        length = int(self.headers.get("content-length", "0"))
        assert isinstance(self.server, Receiver)
        self.server.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "citysmart", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"citysmart {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[tuple[int, str]]:
    """Run ``citysmart serve`` on the test database; yield its port and an operator token."""
    if not INTEROP_PYTHON.exists():
        unavailable("ngsildclient", "run scripts/setup_interop.sh (make test does)")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYSMART_")}
    env.update(
        CITYSMART_DATABASE_URL=database_url,
        CITYSMART_DATA_DIR=str(tmp_path),
        CITYSMART_SECRET_KEY="interop-secret-key-0123456789-abcdefghijkl",
        CITYSMART_NGSI_LD_REMOTE_CONTEXTS="false",
        PYTHONUNBUFFERED="1",
    )
    _cli(env, "users", "add", OPERATOR, "--role", "operator", "--no-password")
    token = _cli(env, "users", "token", OPERATOR).strip().splitlines()[-1]
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "citysmart", "serve", "--no-mqtt", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: _healthy(port, process), 60, f"the hub (log: {log})")
        yield port, token
    finally:
        process.terminate()
        process.wait(timeout=15)


def _healthy(port: int, process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, f"the hub exited with {process.returncode}"
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_ngsildclient_creates_queries_upserts_subscribes_and_reads_history(
    hub: tuple[int, str], receiver: Receiver
) -> None:
    port, token = hub
    started = time.monotonic()
    done = subprocess.run(
        [str(INTEROP_PYTHON), str(SCENARIO), "127.0.0.1", str(port), token, receiver.url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"the ngsildclient scenario failed:\n{done.stdout}{done.stderr}"
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["upserted"] == 10
    assert seen["count"] == 11
    lot = "urn:ngsi-ld:OffStreetParking:sejong-lot-001"
    wait_until(lambda: bool(receiver.bodies), 30, "the notification")
    notification = receiver.bodies[0]
    assert notification["type"] == "Notification"
    assert notification["subscriptionId"] == seen["subscription"]
    assert [e["id"] for e in notification["data"]] == [lot]
    assert notification["data"][0]["availableSpotNumber"]["value"] == 7
    assert time.monotonic() - started < 120
