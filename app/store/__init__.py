"""The hypercube store: the SQLite file, its schema and its invariants."""

from app.store.database import Store
from app.store.schema import latest_version, migrate

__all__ = ["Store", "latest_version", "migrate"]
