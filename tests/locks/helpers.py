"""Helpers for the lock tests: a real SMTP server (aiosmtpd) on loopback, app wiring."""

from __future__ import annotations

import asyncio
import email
import email.policy
import gc
import re
import socket
import time
import warnings
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from api.locks.settings import LockSettings
from api.mail.settings import SmtpSettings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """aiosmtpd handler keeping every message received."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.raw.append(raw)
        self.messages.append(msg)  # type: ignore[arg-type]
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def wait(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} mail(s), got {len(self.messages)}")
            time.sleep(0.02)
        return self.messages


class _ClosingController(Controller):
    """aiosmtpd's ``stop()`` stops its loop with client connections still open, leaving their
    sockets to the garbage collector: a ResourceWarning in whichever later test collects them.
    This one aborts the open connections first."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.sessions: list[SMTP] = []

    def factory(self) -> SMTP:
        smtp = super().factory()
        self.sessions.append(smtp)
        return smtp  # type: ignore[no-any-return]

    def stop(self, no_assert: bool = False) -> None:
        asyncio.run_coroutine_threadsafe(self._close_connections(), self.loop).result(timeout=5)
        super().stop(no_assert)
        # A connection accepted in the loop's last turns can still be left behind (CI saw one
        # at a moved date): collect this server's abandoned sockets here, quietly, rather than
        # in whichever later test the garbage collector happens to run.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()

    async def _close_connections(self) -> None:
        if self.server is not None:
            self.server.close()  # no new connections
        for _ in range(3):  # accepts already under way create their transports meanwhile
            await asyncio.sleep(0)
        for smtp in self.sessions:
            if isinstance(smtp.transport, asyncio.Transport):
                smtp.transport.abort()
        await asyncio.sleep(0)  # the aborts close their sockets on the next loop turn


class SmtpServer:
    """A real SMTP server (aiosmtpd) on a loopback port; it can be stopped and started again
    on the same port, keeping its inbox."""

    def __init__(self, handler: Inbox | None = None) -> None:
        self.inbox = handler or Inbox()
        self.port = free_port()
        self.controller: _ClosingController | None = None

    def start(self) -> SmtpServer:
        self.controller = _ClosingController(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def settings(self, **overrides: object) -> SmtpSettings:
        return SmtpSettings(host="127.0.0.1", port=self.port, from_addr="shisetsu@example.lg.jp",
                            **overrides)  # type: ignore[arg-type]


def wire(app, data_dir: Path, smtp: SmtpSettings | None = None) -> LockSettings:  # type: ignore[no-untyped-def]
    ls = LockSettings(data_dir=data_dir, booking_webhook_secret="test-webhook-secret")
    app.state.lock_settings = ls
    app.state.smtp_settings = smtp or SmtpSettings(host="127.0.0.1", port=free_port())
    return ls


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


PIN_RE = re.compile(r"暗証番号（(?P<lock>[^）]+)）: (?P<pin>\d{10})")
FIRST_RE = re.compile(r"最初にこのコードを入力してください: (?P<code>\d{12})")


def create_site(admin, *, kind: str = "offline", lock_id: str = "aso-keybox-07",  # type: ignore[no-untyped-def]
                slot_limit: int = 10, code: str = "aso-gym") -> tuple[int, int]:
    r = admin.post("/api/v1/facilities", json={
        "code": code, "name": "阿蘇市総合体育館", "address": "熊本県阿蘇市一の宮町",
        "contact": "阿蘇市教育課 0967-00-0000",
        "instructions": "テンキーで暗証番号を入力し「確認」を押してください。利用後は扉を閉め施錠してください。"})
    assert r.status_code == 201, r.text
    fid = r.json()["id"]
    r = admin.post("/api/v1/locks", json={"facility_id": fid, "lock_id": lock_id, "kind": kind,
                                          "name": "正面入口", "slot_limit": slot_limit})
    assert r.status_code == 201, r.text
    return fid, r.json()["id"]


def wait_sent(admin, booking_id: int, timeout: float = 10.0) -> dict:  # type: ignore[no-untyped-def, type-arg]
    """The booking once the sender has recorded its email as sent (the SMTP server sees the
    message a moment before the outbox row says so). Under READ COMMITTED the booking row and
    its mail row are read by two statements, so wait until both show the delivery."""
    deadline = time.monotonic() + timeout
    while True:
        got = admin.get(f"/api/v1/bookings/{booking_id}").json()
        if got["mail_status"] == "sent" and got["emailed_at"] is not None:
            return got  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise AssertionError(f"booking {booking_id}: mail {got['mail_status']}")
        time.sleep(0.02)
