"""Split a normalised document into sentences and clauses, with original offsets.

Sentences end at 。！？；…, at line breaks, and take closing quotes and brackets with them;
a terminator inside “…” does not end the sentence unless the quote stays open too long.
Clauses split a sentence further at ，、：. Each sentence knows whether it counts ("text") or
is mostly boilerplate or mojibake.

Usage: ``sentences = segment(doc, normalize(doc.text))``.
"""

from __future__ import annotations

from .normalize import Normalized
from .records import Document, Sentence

_TERMINATORS = set("。！？；…")
_CLOSERS = set("”’」』）》】\"'")
_OPEN_Q, _CLOSE_Q = "“‘「『", "”’」』"
_CLAUSE_MARKS = set("，、：")
_MAX_QUOTE = 300  # a quote open longer than this is taken as unbalanced
_FLAG_SHARE = 0.5  # a sentence this much boilerplate/mojibake does not count


def _closes(text: str, i: int) -> bool:
    """Is the quote opened at ``i`` closed on the same line, within ``_MAX_QUOTE``?"""
    end = text.find("\n", i, i + _MAX_QUOTE)
    window = text[i + 1 : end if end >= 0 else i + _MAX_QUOTE]
    return any(c in _CLOSE_Q for c in window)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence ranges of ``text``, trimmed of surrounding white space, empty ones dropped."""
    out: list[tuple[int, int]] = []
    start, depth, opened_at = 0, 0, -1
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _OPEN_Q and _closes(text, i):
            if depth == 0:
                opened_at = i
            depth += 1
        elif ch in _CLOSE_Q and depth:
            depth -= 1
        if depth and i - opened_at > _MAX_QUOTE:
            depth = 0  # a quote that runs on and on: stop honouring it
        if ch == "\n":
            out.append((start, i))
            start, depth = i + 1, 0
        elif ch in _TERMINATORS and depth == 0:
            j = i + 1
            while j < n and (text[j] in _TERMINATORS or text[j] in _CLOSERS):
                j += 1
            out.append((start, j))
            start = i = j
            continue
        i += 1
    out.append((start, n))
    trimmed = []
    for a, b in out:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            trimmed.append((a, b))
    return trimmed


def split_clauses(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Clause ranges inside ``text[start:end]`` (marks stay with the clause they close)."""
    out, a = [], start
    for i in range(start, end):
        if text[i] in _CLAUSE_MARKS:
            out.append((a, i + 1))
            a = i + 1
    if a < end:
        out.append((a, end))
    return [(x, y) for x, y in out if y > x]


def segment(doc: Document, norm: Normalized) -> list[Sentence]:
    """Sentences of ``doc``; ``norm`` must be ``normalize(doc.text)``.

    ``Sentence.norm`` is the sentence's normalised text with flagged characters (mojibake,
    boilerplate) left out: that is what gets matched and embedded.
    """
    text = norm.text
    bad = {k: norm.flag_mask(k) for k in ("mojibake", "boilerplate")}
    sentences: list[Sentence] = []
    for a, b in split_sentences(text):
        if not any(c.isalnum() for c in text[a:b]):
            continue
        shares = {k: sum(m[a:b]) / (b - a) for k, m in bad.items()}
        kind = "text"
        for k in ("mojibake", "boilerplate"):
            if shares[k] >= _FLAG_SHARE:
                kind = k
        def clean(x: int, y: int) -> str:
            flags = zip(text[x:y], bad["mojibake"][x:y], bad["boilerplate"][x:y])
            return "".join(c for c, m1, m2 in flags if not (m1 or m2))

        start, end = norm.to_original(a, b)
        parts = split_clauses(text, a, b)
        sentences.append(
            Sentence(
                doc.doc_id, len(sentences), doc.text[start:end], clean(a, b), start, end, kind,
                [norm.to_original(x, y) for x, y in parts], [clean(x, y) for x, y in parts],
            )
        )
    return sentences
