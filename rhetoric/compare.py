"""Compare two documents: the passages they share, verbatim and in other words.

Verbatim: maximal repeats of the two normalised texts. In other words: each sentence or
phrase vector of one document searches the other document alone (``Index.nearest``, the
search's semantic channel restricted to one document); a pair counts when each passage is the
other's best match and the cosine clears the calibrated near-duplicate threshold (the one
``near_duplicates`` uses). Nothing else in the corpus is searched, so comparing two documents
of a large index costs a few searches per passage, not a corpus-wide neighbour search.

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


def compare_documents(
    index: Index, doc_a: str, doc_b: str, *, min_len: int = 4, threshold: float | None = None
) -> Comparison:
    """Passages shared by ``doc_a`` and ``doc_b``: exact (normalised) and semantic.

    ``threshold`` (cosine) overrides the calibrated one for the semantic part.
    """
    from .cluster import calibrate_index
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
    cal = calibrate_index(index)
    if threshold is not None:
        cal.threshold, cal.method = threshold, "given by the user"
    out.semantic = _mutual_best(index, doc_a, doc_b, cal.threshold, db.text)
    out.semantic.sort(key=lambda d: (d.a.start, -d.score))
    out.calibration = cal
    return out


def _mutual_best(index: Index, doc_a: str, doc_b: str, threshold: float, text_b: str) -> list[NearDuplicate]:
    """Passage pairs of the two documents that are each other's nearest, at or above ``threshold``."""
    from .cluster import NearDuplicate, SentenceRef

    # passage (sentence, start, end) -> (its best match's passage key, cosine, passage ref)
    best: dict[str, dict[tuple[int, int, int], tuple[tuple[int, int, int], float, SentenceRef]]] = {}
    for doc, other in ((doc_a, doc_b), (doc_b, doc_a)):
        mine = best.setdefault(doc, {})
        for vec, ref in index.vector_owners(docs=[doc]):
            hits = index.nearest(index.faiss.reconstruct(vec), 1, docs=[other], min_score=threshold)
            if hits:
                h = hits[0]
                key = (ref.sentence, ref.start, ref.end)
                if key not in mine or h.score > mine[key][1]:
                    mine[key] = ((h.sentence, h.match_start, h.match_end), h.score, ref)
    out = []
    for key_a, (key_b, score, ref_a) in best[doc_a].items():
        back = best[doc_b].get(key_b)
        if back is not None and back[0] == key_a:
            sentence, start, end = key_b
            ref_b = SentenceRef(doc_b, sentence, start, end, text_b[start:end])
            out.append(NearDuplicate(ref_a, ref_b, round(score, 4)))
    return out
