"""Servers of our own for tests that must configure or restart them.

The system PostgreSQL and Mosquitto are shared with other test runs and are never
reconfigured or restarted; these listen on free ports and keep their state in temporary
directories.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import free_port, unavailable

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
IS_ROOT = os.geteuid() == 0


def wait_until(check: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


# -- Mosquitto ------------------------------------------------------------------------------
class PrivateMosquitto:
    """A Mosquitto with persistence, stopped and started like a service would be."""

    def __init__(self, directory: Path, extra_config: str = "", anonymous: bool = True) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.log = directory / "mosquitto.log"
        self.conf = directory / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"allow_anonymous {'true' if anonymous else 'false'}\n"
            "persistence true\n"
            f"persistence_location {directory}/\n"
            "autosave_interval 1\n"
            # Mosquitto's defaults, spelled out: beyond the messages in flight to a client,
            # at most 1000 more are queued for it, and further QoS 1 messages are dropped
            # although the publisher got its PUBACK (see tests/faults/test_restarts.py).
            "max_queued_messages 1000\n"
            f"log_dest file {self.log}\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
            + ("user root\n" if IS_ROOT else "")
            + extra_config
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: _listening(self.port), 10, f"mosquitto on port {self.port}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop it (SIGTERM saves the persistence file, as ``systemctl stop`` does)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def restart(self, down_s: float = 1.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()


@contextmanager
def running_mosquitto(extra_config: str = "", anonymous: bool = True) -> Iterator[PrivateMosquitto]:
    """Run a private Mosquitto for the duration of the block."""
    if not Path(MOSQUITTO).exists():
        unavailable("mosquitto binary", f"{MOSQUITTO} not found")
    directory = Path(tempfile.mkdtemp(prefix="citysmart-mosquitto-"))
    broker = PrivateMosquitto(directory, extra_config, anonymous)
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(directory, ignore_errors=True)
