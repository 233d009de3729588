"""Giving the heap freed by a snapshot load back to the system.

Loading a 20,000-staff snapshot parses and verifies megabytes of JSON that are garbage a moment
later. CPython frees them, but glibc keeps the freed heap mapped, so the agent's resident size
would stay at the load's peak for its whole life. ``malloc_trim`` returns it (glibc only; a
no-op with any other C library).
"""

from __future__ import annotations

import ctypes
import ctypes.util

_LIBC_NAME = ctypes.util.find_library("c")
_TRIM = getattr(ctypes.CDLL(_LIBC_NAME), "malloc_trim", None) if _LIBC_NAME else None


def release_free_memory() -> None:
    """Return the C heap's free memory to the system (call after dropping a parsed snapshot)."""
    if _TRIM is not None:
        _TRIM(0)
