"""Real projects per language for the code-intelligence benchmark, fetched from registries.

Each project is fetched once into a cache folder with the registry's ordinary client (npm,
pip, apt-get) and unpacked; versions are pinned where the registry allows it (Debian's come
from the machine's pinned snapshot). The Python project is the shared corpus's train split.
"""

from __future__ import annotations

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


def _npm(package: str) -> Callable[[Path], Path]:
    def fetch(cache: Path) -> Path:
        root = cache / package.replace("@", "-")
        if not root.exists():
            work = cache / "downloads"
            work.mkdir(parents=True, exist_ok=True)
            _run("npm", "pack", package, "--silent", cwd=work)
            (tarball,) = work.glob(package.split("@")[0] + "-*.tgz")
            with tarfile.open(tarball) as archive:
                archive.extractall(root, filter="data")
        return root / "package"
    return fetch


def _pypi_sdist(requirement: str) -> Callable[[Path], Path]:
    def fetch(cache: Path) -> Path:
        name, version = requirement.split("==")
        root = cache / f"{name}-{version}"
        if not root.exists():
            work = cache / "downloads"
            work.mkdir(parents=True, exist_ok=True)
            _run("pip", "download", "--no-binary", ":all:", "--no-deps", "-q", "-d", str(work),
                 requirement, cwd=work)
            (sdist,) = work.glob(f"{name}-{version}.tar.gz")
            with tarfile.open(sdist) as archive:
                archive.extractall(cache, filter="data")
        return root
    return fetch


def _debian(package: str, inner_zip: str | None = None,
            members: str | None = None) -> Callable[[Path], Path]:
    def fetch(cache: Path) -> Path:
        root = cache / package
        if not root.exists():
            work = cache / "downloads"
            work.mkdir(parents=True, exist_ok=True)
            _run("apt-get", "download", package, cwd=work)
            (deb,) = work.glob(f"{package}_*.deb")
            _run("dpkg-deb", "-x", str(deb), str(root), cwd=work)
            if inner_zip:
                with zipfile.ZipFile(root / inner_zip) as archive:
                    names = [n for n in archive.namelist() if members and n.startswith(members)]
                    archive.extractall(root / "src", names)
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


def fetch_all(cache: Path, languages: set[str] | None = None) -> list[tuple[Project, Path]]:
    cache.mkdir(parents=True, exist_ok=True)
    found = []
    for project in PROJECTS:
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
