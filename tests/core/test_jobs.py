"""The job runner: once per period across runners, failures contained, clean stop."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from citysmart.core.db import make_engine
from citysmart.core.jobs import JobRunner, job_lock, jobs_setting
from citysmart.core.service import Job

PERIOD = 0.2


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine on each database; the locks need no tables, so no fresh schema either."""
    made = make_engine(request.getfixturevalue(f"{request.param}_url"))
    yield made
    made.dispose()


class Recorder:
    """A job body that notes the period slot of every run (thread-safe)."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self.slots: list[int] = []
        self.contexts: list[Any] = []
        self.lock = threading.Lock()

    def __call__(self, context: Any) -> None:
        with self.lock:
            self.slots.append(math.floor(time.time() / self.every_s))
            self.contexts.append(context)
        time.sleep(0.02)  # long enough for the other runner to meet the lock


def _wait_to_slot_start(every_s: float) -> None:
    """Start tests just after a slot boundary, so both runners begin in the same slot."""
    now = time.time()
    time.sleep((math.floor(now / every_s) + 1) * every_s - now + 0.01)


def test_two_runners_run_a_job_once_per_period(engine: Engine) -> None:
    recorder = Recorder(PERIOD)
    job = Job("test.once-per-period", recorder, PERIOD)
    first = JobRunner(engine, [job], context="first")
    second = JobRunner(
        make_engine(str(engine.url.render_as_string(hide_password=False))), [job], "second"
    )
    _wait_to_slot_start(PERIOD)
    first.start()
    second.start()
    time.sleep(PERIOD * 5)
    first.stop()
    second.stop()
    second.engine.dispose()
    counts = Counter(recorder.slots)
    assert counts, "the job never ran"
    assert max(counts.values()) == 1, f"a period ran twice: {counts}"
    # The periods go on running (a loaded machine may lose one to a late thread).
    assert len(counts) >= 3
    assert first.stats[job.name].runs + second.stats[job.name].runs == len(recorder.slots)
    assert first.stats[job.name].skipped + second.stats[job.name].skipped >= len(counts) - 1
    assert set(recorder.contexts) <= {"first", "second"}


def test_a_failing_job_is_logged_and_does_not_stop_the_others(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(PERIOD)
    failures: list[int] = []

    def broken(context: Any) -> None:
        failures.append(1)
        raise RuntimeError("the sensor table is on fire")

    runner = JobRunner(
        engine,
        [Job("test.broken", broken, PERIOD), Job("test.healthy", recorder, PERIOD)],
        context=None,
    )
    _wait_to_slot_start(PERIOD)
    with caplog.at_level("ERROR", logger="citysmart.core.jobs"):
        runner.start()
        time.sleep(PERIOD * 3.3)
        runner.stop()
    assert len(failures) >= 2, "a failed job runs again the next period"
    assert len(recorder.slots) >= 2
    stats = runner.stats["test.broken"]
    assert stats.failures == len(failures)
    assert stats.runs == 0
    assert stats.last_error == "RuntimeError: the sensor table is on fire"
    assert any("test.broken failed" in r.getMessage() for r in caplog.records)


def test_stop_returns_promptly_and_releases_the_lock(engine: Engine) -> None:
    recorder = Recorder(3600.0)
    job = Job("test.hourly", recorder, 3600.0)
    runner = JobRunner(engine, [job], context=None)
    runner.start()
    deadline = time.monotonic() + 5
    while not recorder.slots and time.monotonic() < deadline:
        time.sleep(0.01)
    assert recorder.slots, "a job runs at once when its period starts with no run yet"
    started = time.monotonic()
    runner.stop()
    assert time.monotonic() - started < 3
    lock = job_lock(engine, job.name)
    assert lock.acquire(), "a stopped runner holds no lock"
    lock.release()


def test_run_now_skips_a_job_running_elsewhere(engine: Engine) -> None:
    recorder = Recorder(60.0)
    job = Job("test.now", recorder, 60.0)
    runner = JobRunner(engine, [job], context="ctx")
    held = job_lock(engine, job.name)
    assert held.acquire()
    try:
        assert not job_lock(engine, job.name).acquire()
        assert runner.run_now() == {"test.now": False}
        assert recorder.slots == []
    finally:
        held.release()
    assert runner.run_now() == {"test.now": True}
    assert recorder.contexts == ["ctx"]
    with pytest.raises(KeyError, match="no job named"):
        runner.run_now("nope")


def test_file_lock_is_shared_between_processes(tmp_path: Path) -> None:
    import subprocess
    import sys

    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    lock = job_lock(engine, "air.hourly")
    assert lock.acquire()
    try:
        script = (
            "import sys; from citysmart.core.db import make_engine; "
            "from citysmart.core.jobs import job_lock; "
            "l = job_lock(make_engine(sys.argv[1]), 'air.hourly'); print(l.acquire())"
        )
        url = f"sqlite:///{tmp_path / 'jobs.db'}"
        out = subprocess.run([sys.executable, "-c", script, url], capture_output=True, text=True)
        assert out.stdout.strip() == "False", out.stderr
    finally:
        lock.release()
    engine.dispose()


def test_bad_jobs_are_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="unique"):
        JobRunner(engine, [Job("a", print, 1), Job("a", print, 2)], None)
    with pytest.raises(ValueError, match="positive"):
        JobRunner(engine, [Job("a", print, 0)], None)


@pytest.mark.parametrize(
    ("value", "expected"), [("", None), ("1", True), ("on", True), ("0", False), ("False", False)]
)
def test_the_run_jobs_setting(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: bool | None
) -> None:
    monkeypatch.setenv("CITYSMART_RUN_JOBS", value)
    assert jobs_setting() is expected


def test_a_misspelt_run_jobs_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYSMART_RUN_JOBS", "sometimes")
    with pytest.raises(ValueError, match="CITYSMART_RUN_JOBS"):
        jobs_setting()
