"""The email adapter: file, console and SMTP backends chosen by settings."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from citysmart.core import mail
from citysmart.core.config import Settings


def _message() -> EmailMessage:
    return mail.compose("ana@example.org", "비밀번호 · Password", "안녕하세요\nHello", "a@b.c")


def test_compose_sets_headers_and_utf8_text() -> None:
    message = _message()
    assert message["To"] == "ana@example.org"
    assert message["Message-ID"]
    assert message["Date"]
    assert message.get_content() == "안녕하세요\nHello\n"


def test_file_backend_writes_one_readable_eml_per_message(tmp_path: Path) -> None:
    backend = mail.email_backend(Settings(data_dir=tmp_path))
    assert isinstance(backend, mail.FileEmailBackend)
    backend.send(_message())
    backend.send(_message())
    paths = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(paths) == 2
    assert not list((tmp_path / "mail").glob(".*"))  # no partial file left behind
    parsed = BytesParser(policy=policy.default).parsebytes(paths[0].read_bytes())
    assert parsed["Subject"] == "비밀번호 · Password"
    assert "안녕하세요" in parsed.get_content()


def test_email_dir_and_folder_override(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, email_dir=tmp_path / "box")
    assert mail.mail_folder(settings) == tmp_path / "box"
    backend = mail.email_backend(settings, folder=tmp_path / "other")
    assert isinstance(backend, mail.FileEmailBackend)
    assert backend.folder == tmp_path / "other"


def test_console_backend_logs_and_keeps_the_message(caplog: pytest.LogCaptureFixture) -> None:
    backend = mail.email_backend(Settings(email_backend="console"))
    assert isinstance(backend, mail.ConsoleEmailBackend)
    with caplog.at_level("INFO", logger="citysmart.core.mail"):
        backend.send(_message())
    assert len(backend.sent) == 1
    assert "ana@example.org" in caplog.text


class _FakeSMTP:
    instances: list[_FakeSMTP] = []

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.calls: list[tuple[str, Any]] = [("connect", (host, port, timeout))]
        _FakeSMTP.instances.append(self)

    def __enter__(self) -> _FakeSMTP:
        return self

    def __exit__(self, *exc: object) -> None:
        self.calls.append(("quit", None))

    def starttls(self, context: object) -> None:
        self.calls.append(("starttls", None))

    def login(self, user: str, password: str) -> None:
        self.calls.append(("login", (user, password)))

    def send_message(self, message: EmailMessage) -> None:
        self.calls.append(("send", message["To"]))


def test_smtp_backend_uses_starttls_and_login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYSMART_EMAIL_BACKEND", "smtp")
    monkeypatch.setenv("CITYSMART_SMTP_HOST", "mail.example.org")
    monkeypatch.setenv("CITYSMART_SMTP_PORT", "2525")
    monkeypatch.setenv("CITYSMART_SMTP_USER", "city")
    monkeypatch.setenv("CITYSMART_SMTP_PASSWORD", "pw")
    monkeypatch.setattr(mail.smtplib, "SMTP", _FakeSMTP)
    _FakeSMTP.instances.clear()
    backend = mail.email_backend(Settings())
    assert isinstance(backend, mail.SmtpEmailBackend)
    backend.send(_message())
    [smtp] = _FakeSMTP.instances
    assert [name for name, _ in smtp.calls] == ["connect", "starttls", "login", "send", "quit"]
    assert smtp.calls[0][1] == ("mail.example.org", 2525, 10.0)
    assert smtp.calls[2][1] == ("city", "pw")


def test_smtp_backend_without_starttls_or_login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mail.smtplib, "SMTP", _FakeSMTP)
    _FakeSMTP.instances.clear()
    settings = Settings(email_backend="smtp", smtp_port=25, smtp_starttls=False)
    mail.email_backend(settings).send(_message())
    [smtp] = _FakeSMTP.instances
    assert [name for name, _ in smtp.calls] == ["connect", "send", "quit"]
