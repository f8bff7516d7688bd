"""Handing freed heap memory back to the operating system.

CPython and numpy free through the C allocator, and glibc's malloc keeps what was freed in
its arenas (one per thread that allocated) for reuse: after an ingest the process stayed
hundreds of megabytes above what the new model needs, and a fresh process on the same file
used a fraction of it. ``malloc_trim(0)`` returns the free pages of every arena. Elsewhere
(macOS, Windows, musl) there is nothing to call and this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def release_free_memory() -> None:
    """Collect reference cycles, then return the heap's free pages to the system."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
