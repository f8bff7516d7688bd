"""A file's own project counts more: found from the name a client sends, built once."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.engine.loader import load_engine
from app.ingest import IngestOptions, IngestRun
from app.model.projects import ProjectFocus
from app.store import Store
from jit import kernels
from tests.conftest import make_root

_MODULE = '''"""Helpers of the {name} project."""


def compute_{name}_total(values):
    total = 0
    for value in values:
        total += value
    return total


def report_{name}(values):
    print(compute_{name}_total(values))
    return compute_{name}_total(values) / max(len(values), 1)
'''


def _project(root: Path, name: str, modules: int) -> None:
    (root / name / "src").mkdir(parents=True)
    (root / name / "pyproject.toml").write_text(f'[project]\nname = "{name}"\n', "utf-8")
    for index in range(modules):
        (root / name / "src" / f"mod{index}.py").write_text(_MODULE.format(name=name), "utf-8")
    (root / name / "README.md").write_text(f"# {name}\n\nThe {name} project.\n", "utf-8")


def _ingest(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    _project(corpus, "alpha", modules=4)
    _project(corpus, "beta", modules=6)   # beta's names are the more frequent ones
    # A project that is most of the corpus gains nothing from focus (MAX_SHARE): a third
    # keeps each of the two below that.
    _project(corpus, "gamma", modules=10)
    store_path = tmp_path / "h.db"
    with Store(store_path) as store:
        IngestRun(store, IngestOptions(roots=[corpus]), listeners=make_root().listeners()).run()
    return store_path


def test_a_file_name_finds_its_project(tmp_path: Path) -> None:
    store_path = _ingest(tmp_path)
    with Store(store_path) as store:
        engine = load_engine(store, kernels())
    focus = ProjectFocus(str(store_path), engine.model)
    alpha = focus.project_of(str(tmp_path / "corpus" / "alpha" / "src" / "mod1.py"))
    assert alpha is not None and alpha[-1] == "alpha"
    assert focus.project_of("alpha/src/mod1.py") == alpha           # relative, as editors send
    assert focus.project_of("alpha/src/brand_new.py") == alpha      # not ingested: its folder
    assert focus.project_of("beta/src/mod0.py") not in (None, alpha)
    assert focus.project_of("elsewhere/nothing.py") is None
    assert focus.project_of("") is None


def test_the_project_s_own_names_become_more_likely(tmp_path: Path) -> None:
    store_path = _ingest(tmp_path)
    with Store(store_path) as store:
        engine = load_engine(store, kernels())
    focus = ProjectFocus(str(store_path), engine.model)
    plain = engine.model.for_language("python")
    focused = focus.model_for("python", "alpha/src/new_module.py")
    assert focused is not plain
    assert focus.model_for("python", "alpha/src/other.py") is focused   # built once
    assert focus.model_for(None, "alpha/src/other.py") is engine.model  # no language: no focus
    assert focus.model_for("python", None) is plain

    prompt = engine.tokenizer.encode("def main(values):\n    return compute_")
    alpha = engine.tokenizer.encode("alpha")[0]
    beta = engine.tokenizer.encode("beta")[0]

    def ratio(model) -> float:
        session = model.session()
        session.reset(np.asarray(prompt, dtype=np.int64))
        probs = session.distribution()
        return float(probs[alpha] / probs[beta])

    assert ratio(focused) > ratio(plain)
    beta_focused = focus.model_for("python", "beta/src/new_module.py")
    assert ratio(beta_focused) < ratio(plain)
