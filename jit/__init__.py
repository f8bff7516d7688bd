"""Hot kernels written as LLVM IR (llvmlite), compiled once per process.

:func:`kernels` returns the native kernels, or, if LLVM cannot compile here, the numpy/Python
references with a warning: everything still works, only slower. Both take a
:class:`~jit.frame.Frame`, so callers never know which they got.
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path

import numpy as np

from jit import reference
from jit.frame import Frame

__all__ = ["Frame", "Kernels", "kernels"]


class Kernels:
    """One set of kernels: native (``native`` is True) or the references."""

    def __init__(self, native: object | None) -> None:
        self._native = native
        self.native = native is not None
        self.compile_seconds = getattr(native, "compile_seconds", 0.0)
        self.from_cache = getattr(native, "from_cache", False)

    def dist(self, frame: Frame) -> int:
        """Next-token distribution after the frame's history into its OUT buffer."""
        if self._native is not None:
            return int(self._native.dist(frame.address))
        return reference.dist(frame)

    def stats(self, frame: Frame) -> int:
        if self._native is not None:
            return int(self._native.stats(frame.address))
        return reference.stats(frame)

    def cache_push(self, frame: Frame, token: int) -> None:
        if self._native is not None:
            self._native.cache_push(frame.address, token)
        else:
            reference.cache_push(frame, token)

    def sample(self, probs: np.ndarray, u: float) -> int:
        if probs.dtype != np.float64 or not probs.flags.c_contiguous:
            raise ValueError("sample needs a contiguous float64 array")
        if self._native is not None:
            return int(self._native.sample(probs.ctypes.data, len(probs), u))
        return reference.sample(probs, len(probs), u)


_lock = threading.Lock()
_loaded: dict[str, Kernels] = {}


def kernels(cache_dir: Path | None = None, *, native: bool = True) -> Kernels:
    """The process's kernels (compiled on first use; ``native=False`` forces references)."""
    key = "native" if native else "reference"
    with _lock:
        if key not in _loaded:
            _loaded[key] = _load(cache_dir) if native else Kernels(None)
        return _loaded[key]


def _load(cache_dir: Path | None) -> Kernels:
    try:
        from jit.compiler import compile_native

        return Kernels(compile_native(cache_dir))
    except Exception as exc:
        warnings.warn(f"native kernels unavailable ({exc}); using the slow reference path",
                      RuntimeWarning, stacklevel=3)
        return Kernels(None)
