"""``tap_pcsc``: a whole tap through the real PC/SC stack.

A virtual staff card (``VirtualStaffCard``, served by ``VpcdCard``) sits on the vpcd reader of
our own ``pcscd`` (started as the card tests start it: ``tests/card/stacks.run_pcscd``, which
takes the machine's one-pcscd lock). Each tap is ``TapProcessor.tap`` with the agent's real
card sequence (``channel_authenticator``: SELECT AP, SELECT file, READ RECORD, INTERNAL
AUTHENTICATE with an ECDSA verify), the decision on a 20,000-staff × 200-door snapshot, the
outbox commit and the actuation.

Baseline, same run, same channel: a bare loop of the SELECT AP command alone, so the
transport's own cost per APDU (pcscd → vpcd driver → TCP → virtual card) is known; the entry
also says how many APDUs a tap sends.

Run alone: ``python -m bench.run --only tap_pcsc``.
"""

from __future__ import annotations

import base64
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.agent import STAFF, _agent, _pct, snapshot_payload
from gate.card.staff_ap import select_ap
from reader_agent.card_auth import KIND_STAFF_AP, CardAuthResult
from reader_agent.cards.staff_ap import VirtualStaffCard
from reader_agent.cards.vpcd import VpcdCard
from reader_agent.drivers import open_reader
from reader_agent.tap_source import channel_authenticator
from tests.card.stacks import run_pcscd

TAPS = 300


def _enrolled(card: VirtualStaffCard) -> dict[str, Any]:
    """The bench snapshot with the credential of a staff member allowed at door 1 replaced by
    this card's key and ref (door 1 is the bench agent's door)."""
    payload = snapshot_payload()
    groups = {p["group_id"] for p in payload["permissions"] if p["door_id"] == 1}
    staff = next(s["id"] for s in payload["staff"] if groups & set(s["group_ids"]))
    payload["credentials"][staff - 1] = {
        "ref": card.credential_ref, "kind": KIND_STAFF_AP, "staff_id": staff,
        "status": "active", "public_key": base64.b64encode(card.public_key).decode(),
        "not_after": None}
    return payload


def _select_loop(channel: Any, n: int) -> list[float]:
    apdu = select_ap().to_bytes()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        response = channel.transmit(apdu)
        times.append((time.perf_counter() - t) * 1000)
        if response[-2:] != b"\x90\x00":
            raise RuntimeError(f"SELECT answered {response[-2:].hex()}")
    return times


def tap_pcsc(taps: int = TAPS) -> list[dict[str, Any]]:
    card = VirtualStaffCard.generate("372153")
    results: list[CardAuthResult] = []
    with tempfile.TemporaryDirectory() as d, run_pcscd(Path(d) / "pcscd") as stack:
        served = VpcdCard(card, "127.0.0.1", stack.port)
        reader = open_reader(f"pcsc:{stack.reader}")
        served.insert()
        try:
            channel = reader.wait_for_card(10.0)
            if channel is None:
                raise RuntimeError("pcscd did not report the inserted card")
            tp = _agent(Path(d), _enrolled(card))
            real = channel_authenticator(channel)

            def auth(ctx: Any) -> Any:  # the agent's own card sequence, its figures kept
                result = real(ctx)
                results.append(result)
                return result

            tp.tap(auth)  # warm-up: first exchange, caches
            base = _select_loop(channel, taps)
            results.clear()
            totals = []
            for _ in range(taps):
                t = time.perf_counter()
                outcome = tp.tap(auth)
                totals.append((time.perf_counter() - t) * 1000)
                if not outcome.granted:
                    raise RuntimeError(f"the enrolled card was denied: {outcome.reason}")
            tp.close()
            channel.close()
        finally:
            served.remove()
            reader.close()
        version = stack.version
    transport = [r.transport_ms for r in results]
    exchange = [r.total_ms for r in results]
    out = []
    for q, label in ((0.5, "p50"), (0.99, "p99")):
        b, v = _pct(base, q), _pct(totals, q)
        out.append({"name": f"tap_pcsc_{label}", "value": round(v, 3), "unit": "ms",
                    "baseline": f"bare SELECT AP loop on the same pcscd/vpcd channel, {label}",
                    "baseline_value": round(b, 3), "ratio": round(v / b, 2), "taps": taps,
                    "apdus_per_tap": results[0].apdus,
                    f"card_transport_{label}_ms": round(_pct(transport, q), 3),
                    f"card_exchange_{label}_ms": round(_pct(exchange, q), 3),
                    "staff": STAFF, "pcscd": version})
    return out
