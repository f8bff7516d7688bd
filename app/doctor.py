"""``hypercube doctor``: is this installation able to do its job, and if not, why not."""

from __future__ import annotations

import importlib
import platform
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from app import __version__
from app.settings import Settings

GRAMMAR_MODULES = {
    "python": "tree_sitter_python", "javascript": "tree_sitter_javascript",
    "typescript": "tree_sitter_typescript", "csharp": "tree_sitter_c_sharp",
    "go": "tree_sitter_go", "rust": "tree_sitter_rust", "java": "tree_sitter_java",
    "c": "tree_sitter_c", "cpp": "tree_sitter_cpp",
}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True


def _check_python(settings: Settings) -> Check:
    ok = sys.version_info >= (3, 11)
    return Check("python", ok, f"{platform.python_implementation()} {platform.python_version()}")


def _check_sqlite(settings: Settings) -> Check:
    import apsw

    conn = apsw.Connection(":memory:")
    options = {row[0] for row in conn.execute("PRAGMA compile_options")}
    fts5 = "ENABLE_FTS5" in options
    conn.close()
    return Check("sqlite", fts5, f"SQLite {apsw.sqlite_lib_version()} via APSW "
                                 f"{apsw.apsw_version()}, FTS5 {'yes' if fts5 else 'missing'}")


def _check_llvm(settings: Settings) -> Check:
    try:
        import llvmlite
        import llvmlite.binding as llvm

        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        target = llvm.Target.from_default_triple().create_target_machine()
        module = llvm.parse_assembly("define i64 @f(i64 %x) {\n  ret i64 %x\n}")
        engine = llvm.create_mcjit_compiler(module, target)
        engine.finalize_object()
        ok = engine.get_function_address("f") != 0
        detail = f"llvmlite {llvmlite.__version__}, LLVM {llvm.llvm_version_info}, "\
                 f"target {llvm.get_default_triple()}"
    except Exception as exc:  # any failure means: kernels fall back to numpy
        return Check("jit", False, f"native kernels unavailable ({exc}); numpy fallback",
                     required=False)
    return Check("jit", ok, detail, required=False)


def _check_grammars(settings: Settings) -> Check:
    missing = []
    for language, module in GRAMMAR_MODULES.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(language)
    import tree_sitter

    detail = f"tree-sitter {getattr(tree_sitter, '__version__', '?')}, " + (
        f"missing grammars: {', '.join(missing)}" if missing else
        f"{len(GRAMMAR_MODULES)} grammars")
    return Check("grammars", not missing, detail)


def _check_data_dir(settings: Settings) -> Check:
    folder = settings.data_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return Check("data folder", False, f"{folder} is not writable: {exc.strerror}")
    return Check("data folder", True, str(folder))


def _check_user_db(settings: Settings) -> Check:
    path = settings.user_db_path
    if not path.exists():
        return Check("your hypercube", True, f"{path} (none yet: `hypercube ingest PATH` "
                                             "creates it; until then the default one serves)",
                     required=False)
    from app.store import Store
    from app.store.inspect import info

    with Store(path) as store:
        counts = info(store)["counts"]
    return Check("your hypercube", True, f"{path}: {counts['documents']:,} documents",
                 required=False)


def _check_default(settings: Settings) -> Check:
    from app.default_hypercube import default_hypercube_path, shipped_prebuilt, starter_archives

    archives = starter_archives()
    built = default_hypercube_path(settings.data_dir)
    state = "built" if built.exists() else (
        "copied from this build's prebuilt file on first use" if shipped_prebuilt()
        else "built on first use")
    names = ", ".join(a.name for a in archives) or "no starter corpus"
    return Check("default hypercube", bool(archives), f"{names}; {state}: {built}")


def _check_display(settings: Settings) -> Check:
    # Tried for real (Qt in a child process on Linux): a display variable alone says nothing
    # about whether the platform plugin loads.
    from app.ui.desktop import check_gui

    gui = check_gui()
    if gui.ok:
        size = f" ({gui.screen.width}×{gui.screen.height} screen)" if gui.screen else ""
        return Check("desktop window", True, f"a window can open here{size}", required=False)
    return Check("desktop window", False,
                 f"{gui.reason}: `hypercube app` opens a browser or serves headless",
                 required=False)


def _check_dialects(settings: Settings) -> Check:
    """The API dialects ``hypercube serve`` speaks, from the routes it registers."""
    from app.api.dialects.routes import DIALECTS

    names = ["OpenAI (/v1)", *(f"{name}: {what}" for name, what in DIALECTS.items())]
    return Check("api dialects", True, "; ".join(names), required=False)


# Each check is given the settings; most need none of them.
CHECKS: list[Callable[[Settings], Check]] = [
    _check_python, _check_sqlite, _check_llvm, _check_grammars, _check_data_dir,
    _check_default, _check_user_db, _check_display, _check_dialects,
]


def run_checks(settings: Settings) -> list[Check]:
    results = []
    for check in CHECKS:
        try:
            results.append(check(settings))
        except Exception as exc:  # a doctor reports a broken part rather than dying of it
            results.append(Check(check.__name__.removeprefix("_check_"), False, str(exc)))
    return results


def summary_line(results: list[Check]) -> str:
    failed = [r.name for r in results if r.required and not r.ok]
    return f"hypercube {__version__}: " + (
        "ready" if not failed else f"not ready: {', '.join(failed)}")



