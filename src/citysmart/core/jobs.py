"""Run the services' scheduled jobs: each every ``every_s``, one instance at a time anywhere.

A job's schedule is cut into periods aligned on the Unix epoch (slot k covers
``[k·every_s, (k + 1)·every_s)``). At the start of each slot every runner tries the
job's lock without waiting; the runner that gets it runs the job and holds the lock
until the slot has ended, so a second runner, in this process or another, finds it
taken and skips that slot: the job runs once per period, wherever runners run.

The lock is

- PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) keyed by the job name,
  on a connection of its own in autocommit (no transaction stays open while held). The
  server drops it when the holder's connection dies, so a crashed worker blocks nobody.
- SQLite file: an exclusive ``flock`` on a file beside the database
  (``<database>-jobs/<name>.lock``); the kernel drops it when the process dies.
- SQLite in memory: a lock inside this process (there is no other process to share with).

Jobs must be idempotent and state-driven (the air service's hourly job processes the
hours it has not processed yet): a period lost to a restart is made up by the next run.
A failing run is logged and counted; the job runs again in the next period and the other
jobs are not affected.

Where runners run: ``citysmart worker`` and ``citysmart demo`` always start one;
``citysmart serve`` starts one in the embedded mode (no ``CITYSMART_MQTT_URL``, where no
separate worker can run). ``CITYSMART_RUN_JOBS=1`` starts one in any process that starts
the hub's events (``serve --no-mqtt`` with an external broker, say), ``CITYSMART_RUN_JOBS=0``
in none.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection, Engine, text

if TYPE_CHECKING:
    from citysmart.core.service import Job

logger = logging.getLogger(__name__)

RUN_JOBS_ENV = "CITYSMART_RUN_JOBS"
# The first key of the two-integer advisory locks: keeps job locks apart from other locks.
_PG_LOCK_CLASS = 20_261_125
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def jobs_setting() -> bool | None:
    """Return ``CITYSMART_RUN_JOBS`` as True/False, or None when unset (the caller decides)."""
    raw = os.environ.get(RUN_JOBS_ENV, "").strip().lower()
    if not raw:
        return None
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{RUN_JOBS_ENV}={raw!r}: use 1/true/on or 0/false/off")


def core_jobs() -> list[Job]:
    """Return the platform's own jobs (not a service's): run with the services' jobs.

    The portal is not a service and has no manifest, so its jobs are listed here; a runner
    runs ``[*core_jobs(), *(job for manifest in services for job in manifest.jobs)]``.
    """
    # Imported here: the digest needs the models and mail, which this module must not load.
    from citysmart.core.digest import DIGEST_JOB_EVERY_S, run_digest_job
    from citysmart.core.service import Job

    return [Job("core.notification_digest", run_digest_job, DIGEST_JOB_EVERY_S)]


class JobLock(Protocol):
    """A lock shared by every runner of one job."""

    def acquire(self) -> bool:
        """Take the lock if it is free (never wait); tell whether it was taken."""

    def release(self) -> None:
        """Give the lock back."""


class _PostgresLock:
    """A session advisory lock on a connection of its own."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine, self.name = engine, name
        self.key = zlib.crc32(name.encode()) - 2**31  # a stable signed 32-bit key
        self.conn: Connection | None = None

    def acquire(self) -> bool:
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            taken = conn.execute(
                text("SELECT pg_try_advisory_lock(:c, :k)"), {"c": _PG_LOCK_CLASS, "k": self.key}
            ).scalar()
        except Exception:
            conn.close()
            raise
        if not taken:
            conn.close()
            return False
        self.conn = conn
        return True

    def release(self) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            conn.execute(
                text("SELECT pg_advisory_unlock(:c, :k)"), {"c": _PG_LOCK_CLASS, "k": self.key}
            )
        except Exception:  # the connection died: the server has dropped the lock with it
            logger.warning("could not unlock job %s cleanly", self.name, exc_info=True)
        finally:
            conn.close()


class _FileLock:
    """An exclusive ``flock`` on a file: shared by every process on this machine."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: Any = None

    def acquire(self) -> bool:
        import fcntl  # POSIX; the embedded mode's other platforms fall back (see job_lock)

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+b")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self.handle = handle
        return True

    def release(self) -> None:
        import fcntl

        handle, self.handle = self.handle, None
        if handle is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()


_PROCESS_LOCKS: dict[str, threading.Lock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


class _ProcessLock:
    """A lock within this process, for databases no other process can open."""

    def __init__(self, key: str) -> None:
        with _PROCESS_LOCKS_GUARD:
            self.lock = _PROCESS_LOCKS.setdefault(key, threading.Lock())
        self.held = False

    def acquire(self) -> bool:
        self.held = self.lock.acquire(blocking=False)
        return self.held

    def release(self) -> None:
        if self.held:
            self.held = False
            self.lock.release()


def job_lock(engine: Engine, name: str) -> JobLock:
    """Return the lock of job ``name`` for the database behind ``engine`` (see the module)."""
    if engine.dialect.name == "postgresql":
        return _PostgresLock(engine, name)
    database = engine.url.database
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    if database and database != ":memory:" and not database.startswith("file:"):
        try:
            import fcntl  # noqa: F401
        except ImportError:  # no flock here: one process is all this platform shares
            return _ProcessLock(f"{Path(database).resolve()}:{name}")
        return _FileLock(Path(f"{Path(database).resolve()}-jobs") / f"{safe}.lock")
    return _ProcessLock(f"{id(engine)}:{name}")


@dataclass
class JobStats:
    """What a runner knows of one job: runs, failures and the last error."""

    runs: int = 0
    failures: int = 0
    skipped: int = 0
    last_started: float | None = None
    last_finished: float | None = None
    last_error: str | None = None


class JobRunner:
    """Run jobs in background threads, one per job, each period once across runners."""

    def __init__(
        self,
        engine: Engine,
        jobs: Sequence[Job],
        context: Any,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"job names must be unique: {names}")
        for job in jobs:
            if not job.every_s > 0:
                raise ValueError(f"job {job.name}: every_s must be positive, got {job.every_s}")
        self.engine, self.jobs, self.context, self.clock = engine, tuple(jobs), context, clock
        self.stats: dict[str, JobStats] = {job.name: JobStats() for job in jobs}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start one thread per job (daemon threads: they never keep the process alive)."""
        if self._threads:
            return
        self._stop.clear()
        for job in self.jobs:
            thread = threading.Thread(
                target=self._loop, args=(job,), name=f"job-{job.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        logger.info("job runner started: %s", ", ".join(j.name for j in self.jobs) or "no jobs")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop scheduling and wait (up to ``timeout`` s) for running jobs to finish."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                logger.warning("%s is still running after stop; left to finish", thread.name)
        self._threads.clear()

    def run_now(self, name: str | None = None) -> dict[str, bool]:
        """Run every job (or the one named) once now, in this thread, if its lock is free.

        Returns, per job, whether it ran and succeeded. Used to have results ready at start
        (the demo's map) before the periodic threads take over.
        """
        chosen = [j for j in self.jobs if name is None or j.name == name]
        if name is not None and not chosen:
            raise KeyError(f"no job named {name!r}")
        done: dict[str, bool] = {}
        for job in chosen:
            lock = job_lock(self.engine, job.name)
            if not lock.acquire():
                logger.info("job %s is running elsewhere; not run now", job.name)
                self.stats[job.name].skipped += 1
                done[job.name] = False
                continue
            try:
                done[job.name] = self._run(job)
            finally:
                lock.release()
        return done

    def _run(self, job: Job) -> bool:
        """Run one job, logging and counting a failure instead of raising it."""
        stats = self.stats[job.name]
        stats.last_started = self.clock()
        try:
            job.run(self.context)
        except Exception as exc:
            stats.failures += 1
            stats.last_error = f"{exc.__class__.__name__}: {exc}"
            logger.exception("job %s failed; it runs again next period", job.name)
            return False
        finally:
            stats.last_finished = self.clock()
        stats.runs += 1
        return True

    def _loop(self, job: Job) -> None:
        """Try the job at the start of each slot; hold its lock to the slot's end when run."""
        lock = job_lock(self.engine, job.name)
        last_slot: int | None = None
        while not self._stop.is_set():
            slot = math.floor(self.clock() / job.every_s)
            if last_slot is not None and slot <= last_slot:
                # Woken a hair early, or the clock stepped back: never try one slot twice.
                self._sleep_until((last_slot + 1) * job.every_s)
                continue
            last_slot = slot
            end = (slot + 1) * job.every_s
            try:
                taken = lock.acquire()
            except Exception:
                logger.exception("job %s: its lock could not be asked for", job.name)
                taken = False
            if not taken:
                self.stats[job.name].skipped += 1
                self._sleep_until(end)
                continue
            try:
                self._run(job)
                # Held to the slot's end, so no runner starts this slot's run again.
                self._sleep_until(end)
            finally:
                lock.release()

    def _sleep_until(self, when: float) -> None:
        """Wait until the clock reaches ``when`` or the runner is stopped."""
        while not self._stop.is_set():
            left = when - self.clock()
            if left <= 0:
                return
            self._stop.wait(min(left, 1.0))


__all__ = [
    "RUN_JOBS_ENV",
    "JobLock",
    "JobRunner",
    "JobStats",
    "core_jobs",
    "job_lock",
    "jobs_setting",
]
