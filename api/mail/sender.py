"""Sending one message over SMTP (smtplib).

Hierarchy::

    MailError                 the message was not sent
    ├── TransientMailError    unreachable, timed out, or a 4xx answer: worth another try
    └── PermanentMailError    a 5xx refusal of the sender, a recipient or the data
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from .settings import SmtpSettings

log = logging.getLogger(__name__)


class MailError(Exception):
    """The message was not sent."""


class TransientMailError(MailError):
    """The SMTP server could not be reached or answered 4xx: try again later."""


class PermanentMailError(MailError):
    """The SMTP server refused the message for good (5xx)."""


def _smtp_reply(err: Exception) -> tuple[int | None, bytes]:
    """The SMTP server's answer carried by the error: (code, text), or (None, b"")."""
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        replies = sorted(err.recipients.values())
        return replies[0] if replies else (None, b"")
    code, reply = getattr(err, "smtp_code", None), getattr(err, "smtp_error", b"")
    return (code if isinstance(code, int) else None), reply


def _smtp_code(err: Exception) -> int | None:
    return _smtp_reply(err)[0]


def _describe(err: Exception, settings: SmtpSettings) -> str:
    text = f"SMTP {settings.host}:{settings.port}: {type(err).__name__}"
    code, reply = _smtp_reply(err)
    if code is not None:
        text += f" {code}"
    if isinstance(reply, bytes) and reply:
        text += " " + reply.decode("utf-8", "replace")
    elif isinstance(err, OSError) and err.strerror:
        text += f" ({err.strerror})"
    return text[:480]


def send(message: EmailMessage, settings: SmtpSettings) -> None:
    """Send one message; raises a MailError. The body is never logged (it holds a PIN)."""
    if "From" not in message:
        message["From"] = settings.from_addr
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s) as smtp:
            if settings.starttls:
                smtp.starttls()
            if settings.username and settings.password:
                smtp.login(settings.username, settings.password.get_secret_value())
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as err:
        code = _smtp_code(err)
        cls = PermanentMailError if code is not None and 500 <= code < 600 \
            and not isinstance(err, smtplib.SMTPAuthenticationError) else TransientMailError
        raise cls(_describe(err, settings)) from err
    log.info("mail.sent message_id=%s", message["Message-ID"])
