"""The composition root: the one place that decides what Hypercube is made of.

The CLI builds one :class:`Root` per command (``app.cli.main``) and test fixtures build their
own; everything else is handed what it needs — the frozen :class:`~app.settings.Settings`,
the kernels, the analyzers and listeners an ingest runs — instead of reading the environment
or constructing its collaborators itself. This module imports the implementations (code
intelligence, the model's listener, the JIT), which is why nothing below it imports it: the
plugin shapes they satisfy live in :mod:`app.ingest.protocols`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.settings import Settings

if TYPE_CHECKING:
    from app.ingest import Analyzer, IngestPlugins, Progress, RunListener
    from jit import Kernels


@dataclass(frozen=True)
class Root:
    """The settings and the parts built from them (each built once, on first use).

    The parts are imported where they are first built, so a command that needs none of them
    (``hypercube health``, ``--help``) does not pay for tree-sitter or llvmlite.
    """

    settings: Settings

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Root:
        """The root over ``HYPERCUBE_…`` variables (``os.environ`` by default).

        Raises:
            InvalidRequest: an unknown ``HYPERCUBE_…`` variable or an invalid value.
        """
        return cls(Settings.from_environment(environ))

    @functools.cached_property
    def kernels(self) -> Kernels:
        """The native kernels (compiled on first use, cached in the data folder), else the
        reference ones with a warning."""
        from jit import kernels

        return kernels(self.settings.jit_cache_dir)

    @property
    def reference_kernels(self) -> Kernels:
        """The numpy reference kernels (what the native ones are checked and timed against)."""
        from jit import kernels

        return kernels(native=False)

    def analyzers(self) -> list[Analyzer]:
        """Fresh analyzers for one ingest run (each keeps per-run caches)."""
        from app.code import CodeAnalyzer

        return [CodeAnalyzer()]

    def listeners(self) -> list[RunListener]:
        """Fresh listeners for one ingest run: the model catches up after it."""
        from app.model.listener import ModelUpdater

        return [ModelUpdater(self.kernels, self.settings.get("segment_tokens"))]

    @property
    def plugins(self) -> IngestPlugins:
        """:meth:`analyzers` and :meth:`listeners` as one value, for the HTTP API's runs."""
        from app.ingest import IngestPlugins

        return IngestPlugins(self.analyzers, self.listeners)

    @property
    def default_hypercube_path(self) -> Path:
        """Where this install's default hypercube is (or will be built)."""
        from app.default_hypercube import default_hypercube_path

        return default_hypercube_path(self.settings.data_dir)

    def ensure_default_hypercube(self, on_progress: Callable[[Progress], None] | None = None,
                                 *, prebuilt_folder: Path | None = None) -> Path:
        """The default hypercube's path, built (or copied from the shipped one) first if
        this install has none yet; see :func:`app.default_hypercube.ensure_default_hypercube`."""
        from app.default_hypercube import ensure_default_hypercube

        return ensure_default_hypercube(self.settings.data_dir, self.analyzers(),
                                        self.listeners(), on_progress,
                                        prebuilt_folder=prebuilt_folder)

    def build_prebuilt(self, folder: Path) -> Path:
        """The default hypercube made ready to ship in ``folder`` (for the executable's
        build); see :func:`app.default_hypercube.build_prebuilt`."""
        from app.default_hypercube import build_prebuilt

        return build_prebuilt(folder, self.ensure_default_hypercube)
