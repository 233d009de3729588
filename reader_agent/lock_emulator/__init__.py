"""The lock emulator shipped with the product: an offline key box (``KeyBox``) that knows only
its lock key and its own drifting clock, and an online Wi-Fi lock (``OnlineLock``) that polls the
service for its code slots. Used by the demo and the tests."""

from .firmware import firmware_pin, firmware_verify
from .keybox import DriftingClock, EntryResult, KeyBox
from .online import OnlineLock

__all__ = ["DriftingClock", "EntryResult", "KeyBox", "OnlineLock", "firmware_pin",
           "firmware_verify"]
