"""Ingestion: files and folders into the hypercube."""

from app.ingest.pipeline import IngestOptions, IngestRun, Progress, RunSummary
from app.ingest.protocols import Analyzer, IngestedDocument, IngestPlugins, RunListener

__all__ = [
    "Analyzer",
    "IngestOptions",
    "IngestPlugins",
    "IngestRun",
    "IngestedDocument",
    "Progress",
    "RunListener",
    "RunSummary",
]
