"""Virtual cards — part of the product, so a town can rehearse without hardware.

- :class:`reader_agent.cards.staff_ap.VirtualStaffCard` — the staff card AP v1;
- :class:`reader_agent.cards.jpki.VirtualJpkiCard` — a JPKI AP subset with a test CA;
- :class:`reader_agent.cards.base.SilentCard` — any of them, going mute mid-exchange.

A virtual card answers command APDUs with :meth:`process` (``bytes → bytes``). It can be
inserted into a ``sim:`` reader, served to pcscd through vpcd
(:mod:`reader_agent.cards.vpcd`), or to an nfcpy reader as a Type 4B target
(:mod:`reader_agent.cards.nfc_target`). Test cards only: their private keys live in files.
"""

from __future__ import annotations

from .base import Command, SilentCard, VirtualCard, parse_command

__all__ = ["Command", "SilentCard", "VirtualCard", "parse_command"]
