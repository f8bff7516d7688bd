"""The memory layout the kernels and their references share.

A kernel takes one pointer: a *frame*, an int64 array whose slots hold sizes and the
addresses of numpy buffers. One argument keeps the ctypes call cheap (its cost grows with
the argument count) and lets a caller reuse the frame for every token, changing only the
slots that move. The segment table is an int64 array of ``SEG_FIELDS`` slots per segment.
"""

from __future__ import annotations

# Frame slots.
F_V = 0            # vocabulary size; token ids are 0..V-1
F_SEP = 1          # the document separator (== V), never predicted
F_KMAX = 2         # longest context order considered
F_THRESH = 3       # ranges larger than this are read from precomputed rows
F_NSEG = 4
F_SEGS = 5         # -> int64[NSEG * SEG_FIELDS]
F_ALPHA = 6        # -> float64[NOB * NCB * ALPHA_SUB] concentrations by (order bucket,
                   #    count bucket, cache count 0/1/2/3+, distinct tokens 1/2/3+)
F_DISC = 7         # -> float64[NOB * NCB * 3] discounts for counts 1, 2, 3+
F_BETA = 8         # -> float64[NOB * NCB] weight of one cache occurrence by (order bucket,
                   #    count bucket)
F_OBUCKET = 9      # -> int32[KMAX + 1] order -> order bucket
F_NCB = 10         # number of count buckets
F_P0 = 11          # -> float64[V] the order-0 distribution everything backs off to
F_HIST = 12        # -> uint32[cap] the history (document so far), hist[0] is usually SEP
F_LEN = 13         # tokens in the history
F_ML = 14          # -> int32[cap] cache match lengths (see cache_push)
F_PREV = 15        # -> int32[cap] previous position holding the same token, or -1
F_HEAD = 16        # -> int32[V + 1] last position holding each token, or -1
F_LO = 17          # -> int32[NSEG * (KMAX + 1)] scratch: range starts per segment and order
F_HI = 18          # -> int32[NSEG * (KMAX + 1)]
F_KSEG = 19        # -> int32[NSEG] scratch: longest order matched per segment
F_CLW = 20         # -> int32[2 * cap] scratch: cache next-tokens sorted by match length
F_CNTL = 21        # -> int32[2 * (KMAX + 2)] scratch: match-length histogram
F_MTR = 22         # -> uint32[V + 1] scratch (all zero between calls): training counts
F_MCA = 23         # -> uint32[V + 1] scratch (all zero between calls): cache counts
F_TOUCH = 24       # -> int32[V + 1] scratch: tokens seen in the current level
F_OUT = 25         # -> float64[V] the next-token distribution
F_INFO = 26        # -> int64[INFO_FIELDS] facts about the last call
F_REC = 27         # -> int64[(KMAX + 2) * REC_FIELDS] per-level records (stats kernel)
F_TARGET = 28      # the token whose per-level records the stats kernel writes
F_CAP = 29         # capacity of the history buffers
F_MIX = 30         # -> float64[NOB * NCB * NKB * NMIXC] final mixture weights (hierarchy,
                   #    longest training match, longest cache match, its most recent
                   #    occurrence, the most recent match of any length) by (order bucket of
                   #    the longest training match, its count bucket, cache match bucket)
F_KBUCKET = 31     # -> int32[KMAX + 1] longest cache match -> its mixture bucket
F_NKB = 32         # number of cache match buckets
F_XTOK = 33        # -> int32[4 * (V + 1)] scratch: the two sparse mixture components,
                   #    [training tokens | their counts | cache tokens | their counts]
# The repetition ("don't repeat yourself") penalty of sampling, see jit/reference.py
# dry_apply. Its tables are set per completion; its buffers belong to the frame.
F_DRY_BREAK = 34   # -> uint8[V + 1] 1 for a sequence breaker (SEP, index V, is one)
F_DRY_FACTOR = 35  # -> float64[KMAX + 1] probability factor for a repeat of each length
F_DRY_ALLOWED = 36  # shortest repeat that is penalised (>= 1)
F_DRY_TOK = 37     # -> int32[V + 1] out: the penalised tokens
F_DRY_LEN = 38     # -> int32[V + 1] out: the repeat length each would extend
F_DRY_BEST = 39    # -> int32[V + 1] scratch (all zero between calls): longest repeat per token
F_DRY_SAVE = 40    # -> float64[V + 1] out: OUT's values before the penalty (for restoring)
FRAME_FIELDS = 41

# Concentrations per (order bucket, count bucket): cache count 0, 1, 2, 3+ times distinct
# tokens 1, 2, 3+.
ALPHA_SUB = 12

# Segment slots.
S_N = 0            # tokens in the segment's stream (separators included)
S_R = 1            # -> uint32[n] the stream reversed
S_SA = 2           # -> int32[n] suffix array of the reversed stream
S_NXT = 3          # -> uint32[n] the token that follows each suffix's context (SEP: none)
S_FIRST = 4        # -> int32[V + 2] start of each first-token range in SA
S_NROWS = 5
S_ROWKEY = 6       # -> int64[nrows] sorted (lo << 32 | hi) of every range larger than THRESH
S_ROWOFF = 7       # -> int64[nrows + 1]
S_ROWTOK = 8       # -> uint32[...] distinct next tokens of each row
S_ROWCNT = 9       # -> uint32[...] their counts
S_WEIGHT = 10      # what each of the segment's counts counts for (1 for training data; more
                   # for a project's own files, see app/model/context.py)
SEG_FIELDS = 11

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
