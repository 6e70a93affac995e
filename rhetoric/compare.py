"""Compare two documents: the passages they share, verbatim and in other words.

Usage::

    with Index.open("index") as ix:
        c = compare_documents(ix, "000", "002")
        for p in c.exact: print(p.text, p.a_start, p.b_start)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import RhetoricError
from .formulas import _pieces
from .normalize import MASKED

if TYPE_CHECKING:
    from .cluster import Calibration, NearDuplicate
    from .index import Index


@dataclass
class SharedPassage:
    """A passage both documents hold word for word (normalised), with original offsets."""

    text: str
    a_start: int
    a_end: int
    a_text: str
    b_start: int
    b_end: int
    b_text: str


@dataclass
class Comparison:
    """What two documents share, in the order of document A."""

    doc_a: str
    doc_b: str
    exact: list[SharedPassage] = field(default_factory=list)
    semantic: list[NearDuplicate] = field(default_factory=list)
    calibration: Calibration | None = None


def compare_documents(index: Index, doc_a: str, doc_b: str, *, min_len: int = 4) -> Comparison:
    """Passages shared by ``doc_a`` and ``doc_b``: exact (normalised) and semantic."""
    from .cluster import near_duplicates
    from .repeats import find_repeats

    found = {doc.doc_id: (doc, norm) for doc, norm in index.normalized() if doc.doc_id in (doc_a, doc_b)}
    for d in (doc_a, doc_b):
        if d not in found:
            raise RhetoricError(f"no document {d!r} in {index.root}")
    (da, na), (db, nb) = found[doc_a], found[doc_b]
    texts = [na.masked(), nb.masked()]
    out = Comparison(doc_a, doc_b)
    seen = set()
    for r in find_repeats(texts, min_docs=2, min_len=min_len):
        if r.n_docs < 2:
            continue  # repeated inside one of them only
        for a, b in _pieces(r.text):
            text = r.text[a:b]
            if len(text) < min_len or MASKED in text:
                continue
            oa = next(o for o in r.occurrences if o.doc == 0)
            ob = next(o for o in r.occurrences if o.doc == 1)
            key = (oa.start + a, ob.start + a)
            if key in seen:
                continue
            seen.add(key)
            a0, a1 = na.to_original(oa.start + a, oa.start + b)
            b0, b1 = nb.to_original(ob.start + a, ob.start + b)
            out.exact.append(SharedPassage(text, a0, a1, da.text[a0:a1], b0, b1, db.text[b0:b1]))
    out.exact.sort(key=lambda p: (p.a_start, -len(p.text)))
    dups, cal = near_duplicates(index)
    out.semantic = [
        d for d in dups if {d.a.doc_id, d.b.doc_id} == {doc_a, doc_b}
    ]
    for d in out.semantic:
        if d.a.doc_id != doc_a:
            d.a, d.b = d.b, d.a
    out.semantic.sort(key=lambda d: (d.a.start, -d.score))
    out.calibration = cal
    return out
