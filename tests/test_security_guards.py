"""The guards against other web pages and other users: Host (DNS rebinding), Origin, content
types a page can send without a preflight, ingest roots, reads of ingested files only, and
admin keys."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from app.api import ApiSettings
from app.errors import InvalidRequest
from app.settings import Settings
from tests.api_helpers import (
    Running,
    error_of,
    request,
    shared_engine,
    shared_hypercube,
    start_server,
)
from tests.segment_files import copy_db

CLIENT_KEY = "sk-client"
ADMIN_KEY = "sk-admin"


def resolve(**explicit: Any) -> ApiSettings:
    """:meth:`ApiSettings.resolve` over the environment as the test has set it."""
    return ApiSettings.resolve(Settings.from_environment(), **explicit)


@pytest.fixture(scope="module")
def open_server() -> Iterator[Running]:
    """The default settings: keyless, loopback, no ingest root."""
    running = start_server(shared_hypercube(), engine=shared_engine())
    yield running
    running.stop()


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An allowed root with a project in it, and a private folder next to it."""
    base = tmp_path_factory.mktemp("roots").resolve()
    allowed = base / "allowed"
    (allowed / "project").mkdir(parents=True)
    (allowed / "project" / "a.py").write_text("def a():\n    return 1\n", encoding="utf-8")
    private = base / "private"
    private.mkdir()
    (private / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n",
                                        encoding="utf-8")
    (allowed / "escape").symlink_to(private, target_is_directory=True)
    return allowed, private


@pytest.fixture(scope="module")
def rooted(roots: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[Running]:
    db = tmp_path_factory.mktemp("rooted") / "r.db"
    copy_db(shared_hypercube(), db)
    settings = ApiSettings(ingest_roots=(roots[0],), allowed_hosts=("hypercube.lan",),
                           cors_origins=("http://localhost:5173",))
    running = start_server(db, settings, engine=shared_engine())
    yield running
    running.stop()


@pytest.fixture(scope="module")
def keyed() -> Iterator[Running]:
    settings = ApiSettings(api_keys=(CLIENT_KEY,), admin_keys=(ADMIN_KEY,))
    running = start_server(shared_hypercube(), settings, engine=shared_engine())
    yield running
    running.stop()


def code_of(status: int, content: bytes) -> str:
    return error_of(status, json.loads(content))["code"]


# -- Host: DNS rebinding --------------------------------------------------------------------

@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "127.0.0.1.nip.io",
                                  "localhost.evil.example", "[::ffff:8.8.8.8]:80", "10.0.0.5"])
def test_a_foreign_host_name_is_403(open_server: Running, host: str) -> None:
    # What a page on a rebinding name sends: its own name as Host.
    for method, path, body in [("GET", "/v1/models", None),
                               ("POST", "/v1/ingest", {"paths": ["~/.ssh"]}),
                               ("GET", "/v1/code/file?path=id_ed25519", None)]:
        status, _, content = request(open_server.url, method, path, body,
                                     headers={"Host": host})
        assert status == 403, (host, path)
        assert code_of(status, content) == "host_not_allowed"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:8080", "127.1.2.3:1", "localhost",
                                  "LOCALHOST:80", "app.localhost", "a.b.localhost:9",
                                  "[::1]", "[::1]:8080", "localhost."])
def test_loopback_names_are_answered(open_server: Running, host: str) -> None:
    status, _, _ = request(open_server.url, "GET", "/v1/models", headers={"Host": host})
    assert status == 200, host


def test_an_allowed_host_is_answered(rooted: Running) -> None:
    assert request(rooted.url, "GET", "/v1/models", headers={"Host": "hypercube.lan:80"}
                   )[0] == 200
    assert request(rooted.url, "GET", "/v1/models", headers={"Host": "other.lan"})[0] == 403


def test_a_server_bound_elsewhere_answers_any_host() -> None:
    # Bound to every address, it is meant to be reached under other names.
    running = start_server(shared_hypercube(), ApiSettings(bind_host="0.0.0.0"),
                           engine=shared_engine())
    try:
        assert request(running.url, "GET", "/v1/models",
                       headers={"Host": "gpu-box.lan"})[0] == 200
    finally:
        running.stop()


def test_allowed_hosts_come_from_flags_or_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERCUBE_ALLOWED_HOST", "a.lan, B.lan.")
    assert resolve().allowed_hosts == ("a.lan", "b.lan")
    assert resolve(allowed_hosts=["c.lan"]).allowed_hosts == ("c.lan",)


# -- Origin: cross-origin browser requests --------------------------------------------------

def test_a_foreign_origin_is_403(open_server: Running) -> None:
    for origin in ("http://evil.example", "null", "http://127.0.0.1:1"):
        status, headers, content = request(
            open_server.url, "POST", "/v1/completions",
            {"model": "hypercube", "prompt": "def", "max_tokens": 1},
            headers={"Origin": origin})
        assert status == 403, origin
        assert code_of(status, content) == "origin_not_allowed"
        assert "access-control-allow-origin" not in headers
    preflight = {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    assert request(open_server.url, "OPTIONS", "/v1/ingest", headers=preflight)[0] == 403


def test_the_servers_own_origin_and_cors_origins_pass(rooted: Running) -> None:
    own = rooted.url  # the UI's pages send their own origin on POSTs
    body = {"model": "hypercube", "prompt": "def", "max_tokens": 1}
    assert request(rooted.url, "POST", "/v1/completions", body,
                   headers={"Origin": own})[0] == 200
    status, headers, _ = request(rooted.url, "POST", "/v1/completions", body,
                                 headers={"Origin": "http://localhost:5173"})
    assert status == 200
    assert headers["access-control-allow-origin"] == "http://localhost:5173"


# -- content types a page can send without a preflight --------------------------------------

@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
def test_cancels_refuse_form_and_plain_bodies(rooted: Running, content_type: str) -> None:
    for path in ("/v1/ingest/1/cancel", "/v1/batches/batch_x/cancel"):
        status, _, content = request(rooted.url, "POST", path, raw=b"x=1",
                                     headers={"Content-Type": content_type})
        assert status == 415, path
        assert code_of(status, content) == "unsupported_media_type"


def test_a_cancel_without_a_body_or_with_json_is_read(rooted: Running) -> None:
    assert request(rooted.url, "POST", "/v1/ingest/999999/cancel")[0] == 404
    assert request(rooted.url, "POST", "/v1/ingest/999999/cancel", {})[0] == 404


def test_an_upload_needs_a_header_no_form_can_send(rooted: Running) -> None:
    form = (b"--x\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
            b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jsonl\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n{}\r\n--x--\r\n")
    headers = {"Content-Type": "multipart/form-data; boundary=x"}
    status, _, content = request(rooted.url, "POST", "/v1/files", raw=form, headers=headers)
    assert status == 415
    assert "Authorization" in error_of(status, json.loads(content))["message"]
    status, _, content = request(rooted.url, "POST", "/v1/files", raw=form,
                                 headers={**headers, "Authorization": "Bearer any"})
    assert status == 200, content
    # The official client always sends one.
    client = openai.OpenAI(base_url=rooted.url + "/v1", api_key="unused", max_retries=0)
    assert client.files.create(file=("b.jsonl", b"{}"), purpose="batch").bytes == 2


# -- ingest roots -----------------------------------------------------------------------------

def test_http_ingestion_is_off_by_default(open_server: Running, tmp_path: Path) -> None:
    status, _, content = request(open_server.url, "POST", "/v1/ingest",
                                 {"paths": [str(tmp_path)]})
    assert status == 403
    error = error_of(status, json.loads(content))
    assert error["code"] == "ingest_disabled"
    assert "--ingest-root" in error["message"]


def test_ingestion_outside_the_roots_is_403(rooted: Running, roots: tuple[Path, Path]) -> None:
    allowed, private = roots
    for path in (str(private), str(private / "id_ed25519"), f"{allowed}/../private",
                 str(allowed / "escape"), str(allowed / "escape" / "id_ed25519"),
                 "/etc", "~", "/", str(allowed.parent)):
        status, _, content = request(rooted.url, "POST", "/v1/ingest", {"paths": [path]})
        assert status == 403, path
        assert code_of(status, content) == "outside_ingest_roots"
    # Outside, an existing and a missing path get the same answer: no existence oracle.
    missing = request(rooted.url, "POST", "/v1/ingest", {"paths": [str(private / "nope")]})
    present = request(rooted.url, "POST", "/v1/ingest", {"paths": [str(private)]})
    assert json.loads(missing[2])["error"]["code"] == json.loads(present[2])["error"]["code"]


@pytest.mark.parametrize("path", ["~nosuchuser_hypercube/x", "/tmp/a\x00b"])
def test_unusable_ingest_paths_are_400(rooted: Running, path: str) -> None:
    status, _, content = request(rooted.url, "POST", "/v1/ingest", {"paths": [path]})
    assert status == 400
    assert error_of(status, json.loads(content))["param"] == "paths"


def test_ingestion_inside_a_root_runs(rooted: Running, roots: tuple[Path, Path]) -> None:
    status, _, content = request(rooted.url, "POST", "/v1/ingest",
                                 {"paths": [str(roots[0] / "project")]})
    assert status == 202, content


def test_ingest_roots_are_resolved_and_must_be_folders(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.setenv("HYPERCUBE_INGEST_ROOT", f"{tmp_path / 'link'}{os.pathsep}{tmp_path}")
    assert resolve().ingest_roots == ((tmp_path / "real").resolve(),
                                                  tmp_path.resolve())
    with pytest.raises(InvalidRequest):
        resolve(ingest_roots=[tmp_path / "missing"])
    home = resolve(ingest_roots=[], default_ingest_roots=[Path.home()])
    assert home.ingest_roots == ((tmp_path / "real").resolve(), tmp_path.resolve())  # env wins
    monkeypatch.delenv("HYPERCUBE_INGEST_ROOT")
    home = resolve(default_ingest_roots=[Path.home()])
    assert home.ingest_roots == (Path.home().resolve(),)


# -- reads of ingested documents only --------------------------------------------------------

@pytest.mark.parametrize("query", ["/v1/code/similar?at=/etc/passwd:1",
                                   "/v1/code/similar?at=/no/such/file.py:1",
                                   "/v1/code/file?path=/etc/passwd",
                                   "/v1/code/file?path=/no/such/file"])
def test_code_reads_nothing_that_was_not_ingested(open_server: Running, query: str) -> None:
    status, _, content = request(open_server.url, "GET", query)
    assert status == 404
    error = error_of(status, json.loads(content))
    # The same answer whether the file exists or not.
    assert "is not in the hypercube" in error["message"]


@pytest.mark.parametrize("query", ["/v1/code/similar?at=a%00b.py:1",
                                   "/v1/code/file?path=a%00b",
                                   "/v1/code/defs?at=x%00.py:1",
                                   "/v1/code/search?q=a%00b"])
def test_nul_bytes_in_code_queries_are_400(open_server: Running, query: str) -> None:
    status, _, content = request(open_server.url, "GET", query)
    assert status == 400
    assert "NUL" in error_of(status, json.loads(content))["message"]


# -- admin keys ---------------------------------------------------------------------------------

def test_admin_routes_need_the_admin_key(keyed: Running) -> None:
    client = {"Authorization": f"Bearer {CLIENT_KEY}"}
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    for method, path, body in [("POST", "/v1/ingest", {"paths": ["/tmp"]}),
                               ("GET", "/v1/ingest", None), ("GET", "/v1/batches", None),
                               ("GET", "/v1/files", None)]:
        status, _, content = request(keyed.url, method, path, body, headers=client)
        assert status == 403, path
        assert code_of(status, content) == "admin_key_required"
        status, _, content = request(keyed.url, method, path, body, headers=admin)
        # (POST /v1/ingest then meets the next guard: this server has no ingest root.)
        assert status == 200 or code_of(status, content) == "ingest_disabled", path
    # The client key serves the OpenAI routes; the admin key does too.
    for headers in (client, admin):
        assert request(keyed.url, "GET", "/v1/models", headers=headers)[0] == 200
    assert request(keyed.url, "GET", "/v1/files", headers={"x-api-key": "wrong"})[0] == 401


def test_keys_without_an_admin_key_close_the_admin_routes() -> None:
    running = start_server(shared_hypercube(), ApiSettings(api_keys=(CLIENT_KEY,)),
                           engine=shared_engine())
    try:
        status, _, content = request(running.url, "GET", "/v1/batches",
                                     headers={"Authorization": f"Bearer {CLIENT_KEY}"})
        assert status == 403
        assert "--admin-key" in error_of(status, json.loads(content))["message"]
    finally:
        running.stop()


def test_admin_keys_are_distinct_from_client_keys(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidRequest, match="differ"):
        resolve(api_keys=["k"], admin_keys=["k"])
    with pytest.raises(InvalidRequest, match="client API keys"):
        resolve(admin_keys=["a"])
    keys = tmp_path / "admin.txt"
    keys.write_text("# admins\nsk-a1\n", encoding="utf-8")
    monkeypatch.setenv("HYPERCUBE_ADMIN_KEY", "sk-a0")
    settings = resolve(api_keys=["sk-c"], admin_key_file=keys)
    assert settings.admin_keys == ("sk-a0", "sk-a1")
