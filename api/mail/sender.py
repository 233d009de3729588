"""Sending mail over SMTP (smtplib)."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from .settings import SmtpSettings

log = logging.getLogger(__name__)


class MailError(Exception):
    """The SMTP server refused or could not be reached."""


def send(message: EmailMessage, settings: SmtpSettings) -> None:
    """Send one message; raises MailError. The body is never logged (it holds a PIN)."""
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
        raise MailError(f"SMTP {settings.host}:{settings.port}: {type(err).__name__}") from err
    log.info("mail.sent to=%s subject=%s", message["To"], message["Subject"])
