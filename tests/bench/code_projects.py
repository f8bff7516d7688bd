"""Real projects per language for the benchmarks, fetched from the package registries.

Each project is fetched once into a cache folder with the registry's ordinary client (npm,
pip, apt-get) and unpacked; versions are pinned where the registry allows it (Debian's come
from the machine's pinned snapshot unless a version is given). ``PROJECTS`` are the
code-intelligence benchmark's (its Python project is the shared corpus's train split);
``COMPLETION_PROJECTS`` are the completion benchmark's: none of them in the default
hypercube, every version pinned and every download checked against its SHA-256.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.bench.common import SHARED_CORPUS


@dataclass(frozen=True)
class Project:
    language: str
    name: str
    source: str  # where it comes from, for the report
    fetch: Callable[[Path], Path]  # cache folder → the project's root
    patterns: tuple[str, ...]


def _run(*command: str, cwd: Path) -> None:
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def _check_sha256(path: Path, expected: str | None) -> None:
    """Refuse a download whose bytes are not the pinned ones (the cache is then refetched)."""
    if expected is None:
        return
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        path.unlink()
        raise SystemExit(f"{path.name}: SHA-256 {digest}, expected {expected} (the registry "
                         "served other bytes than the pinned version's; removed it)")


def _npm(package: str, sha256: str | None = None) -> Callable[[Path], Path]:
    def fetch(cache: Path) -> Path:
        root = cache / package.replace("@", "-")
        if not root.exists():
            work = cache / "downloads"
            work.mkdir(parents=True, exist_ok=True)
            name, _, version = package.rpartition("@")
            tarball = work / f"{name}-{version}.tgz"
            if not tarball.exists():
                _run("npm", "pack", package, "--silent", cwd=work)
            _check_sha256(tarball, sha256)
            with tarfile.open(tarball) as archive:
                archive.extractall(root, filter="data")
        return root / "package"
    return fetch


def _pypi_sdist(requirement: str, sha256: str | None = None) -> Callable[[Path], Path]:
    def fetch(cache: Path) -> Path:
        name, version = requirement.split("==")
        root = cache / f"{name}-{version}"
        if not root.exists():
            work = cache / "downloads"
            work.mkdir(parents=True, exist_ok=True)
            sdist = work / f"{name}-{version}.tar.gz"
            if not sdist.exists():
                _run("pip", "download", "--no-binary", ":all:", "--no-deps", "-q", "-d",
                     str(work), requirement, cwd=work)
            _check_sha256(sdist, sha256)
            with tarfile.open(sdist) as archive:
                archive.extractall(cache, filter="data")
        return root
    return fetch


def _debian(package: str, inner_zip: str | None = None, members: str | None = None, *,
            version: str | None = None, sha256: str | None = None,
            into: str = "src") -> Callable[[Path], Path]:
    """A Debian binary package unpacked (``dpkg-deb -x``); ``version`` pins it, and
    ``members`` of an ``inner_zip`` it ships are extracted into the folder ``into``."""
    def fetch(cache: Path) -> Path:
        root = cache / package
        if not root.exists():
            work = cache / "downloads"
            work.mkdir(parents=True, exist_ok=True)
            pattern = f"{package}_{version.replace(':', '%3a')}_*.deb" if version \
                else f"{package}_*.deb"
            if not list(work.glob(pattern)):
                _run("apt-get", "download", f"{package}={version}" if version else package,
                     cwd=work)
            (deb,) = work.glob(pattern)
            _check_sha256(deb, sha256)
            _run("dpkg-deb", "-x", str(deb), str(root), cwd=work)
        if inner_zip and not (root / into).exists():
            with zipfile.ZipFile(root / inner_zip) as archive:
                names = [n for n in archive.namelist() if members and n.startswith(members)]
                archive.extractall(root / f"{into}.partial", names)
            (root / f"{into}.partial").rename(root / into)
        return root
    return fetch


def _shared_corpus(cache: Path) -> Path:
    root = cache / "python-stdlib-3.11"
    if not root.exists():
        with tarfile.open(SHARED_CORPUS) as archive:
            archive.extractall(root, filter="data")
    (train,) = root.glob("*/train")
    return train


PROJECTS = [
    Project("python", "CPython 3.11 stdlib, train split", "shared/corpora", _shared_corpus,
            ("**/*.py",)),
    Project("javascript", "eslint 10.15.0 (lib/)", "npm", _npm("eslint@10.15.0"),
            ("lib/**/*.js",)),
    Project("typescript", "rxjs 7.8.2 (src/)", "npm", _npm("rxjs@7.8.2"), ("src/**/*.ts",)),
    Project("tsx", "react-native-screens 4.30.1 (src/)", "npm",
            _npm("react-native-screens@4.30.1"), ("src/**/*.tsx",)),
    Project("csharp", "pythonnet 3.2.1 (src/runtime)", "PyPI sdist",
            _pypi_sdist("pythonnet==3.2.1"), ("src/runtime/**/*.cs",)),
    Project("go", "spf13/cobra 1.6.1 (golang-github-spf13-cobra-dev)", "Debian",
            _debian("golang-github-spf13-cobra-dev"), ("**/*.go",)),
    Project("rust", "regex 1.7.1 (librust-regex-dev)", "Debian", _debian("librust-regex-dev"),
            ("**/*.rs",)),
    Project("java", "OpenJDK 17 java.util (openjdk-17-source)", "Debian",
            _debian("openjdk-17-source", "usr/lib/jvm/openjdk-17/lib/src.zip",
                    "java.base/java/util/"), ("src/**/*.java",)),
    Project("c", "lz4 4.4.5 bundled liblz4 + bindings", "PyPI sdist", _pypi_sdist("lz4==4.4.5"),
            ("lz4libs/*.c", "lz4libs/*.h", "lz4/**/*.c", "lz4/**/*.h")),
    Project("cpp", "greenlet 3.5.6 (src/greenlet)", "PyPI sdist",
            _pypi_sdist("greenlet==3.5.6"),
            ("src/greenlet/*.cpp", "src/greenlet/*.hpp", "src/greenlet/*.h",
             "src/greenlet/platform/*.h")),
]


# Mid-sized (0.4–1 MB of source each), none of them in the default hypercube (Python's
# standard library). Chosen before any measurement; never tune anything to these files.
COMPLETION_PROJECTS = [
    Project("python", "click 8.1.8 (src/, tests/)", "PyPI sdist",
            _pypi_sdist("click==8.1.8", sha256=(
                "ed53c9d8990d83c2a27deae68e4ee337473f6330c040a31d4225c9574d16096a")),
            ("src/**/*.py", "tests/**/*.py")),
    Project("typescript", "rxjs 7.8.2 (src/)", "npm", _npm("rxjs@7.8.2", sha256=(
        "2312f8ffd9726ffd7bd53ea12c5f13663d09a3dc3326f448c70b88f5ef6fac82")),
        ("src/**/*.ts",)),
    Project("go", "spf13/cobra 1.6.1 (golang-github-spf13-cobra-dev 1.6.1-1)", "Debian",
            _debian("golang-github-spf13-cobra-dev", version="1.6.1-1", sha256=(
                "4f5d20855133319beef3c5b49d3c21a0406f270bf94fb4b6f4d406b691283cb2")),
            ("**/*.go",)),
    Project("rust", "regex 1.7.1 (librust-regex-dev 1.7.1-1)", "Debian",
            _debian("librust-regex-dev", version="1.7.1-1", sha256=(
                "9b8c87bb5aa87c0095f4cc36ed829c80e815c2f71337325bd6e25f8de1fba7f7")),
            ("**/*.rs",)),
    Project("java", "OpenJDK 17.0.21 java.nio.file (openjdk-17-source)", "Debian",
            _debian("openjdk-17-source", "usr/lib/jvm/openjdk-17/lib/src.zip",
                    "java.base/java/nio/file/", version="17.0.21.1+2-1~deb12u1", sha256=(
                        "5106aa3881e3b49568823ebdfc3755d4043f6f53bbfc996d0efee03172dc0a9b"),
                    into="src-nio-file"), ("src-nio-file/**/*.java",)),
    Project("csharp", "pythonnet 3.2.1 (src/runtime)", "PyPI sdist",
            _pypi_sdist("pythonnet==3.2.1", sha256=(
                "c86e8dd31268f6e0c48fcc4d6030041316d49ed2764a1cb6ea8c37876e07c572")),
            ("src/runtime/**/*.cs",)),
]


def fetch_all(cache: Path, languages: set[str] | None = None,
              projects: list[Project] = PROJECTS) -> list[tuple[Project, Path]]:
    cache.mkdir(parents=True, exist_ok=True)
    found = []
    for project in projects:
        if languages and project.language not in languages:
            continue
        found.append((project, project.fetch(cache)))
    return found


def copy_sources(projects: list[tuple[Project, Path]], files: dict[str, list[Path]],
                 target: Path) -> Path:
    """One folder holding every project's compared files (what the timing run ingests)."""
    if target.exists():
        shutil.rmtree(target)
    for project, root in projects:
        for path in files[project.language]:
            destination = target / project.language / path.relative_to(root)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
    return target
