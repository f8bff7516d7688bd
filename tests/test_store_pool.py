"""The pool of read-side objects: made on demand up to its size, lent one at a time."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from app.store import Store
from app.store.pool import Pool


class Made:
    def __init__(self, made: list[Made]) -> None:
        made.append(self)
        self.closed = False


def test_objects_are_made_on_demand_and_reused() -> None:
    made: list[Made] = []
    pool = Pool(lambda: Made(made), lambda item: setattr(item, "closed", True), size=2)
    assert made == []  # nothing until first asked
    with pool.lend() as first:
        pass
    with pool.lend() as again:
        assert again is first  # an idle one is lent before another is made
    with pool.lend() as one, pool.lend() as two:
        assert one is not two
    assert len(made) == 2
    pool.close()
    assert all(item.closed for item in made)
    with pytest.raises(RuntimeError, match="closed"), pool.lend():
        pass


def test_past_its_size_a_request_waits_for_one_given_back() -> None:
    made: list[Made] = []
    pool = Pool(lambda: Made(made), lambda item: None, size=1)
    got: list[Made] = []
    with pool.lend() as mine:
        waiting = threading.Thread(target=lambda: got.append(pool._take()))
        waiting.start()
    waiting.join()  # it could only finish once ``mine`` was given back
    assert got == [mine] and made == [mine]


def test_a_pool_of_stores_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "h.hypercube"
    Store(path).close()
    readers = Pool(lambda: Store(path, readonly=True), Store.close, size=2)
    with readers.lend() as one, readers.lend() as two:
        assert one.schema_version == two.schema_version and one.conn is not two.conn
    readers.close()


def test_a_pool_needs_a_size() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Pool(lambda: 0, lambda item: None, size=0)
