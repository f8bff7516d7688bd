"""The loaded model and the per-history sessions that query it.

A :class:`Model` is immutable once built (segments and parameters), so any number of
threads can query it at once; each query runs in a :class:`Session`, which owns the
history and scratch buffers of one text being scored or generated.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Sequence

import numpy as np

from app.model.families import code_family
from app.model.params import (
    NCB,
    NKB,
    ModelParams,
    base_distribution,
    kcache_buckets,
    order_buckets,
)
from app.model.segment import KMAX, THRESH, Segment
from jit import Frame, Kernels, ScoringTable
from jit.frame import SegmentTable
from jit.layout import FRAME, HISTORY, REC_FIELDS, SCRATCH

_LEN = FRAME.index["LEN"]  # read on every length query


class RepetitionTables:
    """What the repetition penalty of sampling needs (see :func:`jit.reference.dry_apply`):
    which tokens are sequence breakers, the probability factor for a repeat of each length
    and the shortest repeat that is penalised. Immutable; shared by any number of sessions.
    """

    def __init__(self, breakers: np.ndarray, factors: np.ndarray, allowed: int) -> None:
        if breakers.dtype != np.uint8 or factors.dtype != np.float64 \
                or len(factors) != KMAX + 1 or allowed < 1:
            raise ValueError("repetition tables need uint8 breakers, KMAX + 1 float64 "
                             "factors and a shortest repeat of at least 1")
        self.breakers = np.ascontiguousarray(breakers)
        self.factors = np.ascontiguousarray(factors)
        self.breakers.flags.writeable = False
        self.factors.flags.writeable = False
        self.allowed = int(allowed)
        # Read once: installing the tables is per request, the addresses never change.
        self.breakers_address = int(self.breakers.ctypes.data)
        self.factors_address = int(self.factors.ctypes.data)

    @classmethod
    def off(cls, vocab_size: int) -> RepetitionTables:
        breakers = np.zeros(vocab_size + 1, dtype=np.uint8)
        breakers[vocab_size] = 1
        return cls(breakers, np.ones(KMAX + 1), KMAX + 1)


class Model:
    """Segments + parameters + the kernels that read them."""

    def __init__(self, segments: Sequence[Segment], params: ModelParams, vocab_size: int,
                 kernels: Kernels) -> None:
        self.segments = list(segments)
        self.params = params
        self.vocab_size = vocab_size
        self.kernels = kernels
        self.unigram = np.zeros(vocab_size, dtype=np.int64)
        for segment in self.segments:
            self.unigram += segment.unigram * segment.weight
        self.p0 = base_distribution(self.unigram, params)
        self.obucket = order_buckets()
        self.kbucket = kcache_buckets()
        self._segment_table = SegmentTable([s.kernel_view() for s in self.segments])
        self.no_repetition_penalty = RepetitionTables.off(vocab_size)
        self._focused: dict[str, Model] = {}
        self._focused_lock = threading.Lock()

    @property
    def tokens(self) -> int:
        return int(self.unigram.sum())

    def extended(self, segments: Sequence[Segment], weight: int = 1) -> Model:
        """This model with more segments counted as training data ``weight`` times over
        (e.g. the earlier files of the project a document belongs to); same parameters."""
        extra = [dataclasses.replace(s, weight=weight) for s in segments]
        return Model([*self.segments, *extra], self.params, self.vocab_size, self.kernels)

    def for_language(self, language: str | None) -> Model:
        """This model predicting code of ``language`` from its language family's segments
        only (see app/model/families.py), so a completion stays in the file's language.

        Returns the model itself when ``language`` is None, not a code language, or a
        family nothing has been ingested for (then all the corpus is the best guess), and
        when every segment is of that family already. Views are built once and kept.
        """
        family = code_family(language)
        if family is None:
            return self
        view = self._focused.get(family)
        if view is not None:
            return view
        same = [s for s in self.segments if s.family == family]
        if not same or len(same) == len(self.segments):
            view = self
        else:
            view = Model(same, self.params, self.vocab_size, self.kernels)
        with self._focused_lock:
            return self._focused.setdefault(family, view)

    def session(self, capacity: int = 4096) -> Session:
        return Session(self, capacity)


class Session:
    """One history (a document so far) and the buffers to query the model after it.

    The history always starts with the separator: every text is modelled as the start of
    a document. Not thread-safe; use one session per thread.
    """

    def __init__(self, model: Model, capacity: int) -> None:
        self.model = model
        v = model.vocab_size
        params = model.params
        frame = Frame()
        frame.update(V=v, SEP=v, KMAX=KMAX, THRESH=THRESH, NCB=NCB, NKB=NKB,
                     ALPHA=params.alpha, DISC=params.disc, BETA=params.beta, MIX=params.mix,
                     OBUCKET=model.obucket, KBUCKET=model.kbucket, P0=model.p0)
        frame.set_segments(model._segment_table)
        frame.allocate(SCRATCH)
        self.frame = frame
        # The per-token kernels bound to this frame, and the distribution they write.
        self.bound = model.kernels.bind(frame)
        self.probs = frame.array("OUT")
        self._push = self.bound.cache_push
        self._length = 0
        self.repetition_penalty(None)
        self._allocate(capacity)
        self.reset()

    def _allocate(self, capacity: int) -> None:
        capacity = max(capacity, 2)
        self.capacity = capacity
        self.frame.set("CAP", capacity)
        self.frame.allocate(HISTORY)
        # The history is gone with its buffers: nothing is in it any more.
        self.frame.array("HEAD").fill(-1)
        self.frame.set("LEN", 0)
        self._length = 0

    @property
    def length(self) -> int:
        """Tokens in the history, the leading separator included."""
        return int(self.frame.slots[_LEN])

    @property
    def history(self) -> np.ndarray:
        return self.frame.array("HIST")[1:self.length]

    def reset(self, tokens: Sequence[int] | np.ndarray = ()) -> None:
        """Start a new document holding ``tokens``."""
        ids = np.ascontiguousarray(tokens, dtype=np.int64)
        needed = len(ids) + 2
        if needed > self.capacity:
            self._allocate(max(needed, 2 * self.capacity))
        self._length = self.model.kernels.reset(self.frame, ids)

    def copy_from(self, other: Session) -> None:
        """Hold exactly ``other``'s history (a session of the same model): what a search
        does to follow two continuations of one text without re-reading it. Copies the
        history and its cache index (O(history) memory, no kernel call)."""
        if other.model is not self.model:
            raise ValueError("sessions of different models cannot share a history")
        n = other._length
        if n + 1 > self.capacity:
            self._allocate(max(n + 2, 2 * self.capacity))
        mine, theirs = self.frame, other.frame
        old = self._length
        mine.array("HIST")[:n] = theirs.array("HIST")[:n]
        ml = mine.array("ML")
        ml[:n] = theirs.array("ML")[:n]
        if old > n:
            ml[n:old] = 0
        mine.array("PREV")[:n] = theirs.array("PREV")[:n]
        np.copyto(mine.array("HEAD"), theirs.array("HEAD"))
        mine.slots[_LEN] = n
        self._length = n

    def push(self, token: int) -> None:
        # The length is the kernel's own answer from the last push (the history changes
        # only through this session), which spares reading the frame on every token.
        if self._length >= self.capacity:
            self._grow(2 * self.capacity)
        self._length = self._push(token)

    def repetition_penalty(self, tables: RepetitionTables | None) -> None:
        """The tables :meth:`jit.Kernels.dry_apply` uses on this session's distribution
        (``None``: tables that penalise nothing)."""
        tables = tables or self.model.no_repetition_penalty
        frame = self.frame
        frame.set_array("DRY_BREAK", tables.breakers, tables.breakers_address)
        frame.set_array("DRY_FACTOR", tables.factors, tables.factors_address)
        frame.set("DRY_ALLOWED", tables.allowed)

    def distribution(self) -> np.ndarray:
        """P(next token | history) over the vocabulary (``self.probs``, overwritten by the
        next call). It sums to 1 up to rounding and is never 0."""
        self.bound.dist()
        return self.probs

    def score(self, tokens: Sequence[int] | np.ndarray) -> np.ndarray:
        """The probability of each of ``tokens`` after the history and the tokens before
        it, each then pushed: ``distribution()[token]`` then ``push(token)`` for each in
        turn (the same values to the bit), in one kernel call that computes only the
        target's probability, not the whole distribution's. Returns a new float64 array."""
        ids = np.ascontiguousarray(tokens, dtype=np.int64)
        self._make_room(len(ids))
        probs = np.empty(len(ids), dtype=np.float64)
        self._length = self.model.kernels.score(self.frame, ids, probs)
        return probs

    def score_weights(self, tokens: np.ndarray, table: ScoringTable) -> np.ndarray:
        """:meth:`score` of ``tokens`` (int64) under each of ``table``'s weights of this
        model's project context segments (those from the table's NBASE on) at once: one
        walk a token. Returns float64[len(tokens), NW] (a new array)."""
        self._make_room(len(tokens))
        nw = table.get("NW")
        table.set("OUT", np.empty(len(tokens) * nw, dtype=np.float64))
        self._length = self.model.kernels.score_weights(self.frame, table, tokens)
        return table.array("OUT").reshape(len(tokens), nw)

    def collect(self, tokens: np.ndarray, rec: np.ndarray, depth: np.ndarray,
                info: np.ndarray) -> int:
        """What :meth:`scored` yields for each of ``tokens`` (int64), written out by one
        kernel call (:meth:`jit.Kernels.collect`: records bottom level first after a row
        left for order 0, ``levels + 1`` and INFO), each token pushed after; stops early
        if ``rec`` is nearly full. Returns how many tokens it did."""
        self._make_room(len(tokens))
        done = self.model.kernels.collect(self.frame, tokens, rec, depth, info)
        self._length = self.frame.get(_LEN)
        return done

    def _make_room(self, more: int) -> None:
        """Buffers that hold ``more`` tokens after the history (reallocated if need be)."""
        if self._length + more + 1 > self.capacity:
            self._grow(max(self._length + more + 2, 2 * self.capacity))

    def _grow(self, capacity: int) -> None:
        """Buffers of ``capacity`` tokens holding the same history."""
        kept = self.history.copy()
        self._allocate(capacity)
        self.reset(kept)

    def top(self, k: int) -> list[int]:
        """The ``k`` likeliest tokens of the last :meth:`distribution`, best first (ties:
        the lower id)."""
        return self.bound.top(k)

    def info(self) -> np.ndarray:
        """Facts about the last query (jit.layout I_* slots)."""
        return self.frame.array("INFO")

    def scored(self, tokens: Sequence[int]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """For each of ``tokens`` in turn: how many levels it has, the kernel's per-level
        records of it (top first, ``levels`` rows; :meth:`level_records`) and the INFO
        after that query; then the token is pushed. The arrays are this session's buffers,
        overwritten by the next step: what the fit reads for every held-out token, with
        the per-call lookups done once."""
        slots, target = self.frame.slots, FRAME.index["TARGET"]
        stats, frame = self.model.kernels.stats, self.frame
        records = self.frame.array("REC").reshape(-1, REC_FIELDS)
        info = self.frame.array("INFO")
        for token in tokens:
            slots[target] = token
            levels = stats(frame)
            yield levels, records[:levels], info
            self.push(token)

    def level_records(self, target: int) -> np.ndarray:
        """Per-level counts of ``target`` after the history (for fitting), top first."""
        self.frame.set("TARGET", target)
        levels = self.model.kernels.stats(self.frame)
        return self.frame.array("REC")[:levels * REC_FIELDS].reshape(levels, REC_FIELDS)
