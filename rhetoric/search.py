"""Hybrid search: every verbatim use of the query first, then the passages that say the same.

Two channels answer a query:

- **exact** — an SQLite FTS5 trigram index over each sentence's *match key*: its normalised
  Simplified text with everything but letters and digits dropped. So 外防输入、内防扩散 finds
  “外防输入，内防扩散”, 外防輸入、內防擴散 and 外防(wài fáng)输入 alike: normalisation has already
  converted the script and removed inserted pinyin, the key removes quotes and punctuation.
- **semantic** — the FAISS index of sentence and phrase vectors (``Index.semantic_search``).

Fusion rule (``mode="hybrid"``, the default): all exact hits come first, the ones where the
query covers most of the sentence first (then earliest date, then document order); semantic hits
follow in cosine order, skipping sentences already listed. ``Hit.score`` is ``1 + coverage`` for
an exact hit (coverage = query key length / sentence key length, so it lies in (1, 2]) and the
cosine similarity for a semantic one, so sorting by score keeps the rule. ``Hit.match`` says which
channels found the sentence: ``exact``, ``semantic`` or ``exact+semantic``.

Usage::

    with Index.open("index") as ix:
        for hit in ix.search("外防输入、内防扩散", k=10):             # hybrid
            print(hit.match, hit.text[hit.match_start - hit.start : hit.match_end - hit.start])
        ix.search("守土有责", mode="exact", k=100)
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from typing import TYPE_CHECKING

from .errors import IndexError_, RhetoricError
from .normalize import normalize
from .records import Hit

if TYPE_CHECKING:
    from .embed import Embedder
    from .index import Index

MODES = ("hybrid", "exact", "semantic")
KEY_TABLE = "sentence_keys"  # FTS5 table: rowid = sentences.id, one column ``key``
KEY_SCHEMA = f"CREATE VIRTUAL TABLE {KEY_TABLE} USING fts5(key, tokenize='trigram', detail='full');"


def _key_char(ch: str) -> str:
    """The character as it enters a match key ('' when it is left out)."""
    if not ch.isalnum():
        return ""
    folded = unicodedata.normalize("NFKC", ch).lower()
    return folded if len(folded) == 1 and folded.isalnum() else ch.lower()


class _KeyTable(dict):
    """``str.translate`` table of :func:`_key_char`, filled as characters are met (None drops one)."""

    def __missing__(self, code: int) -> str | None:
        self[code] = _key_char(chr(code)) or None
        return self[code]


_KEYS = _KeyTable()


def key_text(text: str) -> str:
    """The match key of normalised ``text`` alone (what the index stores; fast for every sentence).

    Usage: ``key_text("“外防输入，内防扩散”") == "外防输入内防扩散"``.
    """
    return text.translate(_KEYS)


def match_key(text: str) -> tuple[str, list[int]]:
    """The match key of normalised ``text`` and, for each key character, its index in ``text``.

    Usage: ``match_key("“外防输入，内防扩散”")[0] == "外防输入内防扩散"``.
    """
    chars, where = [], []
    for i, ch in enumerate(text):
        k = _KEYS[ord(ch)]
        if k:
            chars.append(k)
            where.append(i)
    return "".join(chars), where


def query_key(query: str) -> str:
    """The match key of a raw query (any script, pinyin and punctuation allowed)."""
    return key_text(normalize(query, flags=False).text)


def locate(text: str, key: str) -> tuple[int, int] | None:
    """Where ``key`` stands in the ORIGINAL ``text`` (a sentence as written), or None.

    ``text`` is normalised on its own (script, pinyin) and keyed; the first occurrence of
    ``key`` is mapped back through both steps. Used for highlighting exact hits.
    """
    norm = normalize(text, flags=False)
    skey, where = match_key(norm.text)
    at = skey.find(key)
    if at < 0 or not key:
        return None
    return norm.to_original(where[at], where[at + len(key) - 1] + 1)


def has_key_table(index: Index) -> bool:
    """Does this index hold the exact-match table (indexes built since format 2 do)?"""
    row = index.db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (KEY_TABLE,)).fetchone()
    return row is not None


def _filters(
    source: str | None, date_from: str | None, date_to: str | None, docs: Collection[str] | None = None
) -> tuple[str, list[str]]:
    where, args = [], []
    if docs is not None:
        docs = list(docs)
        where.append(f"d.doc_id IN ({','.join('?' * len(docs))})" if docs else "0")
        args.extend(docs)
    if source is not None:
        where.append("d.source = ?")
        args.append(source)
    if date_from is not None:
        where.append("d.date >= ?")
        args.append(date_from)
    if date_to is not None:
        where.append("d.date <= ?")
        args.append(date_to)
    return "".join(" AND " + w for w in where), args


def _key_condition(key: str) -> tuple[str, str]:
    """FTS5 condition for sentences whose key contains ``key``."""
    if len(key) >= 3:
        return f"{KEY_TABLE} MATCH ?", '"' + key.replace('"', '""') + '"'
    # Trigrams need three characters; shorter keys fall back to a scan (FTS5's LIKE would too,
    # but SQLite 3.40 answers a trigram LIKE under three characters with no rows at all).
    return "instr(k.key, ?) > 0", key


def exact_count(
    index: Index, query: str, *, source: str | None = None, date_from: str | None = None,
    date_to: str | None = None, docs: Collection[str] | None = None,
) -> int:
    """How many sentences contain ``query`` verbatim (script, punctuation and pinyin aside)."""
    key = _checked_key(index, query)
    cond, arg = _key_condition(key)
    extra, args = _filters(source, date_from, date_to, docs)
    sql = (
        f"SELECT count(*) FROM {KEY_TABLE} k JOIN sentences s ON s.id = k.rowid"
        f" JOIN documents d ON d.id = s.doc WHERE {cond}{extra}"
    )
    return int(index.db.execute(sql, [arg, *args]).fetchone()[0])


def _checked_key(index: Index, query: str) -> str:
    if not has_key_table(index):
        raise IndexError_(
            f"{index.root}: this index predates exact search; run 'rhetoric index build' on the same"
            " documents again to add it (nothing is re-embedded)"
        )
    key = query_key(query)
    if not key:
        raise RhetoricError("empty query: give some words to search for")
    return key


def exact_search(
    index: Index, query: str, k: int = 10, *, source: str | None = None, date_from: str | None = None,
    date_to: str | None = None, docs: Collection[str] | None = None,
) -> list[Hit]:
    """The ``k`` sentences containing ``query`` verbatim, the tightest uses first.

    Order: coverage (query key length / sentence key length) descending, then date, then
    document and sentence order. ``match_start``/``match_end`` give the occurrence itself.
    """
    key = _checked_key(index, query)
    cond, arg = _key_condition(key)
    extra, args = _filters(source, date_from, date_to, docs)
    sql = (
        "SELECT d.doc_id, s.idx, s.text, s.start, s.end, s.norm, d.title, d.date, d.source, length(k.key)"
        f" FROM {KEY_TABLE} k JOIN sentences s ON s.id = k.rowid JOIN documents d ON d.id = s.doc"
        f" WHERE {cond}{extra} ORDER BY length(k.key), d.date IS NULL, d.date, d.doc_id, s.idx LIMIT ?"
    )
    hits = []
    for doc_id, idx, text, start, end, norm, title, date, src, klen in index.db.execute(sql, [arg, *args, k]):
        span = locate(text, key)
        a, b = (start + span[0], start + span[1]) if span else (start, end)
        coverage = round(len(key) / max(klen, 1), 6)
        hits.append(Hit(doc_id, idx, text, start, end, coverage, norm, title, date, src, a, b, "text", "exact"))
    return hits


def search(
    index: Index,
    query: str,
    k: int = 10,
    *,
    mode: str = "hybrid",
    min_score: float | None = None,
    embedder: Embedder | None = None,
    source: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    docs: Collection[str] | None = None,
) -> list[Hit]:
    """Search ``index`` in one of ``MODES``; see the module docstring for the fusion rule.

    ``min_score`` applies to the semantic channel (cosine); exact hits always qualify.
    ``source``, the ISO date range and ``docs`` (document ids) restrict both channels.
    """
    if mode not in MODES:
        raise RhetoricError(f"unknown search mode {mode!r}: choose one of {', '.join(MODES)}")
    if k < 1:
        raise RhetoricError("k must be at least 1")
    if mode != "exact" and embedder is not None and embedder.model_id != index.model_id:
        raise IndexError_(
            f"{index.root}: the index was built with model {index.model_id!r}; "
            f"cannot query it with {embedder.model_id!r}"
        )
    filters = {"source": source, "date_from": date_from, "date_to": date_to, "docs": docs}
    if mode == "semantic":
        return index.semantic_search(query, k, min_score=min_score, embedder=embedder, **filters)
    exact = exact_search(index, query, k, **filters)
    if mode == "exact":
        return exact
    for h in exact:
        h.score = round(1.0 + h.score, 6)
    if len(exact) >= k:
        # The exact channel fills the page; the semantic one could only confirm, not add.
        return exact
    semantic = index.semantic_search(query, k + len(exact), min_score=min_score, embedder=embedder, **filters)
    by_key = {(h.doc_id, h.sentence): h for h in exact}
    out = list(exact)
    for h in semantic:
        twin = by_key.get((h.doc_id, h.sentence))
        if twin is not None:
            twin.match = "exact+semantic"
            twin.semantic_score = h.score
        elif len(out) < k:
            out.append(h)
    return out
