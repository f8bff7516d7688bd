"""The `hypercube` command as users run it: exit codes, exact output, rows written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from app.cli import build_parser
from tests.conftest import REPO, run_hypercube

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def ingested(tmp_path: Path, small_corpus: Path, cli: Cli) -> Path:
    db = tmp_path / "h.db"
    code, out, err = cli("ingest", "-q", "--db", db, small_corpus)
    assert code == 0, err
    assert out.startswith("done: 25 added, 0 changed, 0 unchanged, 0 removed, 0 skipped;")
    return db


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"ingest", "tokenize", "db"} <= set(commands)
    for name in commands:
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([name, "--help"])
        assert exit_info.value.code == 0
        assert "usage: hypercube " + name in capsys.readouterr().out


def test_tokenize_json_concatenates_back(ingested: Path, cli: Cli) -> None:
    text = "def total(count):  # Café 😀\n"
    code, out, _ = cli("tokenize", "--json", "--db", ingested, text)
    assert code == 0
    result = json.loads(out)
    assert set(result) == {"ids", "tokens"}
    assert len(result["ids"]) == len(result["tokens"]) < len(text)
    assert "".join(result["tokens"]) == text
    assert all(isinstance(i, int) for i in result["ids"])


def test_db_info_json_counts_depend_only_on_content(tmp_path: Path, small_corpus: Path,
                                                    ingested: Path, cli: Cli) -> None:
    code, out, _ = cli("db", "info", "--json", "--db", ingested)
    assert code == 0
    first = json.loads(out)
    assert first["counts"]["documents"] == 25
    assert first["counts"]["vocabulary"] > 256
    assert first["schema_version"] >= 1
    other = tmp_path / "other.db"
    assert cli("ingest", "-q", "--db", other, small_corpus)[0] == 0
    second = json.loads(cli("db", "info", "--json", "--db", other)[1])
    assert second["counts"] == first["counts"]


def test_db_check_and_vacuum(ingested: Path, cli: Cli) -> None:
    code, out, _ = cli("db", "check", "--db", ingested)
    assert (code, out.strip().splitlines()[-1]) == (0, "ok")
    code, out, _ = cli("db", "check", "--json", "--db", ingested)
    assert json.loads(out) == {"ok": True, "findings": []}
    code, out, _ = cli("db", "vacuum", "--db", ingested)
    assert code == 0 and out.startswith("vacuumed: ")


def test_missing_database_is_one_clear_line(tmp_path: Path, cli: Cli) -> None:
    code, out, err = cli("db", "info", "--db", tmp_path / "nope.db")
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert err.startswith("hypercube: error: no hypercube at ")


def test_ingest_reports_skips_on_stderr(tmp_path: Path, cli: Cli) -> None:
    root = tmp_path / "mixed"
    root.mkdir()
    (root / "ok.txt").write_text("fine\n")
    (root / "blob.bin").write_bytes(b"\x00\x01\x02")
    code, out, err = cli("ingest", "-q", "--db", tmp_path / "h.db", root, tmp_path / "absent")
    assert code == 0
    assert f"skipped {root / 'blob.bin'}: binary file" in err
    assert f"skipped {tmp_path / 'absent'}: does not exist" in err
    assert out.startswith("done: 1 added")


def test_lone_surrogate_argument_is_rejected(ingested: Path) -> None:
    # Invalid UTF-8 on the command line arrives as a lone surrogate (surrogateescape).
    result = run_hypercube("tokenize", "--db", ingested, "ab\udcff")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "hypercube: error: text is not valid Unicode: lone surrogate U+DCFF at character 2")


def test_unknown_setting_in_environment_fails(ingested: Path) -> None:
    result = run_hypercube("db", "info", "--db", ingested, env={"HYPERCUBE_PROT": "1"})
    assert result.returncode == 1
    assert "unknown setting HYPERCUBE_PROT" in result.stderr


def test_bad_usage_exits_2(cli: Cli) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli("ingest")
    assert exit_info.value.code == 2


def test_doctor_reports_every_part(cli: Cli) -> None:
    code, out, _ = cli("doctor", "--json")
    report = json.loads(out)
    names = [c["name"] for c in report["checks"]]
    assert names[:4] == ["python", "sqlite", "jit", "grammars"]
    assert report["ok"] is (code == 0)
    sqlite = next(c for c in report["checks"] if c["name"] == "sqlite")
    assert sqlite["ok"] and "FTS5 yes" in sqlite["detail"]


def test_bench_reports_every_figure(ingested: Path, cli: Cli) -> None:
    code, out, _ = cli("bench", "--json", "--repeat", "1", "--db", ingested)
    assert code == 0
    report = json.loads(out)
    assert set(report) == {
        "native_kernels", "jit_compile_seconds", "jit_from_cache", "load_seconds",
        "generate_tokens_per_second", "completion_64_p50_ms", "completion_64_p95_ms",
        "score_tokens_per_second", "reference_completion_64_p50_ms", "jit_speedup",
        "peak_rss_mb"}
    assert all(report[k] > 0 for k in ("load_seconds", "generate_tokens_per_second",
                                       "completion_64_p50_ms", "score_tokens_per_second",
                                       "reference_completion_64_p50_ms", "peak_rss_mb"))
    code, _, err = cli("bench", "--repeat", "0", "--db", ingested)
    assert code == 1 and err == "hypercube: error: --repeat must be at least 1\n"


def test_readme_documents_every_command_and_setting() -> None:
    from app.settings import SETTINGS

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in commands:
        assert f"hypercube {name}" in readme or f"`{name}`" in readme, name
    for setting in SETTINGS.values():
        assert f"`{setting.env}`" in readme, setting.env
