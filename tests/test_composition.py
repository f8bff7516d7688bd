"""The composition root (app.compose) and the structure it keeps: no import cycle in app/ or
jit/, the plugin shapes apart from their implementations, and the environment read in one
place only."""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from app.compose import Root
from app.errors import InvalidRequest
from app.ingest import IngestOptions, IngestRun
from app.model.listener import ModelUpdater
from app.settings import SETTINGS, Settings
from app.store import Store
from tests.conftest import REPO, run_hypercube

PACKAGES = ("app", "jit")


def module_files(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name → file, for every module of ``packages`` under ``root``."""
    modules = {}
    for package in packages:
        for path in (root / package).rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


class _Imports(ast.NodeVisitor):
    """Every module an import statement names, at module level or inside a function (a
    function-local import closes a cycle as surely, only later); ``if TYPE_CHECKING:``
    blocks are skipped, since they never run."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def visit_If(self, node: ast.If) -> None:
        if "TYPE_CHECKING" in ast.unparse(node.test):
            for statement in node.orelse:
                self.visit(statement)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.names += [alias.name for alias in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:
            # `from a.b import c` may name the module a.b.c or the attribute c of a.b.
            self.names += [f"{node.module}.{alias.name}" for alias in node.names]


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    modules = module_files(root, packages)

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        visitor = _Imports()
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        graph[module] = {target for name in visitor.names
                         if (target := owner(name)) is not None and target != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_check_finds_a_cycle_through_a_function_local_import(
        tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "shapes.py").write_text("from pkg.parts import Part\n")
    (package / "parts.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from pkg.other import Other\n"
        "class Part:\n    def make(self):\n        from pkg.shapes import Shape\n")
    (package / "other.py").write_text("from pkg.parts import Part\n")
    assert cycles(import_graph(tmp_path, ("pkg",))) == [["pkg.parts", "pkg.shapes"]]


def test_app_and_jit_have_no_import_cycle() -> None:
    graph = import_graph(REPO, PACKAGES)
    assert len(graph) > 100  # it did read the tree
    assert cycles(graph) == []


def test_the_plugin_protocols_import_no_implementation() -> None:
    graph = import_graph(REPO, PACKAGES)
    assert graph["app.ingest.protocols"] == set()
    # Code intelligence and the model depend on the shapes, never on the ingest's wiring.
    assert "app.compose" not in set().union(*(graph[m] for m in graph if m != "app.cli"))


def _calls_and_names(path: Path) -> set[str]:
    """What a module calls and what it imports, by name."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            names.add(ast.unparse(node.func))
        elif isinstance(node, ast.alias):
            names.add(node.name)
    return names


@pytest.mark.parametrize(("what", "allowed"), [
    # Reading the environment: the settings module, and the two places that ask it to.
    ("env_value", {"app.settings"}),
    ("platformdirs", {"app.settings"}),
    ("Settings.from_environment", {"app.compose"}),
    ("Root.from_environment", {"app.cli"}),
    # Building the parts: the root alone (jit.kernels is the process's kernel cache).
    ("CodeAnalyzer", {"app.compose", "app.code", "app.code.analyzer"}),
    ("ModelUpdater", {"app.compose", "app.model.listener"}),
    ("kernels", {"app.compose", "jit"}),
])
def test_only_the_root_reads_the_environment_and_builds_the_parts(
        what: str, allowed: set[str]) -> None:
    users = {module for module, path in module_files(REPO, PACKAGES).items()
             if what in _calls_and_names(path)}
    assert users <= allowed, f"{what} used outside the composition root"


def test_settings_are_read_once_and_frozen(tmp_path: Path) -> None:
    root = Root.from_environment({"HYPERCUBE_DATA_DIR": str(tmp_path), "HYPERCUBE_PORT": "9"})
    assert root.settings.data_dir == tmp_path
    assert root.settings.user_db_path == tmp_path / "hypercube.db"
    assert root.settings.jit_cache_dir == tmp_path / "jit"
    assert root.settings.get("port") == 9
    assert root.settings.get("threads") == SETTINGS["threads"].default
    with pytest.raises(dataclasses.FrozenInstanceError):
        root.settings.data_dir = Path("/elsewhere")  # type: ignore[misc]
    with pytest.raises(TypeError):
        root.settings.values["port"] = 10  # type: ignore[index]
    with pytest.raises(KeyError):
        root.settings.get("no_such_setting")
    named = Settings.from_environment({"HYPERCUBE_DATA_DIR": str(tmp_path),
                                       "HYPERCUBE_DB": str(tmp_path / "mine.db")})
    assert named.user_db_path == tmp_path / "mine.db"


def test_a_bad_environment_is_refused_when_the_root_is_built(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="HYPERCUBE_PROT"):
        Root.from_environment({"HYPERCUBE_PROT": "8080"})
    with pytest.raises(InvalidRequest, match="HYPERCUBE_PORT='99999'"):
        Root.from_environment({"HYPERCUBE_PORT": "99999"})


def test_the_cli_reports_a_bad_environment_in_one_line() -> None:
    result = run_hypercube("doctor", env={"HYPERCUBE_THREADS": "many"})
    assert result.returncode == 1
    assert result.stderr.startswith("hypercube: error: HYPERCUBE_THREADS='many' is not valid")
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_segment_cap_reaches_the_model_updater_and_a_bad_one_is_one_line(
        tmp_path: Path) -> None:
    (updater,) = Root.from_environment({"HYPERCUBE_DATA_DIR": str(tmp_path),
                                        "HYPERCUBE_SEGMENT_TOKENS": "50000"}).listeners()
    assert updater.segment_tokens == 50_000  # type: ignore[attr-defined]
    for bad, why in (("999", "999 is below 1000"), ("lots", "invalid literal")):
        result = run_hypercube("ingest", "--db", tmp_path / "h.db", tmp_path,
                               env={"HYPERCUBE_SEGMENT_TOKENS": bad})
        assert result.returncode == 1
        assert result.stderr.startswith(
            f"hypercube: error: HYPERCUBE_SEGMENT_TOKENS={bad!r} is not valid"), result.stderr
        assert why in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "h.db").exists()   # refused before anything was written


def test_the_root_compiles_kernels_into_its_own_data_folder(tmp_path: Path) -> None:
    # A fresh interpreter: jit caches the kernels per process, so this one's may be loaded.
    code = ("from app.compose import Root\n"
            f"root = Root.from_environment({{'HYPERCUBE_DATA_DIR': {str(tmp_path)!r}}})\n"
            "print(root.kernels.native)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
    assert list((tmp_path / "jit").glob("kernels-*.o"))


def test_an_ingest_with_the_roots_parts_updates_the_model(root: Root,
                                                          small_corpus: Path,
                                                          tmp_path: Path) -> None:
    listeners = root.listeners()
    assert [type(listener) for listener in listeners] == [ModelUpdater]
    updater = listeners[0]
    assert isinstance(updater, ModelUpdater) and updater.kernels is root.kernels
    assert root.analyzers()[0] is not root.analyzers()[0]  # fresh per run: they keep caches
    with Store(tmp_path / "h.db") as store:
        summary = IngestRun(store, IngestOptions(roots=[small_corpus]),
                            analyzers=root.analyzers(), listeners=listeners).run()
        assert summary.status == "done"
        assert updater.last is not None
        assert store.scalar("SELECT COUNT(*) FROM model_segments") >= 1
        assert store.scalar("SELECT COUNT(*) FROM code_symbols") > 0
