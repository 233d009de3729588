"""Serve a virtual card as an ISO 14443 Type B (ISO-DEP) target over nfcpy's ``udp:`` driver.

nfcpy can act as a Type 3 card only (``nfc.tag.emulate``), so this module answers the Type B
activation and the ISO-DEP blocks itself::

    reader                         card (this module)
    SENSB_REQ 05 00 10        →    SENSB_RES (ATQB) 50 <PUPI> <app data> 00 81 E5
                                     FSCI 8 (256-byte frames), protocol type 1 (ISO 14443-4),
                                     FWI 14 (FWT ≈ 4.9 s: Python crypto fits)
    ATTRIB 1D <PUPI> …        →    00 (MBLI 0, CID 0)
    I(0|1) <APDU>             →    I(0|1) <response>   (chained both ways when longer than
    R(ACK)/R(NAK)             →    R(ACK) / last block  the frame size)
    S(DESELECT) C2            →    C2, end of the session
    RFOFF                          end of the session; listen again while inserted

``insert()`` starts a thread that listens for activations until ``remove()``. A removed card
does not answer, which is how a reader sees it leave the field.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from gate.card.apdu import redact

from .base import VirtualCard

__all__ = ["ATQB_PROTOCOL_INFO", "NfcTypeBCard"]

log = logging.getLogger(__name__)

# Bit rates: 106 kbit/s only; FSCI 8 = 256 bytes | protocol type 1; FWI 14 | ADC 0 | FO 01 (CID).
ATQB_PROTOCOL_INFO = bytes([0x00, 0x81, 0xE5])
FSD_BY_FSDI = (16, 24, 32, 40, 48, 64, 96, 128, 256)


class NfcTypeBCard:
    """A virtual card answering an nfcpy reader at ``udp:<host>:<port>``."""

    def __init__(self, card: VirtualCard, host: str = "localhost", port: int = 54321, *,
                 pupi: bytes | None = None, app_data: bytes = b"\x00\x00\x00\x00") -> None:
        self.card = card
        self.host, self.port = host, port
        self.pupi = pupi or os.urandom(4)
        self.sensb_res = b"\x50" + self.pupi + app_data + ATQB_PROTOCOL_INFO
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._clf = None  # nfc.ContactlessFrontend while listening
        self._lock = threading.Lock()
        self.sessions = 0  # activations served
        self.apdus = 0
        self.card_s = 0.0  # time inside card.process (our code)
        self.ready = threading.Event()  # set once the card socket is bound and listening

    @property
    def inserted(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def insert(self) -> None:
        """Start answering activations (in a thread) until :meth:`remove`."""
        if self.inserted:
            return
        self._stop.clear()
        self.ready.clear()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"nfc-card-{self.port}")
        self._thread.start()

    def remove(self, timeout: float = 5.0) -> None:
        """Stop answering: the card leaves the field."""
        self._stop.set()
        with self._lock:
            clf = self._clf
        if clf is not None:
            try:
                clf.device.socket.close()  # unblocks a pending receive
            except Exception:  # noqa: BLE001 - best effort
                pass
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def serve_forever(self) -> None:
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    # --- the card ----------------------------------------------------------------------------
    def _run(self) -> None:
        import nfc
        import nfc.clf

        while not self._stop.is_set():
            try:
                clf = nfc.ContactlessFrontend(f"udp:{self.host}:{self.port}")
            except OSError as err:
                log.warning("nfc.card.open_failed error=%s", err)
                self._stop.wait(0.2)
                continue
            with self._lock:
                self._clf = clf
            try:
                target = nfc.clf.LocalTarget("106B")
                target.sensb_res = bytearray(self.sensb_res)
                self.ready.set()
                activated = clf.listen(target, 0.5)
                if activated is not None and not self._stop.is_set():
                    self._session(clf, activated)
            except Exception as err:  # noqa: BLE001 - socket closed by remove(), link errors
                if not self._stop.is_set():
                    log.debug("nfc.card.session_ended error=%s", type(err).__name__)
            finally:
                with self._lock:
                    self._clf = None
                try:
                    clf.close()
                except Exception:  # noqa: BLE001
                    pass

    def _session(self, clf, target) -> None:  # type: ignore[no-untyped-def]
        attrib = bytes(target.tt4_cmd or b"")
        if len(attrib) < 9 or attrib[0] != 0x1D or attrib[1:5] != self.pupi:
            return  # not our ATTRIB: stay silent
        fsd = FSD_BY_FSDI[min(attrib[6] & 0x0F, 8)]
        max_inf = fsd - 3  # PCB + CRC
        self.sessions += 1
        self.card.reset()
        command = self._next(clf, bytearray([0x00]))  # ATTRIB answer, wait for a block
        chained = b""
        pending: list[bytes] = []  # response blocks not yet sent (response chaining)
        last_block = b""
        while not self._stop.is_set():
            if command is None:
                return
            pcb = command[0]
            block = None
            if pcb & 0xE2 == 0x02:  # I-block
                bn = pcb & 0x01
                chained += bytes(command[1:])
                if pcb & 0x10:  # the reader chains: acknowledge
                    block = bytes([0xA2 | bn])
                else:
                    apdu, chained = chained, b""
                    response = self._process(apdu)
                    if response is None:  # a mute card: say nothing
                        command = self._next(clf, None)
                        continue
                    chunks = [response[i:i + max_inf] for i in range(0, len(response), max_inf)]
                    pending = chunks[1:]
                    block = bytes([(0x12 if pending else 0x02) | bn]) + chunks[0]
            elif pcb & 0xF6 == 0xA2:  # R(ACK): next chained response block
                bn = pcb & 0x01
                if pending:
                    chunk = pending.pop(0)
                    block = bytes([(0x12 if pending else 0x02) | bn]) + chunk
                else:
                    block = last_block
            elif pcb & 0xF6 == 0xB2:  # R(NAK): presence check or lost block
                bn = pcb & 0x01
                if last_block and last_block[0] & 0x01 == bn:
                    block = last_block
                else:
                    block = bytes([0xA2 | bn])
            elif pcb & 0xF7 == 0xC2:  # S(DESELECT)
                clf.exchange(bytearray([0xC2]), 0)
                return
            else:
                block = None  # unknown: stay silent (the reader retries or gives up)
            if block is not None and block[0] & 0xE2 == 0x02:
                last_block = block
            command = self._next(clf, bytearray(block) if block is not None else None)

    def _next(self, clf, data):  # type: ignore[no-untyped-def]
        """Send ``data`` (if any) and wait for the next command, checking for remove()."""
        import nfc.clf

        while not self._stop.is_set():
            try:
                return clf.exchange(data, 0.2)
            except nfc.clf.TimeoutError:
                data = None  # sent already: only wait again
            except (nfc.clf.CommunicationError, OSError, ValueError):
                return None  # RFOFF or a broken link: the session is over
        return None

    def _process(self, apdu: bytes) -> bytes | None:
        self.apdus += 1
        started = time.perf_counter()
        try:
            return self.card.process(apdu)
        except Exception:
            log.exception("nfc.card.exception apdu=%s", redact(apdu)[:5].hex())
            return b"\x6f\x00"
        finally:
            self.card_s += time.perf_counter() - started
