"""Where atoms live: every Unicode codepoint on the unit 3-sphere, and a 4D Hilbert curve over it.

Placement rule
--------------
Each codepoint is reduced to a *base* codepoint plus an ordered list of *variant tokens*:
NFKD-decompose it, drop the combining marks (each becomes a ``mark`` token), keep the first
letter or digit that remains as the anchor (other leftover characters become ``extra`` tokens,
a compatibility tag such as ``<font>`` or ``<wide>`` becomes a ``tag`` token), case-fold the
anchor (an ``upper``/``title``/``fold`` token), and map any decimal digit to its ASCII digit (a
``digitset`` token naming the script's digit block). So ``Á`` is ``a`` + [upper, acute], ``ς`` is
``σ`` + [fold ς], ``٣`` is ``3`` + [Arabic-Indic digits]. Bases are grouped into regions — the
script (first word of the Unicode name) for letters, marks and numbers, the general category for
punctuation, symbols, separators and controls, one region each for the ten ASCII digits and for
the big algorithmic sets (CJK unified ideographs, Hangul syllables, Tangut, …) and for private
use, surrogates and unassigned codepoints. Regions are laid out in a fixed order (controls,
punctuation, symbols, digits, scripts by first codepoint, then the meaningless ones) along a
closed space-filling curve over S³; each region gets a contiguous stretch of it proportional to
its size (square-root-damped above 4096 bases, so CJK and the unassigned planes do not swallow
the sphere), split into equal sub-stretches for its bases in codepoint order; a base sits at the
centre of mass of its sub-stretch. The curve is a 3D Hilbert
curve on each of the eight cubic facets of the tesseract, the facets chained corner to corner,
then projected radially onto S³, so contiguous stretches are compact blobs and neighbouring
regions touch. Finally a variant is its base's point multiplied (as a quaternion, on the right)
by one small rotation per token, in token order: ``point = base ⊗ V₁ ⊗ V₂ …``. Each ``Vᵢ`` turns
by a fixed small angle in a direction hashed (splitmix64) from the token, so ``Á`` sits about
two token-angles from ``a``, and ``a⁻¹ ⊗ á == e⁻¹ ⊗ é`` — the same diacritic is the same move
everywhere. Characters that would coincide (Kelvin sign and ``K``) get a ``dup`` token.

Determinism: only integer arithmetic, +, -, ×, ÷ and √ on float64 (all correctly rounded under
IEEE 754) and element-wise numpy ufuncs, which never fuse into FMAs; no trigonometry or libm, no
BLAS, no random generator. The result is bit-identical on every platform for a given Unicode
database, but it is a function of ``unicodedata.unidata_version`` (exported as
``UNICODE_VERSION``): a Python with a newer Unicode moves atoms, so a store must record the
version it was built with.

Hilbert keys use John Skilling's transpose algorithm ("Programming the Hilbert curve", AIP
Conf. Proc. 707, 2004) with the standard bit order: the key's bits interleave the transposed
coordinates most-significant bit first, coordinate 0 first. Four coordinates of 15 bits give a
60-bit key, which fits SQLite's signed 64-bit INTEGER.
"""

from __future__ import annotations

import functools
import unicodedata

import numpy as np
import numpy.typing as npt

__all__ = [
    "CODEPOINT_COUNT",
    "HILBERT_BITS",
    "UNICODE_VERSION",
    "angular_distance",
    "atom_base",
    "atom_hilbert_key",
    "atom_hilbert_keys",
    "atom_point",
    "atom_points",
    "ball_cells",
    "composition_point",
    "hilbert_box_ranges",
    "hilbert_decode",
    "hilbert_encode",
    "quantize",
]

UNICODE_VERSION: str = unicodedata.unidata_version
CODEPOINT_COUNT = 0x110000
HILBERT_BITS = 15

# --------------------------------------------------------------------------- hashing


_U64 = np.uint64


def _splitmix64(x: npt.ArrayLike) -> np.ndarray:
    """Sebastiano Vigna's splitmix64 finaliser on uint64 (wrapping arithmetic is the point)."""
    z = np.asarray(x).astype(_U64) + _U64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


# --------------------------------------------------------------------------- Hilbert curve


def _check_bits(bits: int, dims: int) -> None:
    if bits < 1 or bits * dims > 64:
        raise ValueError(f"need 1 <= bits and bits * dims <= 64, got bits={bits}, dims={dims}")


def hilbert_encode(coords: npt.ArrayLike, bits: int = HILBERT_BITS) -> np.ndarray:
    """Hilbert keys (uint64, shape (n,)) of grid cells given as (n, d) integers in [0, 2**bits).

    Written for d = 4 but any d with d * bits <= 64 works (the atom layout uses d = 3).
    """
    x = np.array(coords, ndmin=2)
    if x.dtype.kind not in "iu":
        raise TypeError(f"coords must be integers, got dtype {x.dtype}")
    x = x.astype(np.int64)
    if x.ndim != 2:
        raise ValueError(f"coords must have shape (n, d), got {x.shape}")
    dims = x.shape[1]
    _check_bits(bits, dims)
    if x.size and (x.min() < 0 or x.max() >= 1 << bits):
        raise ValueError(f"coordinates must lie in [0, 2**{bits})")
    # One contiguous array per axis: the loops below update axes, not cells (most calls
    # are a document's few names, where numpy's per-operation cost is all there is).
    axes = [np.ascontiguousarray(x[:, i]).astype(_U64) for i in range(dims)]
    # Skilling's AxestoTranspose: undo the excess work the decoder does, level by level.
    q = 1 << (bits - 1)
    while q > 1:
        p = _U64(q - 1)
        for i in range(dims):
            xi, x0 = axes[i], axes[0]
            hit = (xi & _U64(q)) != 0
            if i:
                swap = (x0 ^ xi) & p
                axes[0] = np.where(hit, x0 ^ p, x0 ^ swap)
                axes[i] = np.where(hit, xi, xi ^ swap)
            else:  # the axis swaps with itself: nothing to swap
                axes[0] = np.where(hit, x0 ^ p, x0)
        q >>= 1
    # Gray encode.
    for i in range(1, dims):
        axes[i] = axes[i] ^ axes[i - 1]
    # t's bit j is the parity of the last axis's bits above j: XOR of its shifts by 1, 2, ….
    t = axes[dims - 1] >> _U64(1)
    shift = 1
    while shift < bits:
        t ^= t >> _U64(shift)
        shift <<= 1
    # Interleave the transposed coordinates, most significant bit first: bit ``level`` of
    # axis i lands at ``level * dims + dims - 1 - i``.
    key = np.zeros(len(x), dtype=_U64)
    for i in range(dims):
        key |= _spread(axes[i] ^ t, dims, bits) << _U64(dims - 1 - i)
    return key


@functools.lru_cache(maxsize=8)
def _spread_table(dims: int) -> np.ndarray:
    """Each byte with its bits moved ``dims`` apart (bit b to bit b * dims)."""
    table = np.zeros(256, dtype=_U64)
    for value in range(256):
        table[value] = sum(1 << (b * dims) for b in range(8) if value >> b & 1)
    return table


def _spread(values: np.ndarray, dims: int, bits: int) -> np.ndarray:
    """``values`` (below 2**bits) with bit b moved to bit b * dims, a byte at a time."""
    table = _spread_table(dims)
    out = np.zeros(len(values), dtype=_U64)
    for byte in range((bits + 7) // 8):
        chunk = (values >> _U64(8 * byte)) & _U64(0xFF)
        out |= table[chunk] << _U64(8 * byte * dims)
    return out


_GATHER_BITS = 16  # key bits a gather table covers: 2**16 entries


@functools.lru_cache(maxsize=8)
def _gather_table(dims: int) -> np.ndarray:
    """For each value of ``dims * (_GATHER_BITS // dims)`` bits, its bits 0, dims, 2·dims …
    packed together: the inverse of :func:`_spread_table`."""
    width = _GATHER_BITS // dims
    values = np.arange(1 << (dims * width), dtype=_U64)
    table = np.zeros(len(values), dtype=_U64)
    for b in range(width):
        table |= ((values >> _U64(b * dims)) & _U64(1)) << _U64(b)
    return table


def _gather(values: np.ndarray, dims: int, bits: int) -> np.ndarray:
    """Bits 0, dims, 2·dims … (``bits`` of them) of ``values``, packed together."""
    width = _GATHER_BITS // dims
    table = _gather_table(dims)
    mask = _U64((1 << (dims * width)) - 1)
    out = np.zeros(len(values), dtype=_U64)
    for chunk in range((bits + width - 1) // width):
        part = table[(values >> _U64(chunk * width * dims)) & mask]
        out |= part << _U64(chunk * width)
    # Bits past ``bits`` (the next axes' in the key) are cut off.
    return out & _U64((1 << bits) - 1) if bits < 64 else out


def hilbert_decode(keys: npt.ArrayLike, bits: int = HILBERT_BITS, dims: int = 4) -> np.ndarray:
    """Grid cells (int64, shape (n, dims)) of Hilbert keys; the inverse of ``hilbert_encode``."""
    _check_bits(bits, dims)
    k = np.array(keys, ndmin=1)
    if k.ndim != 1:
        raise ValueError(f"keys must be one-dimensional, got shape {k.shape}")
    if k.dtype.kind == "i" and k.size and k.min() < 0:
        raise ValueError("Hilbert keys are non-negative")
    k = k.astype(_U64)
    total = bits * dims
    if total < 64 and k.size and int(k.max()) >> total:
        raise ValueError(f"keys must be below 2**{total}")
    # Bit ``level * dims + dims - 1 - i`` of a key is bit ``level`` of axis i.
    axes = [_gather(k >> _U64(dims - 1 - i), dims, bits) for i in range(dims)]
    # Skilling's TransposetoAxes: Gray decode, then undo the excess work (axis by axis, as
    # hilbert_encode does, for the same reason).
    t = axes[dims - 1] >> _U64(1)
    for i in range(dims - 1, 0, -1):
        axes[i] = axes[i] ^ axes[i - 1]
    axes[0] = axes[0] ^ t
    q = 2
    while q != 2 << (bits - 1):
        p = _U64(q - 1)
        for i in range(dims - 1, -1, -1):
            xi, x0 = axes[i], axes[0]
            hit = (xi & _U64(q)) != 0
            if i:
                swap = (x0 ^ xi) & p
                axes[0] = np.where(hit, x0 ^ p, x0 ^ swap)
                axes[i] = np.where(hit, xi, xi ^ swap)
            else:
                axes[0] = np.where(hit, x0 ^ p, x0)
        q <<= 1
    x = np.empty((len(k), dims), dtype=np.int64)
    for i in range(dims):
        x[:, i] = axes[i]
    return x


def quantize(points: npt.ArrayLike, bits: int = HILBERT_BITS) -> np.ndarray:
    """Grid cells (int64, shape (n, d)) of points with coordinates in [-1, 1].

    Scaling by a power of two and flooring is exact, so equal points always share a cell.
    """
    p = np.array(points, dtype=np.float64, ndmin=2)
    cells = np.floor((p + 1.0) * float(1 << (bits - 1)))
    return np.clip(cells, 0, (1 << bits) - 1).astype(np.int64)


def hilbert_box_ranges(lower: npt.ArrayLike, upper: npt.ArrayLike, bits: int = HILBERT_BITS,
                       max_ranges: int = 128) -> list[tuple[int, int]]:
    """Inclusive key ranges ``(first, last)`` covering every grid cell in a box, in key order.

    The box is ``lower[i] <= cell[i] <= upper[i]`` on each of the d = len(lower) axes. Keys
    that share their top ``d·L`` bits are one aligned cube of side ``2**(bits - L)`` (that is
    what makes the curve a Hilbert curve), so the box is split as a 2**d-tree: a cube inside
    the box is one range, a cube outside it is dropped, and a cube on its boundary is split
    again — until the next split would exceed ``max_ranges``, when the boundary cubes are
    kept whole. The ranges may then also cover cells outside the box (a caller filters by
    the true distance), but never miss one inside it.
    """
    lo = np.asarray(lower, dtype=np.int64).reshape(-1)
    hi = np.asarray(upper, dtype=np.int64).reshape(-1)
    dims = len(lo)
    _check_bits(bits, dims)
    if hi.shape != lo.shape or (lo > hi).any() or lo.min() < 0 or hi.max() >= 1 << bits:
        raise ValueError(f"need 0 <= lower <= upper < 2**{bits} on each of the {dims} axes")
    whole: list[tuple[int, int]] = []
    boundary = np.zeros(1, dtype=_U64)  # key prefixes of the cubes on the box's boundary
    children = np.arange(1 << dims, dtype=_U64)
    for level in range(1, bits + 1):
        if len(whole) + (len(boundary) << dims) > max_ranges:
            break
        prefixes = (boundary[:, None] << _U64(dims) | children[None, :]).reshape(-1)
        shift = dims * (bits - level)
        side = 1 << (bits - level)
        # A prefix of ``level`` digits is the cell of the order-``level`` curve it names
        # (Skilling's curves nest), so decoding it costs ``level`` steps, not ``bits``.
        corners = hilbert_decode(prefixes, level, dims) * side
        inside = ((corners >= lo) & (corners + side - 1 <= hi)).all(axis=1)
        touching = ((corners <= hi) & (corners + side - 1 >= lo)).all(axis=1)
        size = 1 << shift
        whole += [(int(p) << shift, (int(p) << shift) + size - 1) for p in prefixes[inside]]
        boundary = prefixes[touching & ~inside]
        if not len(boundary):
            break
    else:
        level = bits + 1
    shift = dims * (bits - level + 1)
    whole += [(int(p) << shift, ((int(p) + 1) << shift) - 1) for p in boundary]
    merged: list[tuple[int, int]] = []
    for first, last in sorted(whole):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(last, merged[-1][1]))
        else:
            merged.append((first, last))
    return merged


def ball_cells(point: npt.ArrayLike, radius: float,
               bits: int = HILBERT_BITS) -> tuple[np.ndarray, np.ndarray]:
    """The grid box (lower, upper cells, inclusive) holding every point within Euclidean
    ``radius`` of ``point``: quantising is monotone, so ``point ± radius`` bounds it."""
    p = np.asarray(point, dtype=np.float64).reshape(1, -1)
    return quantize(p - radius, bits)[0], quantize(p + radius, bits)[0]


# --------------------------------------------------------------------------- quaternions


def _qmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product of (n, 4) arrays, written out so the evaluation order is fixed."""
    a0, a1, a2, a3 = a[:, 0], a[:, 1], a[:, 2], a[:, 3]
    b0, b1, b2, b3 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    return np.stack(
        [
            a0 * b0 - a1 * b1 - a2 * b2 - a3 * b3,
            a0 * b1 + a1 * b0 + a2 * b3 - a3 * b2,
            a0 * b2 - a1 * b3 + a2 * b0 + a3 * b1,
            a0 * b3 + a1 * b2 - a2 * b1 + a3 * b0,
        ],
        axis=1,
    )


def _normalize_rows(p: np.ndarray) -> np.ndarray:
    # Explicit sum of squares: np.linalg.norm and np.sum may pick platform-specific orders.
    norm = np.sqrt(p[:, 0] * p[:, 0] + p[:, 1] * p[:, 1] + p[:, 2] * p[:, 2] + p[:, 3] * p[:, 3])
    return p / norm[:, None]


# --------------------------------------------------------------------------- base keys

# Token kinds; a token is (kind << 24) | value, value < 2**21 (a codepoint or small index).
_UPPER, _TITLE, _FOLD, _TAG, _MARK, _EXTRA, _DIGITSET, _DUP = range(1, 9)
# Tangent of the turn each kind of token makes. Adjacent bases in a script sit ~0.04 rad
# apart, so a variant stays nearer its base than most other letters are.
_TOKEN_SCALE = {
    _UPPER: 0.012,
    _TITLE: 0.012,
    _FOLD: 0.012,
    _TAG: 0.016,
    _MARK: 0.010,
    _EXTRA: 0.010,
    _DIGITSET: 0.012,
    _DUP: 0.006,
}
# The sixteen compatibility formatting tags of UnicodeData.txt, in the standard's order.
_TAGS = (
    "<font>", "<noBreak>", "<initial>", "<medial>", "<final>", "<isolated>", "<circle>",
    "<super>", "<sub>", "<vertical>", "<wide>", "<narrow>", "<small>", "<square>",
    "<fraction>", "<compat>",
)
# Large algorithmically named sets: each character is its own base, no decomposition needed
# (Hangul syllables decompose into jamo, but their codepoint order is already dictionary order).
_BULK_PREFIXES = (
    "CJK UNIFIED IDEOGRAPH-",
    "HANGUL SYLLABLE ",
    "TANGUT IDEOGRAPH-",
    "KHITAN SMALL SCRIPT CHARACTER-",
    "NUSHU CHARACTER-",
)
_TANGUT_RANGES = ((0x17000, 0x18AFF), (0x18D00, 0x18D7F))  # unnamed before Python 3.12
_JUNK = {"Co": "PRIVATE USE", "Cs": "SURROGATE", "Cn": "UNASSIGNED"}


def _tok(kind: int, value: int) -> int:
    return (kind << 24) | value


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "M"


class _Analyser:
    """Base codepoint and variant tokens of assigned, non-bulk codepoints (memoised)."""

    def __init__(self, bulk: set[int]) -> None:
        self.bulk = bulk
        self.memo: dict[int, tuple[int, tuple[int, ...]]] = {}

    def __call__(self, cp: int) -> tuple[int, tuple[int, ...]]:
        found = self.memo.get(cp)
        if found is None:
            found = self.memo[cp] = self._analyse(cp)
        return found

    def _analyse(self, cp: int) -> tuple[int, tuple[int, ...]]:
        if cp in self.bulk:
            return cp, ()
        ch = chr(cp)
        decomposition = unicodedata.decomposition(ch)
        tag = decomposition.split(" ", 1)[0] if decomposition.startswith("<") else None
        nfkd = unicodedata.normalize("NFKD", ch)
        marks = [c for c in nfkd if _is_mark(c)]
        rest = [c for c in nfkd if not _is_mark(c)]
        # Anchor on the letter or digit the character is "about": ⒜ is about a, not "(".
        anchor = next((c for c in rest if unicodedata.category(c)[0] in "LN"), None)
        if anchor is None:
            anchor = next((c for c in rest if not c.isspace()), None)
        if anchor is None and marks:
            # Spacing accents (´ = space + U+0301) belong with their combining mark.
            anchor = marks.pop(0)
        if anchor is None:
            anchor = rest[0]
        if anchor in rest:
            rest.remove(anchor)
        case: list[int] = []
        base = anchor
        if not _is_mark(anchor):
            folded = anchor.casefold()
            if folded != anchor:
                category = unicodedata.category(anchor)
                if len(folded) == 1 and category == "Lu":
                    case.append(_tok(_UPPER, 0))
                elif len(folded) == 1 and category == "Lt":
                    case.append(_tok(_TITLE, 0))
                else:
                    case.append(_tok(_FOLD, ord(anchor)))
                refolded = [c for c in unicodedata.normalize("NFKD", folded) if not _is_mark(c)]
                base = refolded[0] if refolded else anchor
        digits: list[int] = []
        value = unicodedata.decimal(base, None)
        if value is not None:
            if not "0" <= base <= "9":
                digits.append(_tok(_DIGITSET, ord(base) - value))
            base = chr(0x30 + value)
        tokens = (
            case
            + digits
            + ([_tok(_TAG, _TAGS.index(tag))] if tag in _TAGS else [])
            + [_tok(_MARK, ord(m)) for m in marks]
            + [_tok(_EXTRA, ord(c)) for c in rest]
        )
        if ord(base) == cp:
            return cp, ()
        # The base's own analysis may not be trivial (rare, but keep the rule a fixpoint).
        root, prefix = self(ord(base))
        return root, prefix + tuple(tokens)


def _region_of_base(cp: int, category: str, name: str) -> tuple[int, str]:
    """(family rank, region name) of a base codepoint; ranks order the regions on the curve."""
    for prefix in _BULK_PREFIXES:
        if name.startswith(prefix):
            return 4, prefix.rstrip("- ")
    if category == "Nd" or 0x30 <= cp <= 0x39:
        return 3, "DIGIT"
    if category[0] in "LMN":
        if not name:
            tangut = any(lo <= cp <= hi for lo, hi in _TANGUT_RANGES)
            return 4, "TANGUT IDEOGRAPH" if tangut else f"UNNAMED {category}"
        return 4, name.split(" ", 1)[0]
    if category[0] == "P":
        return 1, category
    if category[0] == "S":
        return 2, category
    return 0, category  # Cc, Cf, Zs, Zl, Zp


# --------------------------------------------------------------------------- the curve over S³

_CURVE_BITS = 10  # per axis of each facet's 3D Hilbert curve: 2**33 positions on the sphere
_DAMP_ABOVE = 4096  # regions larger than this grow with the square root of their size
_SAMPLES = 8  # curve samples averaged per base in ordinary-sized regions


@functools.lru_cache(maxsize=1)
def _facets() -> tuple[tuple[int, int, int, tuple[int, int, int], tuple[int, int, int]], ...]:
    """Per facet: (axis, sign, end axis, local→4D axis map, local signs).

    The facets +x0, +x1, +x2, +x3, −x0, … are visited in a loop; each one's 3D Hilbert curve is
    reflected and rotated so it starts at the tesseract vertex where the previous one ended, so
    the whole curve is closed and continuous.
    """
    last = (1 << (3 * _CURVE_BITS)) - 1
    end = hilbert_decode([last], _CURVE_BITS, 3)[0]
    end_axis = int(np.flatnonzero(end)[0])  # the 3D curve ends one edge away from its start
    start = [1, -1, -1, -1]
    out = []
    for f in range(8):
        axis, sign, flip = f % 4, 1 if f < 4 else -1, (f + 1) % 4
        others = [a for a in range(4) if a not in (axis, flip)]
        local_axes = [0, 0, 0]
        local_axes[end_axis] = flip
        rest = [j for j in range(3) if j != end_axis]
        local_axes[rest[0]], local_axes[rest[1]] = others
        # Cell 0 sits at local −1 on every axis; it must land on the start vertex.
        signs = tuple(-start[a] for a in local_axes)
        out.append((axis, sign, flip, (local_axes[0], local_axes[1], local_axes[2]),
                    (signs[0], signs[1], signs[2])))
        start[flip] = -start[flip]
    return tuple(out)


def _curve_points(positions: np.ndarray) -> np.ndarray:
    """Points on S³ for integer curve positions in [0, 8 · 2**(3·_CURVE_BITS))."""
    per_facet = 1 << (3 * _CURVE_BITS)
    facet = positions // per_facet
    cells = hilbert_decode(positions % per_facet, _CURVE_BITS, 3)
    h = (2.0 * cells + 1.0) / float(1 << _CURVE_BITS) - 1.0
    # A cubic stand-in for tan(πh/4): evens out the radial projection's crowding at the cube
    # corners without relying on a libm tangent that may differ between platforms.
    h = h * (0.7853981633974483 + 0.2146018366025517 * (h * h))
    out = np.empty((len(positions), 4), dtype=np.float64)
    for f, (axis, sign, _flip, local_axes, signs) in enumerate(_facets()):
        rows = facet == f
        out[rows, axis] = float(sign)
        for j in range(3):
            out[rows, local_axes[j]] = signs[j] * h[rows, j]
    return _normalize_rows(out)


def _token_rotations(tokens: np.ndarray) -> np.ndarray:
    """Unit quaternions near 1, one per token: (1, s·u) normalised, u a hashed unit 3-vector."""
    kinds = tokens >> 24
    scale = np.array([_TOKEN_SCALE.get(int(k), 0.0) for k in kinds], dtype=np.float64)
    u = np.zeros((len(tokens), 3), dtype=np.float64)
    todo = np.ones(len(tokens), dtype=bool)
    attempt = 0
    while todo.any():
        # Rejection sampling in the unit ball, each retry with a fresh hash: a uniform direction
        # from integers only.
        h = _splitmix64(tokens[todo].astype(_U64) * _U64(64) + _U64(attempt))
        c = np.stack(
            [((h >> _U64(s)) & _U64(0x1FFFFF)).astype(np.float64) for s in (0, 21, 42)], axis=1
        )
        c = c / float(1 << 20) - 1.0
        r2 = c[:, 0] * c[:, 0] + c[:, 1] * c[:, 1] + c[:, 2] * c[:, 2]
        ok = (r2 > 0.01) & (r2 <= 1.0)
        idx = np.flatnonzero(todo)[ok]
        u[idx] = c[ok] / np.sqrt(r2[ok])[:, None]
        todo[idx] = False
        attempt += 1
    q = np.empty((len(tokens), 4), dtype=np.float64)
    q[:, 0] = 1.0
    q[:, 1:] = u * scale[:, None]
    return _normalize_rows(q)


@functools.lru_cache(maxsize=1)
def _layout() -> tuple[np.ndarray, np.ndarray]:
    """(points (N, 4) float64, base codepoint (N,) int32) for every codepoint, built once."""
    n = CODEPOINT_COUNT
    categories = [unicodedata.category(chr(cp)) for cp in range(n)]
    # Three quarters of the codespace is private, surrogate or unassigned: those codepoints
    # are their own bases in their own regions, so they skip the per-character analysis.
    junk: dict[str, list[int]] = {category: [] for category in _JUNK}
    assigned: list[int] = []
    for cp, category in enumerate(categories):
        junk.get(category, assigned).append(cp)
    names: dict[int, str] = {}
    bulk: set[int] = set()
    for cp in assigned:
        name = unicodedata.name(chr(cp), "")
        names[cp] = name
        if name.startswith(_BULK_PREFIXES) or (
            not name and any(lo <= cp <= hi for lo, hi in _TANGUT_RANGES)
        ):
            bulk.add(cp)
    analyse = _Analyser(bulk)
    base_of = np.arange(n, dtype=np.int32)
    variants: dict[int, tuple[int, ...]] = {}
    for cp in assigned:
        root, tokens = analyse(cp)
        if root != cp:
            base_of[cp] = root
            variants[cp] = tokens
    # Two characters with the same base and tokens (K and the Kelvin sign) would coincide; the
    # later ones get a dup token. Bases claim their own spot first, so they never move.
    seen: dict[tuple[int, tuple[int, ...]], int] = {}
    for cp, tokens in variants.items():
        key = (int(base_of[cp]), tokens)
        count = seen.get(key, 1 if not tokens else 0)
        seen[key] = count + 1
        if count:
            variants[cp] = (*tokens, _tok(_DUP, count))

    # Regions of base codepoints, in curve order.
    members: dict[tuple[int, str], list[int]] = {
        (5, label): junk[category] for category, label in _JUNK.items()
    }
    for cp in assigned:
        if cp not in variants:
            region = _region_of_base(cp, categories[cp], names[cp])
            members.setdefault(region, []).append(cp)
    order = sorted(members, key=lambda r: (r[0], members[r][0]))
    weights = []
    for region in order:
        size = len(members[region])
        weights.append(float(size) if size <= _DAMP_ABOVE else
                       _DAMP_ABOVE * float(np.sqrt(size / _DAMP_ABOVE)))
    total = sum(weights)
    span = float(8 << (3 * _CURVE_BITS))
    points = np.empty((n, 4), dtype=np.float64)
    start = 0.0
    for region, weight in zip(order, weights, strict=True):
        cps = np.array(members[region], dtype=np.int64)
        step = weight / total / len(cps)
        # A base sits at the centre of mass of its stretch of curve, not at the stretch's
        # midpoint: where the curve folds back, two midpoints can be a single cell apart while
        # the centres of two disjoint blobs stay about a blob's width apart.
        samples = _SAMPLES if len(cps) <= _DAMP_ABOVE else 1
        offsets = (np.arange(samples, dtype=np.float64) + 0.5) / samples
        u = start + (np.arange(len(cps), dtype=np.float64)[:, None] + offsets[None, :]) * step
        pos = np.clip(np.floor(u * span).astype(np.int64), 0, int(span) - 1)
        on_curve = _curve_points(pos.reshape(-1)).reshape(len(cps), samples, 4)
        centre = on_curve[:, 0, :].copy()
        for k in range(1, samples):
            centre += on_curve[:, k, :]
        points[cps] = _normalize_rows(centre)
        start += weight / total

    # Variants: base ⊗ V(token₁) ⊗ V(token₂) …, tokens padded with the identity rotation.
    var_cps = np.fromiter(variants, dtype=np.int64, count=len(variants))
    width = max(len(t) for t in variants.values())
    all_tokens = sorted({t for ts in variants.values() for t in ts})
    index = {t: i for i, t in enumerate(all_tokens)}
    rotations = np.vstack([_token_rotations(np.array(all_tokens, dtype=np.int64)),
                           np.array([[1.0, 0.0, 0.0, 0.0]])])
    table = np.full((len(var_cps), width), len(all_tokens), dtype=np.int64)
    for row, cp in enumerate(var_cps.tolist()):
        ts = variants[cp]
        table[row, : len(ts)] = [index[t] for t in ts]
    q = points[base_of[var_cps]]
    for j in range(width):
        q = _qmul(q, rotations[table[:, j]])
    points[var_cps] = _normalize_rows(q)
    points.flags.writeable = False
    base_of.flags.writeable = False
    return points, base_of


# --------------------------------------------------------------------------- public API


def _codepoint_array(codepoints: npt.ArrayLike) -> np.ndarray:
    cps = np.asarray(codepoints)
    if cps.dtype.kind not in "iu":
        if cps.size == 0:
            cps = cps.astype(np.int64)
        else:
            raise TypeError(f"codepoints must be integers, got dtype {cps.dtype}")
    cps = cps.astype(np.int64, copy=False)
    if cps.size and (cps.min() < 0 or cps.max() >= CODEPOINT_COUNT):
        raise ValueError("codepoints must lie in [0, 0x10FFFF]")
    return cps


def atom_points(codepoints: npt.ArrayLike) -> np.ndarray:
    """Points on S³ (float64, shape (*codepoints.shape, 4)) of integer codepoints."""
    cps = _codepoint_array(codepoints)
    return _layout()[0][cps]


def atom_point(codepoint: int) -> tuple[float, float, float, float]:
    """The point on S³ of one codepoint."""
    p = atom_points(np.array([codepoint]))[0]
    return (float(p[0]), float(p[1]), float(p[2]), float(p[3]))


def atom_base(codepoint: int) -> int:
    """The base codepoint a codepoint is a variant of (itself when it is a base): Á → a."""
    cps = _codepoint_array(np.array([codepoint]))
    return int(_layout()[1][cps[0]])


def atom_hilbert_keys(codepoints: npt.ArrayLike) -> np.ndarray:
    """60-bit Hilbert keys (int64, ready for SQLite) of the codepoints' quantised points."""
    points = atom_points(np.ravel(codepoints))
    return hilbert_encode(quantize(points), HILBERT_BITS).astype(np.int64)


def atom_hilbert_key(codepoint: int) -> int:
    """The 60-bit Hilbert key of one codepoint's point."""
    return int(atom_hilbert_keys(np.array([codepoint]))[0])


def composition_point(child_points: npt.ArrayLike,
                      weights: npt.ArrayLike | None = None) -> np.ndarray:
    """Weighted centroid of the children's points, projected back onto S³ (shape (4,)).

    Callers pass each child's length in codepoints as its weight, so a composition sits where
    its text's atoms are on average; without weights every child counts once. When the
    centroid is (nearly) the origin there is no direction to project, and the first child's
    point is used, so the result is still deterministic.
    """
    pts = np.array(child_points, dtype=np.float64, ndmin=2)
    if pts.ndim != 2 or pts.shape[1] != 4 or len(pts) == 0:
        raise ValueError(f"child_points must have shape (n >= 1, 4), got {pts.shape}")
    if weights is None:
        w = np.ones(len(pts), dtype=np.float64)
    else:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w.shape != (len(pts),) or (w < 0).any() or not np.isfinite(w).all():
            raise ValueError("weights must be one finite non-negative number per child")
    weighted = pts * w[:, None]
    centroid = weighted[0].copy()
    for row in weighted[1:]:  # a fixed summation order keeps results bit-identical
        centroid += row
    norm = np.sqrt(centroid[0] * centroid[0] + centroid[1] * centroid[1]
                   + centroid[2] * centroid[2] + centroid[3] * centroid[3])
    total = float(w.sum())
    if total <= 0.0 or norm <= 1e-9 * total:
        return pts[0].copy()
    return centroid / norm


def angular_distance(p: npt.ArrayLike, q: npt.ArrayLike) -> np.ndarray | float:
    """Great-circle distance in radians between unit vectors, broadcast over leading axes.

    The angle is arccos of the clipped dot product, evaluated as 2·atan2(|p − q|, |p + q|):
    the same value, but accurate for nearly equal points, where arccos loses half its digits.
    """
    a = np.asarray(p, dtype=np.float64)
    b = np.asarray(q, dtype=np.float64)
    diff = np.sqrt(np.sum((a - b) ** 2, axis=-1))
    summ = np.sqrt(np.sum((a + b) ** 2, axis=-1))
    out = np.clip(2.0 * np.arctan2(diff, summ), 0.0, np.pi)
    return float(out) if np.ndim(out) == 0 else out
