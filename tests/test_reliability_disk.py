"""A full disk, for real: a small tmpfs filled to the last block.

Needs ``mount`` (root with CAP_SYS_ADMIN, as in CI); elsewhere the test is skipped and says
why. On the full disk an ingest fails with one clear line and exit status 1, the batch worker
marks its batch failed and ``/health`` reports the fault until it is recorded, and afterwards
the hypercube checks clean with nothing that was stored before lost.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.api import ApiSettings, EngineSlot, Server, create_app
from app.api.runtime.supervision import Backoff
from app.cli.serving import load_engine
from app.store import Store
from app.store.inspect import check
from tests.api_helpers import get_json, request
from tests.conftest import make_root, run_hypercube, write_python_corpus
from tests.test_reliability_store import build

TMPFS_BYTES = 48 * 2**20
FAST = Backoff(0.05, 0.2)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "disk"
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (the disk-full test runs in CI)")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs",
                              str(folder)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"mount is not permitted here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(disk: Path, leave: int = 0) -> Path:
    """Fill ``disk`` until at most ``leave`` bytes are free; the filler file is returned."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (2**16, 512, 1):
            try:
                while os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize >= leave + size:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := probe():
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def counts(db: Path) -> dict[str, int]:
    with Store(db) as store:
        return {table: store.scalar(f"SELECT COUNT(*) FROM {table}")
                for table in ("documents", "document_tokens", "model_segments", "api_batches",
                              "api_batch_results", "api_files")}


def clean(db: Path) -> list[str]:
    with Store(db) as store:
        return [f.message for f in check(store) if f.severity == "error"]


def test_a_full_disk_fails_cleanly_and_loses_nothing(small_disk: Path, tmp_path: Path,
                                                     small_corpus: Path) -> None:
    db = build(small_disk / "h.db", small_corpus)
    before = counts(db)

    # -- ingest: one clear line, exit 1, the file consistent ----------------------------
    more = tmp_path / "more"
    write_python_corpus(more, files=300, seed=3, lines=200)
    filler = fill(small_disk, leave=256 * 1024)
    result = run_hypercube("ingest", "--db", db, more)
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("hypercube: error: ") and "disk" in lines[-1] \
        and "is full" in lines[-1]
    assert "Traceback" not in result.stderr
    filler.unlink()
    assert clean(db) == []
    after = counts(db)
    assert after["documents"] >= before["documents"]  # whole batches only, nothing lost
    with Store(db) as store:
        assert store.scalar("SELECT status FROM runs ORDER BY id DESC LIMIT 1") in (
            "failed", "interrupted")
        assert store.scalar("SELECT COUNT(*) FROM runs WHERE status = 'running'") == 0

    # -- batches: retried while the fault lasts, failed when it does not pass -----------
    # Before the disk is full: opening for writing may write.
    engine = load_engine(db, make_root().kernels)

    # A fault that passes: the batch is retried and completes.
    with serving(db) as (url, slot):
        file_id = _upload_batch_input(url)
        retried = _start_batch(url, file_id)
        filler = _fill_before_next_write(db, small_disk)
        slot.set(engine)
        status, body = wait_for("/health to report the fault", lambda: (
            h := get_json(url, "/health"))[1]["faults"] and h)
        assert (status, body["status"]) == (200, "degraded")  # generation still works
        fault = body["faults"][0]
        assert fault["component"] == "batches"
        assert retried in fault["reason"] and "is full" in fault["reason"]
        filler.unlink()
        done = wait_for("the batch to complete", lambda: (
            b := _batch(url, retried))["status"] == "completed" and b)
        assert done["request_counts"] == {"total": 5, "completed": 5, "failed": 0}
        assert get_json(url, "/health")[1]["status"] == "ok"

    # A fault that lasts: the retries run out, the batch is failed, and that is recorded as
    # soon as it can be written.
    with serving(db) as (url, slot):
        failing = _start_batch(url, file_id)
        filler = _fill_before_next_write(db, small_disk)
        slot.set(engine)
        status, body = wait_for("the failure waiting to be recorded", lambda: (
            h := get_json(url, "/health"))[1]["faults"]
            and "cannot be recorded yet" in h[1]["faults"][0]["reason"] and h)
        assert (status, body["status"]) == (200, "degraded")
        assert _batch(url, failing)["status"] == "in_progress"
        filler.unlink()
        failed = wait_for("the batch to be marked failed", lambda: (
            b := _batch(url, failing))["status"] == "failed" and b)
        error = failed["errors"]["data"][0]
        assert error["code"] == "insufficient_storage" and "is full" in error["message"]
        status, body = get_json(url, "/health")
        assert (status, body["status"], body["faults"]) == (200, "ok", [])
        assert "is full" in body["workers"]["batches"]["last_fault"]["reason"]
        # What was answered before is all still there.
        status, _, output = request(url, "GET", f"/v1/files/{done['output_file_id']}/content")
        assert status == 200 and len(output.splitlines()) == 5

    assert clean(db) == []
    final = counts(db)
    assert final["documents"] == after["documents"]
    assert final["api_batches"] == after["api_batches"] + 2


@contextlib.contextmanager
def serving(db: Path) -> Iterator[tuple[str, EngineSlot]]:
    """The real app and server over ``db`` with an empty engine slot (so the batch worker
    waits inside a batch until the test fills the disk and hands it the engine), retrying
    quickly."""
    store = Store(db)
    slot = EngineSlot()
    root = make_root()
    app = create_app(store, slot, ApiSettings(), plugins=root.plugins,
                     loader=lambda path: load_engine(path, root.kernels))
    app.state.batches.backoff, app.state.batches.attempts = FAST, 3
    server = Server(app, "127.0.0.1", 0, threads=4).start()
    try:
        yield server.url, slot
    finally:
        server.close()
        app.state.close()
        store.close()


BOUNDARY = "hypercube-test-boundary"


def _upload_batch_input(url: str) -> str:
    lines = "".join(json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/completions",
                                "body": {"model": "hypercube", "prompt": "def total",
                                         "max_tokens": 4, "seed": i}}) + "\n"
                    for i in range(5)).encode()
    status, _, body = request(url, "POST", "/v1/files", raw=_multipart(lines),
                              headers={"Content-Type": f"multipart/form-data; boundary="
                                                       f"{BOUNDARY}",
                                       # as OpenAI clients send (no web page can)
                                       "Authorization": "Bearer any"})
    assert status == 200, body
    return json.loads(body)["id"]


def _start_batch(url: str, file_id: str, wait_for_engine: bool = True) -> str:
    status, batch = _post(url, "/v1/batches", {"input_file_id": file_id,
                                               "endpoint": "/v1/completions",
                                               "completion_window": "24h"})
    assert status == 200, batch
    if wait_for_engine:  # the slot is empty: the worker waits in the batch for the engine
        wait_for("the batch to start", lambda: _batch(url, batch["id"])["status"]
                 == "in_progress")
    return batch["id"]


def _fill_before_next_write(db: Path, disk: Path) -> Path:
    with Store(db) as other:  # an empty WAL: the next write needs new blocks
        other.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return fill(disk)


def _multipart(content: bytes) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"in.jsonl\"\r\nContent-Type: application/jsonl\r\n\r\n").encode() \
        + content + f"\r\n--{BOUNDARY}--\r\n".encode()


def _post(url: str, path: str, body: Any) -> tuple[int, Any]:
    status, _, content = request(url, "POST", path, body)
    return status, json.loads(content)


def _batch(url: str, batch_id: str) -> dict[str, Any]:
    return get_json(url, f"/v1/batches/{batch_id}")[1]
