"""Hypercube: an offline, embedded local OpenAI endpoint over a SQLite hypercube."""

__version__ = "0.1.0"
