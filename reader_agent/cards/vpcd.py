"""Serve a virtual card to pcscd through vsmartcard's vpcd driver (tests and rehearsals).

vpcd listens on TCP (``CHANNELID`` in its reader.conf, e.g. 0x8C7B = 35963); a virtual card is
a TCP **client**. Every message is a 2-byte big-endian length and a payload. A 1-byte payload
is a control code — ``00`` power off, ``01`` power on, ``02`` reset, ``04`` send the ATR (the
only one answered). A longer payload is a command APDU, answered with data ‖ SW1 SW2.

.. warning:: vpcd listens on 0.0.0.0, so anyone on the network can insert a card. **Never
   install vsmartcard-vpcd on a production reader host.**
"""

from __future__ import annotations

import logging
import socket
import struct
import threading

from gate.card.apdu import redact

from .base import VirtualCard

__all__ = ["ATR", "VpcdCard"]

log = logging.getLogger(__name__)

# T=1, no historical bytes: 3B 80 80 01 01 (what PC/SC synthesises for an ISO 14443-4 card).
ATR = bytes.fromhex("3B80800101")


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        try:
            chunk = sock.recv(n - len(buf))
        except OSError:
            return None
        if not chunk:
            return None
        buf += chunk
    return buf


class VpcdCard:
    """Connects ``card`` to vpcd at ``host:port`` (insert) until :meth:`remove`."""

    def __init__(self, card: VirtualCard, host: str = "127.0.0.1", port: int = 35963, *,
                 atr: bytes = ATR) -> None:
        self.card = card
        self.host, self.port, self.atr = host, port, atr
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.apdus = 0
        self.card_s = 0.0  # time spent inside card.process (our code), for transport figures

    @property
    def inserted(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def insert(self, timeout: float = 5.0) -> None:
        """Connect to vpcd (retrying until ``timeout`` while it starts) and serve the card."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1.0)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, args=(sock,), daemon=True,
                                        name=f"vpcd-card-{self.port}")
        self._thread.start()

    def remove(self) -> None:
        """Disconnect from vpcd: pcscd sees the card removed."""
        self._stop.set()
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None

    def serve_forever(self) -> None:
        """Block until the connection ends (the CLI's ``insert`` waits here until Ctrl-C)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def _serve(self, sock: socket.socket) -> None:
        import time

        while not self._stop.is_set():
            header = _recv_exact(sock, 2)
            if header is None:
                break
            (length,) = struct.unpack(">H", header)
            payload = _recv_exact(sock, length) if length else b""
            if payload is None:
                break
            if len(payload) == 1:
                code = payload[0]
                if code in (0x00, 0x01, 0x02):
                    self.card.reset()
                elif code == 0x04:
                    self._send(sock, self.atr)
                continue
            self.apdus += 1
            started = time.perf_counter()
            try:
                response = self.card.process(payload)
            except Exception:  # a card bug: answer like a broken card, keep serving
                log.exception("vpcd.card.exception apdu=%s", redact(payload)[:5].hex())
                response = b"\x6f\x00"
            self.card_s += time.perf_counter() - started
            if response is None:
                continue  # a mute card: vpcd waits, pcscd times out
            self._send(sock, response)
        log.debug("vpcd.card.disconnected port=%s", self.port)

    @staticmethod
    def _send(sock: socket.socket, payload: bytes) -> None:
        try:
            sock.sendall(struct.pack(">H", len(payload)) + payload)
        except OSError:
            pass
