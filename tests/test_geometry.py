"""Atom placement on S³, the 4D Hilbert curve, composition points and distances."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app import geometry
from app.geometry import (
    CODEPOINT_COUNT,
    angular_distance,
    atom_base,
    atom_hilbert_key,
    atom_hilbert_keys,
    atom_point,
    atom_points,
    composition_point,
    hilbert_decode,
    hilbert_encode,
    quantize,
)

ALL = np.arange(CODEPOINT_COUNT)

# Pairs of characters a reader would call related: case, diacritics, compatibility forms,
# other scripts' digits, neighbouring digits.
RELATED = [
    ("A", "a"), ("a", "á"), ("a", "ä"), ("A", "Á"), ("a", "à"), ("a", "â"), ("a", "å"),
    ("A", "Ä"), ("Á", "á"), ("e", "é"), ("e", "è"), ("e", "ê"), ("e", "ë"), ("é", "è"),
    ("E", "É"), ("o", "ö"), ("u", "ü"), ("n", "ñ"), ("c", "ç"), ("s", "ß"), ("i", "ı"),
    ("Σ", "σ"), ("σ", "ς"), ("Σ", "ς"), ("Ω", "ω"), ("α", "ά"), ("Ж", "ж"), ("Я", "я"),
    ("е", "ё"), ("И", "Й"), ("1", "2"), ("2", "3"), ("0", "9"), ("٣", "3"), ("३", "3"),
    ("৭", "7"), ("３", "3"), ("²", "2"), ("a", "ａ"), ("A", "𝐀"), ("f", "ﬁ"), ("K", "\u212a"),
]

# Computed once with Python 3.11 / Unicode 14.0.0; a change means every stored atom moved.
GOLDEN = {
    0x0: (("0x1.0bcf80fb83d07p-1", "-0x1.fe3bde7ea407bp-2", "-0x1.ea9767edd8473p-2",
           "-0x1.fe8e585687b78p-2"), 1092197978323464070),
    0x41: (("0x1.d52bad77dbf1fp-1", "-0x1.58d1886e5425cp-2", "0x1.1257dadac239fp-6",
            "-0x1.ba41f12f9a271p-3"), 932329174603299982),
    0xC1: (("0x1.d399859e2c8d3p-1", "-0x1.61b67ac4f5c38p-2", "0x1.a6171cc881792p-7",
            "-0x1.b952884c23b48p-3"), 932329114971212931),
    0x3A3: (("0x1.c7d97af217e2cp-1", "-0x1.d2b1fb59aa7bdp-4", "0x1.b3be866d29ae5p-2",
             "-0x1.d782166145675p-4"), 936437264874285536),
    0x4E00: (("0x1.6e3cb03522327p-1", "0x1.fb9eb6b5ed9b3p-4", "-0x1.78a718b5f78ccp-2",
              "0x1.298681f337a42p-1"), 709362240890114854),
    0x1F600: (("0x1.869271a409413p-1", "-0x1.112a4857b485bp-3", "0x1.2f09daf66dcf1p-1",
               "0x1.c9d89f081dd6fp-3"), 954403911019199583),
    0xD800: (("0x1.6b87da4821e11p-2", "-0x1.6176858b19023p-2", "-0x1.80ce1c3fc5bbbp-1",
              "-0x1.be4d4e8606fcfp-2"), 1099343713793930531),
    0x10FFFF: (("0x1.66acab37a98a3p-2", "-0x1.7e712402de4a2p-2", "-0x1.7f9fb74809f8bp-1",
                "-0x1.ae1d0cff44202p-2"), 1102916494328122048),
}


def pt(ch: str) -> np.ndarray:
    return np.array(atom_point(ord(ch)))


@pytest.fixture(scope="module")
def all_points() -> np.ndarray:
    return atom_points(ALL)


@pytest.fixture(scope="module")
def random_distances(all_points: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(20240601)
    a = rng.integers(0, CODEPOINT_COUNT, 2000)
    b = rng.integers(0, CODEPOINT_COUNT, 2000)
    return angular_distance(all_points[a], all_points[b])


# --------------------------------------------------------------------------- atoms


def test_every_codepoint_is_a_unit_vector(all_points: np.ndarray) -> None:
    assert all_points.shape == (CODEPOINT_COUNT, 4)
    assert all_points.dtype == np.float64
    assert np.isfinite(all_points).all()
    norms = np.sqrt(np.einsum("ij,ij->i", all_points, all_points))
    assert np.abs(norms - 1.0).max() < 1e-12


@pytest.mark.parametrize(
    "cp",
    [0x0, 0x41, 0x378, 0xD800, 0xDFFF, 0xE000, 0xFFFF, 0x4E00, 0x20000, 0x1F600, 0x1F9D1,
     0xAC00, 0x30000, 0xE0001, 0x10FFFF],
)
def test_sample_points_are_unit_and_consistent(cp: int) -> None:
    p = atom_point(cp)
    assert isinstance(p, tuple) and len(p) == 4 and all(type(x) is float for x in p)
    assert abs(float(np.sqrt(np.dot(p, p))) - 1.0) < 1e-12
    assert np.array_equal(np.array(p), atom_points(np.array([cp]))[0])


def test_points_are_distinct_and_keys_are_60_bit() -> None:
    keys = atom_hilbert_keys(ALL)
    assert keys.dtype == np.int64
    assert keys.min() >= 0 and keys.max() < 2**60
    # Distinct keys imply distinct points: no two codepoints share a 15-bit cell.
    assert len(np.unique(keys)) == CODEPOINT_COUNT


def test_rebuilding_the_layout_is_bit_identical(all_points: np.ndarray) -> None:
    geometry._layout.cache_clear()
    rebuilt = atom_points(ALL)
    assert rebuilt.tobytes() == all_points.tobytes()
    assert atom_points(ALL).tobytes() == rebuilt.tobytes()


def test_golden_values() -> None:
    assert geometry.UNICODE_VERSION == "14.0.0", (
        "the atom layout depends on the Unicode database; re-pin these values (and migrate "
        "stored atoms) when the interpreter's Unicode version changes"
    )
    for cp, (coords, key) in GOLDEN.items():
        assert atom_point(cp) == tuple(float.fromhex(c) for c in coords), hex(cp)
        assert atom_hilbert_key(cp) == key, hex(cp)


def test_base_keys() -> None:
    expected = {
        "A": "a", "Á": "a", "ǖ": "u", "Σ": "σ", "ς": "σ", "ß": "s", "٣": "3", "३": "3",
        "３": "3", "²": "2", "①": "1", "ﬁ": "f", "⒜": "a", "\u212a": "k", "µ": "μ", "𝐀": "a",
        "´": "\u0301", "Ж": "ж", "a": "a", "가": "가", "一": "一",
    }
    for ch, base in expected.items():
        assert chr(atom_base(ord(ch))) == base, ch


def test_bases_are_fixed_points(all_points: np.ndarray) -> None:
    for cp in range(0, 0x3000):
        base = atom_base(cp)
        assert atom_base(base) == base
        if base == cp:
            continue
        # A variant is a few small turns away from its base, never far across the sphere.
        assert angular_distance(all_points[cp], all_points[base]) < 0.1, hex(cp)


def test_invalid_codepoints_are_rejected() -> None:
    with pytest.raises(ValueError):
        atom_point(-1)
    with pytest.raises(ValueError):
        atom_points(np.array([0x110000]))
    with pytest.raises(TypeError):
        atom_points(np.array([65.0]))


def test_atom_points_keeps_the_input_shape() -> None:
    assert atom_points(np.array([[65, 66], [67, 68]])).shape == (2, 2, 4)
    assert atom_points(np.array([], dtype=np.int64)).shape == (0, 4)


# --------------------------------------------------------------------------- locality


def test_related_characters_are_near(random_distances: np.ndarray) -> None:
    related = np.array([angular_distance(pt(a), pt(b)) for a, b in RELATED])
    assert (related > 0).all(), "distinct characters must not coincide"
    ratio = related.mean() / random_distances.mean()
    assert ratio < 0.25
    p5 = np.percentile(random_distances, 5)
    far = [pair for pair, d in zip(RELATED, related, strict=True) if d >= p5]
    assert not far, f"related pairs farther than the 5th percentile of random pairs: {far}"


def test_case_and_diacritics_are_consistent_moves() -> None:
    # The same diacritic is the same rotation everywhere: conj(a) ⊗ á == conj(e) ⊗ é.
    def delta(base: str, variant: str) -> np.ndarray:
        b = pt(base)
        conj = np.array([[b[0], -b[1], -b[2], -b[3]]])
        return geometry._qmul(conj, pt(variant)[None, :])[0]

    np.testing.assert_allclose(delta("a", "á"), delta("e", "é"), atol=1e-12)
    np.testing.assert_allclose(delta("a", "A"), delta("z", "Z"), atol=1e-12)


def test_digits_cluster_and_other_scripts_sit_by_their_value(
    random_distances: np.ndarray,
) -> None:
    ascii_digits = atom_points(np.arange(0x30, 0x3A))
    spread = angular_distance(ascii_digits[:, None, :], ascii_digits[None, :, :])
    assert spread.max() < np.percentile(random_distances, 5)
    zeros = [cp for cp in range(CODEPOINT_COUNT)
             if unicodedata.category(chr(cp)) == "Nd" and unicodedata.decimal(chr(cp)) == 0]
    assert len(zeros) > 30
    for zero in zeros:
        digits = atom_points(np.arange(zero, zero + 10))
        d = angular_distance(digits[:, None, :], ascii_digits[None, :, :])
        # Each script's digit d is nearer ASCII d than any other ASCII digit.
        assert (d.argmin(axis=1) == np.arange(10)).all(), hex(zero)


def test_scripts_form_clusters(random_distances: np.ndarray) -> None:
    def mean_pairwise(chars: str) -> float:
        p = atom_points(np.array([ord(c) for c in chars]))
        d = angular_distance(p[:, None, :], p[None, :, :])
        return float(d.sum() / (len(chars) * (len(chars) - 1)))

    latin = "abcdefghijklmnopqrstuvwxyz"
    greek = "αβγδεζηθικλμνξοπρστυφχψω"
    cyrillic = "абвгдежзийклмнопрстуфхцчшщъыьэюя"
    for script in (latin, greek, cyrillic):
        assert mean_pairwise(script) < 0.25 * random_distances.mean()
    # Inside a script, letters are nearer each other than to another script's letters.
    lat, grk = atom_points(np.array([ord(c) for c in latin])), atom_points(
        np.array([ord(c) for c in greek]))
    across = angular_distance(lat[:, None, :], grk[None, :, :]).mean()
    assert mean_pairwise(latin) < across and mean_pairwise(greek) < across


def test_curve_over_the_sphere_is_closed_and_continuous() -> None:
    # The layout's space-filling curve: consecutive positions, including across the seams
    # between the tesseract's eight facets and the wrap-around, are neighbours on S³.
    per_facet = 1 << (3 * geometry._CURVE_BITS)
    total = 8 * per_facet
    seams = np.array([f * per_facet for f in range(8)], dtype=np.int64)
    before = geometry._curve_points((seams - 1) % total)
    after = geometry._curve_points(seams)
    assert (angular_distance(before, after) < 0.01).all()
    rng = np.random.default_rng(7)
    pos = rng.integers(0, total - 1, 5000)
    steps = angular_distance(geometry._curve_points(pos), geometry._curve_points(pos + 1))
    assert steps.max() < 0.01


# --------------------------------------------------------------------------- Hilbert curve


def _skilling_reference(coords: list[int], bits: int) -> int:
    """Skilling's AxestoTranspose, transcribed one coordinate at a time, then interleaved."""
    x = list(coords)
    n = len(x)
    q = 1 << (bits - 1)
    while q > 1:
        p = q - 1
        for i in range(n):
            if x[i] & q:
                x[0] ^= p
            else:
                t = (x[0] ^ x[i]) & p
                x[0] ^= t
                x[i] ^= t
        q >>= 1
    for i in range(1, n):
        x[i] ^= x[i - 1]
    t = 0
    q = 1 << (bits - 1)
    while q > 1:
        if x[n - 1] & q:
            t ^= q - 1
        q >>= 1
    x = [v ^ t for v in x]
    key = 0
    for level in range(bits - 1, -1, -1):
        for i in range(n):
            key = (key << 1) | ((x[i] >> level) & 1)
    return key


@pytest.mark.parametrize("dims", [2, 3, 4])
def test_small_curve_visits_every_cell_by_unit_steps(dims: int) -> None:
    bits = 3
    count = 1 << (bits * dims)
    keys = np.arange(count)
    cells = hilbert_decode(keys, bits, dims)
    assert cells.shape == (count, dims)
    steps = np.abs(np.diff(cells, axis=0))
    assert (steps.sum(axis=1) == 1).all() and (steps.max(axis=1) == 1).all()
    assert len({tuple(c) for c in cells.tolist()}) == count
    assert cells.min() == 0 and cells.max() == (1 << bits) - 1
    assert np.array_equal(hilbert_encode(cells, bits).astype(np.int64), keys)
    assert tuple(cells[0]) == (0,) * dims


def test_known_values() -> None:
    # Reference values from galtay/hilbertcurve, another implementation of Skilling's method.
    assert hilbert_decode(np.arange(4), 1, 2).tolist() == [[0, 0], [0, 1], [1, 1], [1, 0]]
    assert int(hilbert_encode([[4, 6]], 3)[0]) == 36
    rng = np.random.default_rng(3)
    coords = rng.integers(0, 2**15, (200, 4))
    keys = hilbert_encode(coords)
    assert [int(k) for k in keys] == [_skilling_reference(c, 15) for c in coords.tolist()]


def test_round_trip_at_15_bits() -> None:
    rng = np.random.default_rng(11)
    coords = rng.integers(0, 2**15, (10_000, 4))
    keys = hilbert_encode(coords)
    assert keys.dtype == np.uint64
    assert int(keys.max()) < 2**60
    assert np.array_equal(hilbert_decode(keys), coords)
    assert np.array_equal(hilbert_encode(hilbert_decode(keys)), keys)
    corner = hilbert_encode([[2**15 - 1] * 4])
    assert int(corner[0]) < 2**60


@settings(max_examples=200, deadline=None)
@given(
    bits=st.integers(1, 16),
    data=st.data(),
)
def test_round_trip_property(bits: int, data: st.DataObject) -> None:
    cell = st.integers(0, (1 << bits) - 1)
    coords = data.draw(st.lists(st.lists(cell, min_size=4, max_size=4), min_size=1, max_size=20))
    keys = hilbert_encode(coords, bits)
    assert np.array_equal(hilbert_decode(keys, bits), np.array(coords))
    key = data.draw(st.integers(0, (1 << (4 * bits)) - 1))
    assert int(hilbert_encode(hilbert_decode(np.array([key], dtype=np.uint64), bits), bits)[0]) \
        == key


def test_hilbert_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        hilbert_encode([[0, 0, 0, 2**15]])
    with pytest.raises(ValueError):
        hilbert_encode([[-1, 0, 0, 0]])
    with pytest.raises(ValueError):
        hilbert_encode([[0, 0, 0, 0]], bits=17)
    with pytest.raises(ValueError):
        hilbert_decode([2**60])
    with pytest.raises(TypeError):
        hilbert_encode([[0.5, 0, 0, 0]])


def test_quantize() -> None:
    cells = quantize(np.array([[-1.0, 0.0, 1.0, 0.5]]))
    assert cells.tolist() == [[0, 2**14, 2**15 - 1, 3 * 2**13]]
    assert quantize(np.array([[-1.0, -0.5, 0.0, 1.0]]), bits=3).tolist() == [[0, 2, 4, 7]]


def test_atom_keys_match_their_points() -> None:
    cps = np.array([0x41, 0x61, 0x4E00, 0x10FFFF])
    expected = hilbert_encode(quantize(atom_points(cps))).astype(np.int64)
    assert np.array_equal(atom_hilbert_keys(cps), expected)
    assert [atom_hilbert_key(int(c)) for c in cps] == expected.tolist()


# --------------------------------------------------------------------------- compositions


def test_composition_point_lies_between_its_children(all_points: np.ndarray) -> None:
    rng = np.random.default_rng(5)
    children = all_points[rng.integers(0, CODEPOINT_COUNT, (300, 2))]
    others = all_points[rng.integers(0, CODEPOINT_COUNT, 300)]
    to_child, to_other, on_arc = [], [], []
    for (a, b), other in zip(children, others, strict=True):
        c = composition_point(np.stack([a, b]))
        assert c.shape == (4,)
        assert abs(float(np.sqrt(c @ c)) - 1.0) < 1e-12
        da, db, dab = angular_distance(c, a), angular_distance(c, b), angular_distance(a, b)
        to_child.append((da + db) / 2)
        to_other.append((angular_distance(a, other) + angular_distance(b, other)) / 2)
        on_arc.append(abs(da + db - dab))
        if dab < 3.0:
            assert abs(da - db) < 1e-9  # equal weights: the midpoint of the arc
    assert np.mean(to_child) < 0.6 * np.mean(to_other)
    assert max(on_arc) < 1e-9


def test_composition_weights_pull_towards_the_heavier_child() -> None:
    a, b = pt("a"), pt("z")
    c = composition_point(np.stack([a, b]), np.array([3.0, 1.0]))
    assert angular_distance(c, a) < angular_distance(c, b)
    assert np.array_equal(composition_point(np.stack([a, b]), np.array([1.0, 1.0])),
                          composition_point(np.stack([a, b])))
    word = atom_points(np.array([ord(ch) for ch in "hello"]))
    c = composition_point(word)
    assert all(angular_distance(c, p) < angular_distance(c, pt("一")) for p in word)


def test_composition_point_falls_back_when_the_centroid_vanishes() -> None:
    a = pt("a")
    assert np.array_equal(composition_point(np.stack([a, -a])), a)
    assert np.array_equal(composition_point(a[None, :]), a)
    with pytest.raises(ValueError):
        composition_point(np.zeros((0, 4)))
    with pytest.raises(ValueError):
        composition_point(np.stack([a, a]), np.array([1.0]))


# --------------------------------------------------------------------------- distances


def test_angular_distance() -> None:
    e = np.eye(4)
    assert angular_distance(e[0], e[0]) == 0.0
    assert angular_distance(e[0], e[1]) == pytest.approx(np.pi / 2)
    assert angular_distance(e[0], -e[0]) == pytest.approx(np.pi)
    assert angular_distance(e[:, None, :], e[None, :, :]).shape == (4, 4)
    rng = np.random.default_rng(9)
    p = rng.normal(size=(100, 4))
    q = rng.normal(size=(100, 4))
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    expected = np.arccos(np.clip(np.einsum("ij,ij->i", p, q), -1.0, 1.0))
    np.testing.assert_allclose(angular_distance(p, q), expected, atol=1e-7)
    # Nearly equal points keep their tiny distance instead of rounding to zero.
    tiny = np.array([1.0, 1e-9, 0.0, 0.0]) / np.sqrt(1.0 + 1e-18)
    assert angular_distance(e[0], tiny) == pytest.approx(1e-9, rel=1e-6)
