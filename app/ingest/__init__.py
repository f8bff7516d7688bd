"""Ingestion: files and folders into the hypercube."""

from app.ingest.hooks import (
    Analyzer,
    IngestedDocument,
    RunListener,
    default_analyzers,
    default_listeners,
)
from app.ingest.pipeline import IngestOptions, IngestRun, Progress, RunSummary

__all__ = [
    "Analyzer",
    "IngestOptions",
    "IngestRun",
    "IngestedDocument",
    "Progress",
    "RunListener",
    "RunSummary",
    "default_analyzers",
    "default_listeners",
]
