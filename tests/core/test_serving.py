"""The launcher: several processes on one port, connections spread, a dead worker restarted."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pids_answering(url: str, connections: int) -> set[int]:
    """Open fresh connections and collect which processes answered."""
    seen = set()
    for _ in range(connections):
        with httpx.Client(trust_env=False) as client:  # a new connection each time
            seen.add(int(client.get(url, timeout=5).text))
    return seen


@pytest.fixture
def launcher() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    command = [sys.executable, "-m", "citysmart.core.serving", "serving_app:make"]
    command += ["--app-dir", str(HERE), "--port", str(port), "--workers", "2"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url, timeout=1, trust_env=False)
            break
        except httpx.HTTPError:
            assert time.monotonic() < deadline, "the launcher did not start"
            time.sleep(0.1)
    yield process, url
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


def test_two_workers_share_the_port_and_the_kernel_spreads_connections(
    launcher: tuple[subprocess.Popen[bytes], str],
) -> None:
    _, url = launcher
    deadline = time.monotonic() + 20
    seen: set[int] = set()
    while len(seen) < 2 and time.monotonic() < deadline:
        seen |= pids_answering(url, 20)  # the second worker may still be starting
    assert len(seen) == 2


def test_a_worker_that_dies_is_started_again(
    launcher: tuple[subprocess.Popen[bytes], str],
) -> None:
    _, url = launcher
    deadline = time.monotonic() + 20
    seen: set[int] = set()
    while len(seen) < 2 and time.monotonic() < deadline:
        seen |= pids_answering(url, 20)
    victim = min(seen)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    now: set[int] = set()
    while time.monotonic() < deadline:
        now = pids_answering(url, 20)
        if len(now) == 2 and victim not in now:
            break
        time.sleep(0.2)
    assert len(now) == 2
    assert victim not in now
