"""Regenerate ``assets/corpus/python-stdlib.tar.xz``: the starter corpus the embedded default
hypercube is built from.

It copies a selection of CPython's standard library (PSF licence, permissive) from the Python
running this script, including ``pydoc_data/topics.py`` (the language reference's text). Files
that the quality benchmark holds out (the ``test/`` split of the shared corpus) are left out,
so the default hypercube can never have seen the benchmark's test data.

Usage: python build/make_starter_corpus.py [SHARED_CORPUS_TAR_XZ]
"""

from __future__ import annotations

import io
import sys
import sysconfig
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = ROOT / "assets" / "corpus" / "python-stdlib.tar.xz"
PREFIX = "python-stdlib"
PACKAGES = ["json", "collections", "asyncio", "email", "http", "logging", "importlib",
            "concurrent", "urllib", "html", "xml/dom", "sqlite3", "zoneinfo", "tomllib",
            "pydoc_data"]
MODULES = ["abc", "argparse", "ast", "base64", "bisect", "calendar", "cmd", "codecs",
           "contextlib", "copy", "csv", "dataclasses", "datetime", "difflib", "enum",
           "fnmatch", "fractions", "functools", "getopt", "glob", "gzip", "hashlib", "heapq",
           "hmac", "inspect", "ipaddress", "keyword", "linecache", "locale", "numbers",
           "operator", "optparse", "os", "pathlib", "pickle", "platform", "pprint", "queue",
           "random", "reprlib", "sched", "secrets", "selectors", "shlex", "shutil", "signal",
           "socket", "socketserver", "statistics", "string", "struct", "subprocess",
           "tarfile", "tempfile", "textwrap", "threading", "timeit", "token", "tokenize",
           "traceback", "types", "typing", "uuid", "warnings", "weakref", "zipfile"]


def held_out(corpus: Path | None) -> set[str]:
    if corpus is None or not corpus.exists():
        return set()
    with tarfile.open(corpus) as tar:
        return {name.split("/test/", 1)[1] for name in tar.getnames() if "/test/" in name}


def main() -> None:
    corpus = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "corpora" / \
        "python-stdlib-3.11.tar.xz"
    excluded = held_out(corpus)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = [stdlib / f"{m}.py" for m in MODULES]
    for package in PACKAGES:
        files += sorted(p for p in (stdlib / package).rglob("*.py") if "test" not in p.parts)
    chosen = [f for f in files if f.relative_to(stdlib).as_posix() not in excluded]
    chosen.append(stdlib / "LICENSE.txt")
    ARCHIVE.parent.mkdir(parents=True, exist_ok=True)
    # Fixed metadata so the archive (and the default hypercube's fingerprint) is reproducible.
    with tarfile.open(ARCHIVE, "w:xz", preset=9) as tar:
        for source in sorted(chosen):
            data = source.read_bytes()
            info = tarfile.TarInfo(f"{PREFIX}/{source.relative_to(stdlib).as_posix()}")
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    total = sum(f.stat().st_size for f in chosen)
    print(f"{len(chosen)} files, {total / 1e6:.1f} MB -> {ARCHIVE.stat().st_size / 1e6:.2f} MB "
          f"({len(excluded)} held-out paths excluded)")


if __name__ == "__main__":
    main()
