"""The kernels, written as LLVM IR (see jit/reference.py for what each one computes).

``hc_dist``       the next-token distribution after a history: suffix-array range narrowing
                  in every segment, cache matches, the hierarchical mixing of levels, and
                  the final mixture with the ∞-gram and the cache's own predictions.
``hc_stats``      the same walk, but writing per-level counts of one target token (fitting).
``hc_prob``       the same walk, returning the probability of one target token: what
                  ``hc_dist`` writes for it, without computing the other V - 1.
``hc_score``      each token of a stream in turn: its probability (``hc_prob``), then pushed.
``hc_score_weights`` the same under several weights of the project context segments at
                  once: one walk a token, only the counts weighted per weight.
``hc_collect``    each token of a stream in turn: its per-level records (``hc_stats``) and
                  INFO copied out, then pushed (the fit's held-out records in one call).
``hc_fit_forward``, ``hc_fit_backward``: the fit's objective over held-out records (the
                  hierarchy's probability of each token, and its gradient w.r.t. the
                  parameters), as jit/reference.py fit_forward and fit_backward.
``hc_fit_mixture`` one E step of the fit's EM for the mixture weights.
``hc_cache_push`` appends a token to a history and updates the cache match lengths.
``hc_reset``      starts a new history holding the given tokens (one call per prompt).
``hc_sample``     inverse-CDF sampling from unnormalised probabilities.
``hc_dry_apply``  the repetition penalty: scales down, in the frame's OUT, every token that
                  would extend a repeat of earlier text (saving the old values).
``hc_dry_restore`` puts those values back.
``hc_argmax``     the index of the largest value, the first one on ties (greedy decoding).
``hc_top``        the k largest values with their indices, best first, in one pass (search).
``hc_dry_argmax``, ``hc_dry_sample``: penalty, choice and restore in one call.
"""

from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir

from jit.irgen import F64, I32, I64, PTR, Buffer, Fn, Row, Var, c64, cf
from jit.layout import (
    ALPHA_SUB,
    FIT,
    FRAME,
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
    SCORING,
    SEGMENT,
)
from jit.reference import SAMPLE_BLOCK, SAMPLE_LANES, SAMPLE_ROWS, SMALL_RANGE

KERNEL_NAMES = ("hc_dist", "hc_stats", "hc_prob", "hc_score", "hc_score_weights",
                "hc_collect", "hc_cache_push",
                "hc_reset",
                "hc_sample", "hc_argmax", "hc_top", "hc_dry_apply", "hc_dry_restore",
                "hc_dry_argmax", "hc_dry_sample", "hc_fit_forward", "hc_fit_backward",
                "hc_fit_mixture")
LANES = 16  # hc_argmax compares this many doubles at a time
# What a levels kernel makes of the walk: the whole distribution, the target's per-level
# records, or the target's probability alone.
DIST, STATS, PROB = "dist", "stats", "prob"


def build_module() -> ir.Module:
    module = ir.Module(name="hypercube_kernels")
    _levels_kernel(module, "hc_dist", mode=DIST)
    _levels_kernel(module, "hc_stats", mode=STATS)
    _levels_kernel(module, "hc_prob", mode=PROB)
    _cache_push(module)
    _score(module)
    _score_weights(module)
    _collect(module)
    _reset(module)
    _sample(module)
    _argmax(module)
    _top(module)
    _dry_apply(module)
    _dry_restore(module)
    _dry_choose(module)
    _fit_forward(module)
    _fit_backward(module)
    _fit_mixture(module)
    return module


class _Seg:
    """Loads of one segment's fields (its row of the segment table), all up front."""

    def __init__(self, f: Fn, segs: Buffer, s: ir.Value) -> None:
        row = Row(f, SEGMENT, segs.pointer, f.b.mul(s, c64(SEGMENT.fields)))
        self.n = row.scalar("N")
        self.r = row.buffer("R")
        self.sa = row.buffer("SA")
        self.nxt = row.buffer("NXT")
        self.first = row.buffer("FIRST")
        self.nrows = row.scalar("NROWS")
        self.rowkey = row.buffer("ROWKEY")
        self.rowoff = row.buffer("ROWOFF")
        self.rowtok = row.buffer("ROWTOK")
        self.rowcnt = row.buffer("ROWCNT")
        self.weight = row.scalar("WEIGHT")


def _key(f: Fn, seg: _Seg, x: ir.Value, depth: ir.Value) -> ir.Value:
    """R[SA[x] + depth], or -1 past the end of the stream (suffix order puts the end first)."""
    pos = f.b.add(seg.sa.load(x), depth)
    inside = f.b.icmp_signed("<", pos, seg.n)
    clamped = f.min(pos, f.b.sub(seg.n, c64(1)))
    return f.b.select(inside, seg.r.load(clamped), c64(-1))


def _bound(f: Fn, seg: _Seg, lo: ir.Value, hi: ir.Value, depth: ir.Value, symbol: ir.Value,
           upper: bool) -> ir.Value:
    """First x in [lo, hi) with key > symbol (upper) or key >= symbol (lower)."""
    left = f.var(I64, lo)
    right = f.var(I64, hi)
    op = "<=" if upper else "<"
    small = f.b.icmp_signed("<=", f.b.sub(hi, lo), c64(SMALL_RANGE))
    with f.if_else(small) as (scan, bisect):
        with scan, f.while_(lambda: f.b.icmp_signed("<", left.get(), right.get())):
            key = _key(f, seg, left.get(), depth)
            with f.if_(f.b.not_(f.b.icmp_signed(op, key, symbol))):
                f.brk()
            left.set(f.b.add(left.get(), c64(1)))
        with bisect, f.while_(lambda: f.b.icmp_signed("<", left.get(), right.get())):
            mid = f.b.ashr(f.b.add(left.get(), right.get()), c64(1))
            key = _key(f, seg, mid, depth)
            with f.if_else(f.b.icmp_signed(op, key, symbol)) as (go_right, go_left):
                with go_right:
                    left.set(f.b.add(mid, c64(1)))
                with go_left:
                    right.set(mid)
    return left.get()


def _matched(f: Fn, frame: ir.Value, kmax: ir.Value, t: ir.Value, nseg: ir.Value,
             kseg: Buffer, lo_arr: Buffer, hi_arr: Buffer, width: ir.Value
             ) -> tuple[ir.Value, ir.Value, ir.Value, Var, Callable[[ir.Value], ir.Value]]:
    """Narrows every segment's ranges to the contexts the history ends with and finds the
    cache's: (longest cache match, its recent and latest tokens, longest training order
    matched in any segment, and a function giving an order's training range size summed
    over the segments that match it)."""
    b = f.b
    _narrow(f, frame, kmax, t)
    kcache, recent, latest = _cache_pairs(f, frame, kmax, t)
    ktrain = f.var(I64, c64(0))
    with f.loop(c64(0), nseg) as s:
        ktrain.set(f.max(ktrain.get(), kseg.load(s)))

    def size(k: ir.Value) -> ir.Value:
        total = f.var(I64, c64(0))
        with f.loop(c64(0), nseg) as s, f.if_(b.icmp_signed("<=", k, kseg.load(s))):
            at = b.add(b.mul(s, width), k)
            total.set(b.add(total.get(), b.sub(hi_arr.load(at), lo_arr.load(at))))
        return total.get()

    return kcache, recent, latest, ktrain, size


def _same_statistics(f: Fn, top: ir.Value, size: Callable[[ir.Value], ir.Value],
                     cnt: Buffer) -> tuple[Var, ir.Value]:
    """The lowest order down from ``top`` whose context has the same training range size
    and cache count as ``top``'s (those orders' statistics are ``top``'s: one level for
    them all), as a variable, and ``top``'s cache count."""
    b = f.b
    sk = size(top)
    ck = cnt.load(top)
    j = f.var(I64, top)
    with f.while_(lambda: b.icmp_signed(">=", b.sub(j.get(), c64(1)), c64(1))):
        below = b.sub(j.get(), c64(1))
        same = b.and_(b.icmp_signed("==", size(below), sk),
                      b.icmp_signed("==", cnt.load(below), ck))
        with f.if_(b.not_(same)):
            f.brk()
        j.set(below)
    return j, ck


def _narrow(f: Fn, frame: ir.Value, kmax: ir.Value, t: ir.Value) -> None:
    b = f.b
    fr = Row(f, FRAME, frame)
    nseg = fr.scalar("NSEG")
    segs = fr.buffer("SEGS")
    hist = fr.buffer("HIST")
    lo_out = fr.buffer("LO")
    hi_out = fr.buffer("HI")
    kseg = fr.buffer("KSEG")
    kcap = f.min(kmax, t)
    width = b.add(kmax, c64(1))
    with f.loop(c64(0), nseg) as s:
        seg = _Seg(f, segs, s)
        base = b.mul(s, width)
        lo = f.var(I64, c64(0))
        hi = f.var(I64, seg.n)
        lo_out.store(base, c64(0))
        hi_out.store(base, seg.n)
        matched = f.var(I64, c64(0))
        with f.loop(c64(1), b.add(kcap, c64(1))) as k:
            symbol = hist.load(b.sub(t, k))
            a = f.var(I64)
            z = f.var(I64)
            with f.if_else(b.icmp_signed("==", k, c64(1))) as (first, deeper):
                with first:
                    a.set(seg.first.load(symbol))
                    z.set(seg.first.load(b.add(symbol, c64(1))))
                with deeper:
                    depth = b.sub(k, c64(1))
                    lower = _bound(f, seg, lo.get(), hi.get(), depth, symbol, upper=False)
                    a.set(lower)
                    z.set(_bound(f, seg, lower, hi.get(), depth, symbol, upper=True))
            with f.if_(b.icmp_signed(">=", a.get(), z.get())):
                f.brk()
            lo.set(a.get())
            hi.set(z.get())
            lo_out.store(b.add(base, k), a.get())
            hi_out.store(b.add(base, k), z.get())
            matched.set(k)
        kseg.store(s, matched.get())


def _cache_pairs(f: Fn, frame: ir.Value, kmax: ir.Value,
                 t: ir.Value) -> tuple[ir.Value, ir.Value, ir.Value]:
    """Counting-sort the history's matches by length (longest first) into CLW; turn the
    CNTL histogram into 'matches of length >= k'. Returns the longest match, the token
    after its most recent occurrence and the token after the most recent match (-1 if
    none)."""
    b = f.b
    fr = Row(f, FRAME, frame)
    hist = fr.buffer("HIST")
    ml = fr.buffer("ML")
    prev = fr.buffer("PREV")
    clw = fr.buffer("CLW")
    cnt = fr.buffer("CNTL")
    pos_base = b.add(kmax, c64(2))
    with f.loop(c64(0), b.mul(pos_base, c64(2))) as i:
        cnt.store(i, c64(0))
    longest = f.var(I64, c64(0))
    recent = f.var(I64, c64(-1))
    j = f.var(I64, prev.load(b.sub(t, c64(1))))
    latest = f.var(I64, c64(-1))
    with f.if_(b.icmp_signed(">=", j.get(), c64(0))):
        latest.set(hist.load(b.add(j.get(), c64(1))))
    with f.while_(lambda: b.icmp_signed(">=", j.get(), c64(0))):
        length = ml.load(j.get())
        cnt.store(length, b.add(cnt.load(length), c64(1)))
        # Newest first: only a strictly longer match replaces the most recent one.
        with f.if_(b.icmp_signed(">", length, longest.get())):
            recent.set(hist.load(b.add(j.get(), c64(1))))
        longest.set(f.max(longest.get(), length))
        j.set(prev.load(j.get()))
    acc = f.var(I64, c64(0))
    level = f.var(I64, kmax)
    with f.while_(lambda: b.icmp_signed(">=", level.get(), c64(1))):
        cnt.store(b.add(pos_base, level.get()), acc.get())
        acc.set(b.add(acc.get(), cnt.load(level.get())))
        level.set(b.sub(level.get(), c64(1)))
    j.set(prev.load(b.sub(t, c64(1))))
    with f.while_(lambda: b.icmp_signed(">=", j.get(), c64(0))):
        length = ml.load(j.get())
        slot = b.add(pos_base, length)
        place = cnt.load(slot)
        clw.store(place, hist.load(b.add(j.get(), c64(1))))
        cnt.store(slot, b.add(place, c64(1)))
        j.set(prev.load(j.get()))
    level.set(b.sub(kmax, c64(1)))
    with f.while_(lambda: b.icmp_signed(">=", level.get(), c64(1))):
        here = level.get()
        total = b.add(cnt.load(here), cnt.load(b.add(here, c64(1))))
        cnt.store(here, total)
        level.set(b.sub(here, c64(1)))
    return longest.get(), recent.get(), latest.get()


def _count_training(f: Fn, fr: Row, top: ir.Value,
                    add: Callable[[ir.Value, _Seg, ir.Value, ir.Value], None]) -> None:
    """``add(s, segment, token, count)`` for the next-token counts of order ``top``'s
    context in every segment ``s`` that matches it (its range counted directly when small,
    else its precomputed row; counts as stored, before the segment's WEIGHT)."""
    b = f.b
    sep, kmax, thresh = fr.scalar("SEP"), fr.scalar("KMAX"), fr.scalar("THRESH")
    segs, kseg = fr.buffer("SEGS"), fr.buffer("KSEG")
    lo_arr, hi_arr = fr.buffer("LO"), fr.buffer("HI")
    width = b.add(kmax, c64(1))

    def count_range(s: ir.Value, seg: _Seg, lo: ir.Value, hi: ir.Value) -> None:
        with f.loop(lo, hi) as x:
            w = seg.nxt.load(x)
            with f.if_(b.icmp_signed("!=", w, sep)):
                add(s, seg, w, c64(1))

    with f.loop(c64(0), fr.scalar("NSEG")) as s, \
            f.if_(b.icmp_signed("<=", top, kseg.load(s))):
        seg = _Seg(f, segs, s)
        at = b.add(b.mul(s, width), top)
        lo = lo_arr.load(at)
        hi = hi_arr.load(at)
        with f.if_else(b.icmp_signed("<=", b.sub(hi, lo), thresh)) as (direct, rows):
            with direct:
                count_range(s, seg, lo, hi)
            with rows:
                key = b.or_(b.shl(lo, c64(32)), hi)
                left = f.var(I64, c64(0))
                right = f.var(I64, seg.nrows)
                with f.while_(lambda: b.icmp_signed("<", left.get(), right.get())):
                    mid = b.ashr(b.add(left.get(), right.get()), c64(1))
                    below_key = b.icmp_signed("<", seg.rowkey.load(mid), key)
                    with f.if_else(below_key) as (go_right, go_left):
                        with go_right:
                            left.set(b.add(mid, c64(1)))
                        with go_left:
                            right.set(mid)
                row = left.get()
                found = f.var(I64, c64(0))
                # Two nested ifs: the key may only be loaded once row < nrows.
                with f.if_(b.icmp_signed("<", row, seg.nrows)):  # noqa: SIM117
                    with f.if_(b.icmp_signed("==", seg.rowkey.load(row), key)):
                        found.set(c64(1))
                with f.if_else(b.icmp_signed("==", found.get(), c64(1))) as (hit, miss):
                    with hit:
                        start = seg.rowoff.load(row)
                        stop = seg.rowoff.load(b.add(row, c64(1)))
                        with f.loop(start, stop) as i:
                            add(s, seg, seg.rowtok.load(i), seg.rowcnt.load(i))
                    with miss:
                        count_range(s, seg, lo, hi)


def _levels_kernel(module: ir.Module, name: str, *, mode: str) -> None:
    stats = mode == STATS
    f = Fn(module, name, F64 if mode == PROB else I64, [("frame", PTR)])
    b = f.b
    frame = f.args["frame"]
    fr = Row(f, FRAME, frame)

    v, kmax = fr.scalar("V"), fr.scalar("KMAX")
    nseg, ncb, t = fr.scalar("NSEG"), fr.scalar("NCB"), fr.scalar("LEN")
    alpha, disc, beta = fr.buffer("ALPHA"), fr.buffer("DISC"), fr.buffer("BETA")
    obucket = fr.buffer("OBUCKET")
    lo_arr, hi_arr, kseg = fr.buffer("LO"), fr.buffer("HI"), fr.buffer("KSEG")
    clw, cnt = fr.buffer("CLW"), fr.buffer("CNTL")
    mtr, mca, touch = fr.buffer("MTR"), fr.buffer("MCA"), fr.buffer("TOUCH")
    info = fr.buffer("INFO")
    out = fr.buffer("OUT")
    xtok = fr.buffer("XTOK")
    v1 = b.add(v, c64(1))
    width = b.add(kmax, c64(1))

    if mode == DIST:
        with f.loop(c64(0), v) as w:
            out.store(w, cf(0.0))
    if mode == PROB:
        target = fr.scalar("TARGET")
        # The target's running sum of the levels' shares (OUT[target] in hc_dist) and its
        # counts at the ∞-gram's and the cache's levels (0: not among their tokens).
        acc = f.var(F64, 0.0)
        tinf = f.var(I64, c64(0))
        tcache = f.var(I64, c64(0))

    kcache, recent, latest, ktrain, size = _matched(f, frame, kmax, t, nseg, kseg, lo_arr,
                                                    hi_arr, width)

    mu = f.var(F64, 1.0)
    levels = f.var(I64, c64(0))
    ctop = f.var(I64, c64(-1))
    ntouch = f.var(I64, c64(0))
    ctotal = f.var(I64, c64(0))
    cinf = f.var(I64, c64(0))
    ccache = f.var(I64, c64(0))
    ninf = f.var(I64, c64(0))
    ncache = f.var(I64, c64(0))
    k = f.var(I64, f.max(ktrain.get(), kcache))

    def touch_token(w: ir.Value) -> None:
        fresh = b.and_(b.icmp_signed("==", mtr.load(w), c64(0)),
                       b.icmp_signed("==", mca.load(w), c64(0)))
        with f.if_(fresh):
            touch.store(ntouch.get(), w)
            ntouch.set(b.add(ntouch.get(), c64(1)))

    with f.while_(lambda: b.icmp_signed(">=", k.get(), c64(1))):
        top = k.get()
        j, ck = _same_statistics(f, top, size, cnt)

        ntouch.set(c64(0))
        ctotal.set(c64(0))

        def add(s: ir.Value, seg: _Seg, w: ir.Value, count: ir.Value) -> None:
            c = b.mul(count, seg.weight)
            touch_token(w)
            mtr.store(w, b.add(mtr.load(w), c))
            ctotal.set(b.add(ctotal.get(), c))

        _count_training(f, fr, top, add)
        with f.loop(c64(0), ck) as i:
            w = clw.load(i)
            touch_token(w)
            mca.store(w, b.add(mca.load(w), c64(1)))
        c_total = ctotal.get()
        with f.if_(b.icmp_signed("<", ctop.get(), c64(0))):
            ctop.set(c_total)
        # The first level with training counts is the longest match (the ∞-gram); the first
        # with cache counts is the longest cache match. Each is a mixture component.
        inf_level = b.and_(b.icmp_signed("==", cinf.get(), c64(0)),
                           b.icmp_signed(">", c_total, c64(0)))
        cache_level = b.and_(b.icmp_signed("==", ccache.get(), c64(0)),
                             b.icmp_signed(">", ck, c64(0)))
        cinf.set(b.select(inf_level, c_total, cinf.get()))
        ccache.set(b.select(cache_level, ck, ccache.get()))
        ob = obucket.load(top)
        cb = f.var(I64, c64(0))
        rest = f.var(I64, c_total)
        with f.while_(lambda: b.and_(b.icmp_signed(">", rest.get(), c64(0)),
                                     b.icmp_signed("<", cb.get(), b.sub(ncb, c64(1))))):
            cb.set(b.add(cb.get(), c64(1)))
            rest.set(b.ashr(rest.get(), c64(1)))
        u1 = f.var(I64, c64(0))
        u2 = f.var(I64, c64(0))
        u3 = f.var(I64, c64(0))
        with f.loop(c64(0), ntouch.get()) as i:
            c = mtr.load(touch.load(i))
            u1.set(b.add(u1.get(), b.zext(b.icmp_signed("==", c, c64(1)), I64)))
            u2.set(b.add(u2.get(), b.zext(b.icmp_signed("==", c, c64(2)), I64)))
            u3.set(b.add(u3.get(), b.zext(b.icmp_signed(">=", c, c64(3)), I64)))
        if stats:
            rec = fr.buffer("REC")
            target = fr.scalar("TARGET")
            base = b.mul(levels.get(), c64(REC_FIELDS))
            for field, value in ((R_OB, ob), (R_CB, cb.get()), (R_C, c_total), (R_CC, ck),
                                 (R_U1, u1.get()), (R_U2, u2.get()), (R_U3, u3.get()),
                                 (R_CY, mtr.load(target)),
                                 (R_CCY, mca.load(target)), (R_NT, ntouch.get())):
                rec.store(b.add(base, c64(field)), value)
            with f.loop(c64(0), ntouch.get()) as i:
                w = touch.load(i)
                mtr.store(w, c64(0))
                mca.store(w, c64(0))
        else:
            bucket = b.add(b.mul(ob, ncb), cb.get())
            sub = b.add(b.mul(f.min(ck, c64(3)), c64(3)),
                        b.sub(f.min(f.max(ntouch.get(), c64(1)), c64(3)), c64(1)))
            a_ = alpha.load(b.add(b.mul(bucket, c64(ALPHA_SUB)), sub))
            d1 = disc.load(b.mul(bucket, c64(3)))
            d2 = disc.load(b.add(b.mul(bucket, c64(3)), c64(1)))
            d3 = disc.load(b.add(b.mul(bucket, c64(3)), c64(2)))
            be = beta.load(bucket)
            m = b.fadd(f.to_f64(c_total), b.fmul(be, f.to_f64(ck)))
            denom = b.fadd(m, a_)
            spent = b.fadd(b.fadd(b.fmul(d1, f.to_f64(u1.get())), b.fmul(d2, f.to_f64(u2.get()))),
                           b.fmul(d3, f.to_f64(u3.get())))
            gamma = b.fdiv(b.fadd(a_, spent), denom)
            scale = mu.get()

            def share(c: ir.Value, cc: ir.Value) -> ir.Value:
                """A token's share of this level (counts c, cc), as hc_dist adds it."""
                d = b.select(b.icmp_signed("==", c, c64(0)), cf(0.0),
                             b.select(b.icmp_signed("==", c, c64(1)), d1,
                                      b.select(b.icmp_signed("==", c, c64(2)), d2, d3)))
                num = b.fadd(b.fsub(f.to_f64(c), d), b.fmul(be, f.to_f64(cc)))
                return b.fmul(scale, b.fdiv(num, denom))

            if mode == PROB:
                c = mtr.load(target)
                cc = mca.load(target)
                # A level without the target adds an exact +0.0 (its counts are 0), as
                # hc_dist, which skips it, leaves OUT[target] as it was.
                acc.set(b.fadd(acc.get(), share(c, cc)))
                tinf.set(b.select(inf_level, c, tinf.get()))
                tcache.set(b.select(cache_level, cc, tcache.get()))
                with f.loop(c64(0), ntouch.get()) as i:
                    w = touch.load(i)
                    mtr.store(w, c64(0))
                    mca.store(w, c64(0))
            else:
                with f.loop(c64(0), ntouch.get()) as i:
                    w = touch.load(i)
                    c = mtr.load(w)
                    cc = mca.load(w)
                    out.store(w, b.fadd(out.load(w), share(c, cc)))
                    with f.if_(b.and_(inf_level, b.icmp_signed(">", c, c64(0)))):
                        xtok.store(ninf.get(), w)
                        xtok.store(b.add(v1, ninf.get()), c)
                        ninf.set(b.add(ninf.get(), c64(1)))
                    with f.if_(b.and_(cache_level, b.icmp_signed(">", cc, c64(0)))):
                        xtok.store(b.add(b.mul(v1, c64(2)), ncache.get()), w)
                        xtok.store(b.add(b.mul(v1, c64(3)), ncache.get()), cc)
                        ncache.set(b.add(ncache.get(), c64(1)))
                    mtr.store(w, c64(0))
                    mca.store(w, c64(0))
            mu.set(b.fmul(scale, gamma))
        levels.set(b.add(levels.get(), c64(1)))
        k.set(b.sub(j.get(), c64(1)))

    p_target = None
    if not stats:
        p0 = fr.buffer("P0")
        final = mu.get()
        # The final mixture (see jit/reference.py mixture_weights).
        cb = f.var(I64, c64(0))
        rest = f.var(I64, cinf.get())
        with f.while_(lambda: b.and_(b.icmp_signed(">", rest.get(), c64(0)),
                                     b.icmp_signed("<", cb.get(), b.sub(ncb, c64(1))))):
            cb.set(b.add(cb.get(), c64(1)))
            rest.set(b.ashr(rest.get(), c64(1)))
        mb = b.add(b.mul(b.add(b.mul(obucket.load(ktrain.get()), ncb), cb.get()),
                         fr.scalar("NKB")), fr.buffer("KBUCKET").load(kcache))
        mix = fr.buffer("MIX")
        wh, wi, wc, wr, wl = (mix.load(b.add(b.mul(mb, c64(NMIXC)), c64(i)))
                              for i in range(NMIXC))
        if mode == PROB:
            # hc_dist's final steps for the target alone, in its order.
            p = f.var(F64, b.fmul(wh, b.fadd(acc.get(), b.fmul(final, p0.load(target)))))
            for count, total, weight in ((tinf, cinf, wi), (tcache, ccache, wc)):
                with f.if_(b.icmp_signed(">", count.get(), c64(0))):
                    portion = b.fdiv(f.to_f64(count.get()), f.to_f64(total.get()))
                    p.set(b.fadd(p.get(), b.fmul(weight, portion)))
            for token, weight in ((recent, wr), (latest, wl)):
                with f.if_(b.icmp_signed("==", token, target)):
                    p.set(b.fadd(p.get(), weight))
            p_target = p.get()
        else:
            with f.loop(c64(0), v) as w:
                out.store(w, b.fmul(wh, b.fadd(out.load(w),
                                                      b.fmul(final, p0.load(w)))))
            for count, first, total, weight in ((ninf, c64(0), cinf, wi),
                                                (ncache, b.mul(v1, c64(2)), ccache, wc)):
                with f.loop(c64(0), count.get()) as i:
                    w = xtok.load(b.add(first, i))
                    c = xtok.load(b.add(b.add(first, v1), i))
                    portion = b.fdiv(f.to_f64(c), f.to_f64(total.get()))
                    out.store(w, b.fadd(out.load(w), b.fmul(weight, portion)))
            for token, weight in ((recent, wr), (latest, wl)):
                with f.if_(b.icmp_signed(">=", token, c64(0))):
                    out.store(token, b.fadd(out.load(token), weight))
    info.store(c64(I_KTRAIN), ktrain.get())
    info.store(c64(I_KCACHE), kcache)
    info.store(c64(I_LEVELS), levels.get())
    info.store(c64(I_CTOP), f.max(ctop.get(), c64(0)))
    info.store(c64(I_CINF), cinf.get())
    info.store(c64(I_CCACHE), ccache.get())
    info.store(c64(I_RECENT), recent)
    info.store(c64(I_LATEST), latest)
    f.ret(levels.get() if p_target is None else p_target)
    f.finish()


def _emit_push(f: Fn, frame: ir.Value, token: ir.Value) -> ir.Value:
    """Append ``token`` to the frame's history (see jit/reference.py cache_push); returns
    the new length."""
    b = f.b
    fr = Row(f, FRAME, frame)
    kmax = fr.scalar("KMAX")
    t = fr.scalar("LEN")
    cap = fr.scalar("CAP")
    hist = fr.buffer("HIST")
    ml = fr.buffer("ML")
    prev = fr.buffer("PREV")
    head = fr.buffer("HEAD")
    scratch = fr.buffer("CLW")
    hist.store(t, token)
    # New lengths go to scratch[cap + i] first: the old ones they extend are cleared next.
    fresh = f.var(I64, c64(0))
    j = f.var(I64, head.load(token))
    with f.while_(lambda: b.icmp_signed(">=", j.get(), c64(0))):
        here = j.get()
        before = f.var(I64, c64(0))
        with f.if_(b.icmp_signed(">=", here, c64(1))):
            before.set(ml.load(b.sub(here, c64(1))))
        scratch.store(fresh.get(), here)
        scratch.store(b.add(cap, fresh.get()), f.min(b.add(before.get(), c64(1)), kmax))
        fresh.set(b.add(fresh.get(), c64(1)))
        j.set(prev.load(here))
    with f.if_(b.icmp_signed(">=", t, c64(1))):
        j.set(prev.load(b.sub(t, c64(1))))
        with f.while_(lambda: b.icmp_signed(">=", j.get(), c64(0))):
            ml.store(j.get(), c64(0))
            j.set(prev.load(j.get()))
    with f.loop(c64(0), fresh.get()) as i:
        ml.store(scratch.load(i), scratch.load(b.add(cap, i)))
    prev.store(t, head.load(token))
    head.store(token, t)
    ml.store(t, c64(0))
    fr.store("LEN", b.add(t, c64(1)))
    return b.add(t, c64(1))


def _cache_push(module: ir.Module) -> None:
    f = Fn(module, "hc_cache_push", I64, [("frame", PTR), ("token", I64)])
    f.ret(_emit_push(f, f.args["frame"], f.args["token"]))
    f.finish()


def _score(module: ir.Module) -> None:
    """hc_score(frame, ids, n, out): for each of ids[0:n] (int64) in turn, its probability
    after the history (hc_prob) into out[i] (float64), then the token pushed; returns the
    history's new length. One call scores a whole document: the caller sees to it that
    the history's buffers have room for n more tokens."""
    f = Fn(module, "hc_score", I64, [("frame", PTR), ("ids", PTR), ("n", I64),
                                      ("out", PTR)])
    frame, ids, out = f.args["frame"], f.args["ids"], f.args["out"]
    fr = Row(f, FRAME, frame)
    prob = module.get_global("hc_prob")
    with f.loop(c64(0), f.args["n"]) as i:
        token = f.load_i64(ids, i)
        fr.store("TARGET", token)
        f.store_f64(out, i, f.b.call(prob, [frame]))
        _emit_push(f, frame, token)
    f.ret(fr.scalar("LEN"))
    f.finish()


def _count_bucket(f: Fn, total: ir.Value, ncb: ir.Value) -> ir.Value:
    """0 for no count, else 1 + floor(log2(total)), at most ncb - 1."""
    b = f.b
    cb = f.var(I64, c64(0))
    rest = f.var(I64, total)
    with f.while_(lambda: b.and_(b.icmp_signed(">", rest.get(), c64(0)),
                                 b.icmp_signed("<", cb.get(), b.sub(ncb, c64(1))))):
        cb.set(b.add(cb.get(), c64(1)))
        rest.set(b.ashr(rest.get(), c64(1)))
    return cb.get()


def _prob_weights(module: ir.Module) -> ir.Function:
    """hc_prob_weights(frame, table, row): hc_prob of the frame's TARGET under each of the
    table's weights of the context segments (jit/reference.py score_weights) into
    OUT[row * NW + w]. The walk (narrowing, cache matches, levels) does not depend on the
    weights; per level, the training and the context counts are kept apart (MTR, MCX)
    and each weight's counts are base + weight * context, so every float operation is
    hc_prob's for that weight."""
    f = Fn(module, "hc_prob_weights", I64, [("frame", PTR), ("table", PTR), ("row", I64)],
           internal=True)
    b = f.b
    frame = f.args["frame"]
    fr = Row(f, FRAME, frame)
    tb = Row(f, SCORING, f.args["table"])
    v, kmax, ncb, t = fr.scalar("V"), fr.scalar("KMAX"), fr.scalar("NCB"), fr.scalar("LEN")
    nseg, target = fr.scalar("NSEG"), fr.scalar("TARGET")
    alpha, disc, beta = fr.buffer("ALPHA"), fr.buffer("DISC"), fr.buffer("BETA")
    obucket, kseg = fr.buffer("OBUCKET"), fr.buffer("KSEG")
    lo_arr, hi_arr = fr.buffer("LO"), fr.buffer("HI")
    clw, cnt = fr.buffer("CLW"), fr.buffer("CNTL")
    mtr, mca, touch = fr.buffer("MTR"), fr.buffer("MCA"), fr.buffer("TOUCH")
    nbase, nw = tb.scalar("NBASE"), tb.scalar("NW")
    weights, state, istate = tb.buffer("WEIGHTS"), tb.buffer("STATE"), tb.buffer("ISTATE")
    mcx, xtouch = tb.buffer("MCX"), tb.buffer("XTOUCH")
    width = b.add(kmax, c64(1))

    kcache, recent, latest, ktrain, size = _matched(f, frame, kmax, t, nseg, kseg, lo_arr,
                                                    hi_arr, width)

    # Per weight: STATE[w] the target's running sum, STATE[NW + w] mu; ISTATE[w] the
    # ∞-gram's total, ISTATE[NW + w] the target's count in it.
    with f.loop(c64(0), nw) as w:
        state.store(w, cf(0.0))
        state.store(b.add(nw, w), cf(1.0))
        istate.store(w, c64(0))
        istate.store(b.add(nw, w), c64(0))
    found_inf = f.var(I64, c64(0))
    ccache = f.var(I64, c64(0))
    tcache = f.var(I64, c64(0))
    ntouch = f.var(I64, c64(0))
    nx = f.var(I64, c64(0))
    base_total = f.var(I64, c64(0))
    context_total = f.var(I64, c64(0))
    k = f.var(I64, f.max(ktrain.get(), kcache))

    def touch_token(w: ir.Value) -> None:
        fresh = b.and_(b.and_(b.icmp_signed("==", mtr.load(w), c64(0)),
                              b.icmp_signed("==", mca.load(w), c64(0))),
                       b.icmp_signed("==", mcx.load(w), c64(0)))
        with f.if_(fresh):
            touch.store(ntouch.get(), w)
            ntouch.set(b.add(ntouch.get(), c64(1)))

    def add(s: ir.Value, seg: _Seg, w: ir.Value, count: ir.Value) -> None:
        touch_token(w)
        with f.if_else(b.icmp_signed("<", s, nbase)) as (training, context):
            with training:
                c = b.mul(count, seg.weight)
                mtr.store(w, b.add(mtr.load(w), c))
                base_total.set(b.add(base_total.get(), c))
            with context:
                before = mcx.load(w)
                with f.if_(b.icmp_signed("==", before, c64(0))):
                    xtouch.store(nx.get(), w)
                    nx.set(b.add(nx.get(), c64(1)))
                mcx.store(w, b.add(before, count))
                context_total.set(b.add(context_total.get(), count))

    def tally(u: list[Var], c: ir.Value) -> None:
        for var, hit in zip(u, (b.icmp_signed("==", c, c64(1)), b.icmp_signed("==", c, c64(2)),
                                b.icmp_signed(">=", c, c64(3))), strict=True):
            var.set(b.add(var.get(), b.zext(hit, I64)))

    with f.while_(lambda: b.icmp_signed(">=", k.get(), c64(1))):
        top = k.get()
        j, ck = _same_statistics(f, top, size, cnt)
        ntouch.set(c64(0))
        nx.set(c64(0))
        base_total.set(c64(0))
        context_total.set(c64(0))
        _count_training(f, fr, top, add)
        with f.loop(c64(0), ck) as i:
            w = clw.load(i)
            touch_token(w)
            mca.store(w, b.add(mca.load(w), c64(1)))
        # Whether a count is there does not depend on the weight (each is 1 or more).
        inf_level = b.and_(b.icmp_signed("==", found_inf.get(), c64(0)),
                           b.icmp_signed(">", b.add(base_total.get(), context_total.get()),
                                         c64(0)))
        cache_level = b.and_(b.icmp_signed("==", ccache.get(), c64(0)),
                             b.icmp_signed(">", ck, c64(0)))
        found_inf.set(b.select(inf_level, c64(1), found_inf.get()))
        ccache.set(b.select(cache_level, ck, ccache.get()))
        tcache.set(b.select(cache_level, mca.load(target), tcache.get()))
        # The distinct counts of the tokens without context counts, the same for all.
        shared = [f.var(I64, c64(0)) for _ in range(3)]
        with f.loop(c64(0), ntouch.get()) as i:
            w = touch.load(i)
            with f.if_(b.icmp_signed("==", mcx.load(w), c64(0))):
                tally(shared, mtr.load(w))
        ob = obucket.load(top)
        ck_f = f.to_f64(ck)
        distinct = b.sub(f.min(f.max(ntouch.get(), c64(1)), c64(3)), c64(1))
        sub = b.add(b.mul(f.min(ck, c64(3)), c64(3)), distinct)
        with f.loop(c64(0), nw) as wi:
            weight = weights.load(wi)
            c_total = b.add(base_total.get(), b.mul(weight, context_total.get()))
            u = [f.var(I64, var.get()) for var in shared]
            with f.loop(c64(0), nx.get()) as i:
                w = xtouch.load(i)
                tally(u, b.add(mtr.load(w), b.mul(weight, mcx.load(w))))
            bucket = b.add(b.mul(ob, ncb), _count_bucket(f, c_total, ncb))
            a_ = alpha.load(b.add(b.mul(bucket, c64(ALPHA_SUB)), sub))
            d1 = disc.load(b.mul(bucket, c64(3)))
            d2 = disc.load(b.add(b.mul(bucket, c64(3)), c64(1)))
            d3 = disc.load(b.add(b.mul(bucket, c64(3)), c64(2)))
            be = beta.load(bucket)
            m = b.fadd(f.to_f64(c_total), b.fmul(be, ck_f))
            denom = b.fadd(m, a_)
            spent = b.fadd(b.fadd(b.fmul(d1, f.to_f64(u[0].get())),
                                  b.fmul(d2, f.to_f64(u[1].get()))),
                           b.fmul(d3, f.to_f64(u[2].get())))
            gamma = b.fdiv(b.fadd(a_, spent), denom)
            c = b.add(mtr.load(target), b.mul(weight, mcx.load(target)))
            cc = mca.load(target)
            d = b.select(b.icmp_signed("==", c, c64(0)), cf(0.0),
                         b.select(b.icmp_signed("==", c, c64(1)), d1,
                                  b.select(b.icmp_signed("==", c, c64(2)), d2, d3)))
            num = b.fadd(b.fsub(f.to_f64(c), d), b.fmul(be, f.to_f64(cc)))
            scale = state.load(b.add(nw, wi))
            state.store(wi, b.fadd(state.load(wi), b.fmul(scale, b.fdiv(num, denom))))
            state.store(b.add(nw, wi), b.fmul(scale, gamma))
            with f.if_(inf_level):
                istate.store(wi, c_total)
                istate.store(b.add(nw, wi), c)
        with f.loop(c64(0), ntouch.get()) as i:
            w = touch.load(i)
            mtr.store(w, c64(0))
            mca.store(w, c64(0))
            mcx.store(w, c64(0))
        k.set(b.sub(j.get(), c64(1)))

    p0w, out, mix = tb.buffer("P0W"), tb.buffer("OUT"), fr.buffer("MIX")
    with f.loop(c64(0), nw) as wi:
        cinf, tinf = istate.load(wi), istate.load(b.add(nw, wi))
        mb = b.add(b.mul(b.add(b.mul(obucket.load(ktrain.get()), ncb),
                               _count_bucket(f, cinf, ncb)),
                         fr.scalar("NKB")), fr.buffer("KBUCKET").load(kcache))
        wh, wi_, wc, wr, wl = (mix.load(b.add(b.mul(mb, c64(NMIXC)), c64(i)))
                               for i in range(NMIXC))
        final = state.load(b.add(nw, wi))
        below = p0w.load(b.add(b.mul(wi, v), target))
        p = f.var(F64, b.fmul(wh, b.fadd(state.load(wi), b.fmul(final, below))))
        for count, total, weight in ((tinf, cinf, wi_), (tcache.get(), ccache.get(), wc)):
            with f.if_(b.icmp_signed(">", count, c64(0))):
                portion = b.fdiv(f.to_f64(count), f.to_f64(total))
                p.set(b.fadd(p.get(), b.fmul(weight, portion)))
        for token, weight in ((recent, wr), (latest, wl)):
            with f.if_(b.icmp_signed("==", token, target)):
                p.set(b.fadd(p.get(), weight))
        out.store(b.add(b.mul(f.args["row"], nw), wi), p.get())
    f.ret(nw)
    f.finish()
    return f.func


def _score_weights(module: ir.Module) -> None:
    """hc_score_weights(frame, table, ids, n): for each of ids[0:n] (int64) in turn, its
    probability under each weight (hc_prob_weights) into the table's OUT, then the token
    pushed; returns the history's new length (the buffers must have room)."""
    prob = _prob_weights(module)
    f = Fn(module, "hc_score_weights", I64, [("frame", PTR), ("table", PTR), ("ids", PTR),
                                              ("n", I64)])
    frame = f.args["frame"]
    fr = Row(f, FRAME, frame)
    with f.loop(c64(0), f.args["n"]) as i:
        token = f.load_i64(f.args["ids"], i)
        fr.store("TARGET", token)
        f.b.call(prob, [frame, f.args["table"], i])
        _emit_push(f, frame, token)
    f.ret(fr.scalar("LEN"))
    f.finish()


def _collect(module: ir.Module) -> None:
    """hc_collect(frame, ids, n, rec, rows, depth, info): for each of ids[0:n] (int64) in
    turn, hc_stats of it, its records copied to ``rec`` (int32, REC_FIELDS a row) bottom
    level first after one row left for order 0 (the caller's), ``depth[i]`` = levels + 1
    and INFO to ``info[i]`` (int64, INFO_FIELDS a row); then the token is pushed. Stops
    before a token that might not fit in the ``rows`` rows of ``rec`` (each needs at most
    KMAX + 2); returns how many tokens it did. The history's buffers must have room."""
    f = Fn(module, "hc_collect", I64, [("frame", PTR), ("ids", PTR), ("n", I64),
                                        ("rec", PTR), ("rows", I64), ("depth", PTR),
                                        ("info", PTR)])
    b = f.b
    frame, ids, out = f.args["frame"], f.args["ids"], f.args["rec"]
    depth, info_out = f.args["depth"], f.args["info"]
    fr = Row(f, FRAME, frame)
    stats = module.get_global("hc_stats")
    need = b.add(fr.scalar("KMAX"), c64(2))
    at = f.var(I64, c64(0))
    done = f.var(I64, c64(0))
    with f.loop(c64(0), f.args["n"]) as i:
        with f.if_(b.icmp_signed(">", b.add(at.get(), need), f.args["rows"])):
            f.brk()
        token = f.load_i64(ids, i)
        fr.store("TARGET", token)
        levels = b.call(stats, [frame])
        rec, info = fr.buffer("REC"), fr.buffer("INFO")
        with f.loop(c64(0), levels) as j:
            # The kernel's records are top level first; the fit's, bottom first.
            source = b.mul(b.sub(b.sub(levels, c64(1)), j), c64(REC_FIELDS))
            target = b.mul(b.add(b.add(at.get(), c64(1)), j), c64(REC_FIELDS))
            with f.loop(c64(0), c64(REC_FIELDS)) as field:
                f.store_32(out, b.add(target, field), rec.load(b.add(source, field)))
        with f.loop(c64(0), c64(INFO_FIELDS)) as field:
            f.store_i64(info_out, b.add(b.mul(i, c64(INFO_FIELDS)), field),
                        info.load(field))
        f.store_i64(depth, i, b.add(levels, c64(1)))
        at.set(b.add(at.get(), b.add(levels, c64(1))))
        _emit_push(f, frame, token)
        done.set(b.add(i, c64(1)))
    f.ret(done.get())
    f.finish()


def _reset(module: ir.Module) -> None:
    f = Fn(module, "hc_reset", I64, [("frame", PTR), ("ids", PTR), ("n", I64)])
    frame, ids, n = f.args["frame"], f.args["ids"], f.args["n"]
    fr = Row(f, FRAME, frame)
    hist = fr.buffer("HIST")
    ml = fr.buffer("ML")
    head = fr.buffer("HEAD")
    with f.loop(c64(0), fr.scalar("LEN")) as i:
        head.store(hist.load(i), c64(-1))
        ml.store(i, c64(0))
    fr.store("LEN", c64(0))
    _emit_push(f, frame, fr.scalar("SEP"))
    with f.loop(c64(0), n) as i:
        _emit_push(f, frame, f.load_i64(ids, i))
    f.ret(fr.scalar("LEN"))
    f.finish()


def _emit_block_sum(f: Fn, probs: ir.Value, start: ir.Value) -> ir.Value:
    """The sum of probs[start:start + SAMPLE_BLOCK] in jit/reference.py block_sums' order:
    SAMPLE_ROWS rows of SAMPLE_LANES added lane by lane, then the lanes pairwise."""
    b = f.b
    vd = ir.VectorType(F64, SAMPLE_LANES)
    total = b.load(f.at(probs, start, F64), typ=vd, align=8)
    for row in range(1, SAMPLE_ROWS):
        at = b.add(start, c64(row * SAMPLE_LANES))
        total = b.fadd(total, b.load(f.at(probs, at, F64), typ=vd, align=8))
    lanes = [b.extract_element(total, ir.Constant(I32, lane)) for lane in range(SAMPLE_LANES)]
    while len(lanes) > 1:
        lanes = [b.fadd(lanes[i], lanes[i + 1]) for i in range(0, len(lanes), 2)]
    return lanes[0]


def _sample(module: ir.Module) -> None:
    f = Fn(module, "hc_sample", I64, [("probs", PTR), ("n", I64), ("u", F64)])
    b = f.b
    probs, n, u = f.args["probs"], f.args["n"], f.args["u"]
    blocks = b.sdiv(n, c64(SAMPLE_BLOCK))
    tail = b.mul(blocks, c64(SAMPLE_BLOCK))
    total = f.var(F64, 0.0)
    with f.loop(c64(0), blocks) as k:
        total.set(b.fadd(total.get(), _emit_block_sum(f, probs, b.mul(k, c64(SAMPLE_BLOCK)))))
    with f.loop(tail, n) as i:
        total.set(b.fadd(total.get(), f.load_f64(probs, i)))
    target = b.fmul(u, total.get())
    acc = f.var(F64, 0.0)
    with f.loop(c64(0), blocks) as k:
        start = b.mul(k, c64(SAMPLE_BLOCK))
        block = _emit_block_sum(f, probs, start)
        with f.if_(b.fcmp_ordered(">", b.fadd(acc.get(), block), target)):
            running = f.var(F64, acc.get())
            with f.loop(start, b.add(start, c64(SAMPLE_BLOCK))) as i:
                running.set(b.fadd(running.get(), f.load_f64(probs, i)))
                with f.if_(b.fcmp_ordered(">", running.get(), target)):
                    f.ret(i)
        acc.set(b.fadd(acc.get(), block))
    with f.loop(tail, n) as i:
        acc.set(b.fadd(acc.get(), f.load_f64(probs, i)))
        with f.if_(b.fcmp_ordered(">", acc.get(), target)):
            f.ret(i)
    last = f.var(I64, b.sub(n, c64(1)))
    with f.while_(lambda: b.icmp_signed(">", last.get(), c64(0))):
        with f.if_(b.fcmp_ordered(">", f.load_f64(probs, last.get()), cf(0.0))):
            f.brk()
        last.set(b.sub(last.get(), c64(1)))
    f.ret(f.max(last.get(), c64(0)))
    f.finish()


def _dry_apply(module: ir.Module) -> None:
    f = Fn(module, "hc_dry_apply", I64, [("frame", PTR)])
    b = f.b
    frame = f.args["frame"]
    fr = Row(f, FRAME, frame)
    kmax = fr.scalar("KMAX")
    t = fr.scalar("LEN")
    hist = fr.buffer("HIST")
    ml = fr.buffer("ML")
    prev = fr.buffer("PREV")
    out = fr.buffer("OUT")
    brk = fr.buffer("DRY_BREAK")
    factor = fr.buffer("DRY_FACTOR")
    allowed = fr.scalar("DRY_ALLOWED")
    tok = fr.buffer("DRY_TOK")
    lens = fr.buffer("DRY_LEN")
    best = fr.buffer("DRY_BEST")
    save = fr.buffer("DRY_SAVE")
    with f.if_(b.icmp_signed("<", t, c64(2))):
        f.ret(c64(0))
    last = b.sub(t, c64(1))
    cap = f.var(I64, c64(0))
    with f.while_(lambda: b.icmp_signed("<", cap.get(), kmax)):
        at = b.sub(last, cap.get())
        with f.if_(b.icmp_signed("<", at, c64(1))):
            f.brk()
        with f.if_(b.icmp_signed("!=", brk.load(hist.load(at)), c64(0))):
            f.brk()
        cap.set(b.add(cap.get(), c64(1)))
    m = f.var(I64, c64(0))
    j = f.var(I64, prev.load(last))
    with f.while_(lambda: b.icmp_signed(">=", j.get(), c64(0))):
        here = j.get()
        matched = ml.load(here)
        looping = b.icmp_signed(">=", matched, b.sub(last, here))
        length = b.select(looping, matched, f.min(matched, cap.get()))
        w = hist.load(b.add(here, c64(1)))
        penalised = b.and_(b.icmp_signed(">=", length, allowed),
                           b.or_(looping, b.icmp_signed("==", brk.load(w), c64(0))))
        with f.if_(penalised):
            seen = best.load(w)
            with f.if_(b.icmp_signed("==", seen, c64(0))):
                tok.store(m.get(), w)
                m.set(b.add(m.get(), c64(1)))
            with f.if_(b.icmp_signed(">", length, seen)):
                best.store(w, length)
        j.set(prev.load(here))
    with f.loop(c64(0), m.get()) as i:
        w = tok.load(i)
        length = best.load(w)
        best.store(w, c64(0))
        lens.store(i, length)
        p = out.load(w)
        save.store(i, p)
        out.store(w, b.fmul(p, factor.load(length)))
    f.ret(m.get())
    f.finish()


def _dry_restore(module: ir.Module) -> None:
    f = Fn(module, "hc_dry_restore", I64, [("frame", PTR), ("m", I64)])
    frame, m = f.args["frame"], f.args["m"]
    fr = Row(f, FRAME, frame)
    out = fr.buffer("OUT")
    tok = fr.buffer("DRY_TOK")
    save = fr.buffer("DRY_SAVE")
    with f.loop(c64(0), m) as i:
        out.store(tok.load(i), save.load(i))
    f.ret(m)
    f.finish()


def _emit_argmax(f: Fn, probs: ir.Value, n: ir.Value) -> ir.Value:
    """The first index of the largest of probs[0:n] (which hold no NaN).

    LANES running maxima with their indices, each lane keeping its first maximum (strictly
    greater replaces), then the lanes merged (ties to the smaller index) and the last n %
    LANES values scanned: the first maximum overall is the first in its lane.
    """
    b = f.b
    vd = ir.VectorType(F64, LANES)
    vi = ir.VectorType(I64, LANES)
    best = f.var(vd, ir.Constant(vd, [float("-inf")] * LANES))
    where = f.var(vi, ir.Constant(vi, list(range(LANES))))
    here = f.var(vi, ir.Constant(vi, list(range(LANES))))
    step = ir.Constant(vi, [LANES] * LANES)
    whole = b.and_(n, c64(-LANES))
    base = f.var(I64, c64(0))
    with f.while_(lambda: b.icmp_signed("<", base.get(), whole)):
        at = base.get()
        values = b.load(f.at(probs, at, F64), typ=vd, align=8)
        greater = b.fcmp_ordered(">", values, best.get())
        best.set(b.select(greater, values, best.get()))
        where.set(b.select(greater, here.get(), where.get()))
        here.set(b.add(here.get(), step))
        base.set(b.add(at, c64(LANES)))
    top = f.var(F64, float("-inf"))
    index = f.var(I64, c64(0))
    for lane in range(LANES):
        value = b.extract_element(best.get(), ir.Constant(I32, lane))
        position = b.extract_element(where.get(), ir.Constant(I32, lane))
        better = b.or_(b.fcmp_ordered(">", value, top.get()),
                       b.and_(b.fcmp_ordered("==", value, top.get()),
                              b.icmp_signed("<", position, index.get())))
        top.set(b.select(better, value, top.get()))
        index.set(b.select(better, position, index.get()))
    with f.loop(whole, n) as i:
        value = f.load_f64(probs, i)
        with f.if_(b.fcmp_ordered(">", value, top.get())):
            top.set(value)
            index.set(i)
    return index.get()


def _argmax(module: ir.Module) -> None:
    f = Fn(module, "hc_argmax", I64, [("probs", PTR), ("n", I64)])
    f.ret(_emit_argmax(f, f.args["probs"], f.args["n"]))
    f.finish()


def _top(module: ir.Module) -> None:
    """hc_top(values, n, k, out_index, out_value): the k largest of values[0:n] (no NaN)
    into out_index/out_value, best first, ties to the smaller index; returns min(k, n).

    One pass: the best k so far are kept sorted, and the value they must beat (the k-th,
    -inf until there are k) is compared with LANES values at a time. After the first few
    blocks almost no block holds a value above it, so the scan costs about one argmax
    where k argmax calls cost k of them. A value equal to the k-th is not taken: the
    one found first has the smaller index.
    """
    f = Fn(module, "hc_top", I64, [("values", PTR), ("n", I64), ("k", I64),
                                   ("out_index", PTR), ("out_value", PTR)])
    b = f.b
    values, n, k = f.args["values"], f.args["n"], f.args["k"]
    out_index, out_value = f.args["out_index"], f.args["out_value"]
    count = f.var(I64, c64(0))
    bar = f.var(F64, float("-inf"))

    def consider(i: ir.Value) -> None:
        value = f.load_f64(values, i)
        room = b.icmp_signed("<", count.get(), k)
        with f.if_(b.or_(room, b.fcmp_ordered(">", value, bar.get()))):
            # The new value's place: past every kept one at least as large.
            j = f.var(I64, b.select(room, count.get(), b.sub(k, c64(1))))
            with f.while_(lambda: b.icmp_signed(">", j.get(), c64(0))):
                above = b.sub(j.get(), c64(1))
                kept = f.load_f64(out_value, above)
                with f.if_(b.fcmp_ordered(">=", kept, value)):
                    f.brk()
                f.store_f64(out_value, j.get(), kept)
                f.store_i64(out_index, j.get(), f.load_i64(out_index, above))
                j.set(above)
            f.store_f64(out_value, j.get(), value)
            f.store_i64(out_index, j.get(), i)
            count.set(b.select(room, b.add(count.get(), c64(1)), count.get()))
            full = b.icmp_signed("==", count.get(), k)
            last = f.load_f64(out_value, b.sub(k, c64(1)))
            bar.set(b.select(full, last, cf(float("-inf"))))

    vd = ir.VectorType(F64, LANES)
    mask_bits = ir.IntType(LANES)
    whole = b.and_(n, c64(-LANES))
    base = f.var(I64, c64(0))
    with f.while_(lambda: b.icmp_signed("<", base.get(), whole)):
        at = base.get()
        base.set(b.add(at, c64(LANES)))
        block = b.load(f.at(values, at, F64), typ=vd, align=8)
        splat = b.insert_element(ir.Constant(vd, ir.Undefined), bar.get(), ir.Constant(I32, 0))
        splat = b.shuffle_vector(splat, ir.Constant(vd, ir.Undefined),
                                 ir.Constant(ir.VectorType(I32, LANES), [0] * LANES))
        above = b.bitcast(b.fcmp_ordered(">", block, splat), mask_bits)
        some = b.icmp_unsigned("!=", above, ir.Constant(mask_bits, 0))
        with (f.if_(b.or_(some, b.icmp_signed("<", count.get(), k))),
              f.loop(at, b.add(at, c64(LANES))) as i):
            consider(i)
    with f.loop(whole, n) as i:
        consider(i)
    f.ret(count.get())
    f.finish()


def _dry_choose(module: ir.Module) -> None:
    """hc_dry_argmax(frame) and hc_dry_sample(frame, u): the token chosen from OUT with
    the repetition penalty applied, OUT left as it was."""
    apply, restore = module.get_global("hc_dry_apply"), module.get_global("hc_dry_restore")
    sample = module.get_global("hc_sample")
    for name in ("hc_dry_argmax", "hc_dry_sample"):
        args = [("frame", PTR)] + ([("u", F64)] if name == "hc_dry_sample" else [])
        f = Fn(module, name, I64, args)
        b = f.b
        frame = f.args["frame"]
        fr = Row(f, FRAME, frame)
        out = fr.buffer("OUT")
        v = fr.scalar("V")
        changed = b.call(apply, [frame])
        if name == "hc_dry_argmax":
            token = _emit_argmax(f, out.pointer, v)
        else:
            token = b.call(sample, [out.pointer, v, f.args["u"]])
        b.call(restore, [frame, changed])
        f.ret(token)
        f.finish()


class _FitTerms:
    """One record's terms of the fit's objective (see jit/reference.py _fit_terms), in the
    references' order of operations: numpy's elementwise ones, so the results are the
    same to the bit."""

    def __init__(self, f: Fn, fr: Row, row: ir.Value) -> None:
        b = f.b
        rec = fr.buffer("REC")
        base = b.mul(row, c64(REC_FIELDS))

        def field(index: int) -> ir.Value:
            return rec.load(b.add(base, c64(index)))

        def real(index: int) -> ir.Value:
            return f.to_f64(field(index))

        alpha, disc, beta = fr.buffer("ALPHA"), fr.buffer("DISC"), fr.buffer("BETA")
        self.bucket = b.add(b.mul(field(R_OB), fr.scalar("NCB")), field(R_CB))
        distinct = b.sub(f.min(f.max(field(R_NT), c64(1)), c64(3)), c64(1))
        self.ia = b.add(b.add(b.mul(self.bucket, c64(ALPHA_SUB)),
                              b.mul(f.min(field(R_CC), c64(3)), c64(3))), distinct)
        cy = field(R_CY)
        # Which discount the target's own count uses: 3 for none (a zero).
        self.use = b.select(b.icmp_signed("==", cy, c64(0)), c64(3),
                            b.sub(f.min(cy, c64(3)), c64(1)))
        self.c, self.cc = real(R_C), real(R_CC)
        self.u = [real(R_U1), real(R_U2), real(R_U3)]
        self.cy, self.ccy = f.to_f64(cy), real(R_CCY)
        a = alpha.load(self.ia)
        self.be = beta.load(self.bucket)
        first = b.mul(self.bucket, c64(3))
        d = [disc.load(b.add(first, c64(i))) for i in range(3)]
        self.m = b.fadd(self.c, b.fmul(self.be, self.cc))
        self.denom = b.fadd(self.m, a)
        spent = b.fmul(d[0], self.u[0])
        spent = b.fadd(spent, b.fmul(d[1], self.u[1]))
        self.spent = b.fadd(spent, b.fmul(d[2], self.u[2]))
        self.above = b.fadd(a, self.spent)
        self.gamma = b.fdiv(self.above, self.denom)
        target = b.select(b.icmp_signed("==", self.use, c64(3)), cf(0.0),
                          disc.load(b.add(first, f.min(self.use, c64(2)))))
        self.num = b.fadd(b.fsub(self.cy, target), b.fmul(self.be, self.ccy))


def _fit_levels(f: Fn, fr: Row, level: ir.Value, body) -> None:
    """``body(x, token, terms)`` for each record ``x`` of ``level``, in sequence."""
    b = f.b
    lstart, order = fr.buffer("LSTART"), fr.buffer("ORDER")
    with f.loop(lstart.load(level), lstart.load(b.add(level, c64(1)))) as x:
        body(x, order.load(x), _FitTerms(f, fr, x))


def _fit_forward(module: ir.Module) -> None:
    f = Fn(module, "hc_fit_forward", I64, [("table", PTR)])
    b = f.b
    fr = Row(f, FIT, f.args["table"])
    p, below_out = fr.buffer("P"), fr.buffer("BELOW")
    uniform = b.fdiv(cf(1.0), f.to_f64(fr.scalar("V")))
    with f.loop(c64(0), fr.scalar("NTOK")) as t:
        p.store(t, uniform)
    nlevels = fr.scalar("NLEVELS")

    def mix(x: ir.Value, token: ir.Value, terms: _FitTerms) -> None:
        below = p.load(token)
        below_out.store(x, below)
        p.store(token, b.fadd(b.fdiv(terms.num, terms.denom), b.fmul(terms.gamma, below)))

    with f.loop(c64(0), nlevels) as level:
        _fit_levels(f, fr, level, mix)
    f.ret(nlevels)
    f.finish()


def _fit_backward(module: ir.Module) -> None:
    f = Fn(module, "hc_fit_backward", I64, [("table", PTR)])
    b = f.b
    fr = Row(f, FIT, f.args["table"])
    up, below_in, bins = fr.buffer("UP"), fr.buffer("BELOW"), fr.buffer("BINS")
    nbucket = fr.scalar("NBUCKET")
    nalpha = b.mul(nbucket, c64(ALPHA_SUB))
    # BINS: [alpha | beta | disc], one level's sums, as numpy's bincount of that level.
    beta_at = nalpha
    disc_at = b.add(nalpha, nbucket)
    totals = [(fr.buffer("GALPHA"), c64(0), nalpha), (fr.buffer("GBETA"), beta_at, nbucket),
              (fr.buffer("GDISC"), disc_at, b.mul(nbucket, c64(3)))]
    for g, _, size in totals:
        with f.loop(c64(0), size) as i:
            g.store(i, cf(0.0))
    with f.loop(c64(0), b.mul(nbucket, c64(ALPHA_SUB + 4))) as i:
        bins.store(i, cf(0.0))

    def add(at: ir.Value, value: ir.Value) -> None:
        bins.store(at, b.fadd(bins.load(at), value))

    def gradient(x: ir.Value, token: ir.Value, t: _FitTerms) -> None:
        below = below_in.load(x)
        delta = up.load(token)
        square = b.fmul(t.denom, t.denom)
        d_alpha = b.fdiv(b.fadd(b.fneg(t.num), b.fmul(b.fsub(t.m, t.spent), below)), square)
        d_beta = b.fsub(b.fsub(b.fdiv(t.ccy, t.denom), b.fdiv(b.fmul(t.num, t.cc), square)),
                        b.fmul(b.fdiv(b.fmul(t.above, t.cc), square), below))
        add(t.ia, b.fmul(delta, d_alpha))
        add(b.add(beta_at, t.bucket), b.fmul(delta, d_beta))
        share = b.fdiv(delta, t.denom)
        for i in range(3):
            uses = b.select(b.icmp_signed("==", t.use, c64(i)), cf(1.0), cf(0.0))
            value = b.fmul(share, b.fsub(b.fmul(t.u[i], below), uses))
            add(b.add(disc_at, b.add(b.mul(t.bucket, c64(3)), c64(i))), value)
        up.store(token, b.fmul(delta, t.gamma))

    nlevels = fr.scalar("NLEVELS")
    level = f.var(I64, b.sub(nlevels, c64(1)))
    with f.while_(lambda: b.icmp_signed(">=", level.get(), c64(0))):
        _fit_levels(f, fr, level.get(), gradient)
        # The level's sums join the totals, and the bins start the next level at zero.
        for g, first, size in totals:
            with f.loop(c64(0), size) as i:
                at = b.add(first, i)
                g.store(i, b.fadd(g.load(i), bins.load(at)))
                bins.store(at, cf(0.0))
        level.set(b.sub(level.get(), c64(1)))
    f.ret(nlevels)
    f.finish()


def _fit_mixture(module: ir.Module) -> None:
    """hc_fit_mixture(table): jit/reference.py fit_mixture, token by token, each sum in
    numpy's order (a row's components left to right, the tokens in order)."""
    f = Fn(module, "hc_fit_mixture", I64, [("table", PTR)])
    b = f.b
    fr = Row(f, FIT, f.args["table"])
    probs, buckets, weights = fr.buffer("MIXP"), fr.buffer("MIXB"), fr.buffer("MIXW")
    sums, totals = fr.buffer("MIXSUM"), fr.buffer("MIXTOT")
    with f.loop(c64(0), c64(NMIXC)) as i:
        sums.store(i, cf(0.0))
    with f.loop(c64(0), b.mul(fr.scalar("NMIX"), c64(NMIXC))) as i:
        totals.store(i, cf(0.0))
    ntok = fr.scalar("NTOK")
    with f.loop(c64(0), ntok) as t:
        first = b.mul(buckets.load(t), c64(NMIXC))
        row = b.mul(t, c64(NMIXC))
        share = [b.fmul(weights.load(b.add(first, c64(i))), probs.load(b.add(row, c64(i))))
                 for i in range(NMIXC)]
        total = share[0]
        for value in share[1:]:
            total = b.fadd(total, value)
        for i, value in enumerate(share):
            part = b.fdiv(value, total)
            sums.store(c64(i), b.fadd(sums.load(c64(i)), part))
            at = b.add(first, c64(i))
            totals.store(at, b.fadd(totals.load(at), part))
    f.ret(ntok)
    f.finish()
