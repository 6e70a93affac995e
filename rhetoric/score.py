"""How formulaic is each document: slogan reuse scores with their evidence.

For each document, over its characters that are not boilerplate or mojibake:

* ``coverage`` - share of characters inside a formula shared with another document or a
  lexicon slogan;
* ``slogans`` - distinct lexicon slogans used, and ``slogans_per_1000``: uses per 1,000
  characters;
* ``near_duplicate_share`` - share of its sentences that have a near duplicate (same meaning,
  other words, calibrated threshold; see :mod:`rhetoric.cluster`) in another document;
* ``repetition`` - share of characters in passages the document repeats itself;
* ``reuse_score = 0.5 x coverage + 0.35 x near_duplicate_share + 0.15 x repetition``, in [0, 1]:
  verbatim set phrases weigh most, reworded reuse next, self-repetition least.

Every figure comes with its evidence (spans in original offsets, the formula or slogan, the
other documents: the earliest ``EVIDENCE_LINKS`` of them and how many in all, since a formula
used in thousands of documents would otherwise list all of them at each of its thousands of
uses).

Usage: ``for row in score_documents(ix, formulas, near_dups): print(row.doc_id, row.reuse_score)``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .formulas import Formula
from .normalize import MASKED

if TYPE_CHECKING:
    from .cluster import NearDuplicate
    from .index import Index
    from .lexicon import Slogan

WEIGHTS = {"coverage": 0.5, "near_duplicate_share": 0.35, "repetition": 0.15}
EVIDENCE_LINKS = 25  # other documents named per piece of evidence (all are counted)


def date_key(date: str | None, doc_id: str) -> tuple[bool, str, str]:
    """Sort key putting dated documents first, earliest first, then undated ones by id."""
    return (date is None, date or "", doc_id)


class _Earliest:
    """A passage's documents earliest first, shared by all its uses (never copied per use)."""

    __slots__ = ("docs", "ordered")

    def __init__(self, docs: set[str], dates: dict[str, str | None]):
        self.docs = docs
        self.ordered = sorted(docs, key=lambda d: date_key(dates.get(d), d))

    def others(self, doc_id: str) -> tuple[list[str], int]:
        """The first ``EVIDENCE_LINKS`` documents other than ``doc_id``, and how many there are."""
        out = [d for d in self.ordered[: EVIDENCE_LINKS + 1] if d != doc_id]
        return out[:EVIDENCE_LINKS], len(self.docs) - (doc_id in self.docs)


@dataclass
class Evidence:
    """One reused passage: where it stands, what it is, who else has it."""

    kind: str  # "formula", "slogan", "semantic" or "repetition"
    start: int
    end: int
    text: str
    what: str  # the formula's or slogan's text, or the other sentence
    other_docs: list[str] = field(default_factory=list)  # earliest first, at most EVIDENCE_LINKS
    score: float | None = None
    n_other_docs: int = 0  # all the other documents that share it

@dataclass
class DocScore:
    """The reuse figures of one document."""

    doc_id: str
    title: str | None
    date: str | None
    chars: int  # characters that count (not boilerplate or mojibake)
    coverage: float
    slogans: int
    slogans_per_1000: float
    near_duplicate_share: float
    repetition: float
    reuse_score: float
    evidence: list[Evidence] = field(default_factory=list)


def union_length(spans: list[tuple[int, int]]) -> int:
    """Characters covered by the union of ``[start, end)`` spans."""
    total, end = 0, -1
    for a, b in sorted(spans):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def score_documents(
    index: Index,
    formulas: Sequence[Formula],
    near_duplicates: Sequence[NearDuplicate] = (),
    lexicon: Sequence[Slogan] | None = None,
) -> list[DocScore]:
    """Score every document of ``index``; rows sorted by ``reuse_score``, highest first."""
    from .lexicon import match_slogans

    evidence: dict[str, list[Evidence]] = defaultdict(list)
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    repeated: dict[str, list[tuple[int, int]]] = defaultdict(list)
    dates = {d.doc_id: d.date for d in index.documents()}
    for f in formulas:
        entries = [(f.text, f.occurrences)] + [(v.text, v.occurrences) for v in f.variants]
        docs = _Earliest({o.doc_id for _, occ in entries for o in occ}, dates)
        for _, occ in entries:
            per_doc: dict[str, int] = defaultdict(int)
            for o in occ:
                per_doc[o.doc_id] += 1
            for o in occ:
                others, n_others = docs.others(o.doc_id)
                if n_others or f.kind == "slogan":
                    spans[o.doc_id].append((o.start, o.end))
                    evidence[o.doc_id].append(
                        Evidence(f.kind, o.start, o.end, o.text, f.text, others, n_other_docs=n_others)
                    )
                if per_doc[o.doc_id] > 1:
                    repeated[o.doc_id].append((o.start, o.end))
    by_sentence: dict[tuple[str, int], list[NearDuplicate]] = defaultdict(list)
    for nd in near_duplicates:
        by_sentence[(nd.a.doc_id, nd.a.sentence)].append(nd)
        by_sentence[(nd.b.doc_id, nd.b.sentence)].append(nd)
    rows = []
    for doc, norm in index.normalized():
        masked = norm.masked()
        chars = sum(c != MASKED and not c.isspace() for c in masked)
        slogan_ids: set[str] = set()
        slogan_uses = 0
        for m in match_slogans(masked, lexicon or []):
            slogan_uses += 1
            a, b = norm.to_original(m.start, m.end)
            slogan_ids.add(m.slogan_id)
            spans[doc.doc_id].append((a, b))
            evidence[doc.doc_id].append(Evidence("slogan", a, b, doc.text[a:b], m.slogan_id))
        sentences = [s for s in index.sentences(doc.doc_id) if s.kind == "text"]
        with_dup = 0
        for s in sentences:
            dups = by_sentence.get((doc.doc_id, s.idx), [])
            if not dups:
                continue
            with_dup += 1
            best = max(dups, key=lambda d: d.score)
            mine, other = (best.a, best.b) if best.a.doc_id == doc.doc_id else (best.b, best.a)
            sharing = _Earliest({(d.b if d.a.doc_id == doc.doc_id else d.a).doc_id for d in dups}, dates)
            others, n_others = sharing.others(doc.doc_id)
            evidence[doc.doc_id].append(
                Evidence("semantic", mine.start, mine.end, mine.text, other.text, others, best.score, n_others)
            )
        coverage = union_length(spans[doc.doc_id]) / chars if chars else 0.0
        near = with_dup / len(sentences) if sentences else 0.0
        rep = union_length(repeated[doc.doc_id]) / chars if chars else 0.0
        parts = {"coverage": min(1.0, coverage), "near_duplicate_share": near, "repetition": min(1.0, rep)}
        reuse = sum(WEIGHTS[k] * v for k, v in parts.items())
        rows.append(
            DocScore(
                doc.doc_id, doc.title, doc.date, chars, round(parts["coverage"], 4), len(slogan_ids),
                round(1000 * slogan_uses / chars, 3) if chars else 0.0, round(near, 4),
                round(parts["repetition"], 4), round(reuse, 4),
                sorted(evidence[doc.doc_id], key=lambda e: (e.start, e.end, e.kind)),
            )
        )
    rows.sort(key=lambda r: (-r.reuse_score, r.doc_id))
    return rows
