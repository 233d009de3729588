"""``sim:[NAME]``: a keypad fed in-process by the demo or a test — a real driver.

``type_pin("4821")`` queues the digits followed by the enter key, as a person would type them;
``press("1")`` queues single keys (clear, enter, anything) for tests of the key handling.
"""

from __future__ import annotations

import queue
import threading

from .base import HostKeypad, KeypadOptions

__all__ = ["SimKeypad", "forget_sim_keypads", "get_sim_keypad"]


class SimKeypad(HostKeypad):
    """Keys come from :meth:`press` / :meth:`type_pin` (another thread, or before the tap)."""

    def __init__(self, name: str = "sim:", options: KeypadOptions | None = None) -> None:
        super().__init__(name, options)
        self._keys: queue.Queue[str] = queue.Queue()

    def press(self, *keys: str) -> None:
        for key in keys:
            self._keys.put(key)

    def type_pin(self, pin: str) -> None:
        self.press(*pin, self.options.enter_key)

    def _next_key(self, wait: float) -> str | None:
        try:
            return self._keys.get(timeout=wait)
        except queue.Empty:
            return None


_registry: dict[str, SimKeypad] = {}
_lock = threading.Lock()


def get_sim_keypad(name: str, options: KeypadOptions | None = None) -> SimKeypad:
    """The process-wide sim keypad called ``name`` (created on first use)."""
    with _lock:
        pad = _registry.get(name)
        if pad is None:
            pad = _registry[name] = SimKeypad(f"sim:{name}", options)
        return pad


def forget_sim_keypads() -> None:
    with _lock:
        _registry.clear()
