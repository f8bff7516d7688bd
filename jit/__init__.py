"""Hot kernels written as LLVM IR (llvmlite), compiled once per process.

:func:`kernels` returns the native kernels, or, if LLVM cannot compile here, the numpy/Python
references with a warning: everything still works, only slower. Both take a
:class:`~jit.frame.Frame`, so callers never know which they got.
"""

from __future__ import annotations

import functools
import threading
import warnings
from pathlib import Path

import numpy as np

from jit import reference
from jit.frame import Frame
from jit.layout import F_OUT, F_V

__all__ = ["Bound", "Frame", "Kernels", "kernels"]


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

    def cache_push(self, frame: Frame, token: int) -> int:
        """Append ``token`` to the frame's history; returns its new length."""
        if self._native is not None:
            return int(self._native.cache_push(frame.address, token))
        return reference.cache_push(frame, token)

    def reset(self, frame: Frame, ids: np.ndarray) -> int:
        """Start the frame's history afresh holding ``ids`` (the buffers must have room);
        returns its length."""
        if ids.dtype != np.int64 or not ids.flags.c_contiguous:
            raise ValueError("reset needs a contiguous int64 array")
        if self._native is not None:
            return int(self._native.reset(frame.address, ids.ctypes.data, len(ids)))
        return reference.reset(frame, ids)

    def bind(self, frame: Frame) -> Bound:
        """The per-token kernels with ``frame`` bound (for loops that call them per token:
        each call skips this class's dispatch and the frame's address lookup)."""
        return Bound(self, frame)

    def dry_apply(self, frame: Frame) -> int:
        """The repetition penalty applied to the frame's OUT in place; returns how many
        tokens it changed (see :func:`jit.reference.dry_apply`)."""
        if self._native is not None:
            return int(self._native.dry_apply(frame.address))
        return reference.dry_apply(frame)

    def dry_restore(self, frame: Frame, changed: int) -> None:
        """OUT as it was before :meth:`dry_apply` (``changed`` is what that returned)."""
        if self._native is not None:
            self._native.dry_restore(frame.address, changed)
        else:
            reference.dry_restore(frame, changed)

    def argmax(self, probs: np.ndarray) -> int:
        """The first index of the largest value (``probs`` holds no NaN)."""
        if probs.dtype != np.float64 or not probs.flags.c_contiguous:
            raise ValueError("argmax needs a contiguous float64 array")
        if self._native is not None:
            return int(self._native.argmax(probs.ctypes.data, len(probs)))
        return reference.argmax(probs, len(probs))

    def dry_argmax(self, frame: Frame) -> int:
        """:meth:`argmax` of the frame's OUT with the repetition penalty applied."""
        if self._native is not None:
            return int(self._native.dry_argmax(frame.address))
        return reference.dry_argmax(frame)

    def dry_sample(self, frame: Frame, u: float) -> int:
        """:meth:`sample` from the frame's OUT with the repetition penalty applied."""
        if self._native is not None:
            return int(self._native.dry_sample(frame.address, u))
        return reference.dry_sample(frame, u)

    def sample(self, probs: np.ndarray, u: float) -> int:
        if probs.dtype != np.float64 or not probs.flags.c_contiguous:
            raise ValueError("sample needs a contiguous float64 array")
        if self._native is not None:
            return int(self._native.sample(probs.ctypes.data, len(probs), u))
        return reference.sample(probs, len(probs), u)


class Bound:
    """Kernels with one frame bound, for the per-token loop: ``dist()``,
    ``cache_push(token)`` (returns the new length), ``argmax()`` and ``sample(u)`` of the
    frame's OUT, ``dry_apply()``, ``dry_restore(changed)``, ``dry_argmax()`` and
    ``dry_sample(u)`` (see :mod:`jit.reference`). The frame's OUT and vocabulary size must
    be set and stay as they are."""

    def __init__(self, kernels: Kernels, frame: Frame) -> None:
        native = kernels._native
        v = frame.get(F_V)
        if native is not None:
            address = frame.address
            out = frame.get(F_OUT)
            self.dist = functools.partial(native.dist, address)
            self.cache_push = functools.partial(native.cache_push, address)
            self.argmax = functools.partial(native.argmax, out, v)
            self.sample = functools.partial(native.sample, out, v)
            self.dry_apply = functools.partial(native.dry_apply, address)
            self.dry_restore = functools.partial(native.dry_restore, address)
            self.dry_argmax = functools.partial(native.dry_argmax, address)
            self.dry_sample = functools.partial(native.dry_sample, address)
        else:
            probs = frame.arrays[F_OUT]
            self.dist = functools.partial(reference.dist, frame)
            self.cache_push = functools.partial(reference.cache_push, frame)
            self.argmax = functools.partial(reference.argmax, probs, v)
            self.sample = functools.partial(reference.sample, probs, v)
            self.dry_apply = functools.partial(reference.dry_apply, frame)
            self.dry_restore = functools.partial(reference.dry_restore, frame)
            self.dry_argmax = functools.partial(reference.dry_argmax, frame)
            self.dry_sample = functools.partial(reference.dry_sample, frame)


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
