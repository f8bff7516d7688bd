"""The memory layout the kernels and their references share, declared once.

A kernel takes one pointer: a *frame*, an int64 array whose slots hold sizes and the
addresses of numpy buffers. One argument keeps the ctypes call cheap (its cost grows with
the argument count) and lets a caller reuse the frame for every token, changing only the
slots that move. The segment table is an int64 array of ``SEGMENT.fields`` slots per
segment.

:data:`FRAME` and :data:`SEGMENT` below are the only place a slot is declared: its index is
its position in the table, and everything else is derived from the row. The frame
(jit/frame.py) allocates the buffers a row sizes and checks the dtype of those it is handed;
the IR kernels (jit/irgen.py :class:`~jit.irgen.Row`) load a slot by name, as an i64 or as a
buffer whose loads widen and stores narrow as its dtype says; the references
(jit/reference.py) read the same names. ``F_<NAME>`` and ``S_<NAME>`` are the indices under
their old names (``from jit.layout import F_HIST``), for callers that index the raw arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

# Concentrations per (order bucket, count bucket): cache count 0, 1, 2, 3+ times distinct
# tokens 1, 2, 3+.
ALPHA_SUB = 12

# Info slots written by the distribution and stats kernels.
I_KTRAIN = 0       # longest context matched in training data
I_KCACHE = 1       # longest context matched in the history
I_LEVELS = 2       # levels mixed
I_CTOP = 3         # training count at the top level
I_CINF = 4         # training count at the highest level that has any (the ∞-gram's total)
I_CCACHE = 5       # cache count at the highest level that has any
I_RECENT = 6       # the token after the most recent longest cache match, or -1
I_LATEST = 7       # the token after the most recent cache match of any length, or -1
INFO_FIELDS = 8

# Mixture components: the hierarchy, the ∞-gram, the cache's longest match, the token after
# its most recent occurrence, the token after the most recent match of any length.
NMIXC = 5

# A per-level record (stats kernel), top level first; order 0 is not included.
R_OB = 0           # order bucket
R_C = 1            # training count
R_CC = 2           # cache count
R_U1 = 3           # distinct tokens seen once, twice, three times or more in training
R_U2 = 4
R_U3 = 5
R_CY = 6           # training count of the target
R_CCY = 7          # cache count of the target
R_CB = 8           # count bucket
R_NT = 9           # distinct tokens in the level (training or cache)
REC_FIELDS = 10

SCALAR = "scalar"
BUFFER = "buffer"

# Who sets a frame slot. The frame allocates the buffers of ALLOCATED owners itself
# (:meth:`jit.frame.Frame.allocate`), sized by their row's expression; it is handed the
# others.
MODEL = "model"        # the model's sizes and tables, once per frame
SEGMENTS = "segments"  # the segment table (jit.frame.Frame.set_segments)
SCRATCH = "scratch"    # allocated once per frame: sized by V, KMAX and NSEG
HISTORY = "history"    # allocated again whenever the history's capacity CAP grows
CALL = "call"          # set before the call that reads it
REQUEST = "request"    # the repetition penalty's tables, set per completion
ALLOCATED = (SCRATCH, HISTORY)

# What a size expression may name besides the table's own scalars.
_SIZE_CONSTANTS: dict[str, object] = {
    "ALPHA_SUB": ALPHA_SUB, "INFO_FIELDS": INFO_FIELDS, "NMIXC": NMIXC,
    "REC_FIELDS": REC_FIELDS, "max": max,
}
_SIZE_GLOBALS = {"__builtins__": {}, **_SIZE_CONSTANTS}


@dataclass(frozen=True)
class Slot:
    """One slot: an int64 holding a scalar, or the address of a numpy buffer."""

    name: str
    index: int
    kind: str                  # SCALAR or BUFFER
    dtype: np.dtype | None     # a buffer's element type
    size: str                  # a buffer's length, over the table's scalars (documentation
    #                            for the buffers the frame is handed)
    owner: str
    doc: str
    fill: int = 0              # what an allocated buffer starts as
    # An allocated buffer's size as a function of the scalars it names, in this order.
    size_args: tuple[str, ...] = ()
    size_of: Callable[..., int] | None = field(default=None, compare=False, repr=False)

    def length(self, scalars: Mapping[str, int]) -> int:
        """An allocated buffer's length for the frame's scalars (by name)."""
        if self.size_of is None:
            raise ValueError(f"slot {self.name} is not allocated by the frame")
        return int(self.size_of(*[scalars[name] for name in self.size_args]))


# A row as declared: name, kind, dtype, size, owner, doc, fill.
_Row = tuple[str, str, str, str, str, str, int]


def scalar(name: str, owner: str, doc: str) -> _Row:
    return (name, SCALAR, "", "", owner, doc, 0)


def buffer(name: str, dtype: str, size: str, owner: str, doc: str,
           fill: int = 0) -> _Row:
    return (name, BUFFER, dtype, size, owner, doc, fill)


class SlotTable:
    """Rows of slots, indexed by position; ``table["NAME"]`` is a row, ``table.fields`` the
    row count (the stride of a table of many records)."""

    def __init__(self, prefix: str,
                 rows: list[_Row]) -> None:
        self.prefix = prefix
        scalars = {name for name, kind, *_ in rows if kind == SCALAR}
        built: list[Slot] = []
        for index, (name, kind, dtype, size, owner, doc, fill) in enumerate(rows):
            if any(slot.name == name for slot in built):
                raise ValueError(f"slot {name} declared twice")
            args: tuple[str, ...] = ()
            size_of = None
            if kind == BUFFER and owner in ALLOCATED:
                names = set(compile(size, f"<size of {name}>", "eval").co_names)
                unknown = names - scalars - set(_SIZE_CONSTANTS)
                if unknown:
                    raise ValueError(f"size of {name} names {sorted(unknown)}")
                args = tuple(sorted(names & scalars))
                # A size is an arithmetic expression over the table's own scalars and the
                # constants above, nothing else (checked just now).
                size_of = eval(f"lambda {', '.join(args)}: {size}", _SIZE_GLOBALS)
            built.append(Slot(name, index, kind, np.dtype(dtype) if dtype else None, size,
                              owner, doc, fill, args, size_of))
        self.slots = tuple(built)
        self._by_name = {slot.name: slot for slot in built}
        self.index = {slot.name: slot.index for slot in built}
        self.fields = len(built)

    def __getitem__(self, name: str) -> Slot:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no {self.prefix} slot named {name}") from None

    def __iter__(self) -> Iterator[Slot]:
        return iter(self.slots)

    def owned(self, owner: str) -> list[Slot]:
        return [slot for slot in self.slots if slot.owner == owner]


FRAME = SlotTable("frame", [
    scalar("V", MODEL, "vocabulary size; token ids are 0..V-1"),
    scalar("SEP", MODEL, "the document separator (== V), never predicted"),
    scalar("KMAX", MODEL, "longest context order considered"),
    scalar("THRESH", MODEL, "ranges larger than this are read from precomputed rows"),
    scalar("NSEG", SEGMENTS, "segments in the segment table"),
    buffer("SEGS", "int64", "NSEG * SEG_FIELDS", SEGMENTS,
           "the segment table: SEGMENT's fields, segment after segment"),
    buffer("ALPHA", "float64", "NOB * NCB * ALPHA_SUB", MODEL,
           "concentrations by (order bucket, count bucket, cache count 0/1/2/3+, "
           "distinct tokens 1/2/3+)"),
    buffer("DISC", "float64", "NOB * NCB * 3", MODEL, "discounts for counts 1, 2, 3+"),
    buffer("BETA", "float64", "NOB * NCB", MODEL,
           "weight of one cache occurrence by (order bucket, count bucket)"),
    buffer("OBUCKET", "int32", "KMAX + 1", MODEL, "order -> order bucket"),
    scalar("NCB", MODEL, "number of count buckets"),
    buffer("P0", "float64", "V", MODEL, "the order-0 distribution everything backs off to"),
    buffer("HIST", "uint32", "CAP", HISTORY,
           "the history (document so far), hist[0] is usually SEP"),
    scalar("LEN", HISTORY, "tokens in the history"),
    buffer("ML", "int32", "CAP", HISTORY, "cache match lengths (see cache_push)"),
    buffer("PREV", "int32", "CAP", HISTORY,
           "previous position holding the same token, or -1"),
    buffer("HEAD", "int32", "V + 1", SCRATCH, "last position holding each token, or -1",
           fill=-1),
    buffer("LO", "int32", "max(NSEG, 1) * (KMAX + 1)", SCRATCH,
           "range starts per segment and order"),
    buffer("HI", "int32", "max(NSEG, 1) * (KMAX + 1)", SCRATCH,
           "range ends per segment and order"),
    buffer("KSEG", "int32", "max(NSEG, 1)", SCRATCH, "longest order matched per segment"),
    buffer("CLW", "int32", "2 * CAP", HISTORY, "cache next-tokens sorted by match length"),
    buffer("CNTL", "int32", "2 * (KMAX + 2)", SCRATCH, "match-length histogram"),
    buffer("MTR", "uint32", "V + 1", SCRATCH, "training counts (all zero between calls)"),
    buffer("MCA", "uint32", "V + 1", SCRATCH, "cache counts (all zero between calls)"),
    buffer("TOUCH", "int32", "V + 1", SCRATCH, "tokens seen in the current level"),
    buffer("OUT", "float64", "V", SCRATCH, "the next-token distribution"),
    buffer("INFO", "int64", "INFO_FIELDS", SCRATCH, "facts about the last call (I_*)"),
    buffer("REC", "int64", "(KMAX + 2) * REC_FIELDS", SCRATCH,
           "per-level records of the stats kernel (R_*)"),
    scalar("TARGET", CALL, "the token whose per-level records the stats kernel writes "
           "(or whose probability the prob kernel returns)"),
    scalar("CAP", HISTORY, "capacity of the history buffers"),
    buffer("MIX", "float64", "NOB * NCB * NKB * NMIXC", MODEL,
           "final mixture weights (hierarchy, longest training match, longest cache "
           "match, its most recent occurrence, the most recent match of any length) by "
           "(order bucket of the longest training match, its count bucket, cache match "
           "bucket)"),
    buffer("KBUCKET", "int32", "KMAX + 1", MODEL, "longest cache match -> its mixture bucket"),
    scalar("NKB", MODEL, "number of cache match buckets"),
    buffer("XTOK", "int32", "4 * (V + 1)", SCRATCH,
           "the two sparse mixture components, [training tokens | their counts | cache "
           "tokens | their counts]"),
    # The repetition ("don't repeat yourself") penalty of sampling, see jit/reference.py
    # dry_apply. Its tables are set per completion; its buffers belong to the frame.
    buffer("DRY_BREAK", "uint8", "V + 1", REQUEST,
           "1 for a sequence breaker (SEP, index V, is one)"),
    buffer("DRY_FACTOR", "float64", "KMAX + 1", REQUEST,
           "probability factor for a repeat of each length"),
    scalar("DRY_ALLOWED", REQUEST, "shortest repeat that is penalised (>= 1)"),
    buffer("DRY_TOK", "int32", "V + 1", SCRATCH, "out: the penalised tokens"),
    buffer("DRY_LEN", "int32", "V + 1", SCRATCH, "out: the repeat length each would extend"),
    buffer("DRY_BEST", "int32", "V + 1", SCRATCH,
           "longest repeat per token (all zero between calls)"),
    buffer("DRY_SAVE", "float64", "V + 1", SCRATCH,
           "out: OUT's values before the penalty (for restoring)"),
])

# One segment's row of the segment table (app/model/segment.py Segment.kernel_view).
SEGMENT = SlotTable("segment", [
    scalar("N", SEGMENTS, "tokens in the segment's stream (separators included)"),
    buffer("R", "uint32", "N", SEGMENTS, "the stream reversed"),
    buffer("SA", "int32", "N", SEGMENTS, "suffix array of the reversed stream"),
    buffer("NXT", "uint32", "N", SEGMENTS,
           "the token that follows each suffix's context (SEP: none)"),
    buffer("FIRST", "int32", "V + 2", SEGMENTS, "start of each first-token range in SA"),
    scalar("NROWS", SEGMENTS, "precomputed rows"),
    buffer("ROWKEY", "int64", "NROWS", SEGMENTS,
           "sorted (lo << 32 | hi) of every range larger than THRESH"),
    buffer("ROWOFF", "int64", "NROWS + 1", SEGMENTS, "where each row's tokens start"),
    buffer("ROWTOK", "uint32", "ROWOFF[NROWS]", SEGMENTS, "distinct next tokens of each row"),
    buffer("ROWCNT", "uint32", "ROWOFF[NROWS]", SEGMENTS, "their counts"),
    scalar("WEIGHT", SEGMENTS,
           "what each of the segment's counts counts for (1 for training data; more for a "
           "project's own files, see app/model/context.py)"),
])

# What the fit's objective kernels read and write (app/model/fit.py): the held-out tokens'
# per-level records as the stats kernel wrote them, level by level, and the buffers of one
# evaluation of the likelihood and its gradient (see jit/reference.py fit_forward).
FIT = SlotTable("fit", [
    scalar("NTOK", CALL, "held-out tokens"),
    scalar("NLEVELS", CALL, "levels of the deepest token"),
    scalar("V", CALL, "vocabulary size (order -1 is uniform over it)"),
    scalar("NCB", CALL, "number of count buckets"),
    scalar("NBUCKET", CALL, "(order bucket, count bucket) pairs: NOB * NCB"),
    buffer("REC", "int32", "LSTART[NLEVELS] * REC_FIELDS", CALL,
           "the records (R_* fields) in the walk's order: level 0 of every token, then "
           "level 1 of those that have one, and so on (read in sequence)"),
    buffer("ORDER", "int32", "LSTART[NLEVELS]", CALL, "the token of each record"),
    buffer("LSTART", "int64", "NLEVELS + 1", CALL, "where each level's records start"),
    buffer("ALPHA", "float64", "NBUCKET * ALPHA_SUB", CALL, "concentrations"),
    buffer("DISC", "float64", "NBUCKET * 3", CALL, "discounts for counts 1, 2, 3+"),
    buffer("BETA", "float64", "NBUCKET", CALL, "weights of a cache occurrence"),
    buffer("P", "float64", "NTOK", CALL, "out (forward): each token's hierarchy probability"),
    buffer("BELOW", "float64", "LSTART[NLEVELS]", CALL,
           "out (forward): the probability each record's level backs off to"),
    buffer("UP", "float64", "NTOK", CALL,
           "in (backward): d loglik / d P; overwritten as the walk goes down"),
    buffer("GALPHA", "float64", "NBUCKET * ALPHA_SUB", CALL,
           "out (backward): d loglik / d ALPHA"),
    buffer("GBETA", "float64", "NBUCKET", CALL, "out (backward): d loglik / d BETA"),
    buffer("GDISC", "float64", "NBUCKET * 3", CALL, "out (backward): d loglik / d DISC"),
    buffer("BINS", "float64", "NBUCKET * (ALPHA_SUB + 4)", CALL,
           "scratch (backward): one level's gradient, added to the totals level by level"),
    # One E step of the mixture weights' EM (jit/reference.py fit_mixture).
    scalar("NMIX", CALL, "mixture buckets"),
    buffer("MIXP", "float64", "NTOK * NMIXC", CALL,
           "each token's probability under each mixture component"),
    buffer("MIXB", "int64", "NTOK", CALL, "each token's mixture bucket"),
    buffer("MIXW", "float64", "NMIX * NMIXC", CALL, "the weights of each bucket"),
    buffer("MIXSUM", "float64", "NMIXC", CALL, "out: each component's share, summed"),
    buffer("MIXTOT", "float64", "NMIX * NMIXC", CALL,
           "out: each component's share summed by bucket"),
])

# hc_score_weights (the project context weight's fit, app/model/fit.py): one walk per
# token gives its probability under several weights of the project context at once.
SCORING = SlotTable("scoring", [
    scalar("NBASE", CALL, "the frame's segments counted as training data (as their WEIGHT "
           "says); the rest are project context"),
    scalar("NW", CALL, "weights tried"),
    buffer("WEIGHTS", "int64", "NW", CALL, "what each context count counts for, per weight"),
    buffer("P0W", "float64", "NW * V", CALL, "the order-0 distribution under each weight"),
    buffer("STATE", "float64", "2 * NW", CALL, "scratch: each weight's running sum and mu"),
    buffer("ISTATE", "int64", "2 * NW", CALL,
           "scratch: each weight's ∞-gram total and the target's count in it"),
    buffer("MCX", "uint32", "V + 1", CALL, "context counts (all zero between calls)"),
    buffer("XTOUCH", "int32", "V + 1", CALL, "tokens with context counts in the level"),
    buffer("OUT", "float64", "n * NW", CALL, "out: each token's probability under each weight"),
])

FRAME_FIELDS = FRAME.fields
SEG_FIELDS = SEGMENT.fields


def __getattr__(name: str) -> int:
    """``F_<NAME>``: the frame slot's index; ``S_<NAME>``: the segment field's."""
    for prefix, table in (("F_", FRAME), ("S_", SEGMENT)):
        if name.startswith(prefix) and name[2:] in table.index:
            return table.index[name[2:]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
