"""The picture's nearest points: found by Hilbert-key range scans on the indexes, and exactly
the points a brute-force measurement of every row finds."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app import geometry
from app.api.native import hypercube
from app.store import Store
from tests.api_helpers import (
    Running,
    error_of,
    get_json,
    shared_engine,
    shared_hypercube,
    start_server,
)


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    with Store(shared_hypercube(), readonly=True) as opened:
        yield opened


@pytest.fixture(scope="module")
def every_point(store: Store) -> tuple[list[str], np.ndarray]:
    """Every point the picture shows (atoms, tokens, identifiers; not bytes), read whole."""
    ids: list[str] = []
    coords: list[tuple[float, ...]] = []
    for codepoint, *xyzw in store.conn.execute("SELECT codepoint, x, y, z, w FROM atoms"):
        ids.append(f"U+{codepoint:04X}")
        coords.append(tuple(xyzw))
    for node, *xyzw in store.conn.execute(
            "SELECT id, x, y, z, w FROM compositions WHERE tag != 'byte'"):
        ids.append(str(node))
        coords.append(tuple(xyzw))
    return ids, np.array(coords, dtype=np.float64)


def brute_force(every: tuple[list[str], np.ndarray], point: np.ndarray, count: int,
                exclude: str | None) -> list[str]:
    ids, coords = every
    chords = np.sqrt(((coords - point) ** 2).sum(axis=1))
    ranked = sorted((float(c), i) for c, i in zip(chords, ids, strict=True) if i != exclude)
    return [point_id for _, point_id in ranked[:count]]


def test_neighbours_equal_the_brute_force_answer_for_every_kind_of_point(
        store: Store, every_point: tuple[list[str], np.ndarray]) -> None:
    ids, coords = every_point
    assert len(ids) > 500  # atoms, tokens and identifiers: a real, if small, hypercube
    rng = np.random.default_rng(7)
    picks = rng.choice(len(ids), size=60, replace=False)
    with store.snapshot() as conn:
        for pick in picks:
            for count in (1, 12, 50):
                found = hypercube.nearest_points(conn, coords[pick], count,
                                                 exclude=ids[pick]).points
                assert [i for _, i in found] == brute_force(every_point, coords[pick], count,
                                                            ids[pick])
                angles = [a for a, _ in found]
                assert angles == sorted(angles) and all(0 <= a <= np.pi for a in angles)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1, 1), min_size=4, max_size=4).filter(
    lambda v: sum(x * x for x in v) > 1e-3), st.integers(1, 50))
def test_neighbours_of_any_place_on_the_sphere_equal_brute_force(
        store: Store, every_point: tuple[list[str], np.ndarray], direction: list[float],
        count: int) -> None:
    point = np.array(direction) / np.linalg.norm(direction)
    with store.snapshot() as conn:
        found = hypercube.nearest_points(conn, point, count).points
    assert [i for _, i in found] == brute_force(every_point, point, count, None)


def test_the_range_scans_use_the_hilbert_indexes(store: Store) -> None:
    ranges = "[[0, 1000], [5000, 9000]]"
    for sql, index in ((hypercube._ATOMS_IN_RANGES, "atoms_by_hilbert"),
                       (hypercube._COMPOSITIONS_IN_RANGES, "compositions_by_hilbert")):
        plan = " / ".join(row[3] for row in store.conn.execute(
            "EXPLAIN QUERY PLAN " + sql, (ranges,)))
        assert f"USING INDEX {index} (hilbert>? AND hilbert<?)" in plan, plan
        assert "SCAN a" not in plan and "SCAN c" not in plan, plan  # never the whole table


def test_a_search_reads_a_small_part_of_the_table(
        store: Store, every_point: tuple[list[str], np.ndarray]) -> None:
    ids, coords = every_point
    with store.snapshot() as conn:
        searches = [hypercube.nearest_points(conn, coords[i], 12, exclude=ids[i])
                    for i in range(0, len(ids), 7)]
    # This hypercube is small (~850 points) and dense, so a 12-point neighbourhood is a
    # sizeable part of it; larger ones read a smaller share (see the README's figures).
    assert statistics.median(s.rows_read for s in searches) < len(ids) / 3
    assert max(s.searches for s in searches) <= 6


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(2, 4), st.data())
def test_key_ranges_cover_every_cell_of_the_box(bits: int, dims: int,
                                                data: st.DataObject) -> None:
    side = 1 << bits
    lower = np.array([data.draw(st.integers(0, side - 1)) for _ in range(dims)])
    upper = np.array([data.draw(st.integers(int(lo), side - 1)) for lo in lower])
    budget = data.draw(st.sampled_from([1, 3, 16, 200, 10**6]))
    ranges = geometry.hilbert_box_ranges(lower, upper, bits, max_ranges=budget)
    keys = np.arange(side ** dims)
    cells = geometry.hilbert_decode(keys, bits, dims)
    in_box = ((cells >= lower) & (cells <= upper)).all(axis=1)
    covered = np.zeros(len(keys), dtype=bool)
    for first, last in ranges:
        covered[first:last + 1] = True
    assert covered[in_box].all()
    assert all(a[1] + 1 < b[0] for a, b in itertools.pairwise(ranges))  # merged
    if budget == 10**6:
        assert (covered == in_box).all()  # no budget limit: exactly the box


@settings(max_examples=30, deadline=None)
@given(st.integers(1, geometry.HILBERT_BITS), st.integers(0, 2**60 - 1))
def test_a_key_prefix_is_the_cell_of_the_coarser_curve(level: int, key: int) -> None:
    # What hilbert_box_ranges relies on to decode prefixes at their own level.
    shift = geometry.HILBERT_BITS - level
    prefix = key >> (4 * shift)
    fine = geometry.hilbert_decode([key])[0]
    assert (geometry.hilbert_decode([prefix], level, 4)[0] == fine >> shift).all()


def test_key_ranges_refuse_a_box_off_the_grid() -> None:
    with pytest.raises(ValueError, match="lower <= upper"):
        geometry.hilbert_box_ranges([3, 0], [2, 1], bits=2)
    with pytest.raises(ValueError, match="lower <= upper"):
        geometry.hilbert_box_ranges([0, 0], [0, 4], bits=2)


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    running = start_server(shared_hypercube(), engine=shared_engine())
    yield running
    running.stop()


def test_a_points_detail_lists_its_nearest_points(
        server: Running, every_point: tuple[list[str], np.ndarray]) -> None:
    ids, coords = every_point
    status, atom = get_json(server.url, "/v1/hypercube/points/U+0061")
    assert status == 200
    near = atom["neighbors"]
    assert len(near) == hypercube.DEFAULT_NEIGHBORS
    point = coords[ids.index("U+0061")]
    assert [p["id"] for p in near] == brute_force(every_point, point, len(near), "U+0061")
    assert [p["distance"] for p in near] == sorted(p["distance"] for p in near)
    assert {"kind", "label", "x", "y", "z", "w"} <= near[0].keys()

    token = next(i for i in ids if not i.startswith("U+"))
    status, composition = get_json(server.url, f"/v1/hypercube/points/{token}?neighbors=3")
    assert status == 200 and composition["children"]
    assert [p["id"] for p in composition["neighbors"]] == brute_force(
        every_point, coords[ids.index(token)], 3, token)
    assert get_json(server.url, "/v1/hypercube/points/U+0061?neighbors=0")[1]["neighbors"] == []


@pytest.mark.parametrize("value", ["51", "-1", "some"])
def test_the_neighbour_count_is_checked(server: Running, value: str) -> None:
    status, body = get_json(server.url, f"/v1/hypercube/points/U+0061?neighbors={value}")
    assert status == 400
    assert error_of(status, body)["param"] == "neighbors"
