"""Outgoing email: one adapter, chosen by settings (``CITYSMART_EMAIL_BACKEND``).

- ``file`` writes one ``.eml`` file per message into a folder (the demo's mailbox and the
  tests'): ``CITYSMART_EMAIL_DIR``, default ``<data dir>/mail``.
- ``console`` logs each message (development without a mailbox).
- ``smtp`` sends through ``CITYSMART_SMTP_HOST``/``_PORT`` with optional STARTTLS
  (``CITYSMART_SMTP_STARTTLS``) and login (``CITYSMART_SMTP_USER``/``_PASSWORD``).

Senders build an :class:`email.message.EmailMessage` (see :func:`compose`) and call
``backend.send(message)``; a backend raises on failure, so callers that must not fail
(a web request) catch and log, and callers that retry (an outbox) book the error.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Protocol

from citysmart.core.config import Settings
from citysmart.core.time import utcnow

logger = logging.getLogger(__name__)


class EmailBackend(Protocol):
    """Something that sends an email message."""

    def send(self, message: EmailMessage) -> None:
        """Send the message (raise on failure)."""


@dataclass
class FileEmailBackend:
    """Write each message as an ``.eml`` file in a folder (the demo's mailbox)."""

    folder: Path

    def send(self, message: EmailMessage) -> None:
        """Write the message to ``<folder>/<time>-<n>.eml``; the file appears whole or not."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = f"{utcnow():%Y%m%dT%H%M%S%f}-{time.monotonic_ns() % 1_000_000:06d}"
        partial = self.folder / f".{stem}.tmp"
        partial.write_bytes(bytes(message))
        partial.replace(self.folder / f"{stem}.eml")


@dataclass
class ConsoleEmailBackend:
    """Log each message and keep it in ``sent`` (development without a mailbox, tests)."""

    sent: list[EmailMessage] = field(default_factory=list)

    def send(self, message: EmailMessage) -> None:
        """Log the message's headers and text."""
        self.sent.append(message)
        logger.info("email:\n%s", message.as_string())


@dataclass
class SmtpEmailBackend:
    """Send each message through an SMTP server (one connection per message)."""

    host: str
    port: int = 587
    user: str = ""
    password: str = ""
    starttls: bool = True
    timeout_s: float = 10.0

    def send(self, message: EmailMessage) -> None:
        """Connect, optionally STARTTLS and log in, and send the message."""
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password)
            smtp.send_message(message)


def mail_folder(settings: Settings) -> Path:
    """Return the file backend's folder: ``email_dir`` or ``<data dir>/mail``."""
    return settings.email_dir or Path(settings.data_dir) / "mail"


def email_backend(settings: Settings, folder: Path | None = None) -> EmailBackend:
    """Return the configured backend (``folder`` overrides the file backend's folder)."""
    if settings.email_backend == "console":
        return ConsoleEmailBackend()
    if settings.email_backend == "smtp":
        return SmtpEmailBackend(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_user,
            settings.smtp_password,
            settings.smtp_starttls,
            settings.smtp_timeout_s,
        )
    return FileEmailBackend(folder or mail_folder(settings))


def compose(
    to: str, subject: str, text: str, sender: str, now: dt.datetime | None = None
) -> EmailMessage:
    """Return a plain-text UTF-8 message with Date and Message-ID set."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime((now or utcnow()).astimezone(dt.UTC))
    message["Message-ID"] = make_msgid(domain="citysmart.invalid")
    message.set_content(text if text.endswith("\n") else text + "\n")
    return message


__all__ = [
    "ConsoleEmailBackend",
    "EmailBackend",
    "FileEmailBackend",
    "SmtpEmailBackend",
    "compose",
    "email_backend",
    "mail_folder",
]
