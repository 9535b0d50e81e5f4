"""The notification digest: one email per due user, only new items, never twice; off means off."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from citysmart.core.config import Settings
from citysmart.core.digest import DigestItem, absolute, digest_text, is_due, send_digests
from citysmart.core.jobs import core_jobs
from citysmart.core.mail import ConsoleEmailBackend
from citysmart.core.notifications import Notification, set_digest_preference
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.notification_cli import notifications
from tests.portal.notification_fixtures import add_notes, add_user

NOON = dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.UTC)


def _body(message: EmailMessage) -> str:
    return str(message.get_content())


def test_is_due_follows_the_preference() -> None:
    assert is_due("daily", None, NOON)
    assert not is_due("daily", NOON - dt.timedelta(hours=22), NOON)
    assert is_due("daily", NOON - dt.timedelta(hours=23), NOON)
    assert not is_due("weekly", NOON - dt.timedelta(days=6), NOON)
    assert is_due("weekly", NOON - dt.timedelta(days=7), NOON)
    assert not is_due("none", None, NOON)


def test_digest_text_is_bilingual_with_absolute_links() -> None:
    items = [DigestItem("Proposal accepted", "제안 채택", "It goes to a vote.", "/p/1")]
    subject, text = digest_text(items, 2, "https://city.example/", korean_first=False)
    assert subject == "citysmart Sejong: 3 new notifications / 새 알림 3건"
    assert (
        "- Proposal accepted\n  제안 채택\n  It goes to a vote.\n  https://city.example/p/1" in text
    )
    assert "... 2 more / 외 2건" in text
    assert "https://city.example/notifications" in text
    subject_ko, text_ko = digest_text(items, 0, "", korean_first=True)
    assert subject_ko == "citysmart Sejong: 새 알림 1건 / 1 new notification"
    assert "- 제안 채택\n  Proposal accepted" in text_ko
    assert absolute("/p/1", "") == "/p/1"


def test_sends_one_digest_per_user_with_only_new_items_once(
    runtime: HubRuntime, settings: Settings
) -> None:
    mina = add_user(runtime, "mina", email="mina@example.org")
    joon = add_user(runtime, "joon", email="joon@example.org")
    add_user(runtime, "nomail")  # no address: no digest
    add_notes(runtime, mina, 2, prefix="Mina")
    read = add_notes(runtime, mina, 1, prefix="Already read")
    add_notes(runtime, joon, 1, prefix="Joon")
    with runtime.sessions.begin() as session:
        session.get_one(Notification, read[0]).read_at = NOON
    outbox = ConsoleEmailBackend()
    assert send_digests(runtime.sessions, settings, outbox, NOON) == 2
    by_to = {m["To"]: m for m in outbox.sent}
    assert set(by_to) == {"mina@example.org", "joon@example.org"}
    mina_text = _body(by_to["mina@example.org"])
    assert "Mina 0" in mina_text
    assert "Mina 1" in mina_text
    assert "Already read" not in mina_text
    assert "Joon" not in mina_text
    assert by_to["mina@example.org"]["Subject"].startswith("citysmart Sejong: 새 알림 2건")

    # Nothing new: nothing sent, even a day later.
    later = NOON + dt.timedelta(days=1)
    assert send_digests(runtime.sessions, settings, outbox, later) == 0
    # Something new, but the last digest is an hour old: it waits for the next day.
    add_notes(runtime, mina, 1, prefix="Fresh")
    assert send_digests(runtime.sessions, settings, outbox, NOON + dt.timedelta(hours=1)) == 0
    assert send_digests(runtime.sessions, settings, outbox, later) == 1
    fresh = _body(outbox.sent[-1])
    assert "Fresh 0" in fresh
    assert "Mina 0" not in fresh
    with runtime.sessions() as session:
        unsent = select(Notification.title).where(Notification.emailed_at.is_(None))
        assert list(session.scalars(unsent)) == ["Already read 0"]  # read before any digest


def test_users_with_digests_off_get_none(runtime: HubRuntime, settings: Settings) -> None:
    mina = add_user(runtime, "mina", email="mina@example.org")
    add_notes(runtime, mina, 2)
    with runtime.sessions.begin() as session:
        set_digest_preference(session, mina, "none")
    outbox = ConsoleEmailBackend()
    assert send_digests(runtime.sessions, settings, outbox, NOON) == 0
    assert outbox.sent == []


def test_a_failed_send_marks_nothing(runtime: HubRuntime, settings: Settings) -> None:
    mina = add_user(runtime, "mina", email="mina@example.org")
    add_notes(runtime, mina, 1)

    class Down:
        def send(self, message: EmailMessage) -> None:
            raise OSError("mail server down")

    assert send_digests(runtime.sessions, settings, Down(), NOON) == 0
    outbox = ConsoleEmailBackend()
    assert send_digests(runtime.sessions, settings, outbox, NOON) == 1


def test_the_digest_is_a_core_job_writing_to_the_mailbox(
    runtime: HubRuntime, settings: Settings
) -> None:
    mina = add_user(runtime, "mina", email="mina@example.org")
    add_notes(runtime, mina, 1)
    (job,) = core_jobs()
    assert job.name == "core.notification_digest"
    job.run(runtime)  # the file backend: the settings' data dir's mail folder
    assert len(list((settings.data_dir / "mail").glob("*.eml"))) == 1


def test_send_digest_command(
    runtime: HubRuntime, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    mina = add_user(runtime, "mina", email="mina@example.org")
    add_notes(runtime, mina, 1)
    monkeypatch.setattr("citysmart.core.config.get_settings", lambda: settings)
    result = CliRunner().invoke(notifications, ["send-digest"])
    assert result.exit_code == 0, result.output
    assert result.output == "digests sent: 1\n"
    assert len(list((settings.data_dir / "mail").glob("*.eml"))) == 1
