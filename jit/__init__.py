"""Hot kernels written as LLVM IR (llvmlite), compiled once per process.

:func:`kernels` returns the native kernels, or, if LLVM cannot compile here, the numpy/Python
references with a warning: everything still works, only slower. Both take a
:class:`~jit.frame.Frame`, so callers never know which they got.
"""

from __future__ import annotations

import functools
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from jit import reference
from jit.frame import FitTable, Frame, ScoringTable
from jit.layout import INFO_FIELDS, REC_FIELDS

__all__ = ["Bound", "FitTable", "Frame", "KernelSet", "Kernels", "ScoringTable", "kernels"]


class KernelSet(Protocol):
    """The kernels in one calling convention: jit.compiler's native ones take a frame's
    address and arrays' data addresses, jit/reference.py's take the frame and the arrays."""

    @property
    def dist(self) -> Callable[..., int]: ...
    @property
    def stats(self) -> Callable[..., int]: ...
    @property
    def prob(self) -> Callable[..., float]: ...
    @property
    def score(self) -> Callable[..., int]: ...
    @property
    def score_weights(self) -> Callable[..., int]: ...
    @property
    def collect(self) -> Callable[..., int]: ...
    @property
    def cache_push(self) -> Callable[..., int]: ...
    @property
    def reset(self) -> Callable[..., int]: ...
    @property
    def sample(self) -> Callable[..., int]: ...
    @property
    def argmax(self) -> Callable[..., int]: ...
    @property
    def top(self) -> Callable[..., int]: ...
    @property
    def dry_apply(self) -> Callable[..., int]: ...
    @property
    def dry_restore(self) -> Callable[..., int]: ...
    @property
    def dry_argmax(self) -> Callable[..., int]: ...
    @property
    def dry_sample(self) -> Callable[..., int]: ...
    @property
    def fit_forward(self) -> Callable[..., int]: ...
    @property
    def fit_backward(self) -> Callable[..., int]: ...
    @property
    def fit_mixture(self) -> Callable[..., int]: ...


def _itself(value: object) -> object:
    return value


def _data_address(array: np.ndarray) -> int:
    return int(array.ctypes.data)


def _frame_address(frame: Frame) -> int:
    return frame.address


class Kernels:
    """One set of kernels: native (``native`` is True) or the references, chosen once
    when loaded. The per-frame kernels are the chosen set's own functions (a native kernel
    takes a :class:`~jit.frame.Frame` as its address), so a call costs no dispatch:

    ``dist(frame)``        next-token distribution after the frame's history into its OUT
    ``stats(frame)``       per-level records of the frame's TARGET (fitting)
    ``prob(frame)``        the probability of the frame's TARGET after its history: what
                           ``dist`` writes to OUT[TARGET] (to the bit), without the rest
    ``cache_push(frame, token)`` appends ``token`` to the history; returns its new length
    ``dry_apply(frame)``   the repetition penalty applied to OUT in place; returns how many
                           tokens it changed (see :func:`jit.reference.dry_apply`)
    ``dry_restore(frame, changed)`` OUT as it was before ``dry_apply``
    ``dry_argmax(frame)``, ``dry_sample(frame, u)``: :meth:`argmax` and :meth:`sample` of
                           OUT with the repetition penalty applied, OUT left as it was
    ``fit_forward(table)``, ``fit_backward(table)``: the fit's likelihood and its gradient
                           over a :class:`~jit.frame.FitTable` of held-out records
                           (see :func:`jit.reference.fit_forward`)
    ``fit_mixture(table)`` one E step of the mixture weights' EM over the table's tokens
    """

    def __init__(self, impl: KernelSet, *, native: bool, compile_seconds: float = 0.0,
                 from_cache: bool = False) -> None:
        self._impl = impl  # and for a native set, the machine code it keeps alive
        self.native = native
        self.compile_seconds = compile_seconds
        self.from_cache = from_cache
        self.dist: Callable[[Frame], int] = impl.dist
        self.stats: Callable[[Frame], int] = impl.stats
        self.prob: Callable[[Frame], float] = impl.prob
        self.cache_push: Callable[[Frame, int], int] = impl.cache_push
        self.dry_apply: Callable[[Frame], int] = impl.dry_apply
        self.dry_restore: Callable[[Frame, int], int] = impl.dry_restore
        self.dry_argmax: Callable[[Frame], int] = impl.dry_argmax
        self.dry_sample: Callable[[Frame, float], int] = impl.dry_sample
        self.fit_forward: Callable[[FitTable], int] = impl.fit_forward
        self.fit_backward: Callable[[FitTable], int] = impl.fit_backward
        self.fit_mixture: Callable[[FitTable], int] = impl.fit_mixture
        # How the set is handed a frame and an array.
        self._frame: Callable[[Frame], object] = _frame_address if native else _itself
        self._array: Callable[[np.ndarray], object] = _data_address if native else _itself
        self._local = threading.local()

    def reset(self, frame: Frame, ids: np.ndarray) -> int:
        """Start the frame's history afresh holding ``ids`` (the buffers must have room);
        returns its length."""
        if ids.dtype != np.int64 or not ids.flags.c_contiguous:
            raise ValueError("reset needs a contiguous int64 array")
        return self._impl.reset(frame, self._array(ids), len(ids))

    def score(self, frame: Frame, ids: np.ndarray, out: np.ndarray) -> int:
        """For each of ``ids`` in turn, its :attr:`prob` after the frame's history into
        ``out``, then the token appended to the history (the buffers must have room for
        all of them); returns the history's new length. One call for a whole text."""
        if ids.dtype != np.int64 or not ids.flags.c_contiguous:
            raise ValueError("score needs a contiguous int64 array of tokens")
        if out.dtype != np.float64 or not out.flags.c_contiguous or len(out) < len(ids):
            raise ValueError("score needs a contiguous float64 array as long as the tokens")
        return self._impl.score(frame, self._array(ids), len(ids), self._array(out))

    def score_weights(self, frame: Frame, table: ScoringTable, ids: np.ndarray) -> int:
        """:meth:`score` under each of the table's weights of the frame's project context
        segments (those from NBASE on) at once, into the table's OUT (a row a token, a
        column a weight: it must hold them all); returns the history's new length."""
        if ids.dtype != np.int64 or not ids.flags.c_contiguous:
            raise ValueError("score_weights needs a contiguous int64 array of tokens")
        if len(table.array("OUT")) < len(ids) * table.get("NW") or table.unset():
            raise ValueError("score_weights needs a complete table with room for the tokens")
        return self._impl.score_weights(frame, table, self._array(ids), len(ids))

    def collect(self, frame: Frame, ids: np.ndarray, rec: np.ndarray, depth: np.ndarray,
                info: np.ndarray) -> int:
        """For each of ``ids`` in turn, :attr:`stats` of it copied out, then the token
        appended to the history (the buffers must have room for all of them): its records
        bottom level first into ``rec`` (int32, REC_FIELDS columns) after a row left for
        order 0, its level count + 1 into ``depth`` and INFO into ``info`` (int64,
        INFO_FIELDS columns). Stops before a token that might not fit in ``rec`` (KMAX + 2
        rows each); returns how many tokens it did."""
        if ids.dtype != np.int64 or not ids.flags.c_contiguous:
            raise ValueError("collect needs a contiguous int64 array of tokens")
        checks = ((rec, np.int32, REC_FIELDS, 0), (depth, np.int64, 1, len(ids)),
                  (info, np.int64, INFO_FIELDS, len(ids)))
        for array, dtype, width, rows in checks:
            if array.dtype != dtype or not array.flags.c_contiguous \
                    or array.size != len(array) * width or len(array) < rows:
                raise ValueError("collect needs contiguous int32 records, int64 depths and "
                                 "int64 INFO rows, one a token")
        return self._impl.collect(frame, self._array(ids), len(ids), self._array(rec),
                                  len(rec), self._array(depth), self._array(info))

    def argmax(self, probs: np.ndarray) -> int:
        """The first index of the largest value (``probs`` holds no NaN)."""
        if probs.dtype != np.float64 or not probs.flags.c_contiguous:
            raise ValueError("argmax needs a contiguous float64 array")
        return self._impl.argmax(self._array(probs), len(probs))

    def top(self, values: np.ndarray, k: int) -> list[int]:
        """Indices of the ``k`` largest of ``values`` (no NaN), best first (ties: the lower
        index), found in one pass over the array (see jit/ir_kernels.py ``hc_top``)."""
        if values.dtype != np.float64 or not values.flags.c_contiguous:
            raise ValueError("top needs a contiguous float64 array")
        if k <= 0:
            return []
        found = self._found(k)
        count = self._impl.top(self._array(values), len(values), k, found.index_handle,
                               found.value_handle)
        return found.index[:count].tolist()

    def _found(self, k: int) -> _TopBuffers:
        """This thread's output buffers for :meth:`top` (made once: allocating two arrays
        and taking their addresses cost about as much as the scan)."""
        found: _TopBuffers | None = getattr(self._local, "found", None)
        if found is None or len(found.index) < k:
            found = self._local.found = _TopBuffers(max(k, 64), self._array)
        return found

    def sample(self, probs: np.ndarray, u: float) -> int:
        if probs.dtype != np.float64 or not probs.flags.c_contiguous:
            raise ValueError("sample needs a contiguous float64 array")
        return self._impl.sample(self._array(probs), len(probs), u)

    def bind(self, frame: Frame) -> Bound:
        """The per-token kernels with ``frame`` bound (for loops that call them per token:
        each call skips the frame's conversion)."""
        return Bound(self, frame)


class _TopBuffers:
    """Where :meth:`Kernels.top` writes, with the handles its kernel is given."""

    def __init__(self, size: int, handle: Callable[[np.ndarray], object]) -> None:
        self.index = np.empty(size, dtype=np.int64)
        self.value = np.empty(size, dtype=np.float64)
        self.index_handle = handle(self.index)
        self.value_handle = handle(self.value)


class Bound:
    """Kernels with one frame bound, for the per-token loop: ``dist()``,
    ``cache_push(token)`` (returns the new length), ``argmax()`` and ``sample(u)`` of the
    frame's OUT, ``dry_apply()``, ``dry_restore(changed)``, ``dry_argmax()`` and
    ``dry_sample(u)`` (see :mod:`jit.reference`), and ``top(k)`` of OUT. The frame's OUT
    and vocabulary size must be set and stay as they are."""

    def __init__(self, kernels: Kernels, frame: Frame) -> None:
        impl, target = kernels._impl, kernels._frame(frame)
        out, v = kernels._array(frame.array("OUT")), frame.get("V")
        self.dist: Callable[[], int] = functools.partial(impl.dist, target)
        self.cache_push: Callable[[int], int] = functools.partial(impl.cache_push, target)
        self.argmax: Callable[[], int] = functools.partial(impl.argmax, out, v)
        self.sample: Callable[[float], int] = functools.partial(impl.sample, out, v)
        self.dry_apply: Callable[[], int] = functools.partial(impl.dry_apply, target)
        self.dry_restore: Callable[[int], int] = functools.partial(impl.dry_restore, target)
        self.dry_argmax: Callable[[], int] = functools.partial(impl.dry_argmax, target)
        self.dry_sample: Callable[[float], int] = functools.partial(impl.dry_sample, target)
        self._top = functools.partial(impl.top, out, v)
        self._found = _TopBuffers(64, kernels._array)
        self._handle = kernels._array

    def top(self, k: int) -> list[int]:
        """:meth:`Kernels.top` of the frame's OUT, with no address taken per call."""
        found = self._found
        if len(found.index) < k:
            found = self._found = _TopBuffers(k, self._handle)
        count = self._top(k, found.index_handle, found.value_handle) if k > 0 else 0
        return found.index[:count].tolist()


_lock = threading.Lock()
_loaded: dict[str, Kernels] = {}


def kernels(cache_dir: Path | None = None, *, native: bool = True) -> Kernels:
    """The process's kernels (compiled on first use; ``native=False`` forces references)."""
    key = "native" if native else "reference"
    with _lock:
        if key not in _loaded:
            _loaded[key] = _load(cache_dir) if native else _references()
        return _loaded[key]


def _load(cache_dir: Path | None) -> Kernels:
    try:
        from jit.compiler import compile_native

        compiled = compile_native(cache_dir)
    except Exception as exc:
        warnings.warn(f"native kernels unavailable ({exc}); using the slow reference path",
                      RuntimeWarning, stacklevel=3)
        return _references()
    return Kernels(compiled, native=True, compile_seconds=compiled.compile_seconds,
                   from_cache=compiled.from_cache)


def _references() -> Kernels:
    return Kernels(reference, native=False)
