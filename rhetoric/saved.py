"""Saved analyses: a report's analysis kept beside its index, so the next report starts at once.

Mining formulas, near duplicates and clusters over a large corpus takes minutes (about 100 s
for 15,000 articles); the result depends only on the index's files, the lexicon, the
parameters and the analysis code. :func:`load` and :func:`save` keep it under
``<index>/analysis/`` as gzipped JSON (plain data, never pickle: an index folder may come from
someone else), named by a key over all of those:

* the index's content (the manifest's checksums of its SQLite and FAISS files), so a rebuild,
  even one that reuses a generation's name, never meets an old analysis;
* the lexicon entries, ``min_docs``, ``threshold`` and ``semantic``;
* the source of the modules that compute the analysis, so upgrading rhetoric (or editing it)
  recomputes instead of serving results of older code.

Saving is best-effort: a read-only index folder only means no reuse. Writes are atomic
(temporary file, then ``os.replace``); saving drops the analyses of other index contents or
code versions.

Usage: ``a = load(ix, key) or compute(); save(ix, key, a)`` with ``key = analysis_key(ix, ...)``.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import types
import typing
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .atomic import open_temp

if TYPE_CHECKING:
    from .index import Index
    from .lexicon import Slogan
    from .report import Analysis

FORMAT = 1
FOLDER = "analysis"
# The modules whose code decides what an analysis holds.
_MODULES = ("formulas", "repeats", "lexicon", "cluster", "score", "report", "normalize", "segment", "saved")


@lru_cache(maxsize=1)
def _code_hash() -> str:
    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in _MODULES:
        h.update((here / f"{name}.py").read_bytes())
    return h.hexdigest()


def analysis_key(
    index: Index, lexicon: typing.Sequence[Slogan], *, min_docs: int, threshold: float | None, semantic: bool
) -> str:
    """The name an analysis of ``index`` with these settings is saved under."""
    what = {
        "format": FORMAT,
        "code": _code_hash(),
        "index": index.manifest.get("checksums", {}),
        "generation": index.manifest.get("generation"),
        "model": index.model_id,
        "lexicon": [dataclasses.asdict(s) for s in lexicon],
        "min_docs": min_docs,
        "threshold": threshold,
        "semantic": semantic,
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:24]


def _content_id(index: Index) -> str:
    """The index's content and the analysis code: a saved analysis without both is never read again."""
    sums = json.dumps(index.manifest.get("checksums", {}), sort_keys=True) + _code_hash()
    return hashlib.sha256(sums.encode()).hexdigest()[:16]


def _path(index: Index, key: str) -> Path:
    return Path(index.root) / FOLDER / f"{_content_id(index)}-{key}.json.gz"


# -- plain data <-> dataclasses ------------------------------------------------------------


@cache
def _hints(cls: type) -> dict[str, Any]:
    from .cluster import Calibration, Cluster, ClusterResult, Member, NearDuplicate, SentenceRef
    from .formulas import Formula, Occurrence, Variant
    from .lexicon import Slogan
    from .score import DocScore, Evidence

    names = {c.__name__: c for c in (Calibration, Cluster, ClusterResult, Member, NearDuplicate, SentenceRef,
                                     Formula, Occurrence, Variant, Slogan, DocScore, Evidence)}
    return typing.get_type_hints(cls, localns=names)


def _same(value: Any) -> Any:
    return value


@cache
def _decoder(hint: Any) -> typing.Callable[[Any], Any]:
    """A function turning plain data (as ``json`` gives it) back into the type ``hint`` describes.

    Built once per type: an analysis of a large corpus holds millions of records.
    """
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        hints = _hints(hint)
        parts = [(f.name, _decoder(hints[f.name])) for f in dataclasses.fields(hint) if f.init]

        def record(value: Any) -> Any:
            return hint(**{name: dec(value[name]) for name, dec in parts if name in value})

        return _or_none(record)
    if origin in (typing.Union, types.UnionType):
        real = [a for a in typing.get_args(hint) if a is not type(None)]
        return _decoder(real[0]) if len(real) == 1 else _same
    args = typing.get_args(hint)
    if origin in (list, tuple, set, frozenset):
        item = _decoder(args[0]) if args and args[0] is not Ellipsis else _same
        if item is _same:
            return _or_none(origin)
        if origin is list:
            return _or_none(lambda value: [item(v) for v in value])
        return _or_none(lambda value: origin(item(v) for v in value))
    if origin is dict:
        item = _decoder(args[1])
        if item is _same:
            return _or_none(dict)
        return _or_none(lambda value: {k: item(v) for k, v in value.items()})
    return _same


def _or_none(fn: typing.Callable[[Any], Any]) -> typing.Callable[[Any], Any]:
    return lambda value: None if value is None else fn(value)


def _decode(hint: Any, value: Any) -> Any:
    """``value`` (as ``json`` gives it) turned back into the type ``hint`` describes."""
    return _decoder(hint)(value)


_SCALARS = (str, int, float, bool, type(None))


@cache
def _field_names(cls: type) -> tuple[str, ...] | None:
    return tuple(f.name for f in dataclasses.fields(cls)) if dataclasses.is_dataclass(cls) else None


def _encode(value: Any) -> Any:
    """Plain data (dicts, lists, scalars) for ``json``; a dataclass becomes a dict of its fields."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [v if isinstance(v, _SCALARS) else _encode(v) for v in value]
    if isinstance(value, dict):
        return {k: v if isinstance(v, _SCALARS) else _encode(v) for k, v in value.items()}
    names = _field_names(type(value))
    if names is None:
        raise TypeError(f"cannot save a {type(value).__name__}")
    return {n: _encode(getattr(value, n)) for n in names}


# -- load and save -------------------------------------------------------------------------


def load(index: Index, key: str) -> Analysis | None:
    """The analysis saved under ``key`` for this index's content, or None (missing or unreadable)."""
    from .report import Analysis, _paused_gc

    path = _path(index, key)
    try:
        with _paused_gc():  # millions of new objects, none of them garbage: a third faster
            data = json.loads(gzip.decompress(path.read_bytes()))
            if data.get("format") != FORMAT or data.get("key") != key:
                return None
            analysis = _decode(Analysis, data["analysis"])
    except (OSError, EOFError, ValueError, KeyError, TypeError):
        return None  # absent, half-copied or from elsewhere: compute it again
    analysis.from_saved = True
    return analysis


def save(index: Index, key: str, analysis: Analysis) -> Path | None:
    """Save ``analysis`` atomically under ``key``; return the file, or None when the folder is not writable."""
    from .report import _paused_gc

    path = _path(index, key)
    with _paused_gc():
        data = {"format": FORMAT, "key": key, "analysis": _encode(analysis)}
    data["analysis"].pop("from_saved", None)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = open_temp(path.parent, ".analysis-")
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=3) as gz:
            gz.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        os.replace(tmp, path)
        tmp = None
        # Analyses of other index contents, or by other code, can never be read again.
        for old in path.parent.glob("*.json.gz"):
            if not old.name.startswith(_content_id(index) + "-"):
                old.unlink(missing_ok=True)
    except OSError:
        return None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return path
