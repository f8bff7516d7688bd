"""The completion benchmark's hypercube: each project's train files ingested on top of a copy of
the default hypercube, with ~20% of every project's files held out by a hash of their path.

Everything that touches the database runs the measured code's real CLI in a subprocess
(``python -m app …`` with the caller's ``PYTHONPATH``), so the same script measures whichever
tree ``PYTHONPATH`` points at. The held-out files are never copied into the folder that is
ingested. The ingested hypercube is cached under a key of the projects' pinned downloads, the
split and the measured code's version (the parts that write a hypercube: everything under
``app/`` but the serving layers, plus ``jit/``, ``grammars/`` and the starter corpus), so a
rerun that only changed how completions are generated skips the ingest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from app.store.backup import copy_hypercube
from tests.bench.code_ctags import source_files
from tests.bench.code_projects import Project
from tests.bench.common import REPO

HELD_OUT_PERCENT = 20
DEV_SALT = "dev:"  # the development split's hash (see split_project)
# Parts of the measured tree that only serve a hypercube, never write one: changing them
# (generation, the HTTP layer, the UI) keeps the cached hypercube valid.
SERVING_ONLY = ("app/api/", "app/engine/", "app/ui/", "app/cli/")
CODE_FOLDERS = ("app", "jit", "grammars", "assets/corpus")


def held_out(relative: str) -> bool:
    """Whether a file (by its path inside its project) is held out: a stable hash, ~20%."""
    return _path_hash(relative) % 100 < HELD_OUT_PERCENT


def _path_hash(relative: str, salt: str = "") -> int:
    digest = hashlib.blake2b((salt + relative).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass(frozen=True)
class ProjectSplit:
    project: Project
    root: Path
    train: list[Path]
    held_out: list[Path]

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def split_project(project: Project, root: Path, *, dev: bool = False) -> ProjectSplit:
    """The project's train and held-out files.

    ``dev`` draws a development split from the *training* files only (a second, salted hash
    holds out ~20% of them), so decoding can be studied and tuned without ever looking at the
    benchmark's held-out files.
    """
    files = source_files(root, project.language, project.patterns)
    if len(files) < 2:
        raise SystemExit(f"{project.name}: only {len(files)} source file(s) under {root}")
    relative = {path: path.relative_to(root).as_posix() for path in files}
    held = [p for p in files if held_out(relative[p])]
    if not held:  # a tiny project: hold out the file the hash ranks first
        held = [min(files, key=lambda p: _path_hash(relative[p]))]
    train = [p for p in files if p not in held]
    if dev:
        held = [p for p in train if _path_hash(relative[p], DEV_SALT) % 100 < HELD_OUT_PERCENT]
        if not held:
            held = [min(train, key=lambda p: _path_hash(relative[p], DEV_SALT))]
        if len(held) == len(train):
            raise SystemExit(f"{project.name}: too few training files for a development split")
        train = [p for p in train if p not in held]
    return ProjectSplit(project, root, train, held)


@dataclass(frozen=True)
class MeasuredCode:
    """The tree under test, as the subprocesses import it."""

    app_dir: Path
    version: str
    env: dict[str, str]  # the subprocesses' environment (their own data folder)
    # Where they run: never a checkout, whose own app/ ``python -m``/``-c`` would import
    # ahead of PYTHONPATH.
    cwd: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, *args], env=self.env, text=True,
                              capture_output=True, cwd=self.cwd)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args[:3])} failed ({done.returncode}): "
                             f"{done.stderr.strip()[-2000:]}")
        return done


def measured_code(cache: Path) -> MeasuredCode:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPERCUBE_")}
    # Without PYTHONPATH the subprocesses measure this script's own tree (not whatever
    # editable install the interpreter has).
    env.setdefault("PYTHONPATH", str(REPO))
    cache.mkdir(parents=True, exist_ok=True)
    locate = subprocess.run(
        [sys.executable, "-c", "import app, pathlib; print(pathlib.Path(app.__file__).parent)"],
        env=env, text=True, capture_output=True, check=True, cwd=cache)
    app_dir = Path(locate.stdout.strip())
    version = code_version(app_dir.parent)
    # A data folder per code version: the default hypercube is built by the code measured.
    env["HYPERCUBE_DATA_DIR"] = str(cache / f"data-{version}")
    return MeasuredCode(app_dir, version, env, cache)


def code_version(tree: Path) -> str:
    digest = hashlib.blake2b(digest_size=8)
    for folder in CODE_FOLDERS:
        for path in sorted((tree / folder).rglob("*")):
            relative = path.relative_to(tree).as_posix()
            if not path.is_file() or "__pycache__" in relative \
                    or relative.startswith(SERVING_ONLY):
                continue
            digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class BenchHypercube:
    db: Path
    train_root: Path  # <train_root>/<language>/<path in project>: what was ingested
    starter_corpus: Path  # the default hypercube's own files
    key: str
    cached: bool
    ingest: dict[str, object]

    def train_path(self, split: ProjectSplit, path: Path) -> Path:
        """Where a project's file lives (or, held out, would live) in the ingested tree."""
        return self.train_root / split.project.language / split.relative(path)


def build_hypercube(splits: list[ProjectSplit], cache: Path,
                    code: MeasuredCode) -> BenchHypercube:
    default = Path(code.run("-c", "from app.compose import Root; print(Root.from_environment()"
                                  ".ensure_default_hypercube())").stdout.strip())
    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{code.version}/{default.name}/{HELD_OUT_PERCENT}".encode())
    for split in splits:
        digest.update(split.project.name.encode())
        for path in split.train:
            digest.update(b"\0" + split.relative(path).encode() + b"\0" + path.read_bytes())
    key = digest.hexdigest()
    folder = cache / f"hypercube-{key}"
    db, train_root, done = folder / "bench.hypercube", folder / "train", folder / "done.json"
    if done.exists():
        return BenchHypercube(db, train_root, default.with_suffix(".corpus"), key, True,
                              json.loads(done.read_text()))
    shutil.rmtree(folder, ignore_errors=True)
    for split in splits:
        for path in split.train:
            target = train_root / split.project.language / split.relative(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    copy_hypercube(default, db)  # with its segment files
    start = time.perf_counter()
    summary = json.loads(code.run("-m", "app", "ingest", "--db", str(db), "--json", "--quiet",
                                  str(train_root)).stdout)
    ingest = {"seconds": round(time.perf_counter() - start, 1),
              "documents": summary.get("added"), "bytes": summary.get("bytes_ingested"),
              "skipped": len(summary.get("skipped", []))}
    done.write_text(json.dumps(ingest))
    return BenchHypercube(db, train_root, default.with_suffix(".corpus"), key, False, ingest)
