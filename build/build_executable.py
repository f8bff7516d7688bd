"""Build the single-file ``hypercube`` executable with Nuitka (``--onefile``).

Everything ships inside: the app and jit packages (with the store's SQL migrations), the UI
assets and the starter corpus, the tree-sitter grammars (their Python modules are imported by
name at run time, so they are listed explicitly), llvmlite's LLVM library and pydivsufsort's
ctypes libraries. Data folders go where :func:`app.resources.data_dir` looks: ``app/_data``.

The default hypercube ships prebuilt too: the build ingests the starter corpus once
(:func:`app.default_hypercube.build_prebuilt`, into ``build/out/prebuilt``, reused while the
corpus, schema and version stay the same), so a first start copies it instead of ingesting.

The window (pywebview) is left out on Linux, where it would pull in Qt WebEngine (~200 MB);
there ``hypercube app`` opens the default browser instead. Windows and macOS include it: their
web views come with the OS.

    python build/build_executable.py                 # → build/out/hypercube[.exe]
    python build/build_executable.py --print-command # show the Nuitka command only
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "build" / "out"
PREBUILT = OUT / "prebuilt"  # → app/_data/prebuilt, app.default_hypercube.PREBUILT_FOLDER
DATA_DIRS = {  # source folder → folder inside the executable
    "assets/ui": "app/_data/assets/ui",
    "assets/corpus": "app/_data/assets/corpus",
    "grammars": "app/_data/grammars",
}
# Never needed at run time; following them would only grow the file (and the build: chardet,
# which a dev tool installs and requests would prefer, is 40 language models of up to 10 MB
# of C each, half an hour of compiling on two cores; requests then uses its own dependency
# charset_normalizer. rich needs pygments only to highlight code and tracebacks, which the
# CLI never asks it to).
# pydantic.mypy (its type checker plugin) would pull in all of mypy, and pydantic.v1 is a
# second copy of pydantic for old code: neither runs in the app.
NOT_SHIPPED = ["pytest", "_pytest", "hypothesis", "openai", "IPython", "tkinter",
               "matplotlib", "pandas", "setuptools", "pip", "chardet", "pygments",
               "mypy", "pydantic.mypy", "pydantic.v1",
               # ingest --cluster (the `cluster` extra) needs the Python package install:
               # dask and what only it pulls in would double the compile time
               "dask", "distributed", "tornado", "cloudpickle", "msgpack", "zict", "tblib",
               "partd", "locket", "toolz", "tlz", "sortedcontainers"]
GUI_MODULES = ["webview", "PyQt6", "PySide6", "qtpy", "bottle", "proxy_tools"]


def executable_name() -> str:
    return "hypercube.exe" if sys.platform == "win32" else "hypercube"


def grammar_modules() -> list[str]:
    """The tree-sitter grammar modules: pinned in pyproject.toml, imported by name at run time."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    modules = []
    for requirement in project["project"]["dependencies"]:
        name = requirement.split("=")[0].split(">")[0].split("<")[0].strip()
        if name.startswith("tree-sitter-"):
            modules.append(name.replace("-", "_"))
    return sorted(modules)


def build_default_hypercube() -> Path:
    """The prebuilt default hypercube to ship (built here the first time, ~15 s)."""
    from app.compose import Root

    # Ingested in a data folder of its own, never the developer's, and outside this
    # repository: its .gitignore covers build/out, and the ingest honours .gitignore files.
    with tempfile.TemporaryDirectory(prefix="hypercube-build-") as data:
        root = Root.from_environment({**os.environ, "HYPERCUBE_DATA_DIR": data})
        return root.build_prebuilt(PREBUILT)


# Where the onefile executable unpacks itself (see nuitka_command).
ONEFILE_CACHE_SPEC = "{CACHE_DIR}/Hypercube/{VERSION}"


def nuitka_command(*, window: bool, jobs: int, allow_downloads: bool,
                   prebuilt: Path | None = None) -> list[str]:
    command = [
        sys.executable, "-m", "nuitka", "--onefile",
        f"--output-dir={OUT}", f"--output-filename={executable_name()}",
        "--include-package=app", "--include-package=jit", "--include-package-data=app",
        f"--user-package-configuration-file={REPO / 'build' / 'nuitka-package.config.yml'}",
        f"--jobs={jobs}", "--lto=no",
        # Unpack once into the user's cache folder and reuse it: the default unpacks the
        # ~390 MB payload (mostly llvmlite's LLVM) into a fresh temporary folder on every
        # start, about half of the cold start. Nuitka checks each cached file's CRC32 and
        # rewrites what differs, so a newer build or an interrupted unpack is repaired on the
        # next start. {CACHE_DIR} is $XDG_CACHE_HOME, else ~/.cache (the image sets it).
        f"--onefile-tempdir-spec={ONEFILE_CACHE_SPEC}",
        "--company-name=Hypercube", "--product-name=Hypercube",
        f"--file-version={_version()}", f"--product-version={_version()}",
    ]
    if allow_downloads:
        command.append("--assume-yes-for-downloads")
    for source, target in DATA_DIRS.items():
        command.append(f"--include-data-dir={REPO / source}={target}")
    if prebuilt is not None:
        command.append(f"--include-data-files={prebuilt}=app/_data/prebuilt/{prebuilt.name}")
        # Its model segment files (app/store/segfiles.py), beside it as the app expects.
        segments = prebuilt.with_name(prebuilt.name + ".segments")
        command.append(f"--include-data-dir={segments}=app/_data/prebuilt/{segments.name}")
    command += [f"--include-module={m}" for m in grammar_modules()]
    not_shipped = NOT_SHIPPED + ([] if window else GUI_MODULES)
    command += [f"--nofollow-import-to={m}" for m in not_shipped]
    if window:
        command.append("--include-package=webview")
    command.append(str(REPO / "build" / "entry.py"))
    return command


def _version() -> str:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return project["project"]["version"]


def check_toolchain() -> None:
    """Fail early, with the fix, instead of ten minutes into the build."""
    try:
        import nuitka  # noqa: F401
    except ImportError:
        sys.exit("build: Nuitka is missing: pip install -e '.[build]'")
    if sys.platform.startswith("linux") and shutil.which("patchelf") is None:
        sys.exit("build: patchelf is missing (apt-get install patchelf)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", choices=["auto", "yes", "no"], default="auto",
                        help="include the pywebview window (auto: not on Linux)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--allow-downloads", action="store_true",
                        help="let Nuitka fetch what it needs (CI runners on Windows/macOS)")
    parser.add_argument("--print-command", action="store_true",
                        help="print the Nuitka command and stop")
    args = parser.parse_args(argv)
    window = args.window == "yes" or (args.window == "auto"
                                      and not sys.platform.startswith("linux"))
    if args.print_command:
        print(" ".join(nuitka_command(window=window, jobs=args.jobs,
                                      allow_downloads=args.allow_downloads,
                                      prebuilt=PREBUILT / "default-FINGERPRINT.hypercube")))
        return 0
    check_toolchain()
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print("build: the default hypercube", flush=True)
    prebuilt = build_default_hypercube()
    print(f"build: {prebuilt} ({prebuilt.stat().st_size / 1e6:.1f} MB)", flush=True)
    command = nuitka_command(window=window, jobs=args.jobs,
                             allow_downloads=args.allow_downloads, prebuilt=prebuilt)
    print(f"build: Nuitka onefile for {platform.system()} {platform.machine()}"
          f" (window: {'yes' if window else 'no'})", flush=True)
    result = subprocess.run(command, cwd=REPO, check=False)
    if result.returncode != 0:
        print(f"build: Nuitka failed with exit status {result.returncode}", file=sys.stderr)
        return result.returncode
    binary = OUT / executable_name()
    minutes = (time.perf_counter() - started) / 60
    print(f"build: {binary} ({binary.stat().st_size / 1e6:.1f} MB) in {minutes:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
