"""Records that cross module lines. Plain dataclasses; ``dataclasses.asdict`` gives ``--json``.

Usage: ``Document(doc_id="000", text="...")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Document:
    """One input document as read from disk, before normalisation.

    ``text`` is the decoded original; every offset elsewhere points into it.
    """

    doc_id: str
    text: str
    title: str | None = None
    date: str | None = None  # ISO "YYYY-MM-DD" when known
    source: str | None = None
    path: str | None = None  # where it came from ("file.jsonl:12" for a record)
    encoding: str | None = None  # detected encoding of a text file


@dataclass(frozen=True)
class Span:
    """A flagged region of a document in ORIGINAL offsets: ``text[start:end]``."""

    start: int
    end: int
    kind: str  # "mojibake", "boilerplate" or "pinyin"


@dataclass
class Sentence:
    """A sentence (or clause) of a document.

    ``text`` is the original text (``doc.text[start:end] == text``); ``norm`` is the
    normalised Simplified text used for matching and embedding. ``kind`` is "text" for
    sentences that count, or "boilerplate" / "mojibake" for ones kept out of matching.
    """

    doc_id: str
    idx: int
    text: str
    norm: str
    start: int
    end: int
    kind: str = "text"
    clauses: list[tuple[int, int]] = field(default_factory=list)  # original offsets
    clause_norms: list[str] = field(default_factory=list)  # matching text of each clause


@dataclass
class Hit:
    """One search result. ``text == original_doc[start:end]``."""

    doc_id: str
    sentence: int
    text: str
    start: int
    end: int
    score: float
    norm: str = ""
    title: str | None = None
    date: str | None = None
    source: str | None = None
    match_start: int | None = None  # the part that matched (a phrase, or the whole sentence)
    match_end: int | None = None
    via: str = "sentence"  # unit that matched: "sentence" or "phrase" (vectors), "text" (verbatim)
    match: str = "semantic"  # channel(s) that found it: "exact", "semantic" or "exact+semantic"
    semantic_score: float | None = None  # cosine similarity, when the semantic channel found it
