"""Read-only replicas of a snapshot: they never write, refuse what would, move to a newer
snapshot without dropping a request, and serve through a real load balancer (nginx) while
one of them is killed and all of them roll to a new snapshot."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.api_helpers import build_hypercube, get_json, request, stream_lines, wait_healthy
from tests.conftest import REPO, run_hypercube, write_python_corpus
from tests.segment_files import copy_db

LISTENING = re.compile(r"on (http://127\.0\.0\.1:\d+)")
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None)


class Replica:
    """``hypercube serve --read-only`` in a child process."""

    def __init__(self, db: Path, data_dir: Path, port: int = 0) -> None:
        self.child = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--read-only", "--port", str(port), "-q",
             "--db", str(db)], cwd=REPO, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "HYPERCUBE_DATA_DIR": str(data_dir)})
        assert self.child.stderr is not None
        line = self.child.stderr.readline()
        match = LISTENING.search(line)
        assert match, line + self.child.stderr.read()
        self.url = match.group(1)
        wait_healthy(self.url)

    def documents(self) -> int:
        status, model = get_json(self.url, "/v1/models/hypercube")
        assert status == 200, model
        return model["corpus"]["documents"]

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.child.poll() is None:
            self.child.send_signal(signum)
        self.child.communicate(timeout=60)
        return self.child.returncode


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, Path]]:
    """(source hypercube, its snapshot, a second corpus to ingest later)."""
    root = tmp_path_factory.mktemp("replicas")
    corpus = root / "corpus"
    write_python_corpus(corpus, files=12, seed=31, lines=40)
    source = build_hypercube(root / "source.db", corpus)
    snapshot = root / "published" / "hypercube.db"
    result = run_hypercube("snapshot", "--db", source, snapshot)
    assert result.returncode == 0, result.stderr
    later = root / "later"
    write_python_corpus(later, files=6, seed=32, lines=30)
    yield source, snapshot, later


def _publish_more(source: Path, later: Path, snapshot: Path) -> None:
    result = run_hypercube("ingest", "--db", source, later)
    assert result.returncode == 0, result.stderr
    result = run_hypercube("snapshot", "--db", source, snapshot)
    assert result.returncode == 0, result.stderr


def _digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def _wait_for(condition, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_replica_never_writes_and_refuses_what_would(published, tmp_path: Path) -> None:
    _, snapshot, _ = published
    copy = tmp_path / "ro" / "hypercube.db"
    copy.parent.mkdir()
    copy_db(snapshot, copy)
    shutil.copy(snapshot.with_name(snapshot.name + ".json"), copy.parent)
    before = (_digest(copy), copy.stat().st_mtime_ns, sorted(os.listdir(copy.parent)))
    replica = Replica(copy, tmp_path / "data")
    try:
        status, body = get_json(replica.url, "/v1/models")
        assert status == 200
        status, _, _ = request(replica.url, "POST", "/v1/completions",
                               {"model": "hypercube", "prompt": "def ", "max_tokens": 8})
        assert status == 200
        status, _, _ = request(replica.url, "GET", "/v1/code/search?q=def")
        assert status == 200
        for method, path, body in [("GET", "/v1/files", None),
                                   ("POST", "/v1/batches", {"input_file_id": "file-x"}),
                                   ("POST", "/v1/ingest", {"paths": [str(tmp_path)]})]:
            status, _, content = request(replica.url, method, path, body)
            assert status == 403 and b'"read_only"' in content, (path, content)
    finally:
        assert replica.stop() == 0
    after = (_digest(copy), copy.stat().st_mtime_ns, sorted(os.listdir(copy.parent)))
    assert after == before   # not a byte, not an -wal or -shm file beside it


def test_a_replica_refuses_a_snapshot_that_does_not_match_its_manifest(
        published, tmp_path: Path) -> None:
    _, snapshot, _ = published
    copy = tmp_path / "hypercube.db"
    copy_db(snapshot, copy)
    shutil.copy(snapshot.with_name(snapshot.name + ".json"), tmp_path)
    with copy.open("r+b") as handle:
        handle.seek(copy.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))
    result = subprocess.run(
        [sys.executable, "-m", "app", "serve", "--read-only", "--port", "0", "--db",
         str(copy)], cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "HYPERCUBE_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 1
    assert "does not match its manifest" in result.stderr


def test_a_replica_moves_to_a_newer_snapshot_without_dropping_a_stream(
        published, tmp_path: Path) -> None:
    source, _, later = published
    work = tmp_path / "source.db"
    copy_db(source, work)
    served = tmp_path / "served" / "hypercube.db"
    assert run_hypercube("snapshot", "--db", work, served).returncode == 0
    replica = Replica(served, tmp_path / "data")
    try:
        first = replica.documents()
        # A long stream that is still running when the new snapshot is swapped in.
        lines = stream_lines(replica.url, "/v1/completions", {
            "model": "hypercube", "prompt": "def ", "max_tokens": 400, "stream": True,
            "temperature": 1.0, "seed": 5})
        head = next(lines)
        assert head.startswith(b"data: ")
        _publish_more(work, later, served)
        _wait_for(lambda: replica.documents() > first, "the replica to serve the new snapshot")
        rest = [line for line in lines if line.strip()]
        assert rest[-1].strip() == b"data: [DONE]"   # the old app finished the stream
    finally:
        assert replica.stop() == 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _nginx_conf(folder: Path, port: int, upstreams: list[str]) -> Path:
    servers = "\n".join(f"        server {u.removeprefix('http://')} max_fails=1 "
                        "fail_timeout=30s;" for u in upstreams)
    temp = folder / "temp"
    temp.mkdir(parents=True, exist_ok=True)
    temp.chmod(0o777)
    conf = folder / "nginx.conf"
    conf.write_text(f"""
daemon off;
master_process off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    upstream replicas {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://replicas;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # The client's own Host: a loopback-bound replica answers only loopback names.
            proxy_set_header Host $host;
            proxy_buffering off;
            proxy_read_timeout 120s;
            # A replica that is gone (refused, reset) is skipped and the request retried
            # on another, POSTs included: generation has no side effects.
            proxy_next_upstream error timeout http_502 http_503 non_idempotent;
            proxy_next_upstream_tries 3;
        }}
    }}
}}
""")
    return conf


@pytest.mark.slow
@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx)")
def test_three_replicas_behind_nginx_survive_a_kill_and_roll_to_a_new_snapshot(
        published, tmp_path: Path) -> None:
    source, _, later = published
    work = tmp_path / "source.db"
    copy_db(source, work)
    served = tmp_path / "served" / "hypercube.db"
    assert run_hypercube("snapshot", "--db", work, served).returncode == 0
    replicas = [Replica(served, tmp_path / f"data{i}") for i in range(3)]
    port = _free_port()
    balancer = subprocess.Popen([str(NGINX), "-c", str(_nginx_conf(
        tmp_path / "nginx", port, [r.url for r in replicas])), "-p", str(tmp_path / "nginx")],
        stderr=subprocess.PIPE, text=True)
    # Each request notes the phase it started in: 0 before the kill, 1 after it, 2 after
    # the new snapshot was published. Only a request that was inside the killed replica
    # when it died may fail (at most one per worker); none that started later may.
    phase = [0]
    failures: list[tuple[int, str]] = []
    done = threading.Event()
    counted = [0]
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base)
        client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0,
                               timeout=60)

        def load() -> None:
            while not done.is_set():
                started = phase[0]
                try:
                    text = client.completions.create(model="hypercube", prompt="def ",
                                                     max_tokens=8, temperature=0)
                    assert text.choices[0].finish_reason in ("stop", "length")
                    stream = client.chat.completions.create(
                        model="hypercube", messages=[{"role": "user", "content": "hi"}],
                        max_tokens=8, stream=True)
                    assert [c for c in stream if c.choices] != []
                    counted[0] += 1
                except Exception as exc:  # every failure is reported
                    failures.append((started, repr(exc)))

        workers = [threading.Thread(target=load) for _ in range(3)]
        for worker in workers:
            worker.start()
        _wait_for(lambda: counted[0] >= 5, "requests through the balancer")
        # One replica dies hard; nginx sends its requests to the other two.
        killed = replicas[0]
        phase[0] = 1
        assert killed.stop(signal.SIGKILL) == -signal.SIGKILL
        mark = counted[0]
        _wait_for(lambda: counted[0] >= mark + 10, "requests after the kill")
        # A new snapshot: the two live replicas move to it while requests keep coming.
        before = [r.documents() for r in replicas[1:]]
        phase[0] = 2
        _publish_more(work, later, served)
        _wait_for(lambda: all(r.documents() > b for r, b in zip(replicas[1:], before,
                                                                 strict=True)),
                  "both replicas to serve the new snapshot")
        mark = counted[0]
        _wait_for(lambda: counted[0] >= mark + 5, "requests after the roll")
        done.set()
        for worker in workers:
            worker.join(timeout=120)
        assert [f for f in failures if f[0] > 0] == []
        assert len(failures) <= len(workers)
    finally:
        done.set()
        balancer.send_signal(signal.SIGTERM)
        balancer.communicate(timeout=30)
        for replica in replicas[1:]:
            assert replica.stop() == 0
