"""Reference implementations of the kernels, in Python and numpy.

Each function does exactly what its LLVM kernel (jit/ir_kernels.py) does, operation for
operation where floating point is involved, so tests can demand identical results. They
are also the fallback when native compilation is unavailable (slow, but correct).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from jit.frame import Fields, FitTable, Frame, Slots
from jit.layout import (
    ALPHA_SUB,
    I_CCACHE,
    I_CINF,
    I_CTOP,
    I_KCACHE,
    I_KTRAIN,
    I_LATEST,
    I_LEVELS,
    I_RECENT,
    INFO_FIELDS,
    NMIXC,
    R_C,
    R_CB,
    R_CC,
    R_CCY,
    R_CY,
    R_NT,
    R_OB,
    R_U1,
    R_U2,
    R_U3,
    REC_FIELDS,
)

SMALL_RANGE = 8  # narrowing scans ranges this small instead of bisecting (same result)
# Sampling adds values in blocks of SAMPLE_ROWS rows of SAMPLE_LANES (see block_sums).
SAMPLE_LANES = 8
SAMPLE_ROWS = 8
SAMPLE_BLOCK = SAMPLE_LANES * SAMPLE_ROWS


def count_bucket(count: int, ncb: int) -> int:
    """0 for no training count, else 1 + floor(log2(count)), capped at ``ncb - 1``."""
    bucket = 0
    while count > 0 and bucket < ncb - 1:
        bucket += 1
        count >>= 1
    return bucket


def refine(seg: Fields, lo: int, hi: int, depth: int, symbol: int) -> tuple[int, int]:
    """The sub-range of SA[lo:hi] whose suffixes have ``symbol`` at ``depth``."""
    n, r = seg.get("N"), seg.array("R")
    positions = seg.array("SA")[lo:hi].astype(np.int64) + depth
    keys = np.where(positions < n, r[np.minimum(positions, n - 1)].astype(np.int64), -1)
    a = lo + int(np.searchsorted(keys, symbol, side="left"))
    b = lo + int(np.searchsorted(keys, symbol, side="right"))
    return a, b


def narrow(frame: Frame) -> None:
    """Ranges of every context order in every segment (orders 0..Kseg)."""
    kmax, t = frame.get("KMAX"), frame.get("LEN")
    hist = frame.array("HIST")
    lo_out, hi_out, kseg = frame.array("LO"), frame.array("HI"), frame.array("KSEG")
    kcap = min(kmax, t)
    for s, seg in enumerate(frame.segments):
        base = s * (kmax + 1)
        lo, hi = 0, int(seg.get("N"))
        lo_out[base], hi_out[base] = lo, hi
        matched = 0
        for k in range(1, kcap + 1):
            symbol = int(hist[t - k])
            if k == 1:
                first = seg.array("FIRST")
                a, b = int(first[symbol]), int(first[symbol + 1])
            else:
                a, b = refine(seg, lo, hi, k - 1, symbol)
            if a >= b:
                break
            lo, hi = a, b
            lo_out[base + k], hi_out[base + k] = a, b
            matched = k
        kseg[s] = matched


def _cache_pairs(frame: Frame) -> tuple[int, np.ndarray, int, int]:
    """Sort the history's matches of the current context by match length, longest first.

    Returns the longest cache match, ``ge`` where ``ge[k]`` is the number of matches of
    length >= k, the token after the most recent longest match and the token after the
    most recent match (-1 if none); the next tokens go to the CLW buffer in that order.
    """
    kmax, t = frame.get("KMAX"), frame.get("LEN")
    hist, ml, prev = frame.array("HIST"), frame.array("ML"), frame.array("PREV")
    lengths: list[int] = []
    nexts: list[int] = []
    j = int(prev[t - 1])
    while j >= 0:
        lengths.append(int(ml[j]))
        nexts.append(int(hist[j + 1]))
        j = int(prev[j])
    ge = np.zeros(kmax + 2, dtype=np.int64)
    clw = frame.array("CLW")
    # Stable counting sort by length, descending.
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    for place, i in enumerate(order):
        clw[place] = nexts[i]
    for length in lengths:
        ge[1:length + 1] += 1
    kcache = max(lengths, default=0)
    # The chain runs newest first, so the first longest match is the most recent.
    recent = nexts[lengths.index(kcache)] if lengths else -1
    latest = nexts[0] if lengths else -1
    return kcache, ge, recent, latest


def _level_counts(frame: Frame, k: int, ncache: int,
                  weights: Sequence[int] | None = None) -> tuple[dict[int, int], dict[int, int]]:
    kmax, thresh, sep = frame.get("KMAX"), frame.get("THRESH"), frame.get("SEP")
    lo_arr, hi_arr, kseg = frame.array("LO"), frame.array("HI"), frame.array("KSEG")
    train: dict[int, int] = {}
    for s, seg in enumerate(frame.segments):
        if k > int(kseg[s]):
            continue
        weight = int(seg.get("WEIGHT", 1)) if weights is None else int(weights[s])
        a, b = int(lo_arr[s * (kmax + 1) + k]), int(hi_arr[s * (kmax + 1) + k])
        if b - a <= thresh:
            for w in seg.array("NXT")[a:b].tolist():
                if w != sep:
                    train[w] = train.get(w, 0) + weight
        else:
            keys = seg.array("ROWKEY")
            row = int(np.searchsorted(keys, (a << 32) | b))
            if row >= int(seg.get("NROWS")) or int(keys[row]) != (a << 32) | b:
                # No precomputed row (never happens for a segment built with this
                # threshold): count the range itself, as the kernel does.
                for w in seg.array("NXT")[a:b].tolist():
                    if w != sep:
                        train[w] = train.get(w, 0) + weight
                continue
            off = seg.array("ROWOFF")
            for w, c in zip(seg.array("ROWTOK")[off[row]:off[row + 1]].tolist(),
                            seg.array("ROWCNT")[off[row]:off[row + 1]].tolist(), strict=True):
                train[w] = train.get(w, 0) + c * weight
    cache: dict[int, int] = {}
    for w in frame.array("CLW")[:ncache].tolist():
        cache[w] = cache.get(w, 0) + 1
    return train, cache


def alpha_index(ob: int, cb: int, ncb: int, ck: int, distinct: int) -> int:
    """Where a level's concentration is: (order bucket, count bucket, cache count 0/1/2/3+,
    distinct tokens 1/2/3+)."""
    return (ob * ncb + cb) * ALPHA_SUB + min(ck, 3) * 3 + min(max(distinct, 1), 3) - 1


def _levels(frame: Frame, emit, weights: Sequence[int] | None = None) -> int:
    """Walk the levels top-down, calling ``emit(level)`` for each; returns how many.
    ``weights``: what each segment's counts count for, instead of its WEIGHT."""
    kmax, ncb = frame.get("KMAX"), frame.get("NCB")
    narrow(frame)
    kseg = frame.array("KSEG")
    kcache, ge, recent, latest = _cache_pairs(frame)
    ktrain = int(kseg.max()) if len(frame.segments) else 0
    lo_arr, hi_arr = frame.array("LO"), frame.array("HI")

    def size(k: int) -> int:
        return sum(int(hi_arr[s * (kmax + 1) + k]) - int(lo_arr[s * (kmax + 1) + k])
                   for s in range(len(frame.segments)) if k <= int(kseg[s]))

    alpha, disc, beta = frame.array("ALPHA"), frame.array("DISC"), frame.array("BETA")
    obucket = frame.array("OBUCKET")
    info = frame.array("INFO")
    levels = 0
    ctop = -1
    cinf = ccache = 0
    k = max(ktrain, kcache)
    while k >= 1:
        sk, ck = size(k), int(ge[k])
        j = k
        while j - 1 >= 1 and size(j - 1) == sk and int(ge[j - 1]) == ck:
            j -= 1
        train, cache = _level_counts(frame, k, ck, weights)
        c_total = sum(train.values())
        if ctop < 0:
            ctop = c_total
        # The first level with training counts is the longest match (the ∞-gram); the first
        # with cache counts is the longest cache match. Each is a mixture component.
        inf_level = cinf == 0 and c_total > 0
        cache_level = ccache == 0 and ck > 0
        cinf = c_total if inf_level else cinf
        ccache = ck if cache_level else ccache
        ob = int(obucket[k])
        cb = count_bucket(c_total, ncb)
        distinct = len(set(train) | set(cache))
        bucket = ob * ncb + cb
        params = (float(alpha[alpha_index(ob, cb, ncb, ck, distinct)]), float(disc[bucket * 3]),
                  float(disc[bucket * 3 + 1]), float(disc[bucket * 3 + 2]),
                  float(beta[bucket]))
        emit(ob, cb, train, cache, c_total, ck, params, inf_level, cache_level)
        levels += 1
        k = j - 1
    info[I_KTRAIN], info[I_KCACHE], info[I_LEVELS], info[I_CTOP] = (
        ktrain, kcache, levels, max(ctop, 0))
    info[I_CINF], info[I_CCACHE], info[I_RECENT], info[I_LATEST] = cinf, ccache, recent, latest
    return levels


def mixture_weights(frame: Frame) -> list[float]:
    """The final mixture's weights for the last query (from its INFO facts)."""
    info, ncb = frame.array("INFO"), frame.get("NCB")
    obucket, kbucket, mix = frame.array("OBUCKET"), frame.array("KBUCKET"), frame.array("MIX")
    b = ((int(obucket[int(info[I_KTRAIN])]) * ncb + count_bucket(int(info[I_CINF]), ncb))
         * frame.get("NKB") + int(kbucket[int(info[I_KCACHE])]))
    return [float(w) for w in mix[b * NMIXC:(b + 1) * NMIXC]]


def dist(frame: Frame) -> int:
    """The next-token distribution after the history, into OUT; returns the level count.

    OUT = w_h * hierarchy + w_i * ∞-gram + w_c * cache + w_r * [recent] + w_l * [latest]:
    the hierarchy mixes every level from the longest match down to order 0 (always full
    support); the ∞-gram is the longest training match's next-token counts, normalised;
    the cache is the same for the longest match in the history; [recent] and [latest] put
    all their weight on the token after the most recent longest cache match and after the
    most recent match of any length. The weights w are chosen by the query's bucket
    (:func:`mixture_weights`) and sum to 1, components that do not exist weighing 0.
    """
    v = frame.get("V")
    out = frame.array("OUT")
    out[:v] = 0.0
    state = {"mu": 1.0}
    sparse: dict[str, list[tuple[int, int]]] = {"inf": [], "cache": []}

    def emit(ob, cb, train, cache, c_total, ck, params, inf_level, cache_level) -> None:
        _, d1, d2, d3, be = params
        denom, gamma = _level_mass(train, c_total, ck, params)
        mu = state["mu"]
        tokens = sorted(set(train) | set(cache))
        idx = np.array(tokens, dtype=np.int64)
        c = np.array([train.get(w, 0) for w in tokens], dtype=np.float64)
        cc = np.array([cache.get(w, 0) for w in tokens], dtype=np.float64)
        d = np.where(c == 0, 0.0, np.where(c == 1, d1, np.where(c == 2, d2, d3)))
        num = (c - d) + be * cc
        out[idx] = out[idx] + mu * (num / denom)
        state["mu"] = mu * gamma
        if inf_level:
            sparse["inf"] = sorted(train.items())
        if cache_level:
            sparse["cache"] = sorted(cache.items())

    levels = _levels(frame, emit)
    p0 = frame.array("P0")
    info = frame.array("INFO")
    wh, wi, wc, wr, wl = mixture_weights(frame)
    out[:v] = wh * (out[:v] + state["mu"] * p0[:v])
    # The components' tokens are distinct, so the order of these additions does not matter.
    for pairs, total, weight in ((sparse["inf"], int(info[I_CINF]), wi),
                                 (sparse["cache"], int(info[I_CCACHE]), wc)):
        for w, c in pairs:
            out[w] = out[w] + weight * (float(c) / float(total))
    for token, weight in ((int(info[I_RECENT]), wr), (int(info[I_LATEST]), wl)):
        if token >= 0:
            out[token] = out[token] + weight
    return levels


def stats(frame: Frame) -> int:
    """Per-level records for the target token (for fitting), top level first."""
    target = frame.get("TARGET")
    rec = frame.array("REC")
    state = {"i": 0}

    def emit(ob, cb, train, cache, c_total, ck, params, inf_level, cache_level) -> None:
        base = state["i"] * REC_FIELDS
        rec[base + R_OB] = ob
        rec[base + R_CB] = cb
        rec[base + R_C] = c_total
        rec[base + R_CC] = ck
        rec[base + R_U1] = sum(1 for c in train.values() if c == 1)
        rec[base + R_U2] = sum(1 for c in train.values() if c == 2)
        rec[base + R_U3] = sum(1 for c in train.values() if c >= 3)
        rec[base + R_CY] = train.get(target, 0)
        rec[base + R_CCY] = cache.get(target, 0)
        rec[base + R_NT] = len(set(train) | set(cache))
        state["i"] += 1

    return _levels(frame, emit)


def prob(frame: Frame) -> float:
    """The probability of the frame's TARGET after the history: what :func:`dist` writes
    to OUT[TARGET], operation for operation, without the other tokens' (OUT untouched)."""
    return _prob(frame, frame.get("TARGET"), None, frame.array("P0"))


def _level_mass(train: dict[int, int], c_total: int, ck: int,
                params: Sequence[float]) -> tuple[float, float]:
    """A level's denominator (training total + beta x cache total + alpha) and the share
    of its mass it backs off with (gamma), in the order the kernels compute them."""
    a_, d1, d2, d3, be = params
    u1 = sum(1 for c in train.values() if c == 1)
    u2 = sum(1 for c in train.values() if c == 2)
    u3 = sum(1 for c in train.values() if c >= 3)
    denom = (float(c_total) + be * float(ck)) + a_
    return denom, (a_ + (d1 * float(u1) + d2 * float(u2) + d3 * float(u3))) / denom


def _prob(frame: Frame, target: int, weights: Sequence[int] | None, p0: np.ndarray) -> float:
    """:func:`prob` of ``target`` with the segments counted ``weights`` times (None: as
    their WEIGHT says) and order 0 backing off to ``p0``."""
    state = {"mu": 1.0, "acc": 0.0, "inf": 0, "cache": 0}

    def emit(ob, cb, train, cache, c_total, ck, params, inf_level, cache_level) -> None:
        _, d1, d2, d3, be = params
        denom, gamma = _level_mass(train, c_total, ck, params)
        mu = state["mu"]
        c, cc = train.get(target, 0), cache.get(target, 0)
        d = 0.0 if c == 0 else d1 if c == 1 else d2 if c == 2 else d3
        num = (float(c) - d) + be * float(cc)
        # A level without the target adds an exact +0.0, as dist leaves OUT[target].
        state["acc"] = state["acc"] + mu * (num / denom)
        state["mu"] = mu * gamma
        if inf_level:
            state["inf"] = c
        if cache_level:
            state["cache"] = cc

    _levels(frame, emit, weights)
    info = frame.array("INFO")
    wh, wi, wc, wr, wl = mixture_weights(frame)
    p = wh * (state["acc"] + state["mu"] * float(p0[target]))
    for count, total, weight in ((state["inf"], int(info[I_CINF]), wi),
                                 (state["cache"], int(info[I_CCACHE]), wc)):
        if count > 0:
            p = p + weight * (float(count) / float(total))
    for token, weight in ((int(info[I_RECENT]), wr), (int(info[I_LATEST]), wl)):
        if token == target:
            p = p + weight
    return float(p)


def score(frame: Frame, ids: np.ndarray, n: int, out: np.ndarray) -> int:
    """For each of ``ids[:n]`` in turn: its :func:`prob` after the history into ``out[i]``,
    then the token pushed; returns the history's new length."""
    for i, token in enumerate(ids[:n].tolist()):
        frame.set("TARGET", token)
        out[i] = prob(frame)
        cache_push(frame, token)
    return frame.get("LEN")


def score_weights(frame: Frame, table: Slots, ids: np.ndarray, n: int) -> int:
    """For each of ``ids[:n]`` in turn: its probability (:func:`prob`) when the segments
    from NBASE on (project context) count WEIGHTS[w] times each and the others as their
    WEIGHT says, order 0 backing off to row w of P0W, into OUT[i * NW + w] for every w;
    then the token pushed. Returns the history's new length. (INFO is not written.)"""
    nbase, nw = table.get("NBASE"), table.get("NW")
    base = [int(seg.get("WEIGHT", 1)) for seg in frame.segments[:nbase]]
    p0w = table.array("P0W").reshape(nw, -1)
    out = table.array("OUT")
    # The walks below write INFO, the kernel does not: it is put back as it was.
    info = frame.array("INFO").copy()
    for i, token in enumerate(ids[:n].tolist()):
        for w, weight in enumerate(table.array("WEIGHTS")[:nw].tolist()):
            weights = base + [weight] * (len(frame.segments) - nbase)
            out[i * nw + w] = _prob(frame, token, weights, p0w[w])
        cache_push(frame, token)
    frame.array("INFO")[:] = info
    return frame.get("LEN")


def collect(frame: Frame, ids: np.ndarray, n: int, rec: np.ndarray, rows: int,
            depth: np.ndarray, info: np.ndarray) -> int:
    """For each of ``ids[:n]`` in turn: :func:`stats` of it, its records into ``rec``
    (int32 rows of REC_FIELDS) bottom level first after a row left for order 0, its level
    count + 1 into ``depth[i]`` and INFO into ``info[i]`` (rows of INFO_FIELDS), then the
    token pushed; stops before a token that might not fit in ``rows`` rows (KMAX + 2 each)
    and returns how many tokens it did."""
    need = frame.get("KMAX") + 2
    out = rec.reshape(-1, REC_FIELDS)
    records = frame.array("REC").reshape(-1, REC_FIELDS)
    at = 0
    for i, token in enumerate(ids[:n].tolist()):
        if at + need > rows:
            return i
        frame.set("TARGET", token)
        levels = stats(frame)
        out[at + 1:at + 1 + levels] = records[:levels][::-1]
        depth[i] = levels + 1
        info.reshape(-1, INFO_FIELDS)[i] = frame.array("INFO")
        at += levels + 1
        cache_push(frame, token)
    return n


def cache_push(frame: Frame, token: int) -> int:
    """Append ``token`` to the history and update the cache match lengths; returns the
    history's new length.

    Invariant: ML[j] is the length (capped at KMAX) of the common suffix of hist[..j] and
    hist[..t-1] for every earlier position j holding the same token as hist[t-1], and 0
    everywhere else.
    """
    kmax, t = frame.get("KMAX"), frame.get("LEN")
    hist, ml = frame.array("HIST"), frame.array("ML")
    prev, head = frame.array("PREV"), frame.array("HEAD")
    hist[t] = token
    fresh: list[tuple[int, int]] = []
    j = int(head[token])
    while j >= 0:
        before = int(ml[j - 1]) if j >= 1 else 0
        fresh.append((j, min(before + 1, kmax)))
        j = int(prev[j])
    if t >= 1:
        j = int(prev[t - 1])
        while j >= 0:
            ml[j] = 0
            j = int(prev[j])
    for j, length in fresh:
        ml[j] = length
    prev[t] = head[token]
    head[token] = t
    ml[t] = 0
    frame.set("LEN", t + 1)
    return t + 1


def reset(frame: Frame, ids: np.ndarray, n: int) -> int:
    """Start a new history: the separator, then ``ids[:n]`` (int64); returns its length.

    Only the entries the old history set are cleared (HEAD of its tokens, ML of its
    positions): everything else is already in its initial state, and a short history
    costs a short reset however large the vocabulary or the buffers are.
    """
    hist, ml, head = frame.array("HIST"), frame.array("ML"), frame.array("HEAD")
    t = frame.get("LEN")
    head[hist[:t].astype(np.int64)] = -1
    ml[:t] = 0
    frame.set("LEN", 0)
    cache_push(frame, frame.get("SEP"))
    for token in ids[:n].tolist():
        cache_push(frame, token)
    return frame.get("LEN")


def _fit_level(table: FitTable, level: int) -> tuple[slice, np.ndarray, dict[str, np.ndarray]]:
    """The records of one level: where they are in the table, their tokens, and the
    columns the objective reads (bucket, alpha slot, the target's discount slot, counts)."""
    lstart = table.array("LSTART")
    at = slice(int(lstart[level]), int(lstart[level + 1]))
    tokens = table.array("ORDER")[at].astype(np.int64)
    rec = table.array("REC").reshape(-1, REC_FIELDS)[at]
    bucket = (rec[:, R_OB] * table.get("NCB") + rec[:, R_CB]).astype(np.int64)
    cy = rec[:, R_CY]
    cols = {name: rec[:, field].astype(np.float64) for name, field in (
        ("c", R_C), ("cc", R_CC), ("u1", R_U1), ("u2", R_U2), ("u3", R_U3), ("cy", R_CY),
        ("ccy", R_CCY))}
    cols["bucket"] = bucket
    cols["ia"] = (bucket * ALPHA_SUB + np.minimum(rec[:, R_CC], 3) * 3
                  + np.minimum(np.maximum(rec[:, R_NT], 1), 3) - 1).astype(np.int64)
    # Which discount the target's own count uses: 3 for none (a zero).
    cols["use"] = np.where(cy == 0, 3, np.minimum(cy, 3) - 1).astype(np.int64)
    return at, tokens, cols


def _fit_terms(table: FitTable, cols: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """A level's m, denominator, discount spent, mass above, backoff weight and target
    numerator under the table's parameters."""
    alpha, disc, beta = table.array("ALPHA"), table.array("DISC"), table.array("BETA")
    bucket = cols["bucket"]
    a, be = alpha[cols["ia"]], beta[bucket]
    m = cols["c"] + be * cols["cc"]
    denom = m + a
    spent = disc[bucket * 3] * cols["u1"]
    spent += disc[bucket * 3 + 1] * cols["u2"]
    spent += disc[bucket * 3 + 2] * cols["u3"]
    above = a + spent
    gamma = above / denom
    use = cols["use"]
    target = np.where(use == 3, 0.0, disc[bucket * 3 + np.minimum(use, 2)])
    num = cols["cy"] - target + be * cols["ccy"]
    return m, denom, spent, above, gamma, num


def fit_forward(table: FitTable) -> int:
    """Each held-out token's probability under the hierarchy alone into P: from uniform
    over V, each level bottom up mixes its own counts with what is below it,
    p = num / denom + gamma * below; BELOW keeps each level's ``below`` for the backward
    pass. Returns the number of levels walked."""
    p = table.array("P")
    p[:table.get("NTOK")] = 1.0 / table.get("V")
    below_out = table.array("BELOW")
    for level in range(table.get("NLEVELS")):
        at, tokens, cols = _fit_level(table, level)
        _, denom, _, _, gamma, num = _fit_terms(table, cols)
        below = p[tokens]
        below_out[at] = below
        p[tokens] = num / denom + gamma * below
    return table.get("NLEVELS")


def fit_backward(table: FitTable) -> int:
    """The gradient of sum(UP * P) w.r.t. ALPHA, BETA and DISC (after :func:`fit_forward`
    with the same parameters) into GALPHA, GBETA and GDISC: the levels top down, each
    level's contributions added up in the table's order, then added to the totals (UP is
    overwritten: each level's d/d below). Returns the number of levels walked."""
    up = table.array("UP")
    g_alpha, g_beta, g_disc = table.array("GALPHA"), table.array("GBETA"), table.array("GDISC")
    for g in (g_alpha, g_beta, g_disc):
        g[:] = 0.0
    below_in = table.array("BELOW")
    for level in reversed(range(table.get("NLEVELS"))):
        at, tokens, cols = _fit_level(table, level)
        m, denom, spent, above, gamma, num = _fit_terms(table, cols)
        below = below_in[at]
        delta = up[tokens]
        square = denom ** 2
        d_alpha = (-num + (m - spent) * below) / square
        d_beta = (cols["ccy"] / denom - num * cols["cc"] / square
                  - above * cols["cc"] / square * below)
        g_alpha += np.bincount(cols["ia"], delta * d_alpha, minlength=len(g_alpha))
        g_beta += np.bincount(cols["bucket"], delta * d_beta, minlength=len(g_beta))
        # d p / d disc_i = (u_i * below - [the target's count uses disc_i]) / denom.
        share = delta / denom
        bins = np.concatenate([cols["bucket"] * 3 + i for i in range(3)])
        weights = np.concatenate([share * (cols[f"u{i + 1}"] * below - (cols["use"] == i))
                                  for i in range(3)])
        g_disc += np.bincount(bins, weights, minlength=len(g_disc))
        up[tokens] = delta * gamma
    return table.get("NLEVELS")


def fit_mixture(table: FitTable) -> int:
    """One E step of the mixture's EM: each token's responsibilities (its components'
    weighted probabilities, normalised), summed into MIXSUM and by bucket into MIXTOT.
    Returns the number of tokens."""
    n = table.get("NTOK")
    bucket = table.array("MIXB")
    weights = table.array("MIXW").reshape(-1, NMIXC)
    share = weights[bucket] * table.array("MIXP").reshape(-1, NMIXC)
    share /= share.sum(axis=1, keepdims=True)
    table.array("MIXSUM")[:] = share.sum(axis=0)
    table.array("MIXTOT").reshape(-1, NMIXC)[:] = np.stack(
        [np.bincount(bucket, share[:, i], minlength=table.get("NMIX"))
         for i in range(NMIXC)], axis=1)
    return n


def block_sums(probs: np.ndarray, blocks: int) -> list[float]:
    """The sums of the first ``blocks`` blocks of SAMPLE_BLOCK values, each added as
    SAMPLE_ROWS rows of SAMPLE_LANES lane by lane, then the lanes pairwise (the order a
    vector unit adds them in)."""
    rows = probs[:blocks * SAMPLE_BLOCK].reshape(blocks, SAMPLE_ROWS, SAMPLE_LANES)
    lanes = rows[:, 0, :]
    for row in range(1, SAMPLE_ROWS):
        lanes = lanes + rows[:, row, :]
    columns = [lanes[:, lane] for lane in range(SAMPLE_LANES)]
    while len(columns) > 1:
        columns = [columns[i] + columns[i + 1] for i in range(0, len(columns), 2)]
    return columns[0].tolist()


def sample(probs: np.ndarray, n: int, u: float) -> int:
    """Inverse-CDF sampling: the first index at which the running sum of probs[:n]
    exceeds ``u`` times their total (``u`` in [0, 1), probabilities unnormalised).

    Sums are taken block by block (:func:`block_sums`): a block whose sum carries the
    running total past the target is scanned one value at a time from the total before it.
    Adding one value at a time everywhere would make each addition wait for the previous
    one; this way the work is a vector pass for the total and one for the search. If
    rounding leaves the target unreached, the answer is the last index with any mass.
    """
    blocks = n // SAMPLE_BLOCK
    sums = block_sums(probs, blocks)
    tail = probs[blocks * SAMPLE_BLOCK:n].tolist()
    total = 0.0
    for value in sums + tail:
        total += value
    target = u * total
    acc = 0.0
    for k, block in enumerate(sums):
        if acc + block > target:
            running = acc
            for i, value in enumerate(probs[k * SAMPLE_BLOCK:(k + 1) * SAMPLE_BLOCK].tolist()):
                running += value
                if running > target:
                    return k * SAMPLE_BLOCK + i
        acc += block
    for i, value in enumerate(tail):
        acc += value
        if acc > target:
            return blocks * SAMPLE_BLOCK + i
    positive = np.flatnonzero(probs[:n] > 0.0)
    return int(positive[-1]) if len(positive) else 0


def dry_apply(frame: Frame) -> int:
    """The repetition ("don't repeat yourself") penalty, applied to the distribution in OUT.

    A token is penalised if it would extend a repeat of earlier text. Its repeat length is
    the longest ML[j] (the history's suffix that also ends at j, at most KMAX) over the
    earlier positions j of the last token that have the token at j + 1. A copy of earlier
    text does not reach back over a sequence breaker, and a breaker is never penalised for
    continuing one. A loop is different: if the match is at least as long as the distance
    to j, the text right before is a copy of the text right before that (``abcabc`` +
    ``a``), and it counts in full, breakers inside it or not (a repeated line, a run of
    blank lines). Tokens with a length >= ALLOWED have their probability multiplied by
    FACTOR[length]. Writes the penalised tokens (in the order their most recent occurrence
    is found), their lengths and their old probabilities to TOK, LEN and SAVE; returns how
    many there are.
    """
    kmax, t = frame.get("KMAX"), frame.get("LEN")
    hist, ml, prev = frame.array("HIST"), frame.array("ML"), frame.array("PREV")
    out, brk, factor = frame.array("OUT"), frame.array("DRY_BREAK"), frame.array("DRY_FACTOR")
    allowed = frame.get("DRY_ALLOWED")
    if t < 2:
        return 0
    last = t - 1
    cap = 0
    # Position 0 holds the document separator: a match never reaches back over it.
    while cap < kmax and last - cap >= 1 and not brk[int(hist[last - cap])]:
        cap += 1
    longest: dict[int, int] = {}
    j = int(prev[last])
    while j >= 0:
        matched = int(ml[j])
        looping = matched >= last - j
        length = matched if looping else min(matched, cap)
        w = int(hist[j + 1])
        if length >= allowed and (looping or not brk[w]):
            longest[w] = max(longest.get(w, 0), length)
        j = int(prev[j])
    tok, lens, save = frame.array("DRY_TOK"), frame.array("DRY_LEN"), frame.array("DRY_SAVE")
    for i, (w, length) in enumerate(longest.items()):  # dicts keep insertion order
        tok[i], lens[i], save[i] = w, length, out[w]
        out[w] = out[w] * factor[length]
    return len(longest)


def dry_restore(frame: Frame, m: int) -> int:
    """Undo :func:`dry_apply` (``m`` is what it returned); returns ``m``."""
    tok = frame.array("DRY_TOK")[:m].astype(np.int64)
    frame.array("OUT")[tok] = frame.array("DRY_SAVE")[:m]
    return m


def argmax(probs: np.ndarray, n: int) -> int:
    """The first index of the largest of probs[:n] (greedy decoding)."""
    return int(np.argmax(probs[:n]))


def top(values: np.ndarray, n: int, k: int, out_index: np.ndarray,
        out_value: np.ndarray) -> int:
    """The ``k`` largest of values[:n] into out_index/out_value, best first (ties: the
    smaller index); returns how many (``min(k, n)``)."""
    m = min(k, n)
    best = np.argsort(-values[:n], kind="stable")[:m]
    out_index[:m] = best
    out_value[:m] = values[best]
    return m


def dry_argmax(frame: Frame) -> int:
    """:func:`argmax` of OUT with the repetition penalty applied; OUT is left as it was."""
    changed = dry_apply(frame)
    token = argmax(frame.array("OUT"), frame.get("V"))
    dry_restore(frame, changed)
    return token


def dry_sample(frame: Frame, u: float) -> int:
    """:func:`sample` from OUT with the repetition penalty applied; OUT is left as it was."""
    changed = dry_apply(frame)
    token = sample(frame.array("OUT"), frame.get("V"), u)
    dry_restore(frame, changed)
    return token
