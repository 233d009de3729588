"""A TCP fault proxy on loopback, between an agent and the service, that the test controls.

Modes (``FaultProxy.mode``), applied to new and open connections alike:

- ``PASS``: bytes flow both ways.
- ``LATENCY``: every chunk waits ``latency_s`` before it is forwarded, both ways.
- ``RESET``: open connections are reset (RST, not FIN) and new ones are reset on accept.
- ``BLACKHOLE``: nothing is forwarded either way, nothing is closed; bytes wait in the kernel
  buffers and flow again when the mode returns to ``PASS`` (as TCP does after a partition).
- ``HALF_OPEN``: the agent's bytes reach the service, the service's answers are swallowed and
  the connection is never closed: the service does the work, the agent never hears of it.
"""

from __future__ import annotations

import enum
import select
import socket
import struct
import threading
import time


class Mode(enum.Enum):
    PASS = "pass"
    LATENCY = "latency"
    RESET = "reset"
    BLACKHOLE = "blackhole"
    HALF_OPEN = "half_open"


def _reset(sock: socket.socket) -> None:
    """Close with RST: SO_LINGER on, timeout 0."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


class _Link:
    """One proxied connection: the agent's socket and the one to the service."""

    def __init__(self, proxy: FaultProxy, client: socket.socket, upstream: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.closed = threading.Event()
        # A POST /events forwarded to the service whose answer has not come back yet.
        self.post_in_flight = False

    def start(self) -> None:
        for src, dst, replies in ((self.client, self.upstream, False),
                                  (self.upstream, self.client, True)):
            threading.Thread(target=self._pump, args=(src, dst, replies), daemon=True,
                             name="fault-proxy-pump").start()

    def _pump(self, src: socket.socket, dst: socket.socket, replies: bool) -> None:
        while not self.closed.is_set():
            mode = self.proxy.mode
            if mode is Mode.BLACKHOLE:  # hold: leave the bytes in the kernel's buffers
                time.sleep(0.02)
                continue
            try:
                ready, _, _ = select.select([src], [], [], 0.05)
                if not ready:
                    continue
                chunk = src.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            mode = self.proxy.mode
            while mode is Mode.BLACKHOLE and not self.closed.is_set():  # read just before
                time.sleep(0.02)
                mode = self.proxy.mode
            if mode is Mode.LATENCY:
                time.sleep(self.proxy.latency_s)
            if replies:
                self.post_in_flight = False
            elif chunk.startswith(b"POST ") and b"/events " in chunk[:200]:
                self.post_in_flight = True
            if replies and mode is Mode.HALF_OPEN:
                self.proxy.swallowed += len(chunk)
                continue
            try:
                dst.sendall(chunk)
            except OSError:
                break
        self.close()

    def close(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            for sock in (self.client, self.upstream):
                try:
                    sock.close()
                except OSError:
                    pass

    def reset(self) -> None:
        self.closed.set()
        _reset(self.client)
        _reset(self.upstream)


class FaultProxy:
    """Listens on a free loopback port and forwards to ``target`` (host, port)."""

    def __init__(self, target: tuple[str, int], latency_s: float = 0.3) -> None:
        self.target = target
        self.latency_s = latency_s
        self._mode = Mode.PASS
        self._links: list[_Link] = []
        self._lock = threading.Lock()
        self.accepted = 0
        self.resets = 0
        self.swallowed = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True,
                                        name="fault-proxy")
        self._thread.start()

    @property
    def mode(self) -> Mode:
        return self._mode

    def set_mode(self, mode: Mode) -> None:
        with self._lock:
            self._mode = mode
            if mode is Mode.RESET:
                for link in self._links:
                    link.reset()
                    self.resets += 1
                self._links = []

    def post_in_flight(self) -> bool:
        """Whether a batch of events is with the service, unanswered."""
        with self._lock:
            return any(ln.post_in_flight and not ln.closed.is_set() for ln in self._links)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            if self._mode is Mode.RESET:
                self.resets += 1
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)  # the service is down: the agent sees its connection refused
                continue
            upstream.settimeout(None)
            link = _Link(self, client, upstream)
            with self._lock:
                self._links = [ln for ln in self._links if not ln.closed.is_set()]
                self._links.append(link)
            link.start()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=5)
        with self._lock:
            for link in self._links:
                link.close()
            self._links = []
