"""Shared fixtures: every test gets its own user data folder, and small corpora of our own."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.cli import main as cli_main
from app.compose import Root
from app.ingest import IngestOptions, IngestRun
from app.store import Store

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_user_dir(tmp_path_factory: pytest.TempPathFactory,
                      monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point Hypercube's user data folder at a temporary one, and clear HYPERCUBE_* vars."""
    for key in list(os.environ):
        if key.startswith("HYPERCUBE_"):
            monkeypatch.delenv(key)
    data = tmp_path_factory.mktemp("user-data")
    monkeypatch.setenv("HYPERCUBE_DATA_DIR", str(data))
    return data


def make_root() -> Root:
    """The composition root over the environment as it is now (a test's own data folder,
    see :func:`isolated_user_dir`), as the CLI builds it."""
    return Root.from_environment()


@pytest.fixture
def root(isolated_user_dir: Path) -> Root:
    """The composition root of this test (its own data folder, no HYPERCUBE_* settings)."""
    return make_root()


WORDS = [
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "lambda", "sigma", "omega",
    "value", "result", "index", "count", "total", "item", "node", "tree", "graph", "edge",
    "path", "name", "data",
]


def write_python_corpus(root: Path, files: int, seed: int = 0, lines: int = 40) -> list[Path]:
    """Deterministic Python-like files with shared structure and varied names."""
    rng = random.Random(seed)
    written = []
    for i in range(files):
        body = [f'"""Module {i}: {" ".join(rng.choices(WORDS, k=6))}."""', ""]
        for j in range(lines // 5):
            name = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{j}"
            arg = rng.choice(WORDS)
            body += [f"def {name}({arg}, count={rng.randint(0, 99)}):",
                     f"    # {' '.join(rng.choices(WORDS, k=5))}",
                     f"    total = {arg} + count * {rng.randint(1, 9)}",
                     f"    return total  # {rng.choice(WORDS)}", ""]
        path = root / f"pkg{i % 7}" / f"mod_{i:04d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(body) + "\n", encoding="utf-8")
        written.append(path)
    return written


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    write_python_corpus(root, files=24)
    (root / "notes.md").write_text("# Notes\n\nCafé, naïve, 東京, emoji 😀 — all text.\n",
                                   encoding="utf-8")
    return root


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run ``hypercube ARGS`` in-process; returns (exit code, stdout, stderr)."""
    def run(*args: str | os.PathLike[str]) -> tuple[int, str, str]:
        code = cli_main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err
    return run


def run_hypercube(*args: str | os.PathLike[str], env: dict[str, str] | None = None,
                  **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "app", *map(str, args)], capture_output=True, text=True,
        env={**os.environ, **(env or {})}, cwd=REPO, timeout=300, **kwargs,  # type: ignore[arg-type]
    )


def copy_of_app(root: Path) -> Path:
    """A copy of this repository's own ``app/`` package under ``root``: real code to learn."""
    corpus = root / "corpus"
    shutil.copytree(REPO / "app", corpus, ignore=shutil.ignore_patterns("__pycache__"))
    return corpus


@contextmanager
def ingested(root: Path, corpus: Path) -> Iterator[Store]:
    """``corpus`` ingested by the real pipeline (model included) into ``root/h.db``, the
    store open, and the user data folder (the JIT cache…) under ``root`` meanwhile."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HYPERCUBE_DATA_DIR", str(root / "data"))
        with Store(root / "h.db") as store:
            IngestRun(store, IngestOptions(roots=[corpus]), listeners=make_root().listeners()).run()
            yield store
