"""Serve the app from several processes that share one port through ``SO_REUSEPORT``.

``uvicorn --workers`` shares one listening socket: whichever process wakes first accepts,
so a few keep-alive clients can all land on one busy process while another idles. Here
each process binds its own socket to the same port and the kernel spreads connections
evenly across them; a process that dies is started again.

    python -m citysmart.core.serving citysmart.portal.app:create_app --workers 2
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from multiprocessing.process import BaseProcess
from typing import Any

logger = logging.getLogger(__name__)
_MP = mp.get_context("spawn")  # each worker imports the app afresh, as uvicorn's do
_RESTART_PAUSE_S = 1.0


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """Return a listening socket bound with ``SO_REUSEPORT``."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _worker(factory: str, host: str, port: int, index: int, options: dict[str, Any]) -> None:
    """Serve the app in this process on its own socket."""
    import uvicorn

    others_env = options.pop("others_env", {})
    if index > 0:
        os.environ.update(others_env)
    config = uvicorn.Config(factory, factory=True, **options)
    uvicorn.Server(config).run(sockets=[reuse_port_socket(host, port)])


def run(
    factory: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 2,
    others_env: dict[str, str] | None = None,
    **options: Any,
) -> None:
    """Run ``workers`` processes of ``factory`` until SIGTERM or SIGINT.

    ``others_env`` is set in every worker but the first (for example, to keep MQTT ingest
    in one process).
    """
    reuse_port_socket(host, port).close()  # fail here, not in every worker, if it is taken
    args = dict(options, others_env=others_env or {})
    processes: dict[int, BaseProcess] = {}
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping:
            for index in range(workers):
                process = processes.get(index)
                if process is None or not process.is_alive():
                    if process is not None:
                        logger.warning(
                            "worker %d exited (%s); starting it again", index, process.exitcode
                        )
                        time.sleep(_RESTART_PAUSE_S)
                    process = _MP.Process(
                        target=_worker, args=(factory, host, port, index, dict(args))
                    )
                    process.start()
                    processes[index] = process
            time.sleep(0.2)
    finally:
        for process in processes.values():
            if process.is_alive():
                process.terminate()
        for process in processes.values():
            process.join(timeout=30)
            if process.is_alive():
                process.kill()


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line: a factory, its host and port, and the number of workers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("factory", help="module:function returning an ASGI app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--app-dir", default=None, help="a directory to import the factory from")
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--no-access-log", action="store_true")
    args = parser.parse_args(argv)
    if args.app_dir:
        sys.path.insert(0, args.app_dir)
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (args.app_dir, os.environ.get("PYTHONPATH")) if p
        )
    logging.basicConfig(level=logging.INFO)
    run(
        args.factory,
        args.host,
        args.port,
        args.workers,
        log_level=args.log_level,
        access_log=not args.no_access_log,
    )


if __name__ == "__main__":
    main()
