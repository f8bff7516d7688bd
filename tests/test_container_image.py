"""The container image: built from the executable alone, its layout valid for OCI and
Docker, its file tree and configuration what a non-root server needs; run by docker where a
daemon answers."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.api_helpers import build_hypercube
from tests.conftest import REPO, run_hypercube, write_python_corpus

sys.path.insert(0, str(REPO / "build"))
import container_image

# A real dynamically linked program stands in for the 70 MB Nuitka build, which CI builds
# and packs with the same script after the tests (.ci/run).
STAND_IN = Path(shutil.which("ls") or "/bin/ls")


def _members(tar_path: Path) -> dict[str, bytes | None]:
    with tarfile.open(tar_path) as tar:
        return {m.name: (tar.extractfile(m).read() if m.isfile() else None)  # type: ignore[union-attr]
                for m in tar.getmembers()}


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> container_image.Image:
    out = tmp_path_factory.mktemp("image") / "image.tar"
    return container_image.build_image(STAND_IN, out, "hypercube:test")


def test_the_layout_is_oci_and_docker_at_once(image: container_image.Image) -> None:
    files = _members(image.tar)
    assert json.loads(files["oci-layout"])["imageLayoutVersion"] == "1.0.0"
    for name, data in files.items():
        if name.startswith("blobs/sha256/") and data is not None:
            assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1]
    index = json.loads(files["index.json"])
    (entry,) = index["manifests"]
    assert entry["digest"] == image.manifest_digest
    manifest = json.loads(files["blobs/sha256/" + image.manifest_digest[7:]])
    assert manifest["config"]["digest"] == image.config_digest
    (docker,) = json.loads(files["manifest.json"])
    assert docker["RepoTags"] == ["hypercube:test"]
    assert docker["Config"] == "blobs/sha256/" + image.config_digest[7:]
    assert docker["Layers"] == ["blobs/sha256/" + image.layer_digest[7:]]


def test_the_image_runs_the_server_as_a_user_with_a_health_check(
        image: container_image.Image) -> None:
    files = _members(image.tar)
    config = json.loads(files["blobs/sha256/" + image.config_digest[7:]])["config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["/usr/local/bin/hypercube"]
    assert config["Cmd"][:3] == ["serve", "--host", "0.0.0.0"]
    assert "HYPERCUBE_DATA_DIR=/data" in config["Env"]
    assert "XDG_CACHE_HOME=/tmp/cache" in config["Env"]  # the executable unpacks there
    assert config["Volumes"] == {"/data": {}} and config["ExposedPorts"] == {"8080/tcp": {}}
    assert config["Healthcheck"]["Test"][:3] == ["CMD", "/usr/local/bin/hypercube", "health"]
    # The health check and the commands are real CLI commands.
    from app.cli import build_parser

    build_parser().parse_args(config["Healthcheck"]["Test"][2:])
    build_parser().parse_args(config["Cmd"])


def test_the_file_tree_holds_the_binary_its_libraries_and_nothing_else(
        image: container_image.Image) -> None:
    files = _members(image.tar)
    with tarfile.open(fileobj=io.BytesIO(files["blobs/sha256/" + image.layer_digest[7:]])) \
            as layer:
        members = {m.name: m for m in layer.getmembers()}
    binary = members["usr/local/bin/hypercube"]
    assert binary.mode == 0o755 and binary.size == STAND_IN.stat().st_size
    for library in container_image.shared_libraries(STAND_IN):
        assert str(library).lstrip("/") in members, library
    assert members["data"].isdir() and members["data"].uid == 10001
    assert members["tmp"].mode == 0o1777
    with tarfile.open(fileobj=io.BytesIO(files["blobs/sha256/" + image.layer_digest[7:]])) \
            as layer:
        passwd = layer.extractfile("etc/passwd").read().decode()  # type: ignore[union-attr]
    assert "hypercube:x:10001:10001:" in passwd
    top = {name.split("/")[0] for name in members}
    assert top <= {"usr", "lib", "lib64", "etc", "data", "tmp"}, top
    assert all(m.mtime == container_image.EPOCH for m in members.values())


def test_the_same_executable_gives_the_same_image(image: container_image.Image,
                                                  tmp_path: Path) -> None:
    again = container_image.build_image(STAND_IN, tmp_path / "again.tar", "hypercube:test")
    assert again.manifest_digest == image.manifest_digest


def test_the_health_command_reports_a_server_s_state(tmp_path: Path) -> None:
    result = run_hypercube("health", "--port", "1", "--timeout", "2")
    assert result.returncode == 1 and "cannot reach" in result.stderr
    corpus = tmp_path / "corpus"
    write_python_corpus(corpus, files=4)
    db = build_hypercube(tmp_path / "h.db", corpus)
    child = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", "0", "--db",
                              str(db)], cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stderr is not None
        line = child.stderr.readline()
        port = line.rsplit(":", 1)[1].split()[0]
        from tests.api_helpers import wait_healthy

        wait_healthy(f"http://127.0.0.1:{port}")
        result = run_hypercube("health", "--port", port)
        assert result.returncode == 0 and ": ok" in result.stdout, result.stderr
    finally:
        child.terminate()
        child.communicate(timeout=60)


def _docker_daemon() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    return subprocess.run([docker, "info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(not _docker_daemon(), reason="no docker daemon answers on this machine")
def test_docker_loads_the_image(image: container_image.Image) -> None:
    loaded = subprocess.run(["docker", "load", "-i", str(image.tar)], capture_output=True,
                            text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr
    inspected = subprocess.run(["docker", "image", "inspect", "hypercube:test"],
                               capture_output=True, text=True, timeout=60)
    assert json.loads(inspected.stdout)[0]["Config"]["User"] == "10001:10001"
