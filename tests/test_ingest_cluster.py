"""``hypercube ingest --cluster ADDRESS``: files prepared on a Dask cluster, the same hypercube.

A real ``LocalCluster`` of two worker processes on 127.0.0.1 (no dashboard: nothing listens
beyond this machine) stands in for a cluster; the CLI, in its own process, connects to its
scheduler's address as it would to one on another machine.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.errors import HypercubeError
from app.ingest import IngestOptions, IngestRun
from app.ingest.cluster import NEEDS_EXTRA, local_workers
from app.ingest.workers import CHUNK_FILES
from app.store import Store
from tests.conftest import REPO, run_hypercube, write_python_corpus
from tests.hypercube_dump import dump
from tests.test_ingest_workers import _DyingAnalyzer, _ingest, _project

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """The address of a local cluster's scheduler, its two workers up."""
    # A task whose worker dies is retried once (on another worker), then fails the run: the
    # dead-worker test below needs only two deaths, not the default four.
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=60)
        yield cluster.scheduler_address


def _cluster_ingest(db: Path, address: str, *roots: Path) -> str:
    done = run_hypercube("ingest", "-q", "--cluster", address, "--db", db, *roots)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().rsplit(" in ", 1)[0]


def test_a_cluster_builds_the_same_hypercube_as_one_process(tmp_path: Path,
                                                            scheduler: str) -> None:
    project = _project(tmp_path / "project")
    one, cluster = tmp_path / "one.db", tmp_path / "cluster.db"
    first = _ingest(one, 1, project)
    assert "2 skipped" in first
    assert _cluster_ingest(cluster, scheduler, project) == first
    baseline = dump(one)
    assert baseline["documents"] and baseline["relations"] and baseline["model_segments"]
    assert dump(cluster) == baseline

    # Changed, unchanged (found here, never sent) and new files: the same second run too.
    for path in sorted((project / "generated").rglob("*.py"))[:3]:
        path.write_text(path.read_text("utf-8") + "\ndef added_later(x):\n    return x\n",
                        "utf-8")
    (project / "python" / "extra.py").write_text("import shapes\n\nshapes.area(1)\n", "utf-8")
    assert "1 added, 3 changed" in _ingest(one, 1, project)
    assert "1 added, 3 changed" in _cluster_ingest(cluster, scheduler, project)
    assert dump(cluster) == dump(one)


def test_a_cluster_builds_the_model_shards_and_they_equal_one_process_build(
        tmp_path: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With segments capped small, the model is several shards per family, built on the
    cluster's workers (its task stream shows them), and the hypercube is exactly the
    single-process one."""
    monkeypatch.setenv("HYPERCUBE_SEGMENT_TOKENS", "4000")
    project = tmp_path / "project"
    write_python_corpus(project, files=40, lines=40, seed=9)
    one, cluster = tmp_path / "one.db", tmp_path / "cluster.db"
    first = _ingest(one, 1, project)
    with distributed.Client(scheduler, set_as_default=False) as client, \
            distributed.get_task_stream(client) as stream:
        assert _cluster_ingest(cluster, scheduler, project) == first
    builds = [task for task in stream.data if task["key"].startswith("build_segment-")]
    baseline = dump(one)
    shards = len(baseline["model_segments"])
    assert shards >= 4
    assert len(builds) == shards
    assert dump(cluster) == baseline


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_scheduler_fails_quickly_and_changes_nothing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_python_corpus(corpus, files=3, lines=10)
    db = tmp_path / "h.db"
    _ingest(db, 1, corpus)
    (corpus / "new.py").write_text("def new():\n    return 1\n", "utf-8")
    before = dump(db)
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    started = time.monotonic()
    done = run_hypercube("ingest", "-q", "--cluster", address, "--cluster-timeout", "2",
                         "--db", db, corpus)
    assert time.monotonic() - started < 30
    assert done.returncode != 0
    error = done.stderr.strip()
    assert error.startswith(f"hypercube: error: cannot reach the Dask scheduler at {address}")
    assert "\n" not in error
    assert dump(db) == before  # not even a failed run recorded


def test_cluster_and_workers_together_are_refused(tmp_path: Path) -> None:
    done = run_hypercube("ingest", "-q", "--cluster", "local:2", "--workers", "2",
                         "--db", tmp_path / "h.db", tmp_path)
    assert done.returncode != 0
    assert "--cluster and --workers do not go together" in done.stderr
    assert not (tmp_path / "h.db").exists()


@pytest.mark.parametrize(("flag", "value", "said"), [
    ("--cluster", "local:0", "local:N needs a number of workers"),
    ("--cluster-timeout", "0", "--cluster-timeout must be positive"),
    ("--cluster-timeout", "soon", "not a number of seconds: 'soon'"),
    ("--workers", "0", "--workers must be positive"),
    ("--max-file-size", "big", "not a number of megabytes: 'big'"),
])
def test_bad_ingest_numbers_are_one_line_errors(tmp_path: Path, flag: str, value: str,
                                                said: str) -> None:
    done = run_hypercube("ingest", "-q", flag, value, "--db", tmp_path / "h.db", tmp_path)
    assert done.returncode != 0
    assert said in done.stderr
    assert not (tmp_path / "h.db").exists()


def test_without_dask_cluster_mode_names_the_extra(tmp_path: Path) -> None:
    script = f"""
import sys
sys.modules["distributed"] = None  # as if not installed: importing it raises ImportError
from app.cli import main
sys.exit(main(["ingest", "-q", "--cluster", "tcp://127.0.0.1:1", "--db", {str(tmp_path / "h.db")!r},
               {str(tmp_path)!r}]))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0
    assert done.stderr.strip() == f"hypercube: error: {NEEDS_EXTRA}"


def test_the_cli_imports_no_dask_until_cluster_mode_runs() -> None:
    script = """
import sys
import app.cli, app.cli.ingest_cmd, app.ingest, app.ingest.cluster
from app.cli import main
try:
    main(["ingest", "--help"])
except SystemExit:
    pass
loaded = sorted(m for m in ("dask", "distributed", "tornado", "cloudpickle", "msgpack")
                if m in sys.modules)
assert not loaded, loaded
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "--cluster ADDRESS" in done.stdout and "Refused with --workers" in done.stdout


def test_local_addresses() -> None:
    assert local_workers("local:3") == 3
    assert local_workers("local") is not None
    assert local_workers("tcp://10.0.0.5:8786") is None
    with pytest.raises(HypercubeError, match="local:N"):
        local_workers("local:0")


def test_a_dying_worker_fails_the_run_with_a_clear_error(tmp_path: Path,
                                                         scheduler: str) -> None:
    # Last in this file: it kills the cluster's workers (their nannies start new ones).
    corpus = tmp_path / "corpus"
    write_python_corpus(corpus, files=2 * CHUNK_FILES + 1, lines=10)
    with Store(tmp_path / "h.db") as store:
        with pytest.raises(HypercubeError, match=f"Dask worker died .*at {scheduler}"):
            IngestRun(store, IngestOptions(roots=[corpus], cluster=scheduler),
                      analyzers=[_DyingAnalyzer()]).run()
        assert store.conn.execute("SELECT status FROM runs").fetchall() == [("failed",)]
        assert store.conn.execute("SELECT COUNT(*) FROM documents").fetchone() == (0,)
