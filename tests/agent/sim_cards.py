"""Virtual staff cards for agent tests, presented through the real ``sim:`` driver."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from reader_agent.agent import AuthResult, TapContext
from reader_agent.cards.base import VirtualCard
from reader_agent.cards.staff_ap import VirtualStaffCard
from reader_agent.drivers.sim import get_sim_reader
from reader_agent.tap_source import channel_authenticator

ISSUER = "373222"


def new_card() -> VirtualStaffCard:
    return VirtualStaffCard.generate(ISSUER)


def save_card(card: VirtualStaffCard, path: Path) -> None:
    """Test cards only: the private key goes into a file so a subprocess can use the card."""
    pem = card.private_key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode()
    path.write_text(json.dumps({"credential_id": card.credential_id.hex(), "key": pem}))


def load_card(path: Path) -> VirtualStaffCard:
    raw = json.loads(path.read_text())
    key = serialization.load_pem_private_key(raw["key"].encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return VirtualStaffCard(bytes.fromhex(raw["credential_id"]), key, ISSUER)


class Presenter:
    """An authenticator that presents ``card`` on the sim reader ``reader_name`` for one tap:
    insert → wait_for_card → the real card sequence (card_auth) → remove."""

    def __init__(self, card: VirtualCard, reader_name: str = "agent-test",
                 **auth_options: Any) -> None:
        self.card = card
        self.reader = get_sim_reader(reader_name)
        self.options = auth_options

    def __call__(self, ctx: TapContext) -> AuthResult:
        self.reader.insert(self.card)
        try:
            channel = self.reader.wait_for_card(1.0)
            assert channel is not None
            return channel_authenticator(channel, **self.options)(ctx)
        finally:
            self.reader.remove()


def sim_authenticator(path: Path) -> Presenter:
    return Presenter(load_card(path), f"kill-{path.stem}")
