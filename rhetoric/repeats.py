"""Maximal repeated substrings shared across documents (suffix array + LCP intervals).

A *repeat* is a substring that occurs in at least ``min_docs`` documents, or at least
``min_repeats_in_doc`` times without overlap inside one document. Only *maximal* repeats are
reported: extending one by a character on either side would lose an occurrence. So when
"外防输入、内防扩散" is shared everywhere, its fragments ("防输入、内防") are not reported unless
they also occur somewhere else.

Usage::

    reps = find_repeats([doc_a, doc_b, doc_c], min_docs=2)
    reps[0].text, reps[0].n_docs, reps[0].occurrences[0]

Algorithm (linear or near-linear, no n-gram is ever materialised):

1. The texts are joined, code points mapped to dense ranks, and cut at the barriers
   (``BARRIERS``): each segment too short to hold a repeat is dropped, and every kept segment is
   followed by its own unique sentinel, so no common prefix runs past a sentence end or a
   document boundary.
2. Suffix array by SA-IS (induced sorting, O(n)) and LCP array by Kasai's algorithm (O(n)).
3. One bottom-up pass over the LCP intervals (the internal nodes of the suffix tree, so every
   interval is right-maximal) with a stack; each interval also carries whether its suffixes are
   all preceded by one character, which tells left-maximality. Maximal intervals are trimmed of
   leading/trailing punctuation and whitespace, length-checked, and their documents counted.
4. Repeats whose trimmed texts coincide are merged. The one whose occurrences are a superset of
   the others' is always among them (it is the closure of the trimmed text), so merging keeps it.

The heavy loops run under numba.
"""

from __future__ import annotations

import gc
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numba as nb
import numpy as np

BARRIERS = "\n\x00。！？；!?;"
"""No repeat crosses these characters (sentence ends, line breaks, masked text)."""

_KEEP_AT_EDGES = frozenset("%‰")  # punctuation by category, but part of a figure ("增长5%")

_EMPTY = -3  # left-context state of an interval with no leaf yet
_MIXED = -2  # suffixes preceded by different characters (or by a unique one): left-maximal


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One occurrence of a repeat: ``texts[doc][start:end]``."""

    doc: int
    start: int
    end: int


@dataclass(slots=True)
class Repeat:
    """A maximal repeated substring and where it occurs.

    Attributes:
        text: The repeated text (no barrier inside, no punctuation or space at either end).
        occurrences: Every occurrence sorted by ``(doc, start)``; at most ``max_occurrences``
            of them when the caller capped it (``n_docs`` stays exact).
        n_docs: Number of distinct documents it occurs in.
    """

    text: str
    occurrences: list[Occurrence]
    n_docs: int


def is_edge_char(ch: str) -> bool:
    """True for a character a repeat may not start or end with (punctuation, space, control)."""
    if ch in _KEEP_AT_EDGES:
        return False
    return ch.isspace() or unicodedata.category(ch)[0] in "PZC"


# --------------------------------------------------------------------------- suffix array


@nb.njit(cache=True)
def _classify(t: np.ndarray) -> np.ndarray:
    """SA-IS suffix types: 1 = S (smaller than its successor), 0 = L."""
    n = t.shape[0]
    stype = np.zeros(n, np.uint8)
    stype[n - 1] = 1
    for i in range(n - 2, -1, -1):
        if t[i] < t[i + 1] or (t[i] == t[i + 1] and stype[i + 1] == 1):
            stype[i] = 1
    return stype


@nb.njit(cache=True)
def _bucket_bounds(t: np.ndarray, k: int, ends: bool) -> np.ndarray:
    counts = np.zeros(k + 1, np.int64)
    for c in t:
        counts[c + 1] += 1
    for c in range(k):
        counts[c + 1] += counts[c]
    # counts[c] is the head of bucket c, counts[c + 1] one past its tail
    return counts[1:].copy() if ends else counts[:-1].copy()


@nb.njit(cache=True)
def _is_lms(stype: np.ndarray, i: int) -> bool:
    return i > 0 and stype[i] == 1 and stype[i - 1] == 0


@nb.njit(cache=True)
def _induce(t: np.ndarray, sa: np.ndarray, stype: np.ndarray, k: int) -> None:
    """Induce L-type then S-type suffixes from the LMS suffixes already placed in ``sa``."""
    n = t.shape[0]
    heads = _bucket_bounds(t, k, False)
    for i in range(n):
        j = sa[i] - 1
        if sa[i] > 0 and stype[j] == 0:
            sa[heads[t[j]]] = j
            heads[t[j]] += 1
    tails = _bucket_bounds(t, k, True)
    for i in range(n - 1, -1, -1):
        j = sa[i] - 1
        if sa[i] > 0 and stype[j] == 1:
            tails[t[j]] -= 1
            sa[tails[t[j]]] = j


@nb.njit(cache=True)
def _sort_lms_substrings(t: np.ndarray, stype: np.ndarray, k: int) -> np.ndarray:
    """First SA-IS pass: ``sa`` with the LMS substrings sorted (other entries induced too)."""
    n = t.shape[0]
    sa = np.full(n, -1, np.int32)
    tails = _bucket_bounds(t, k, True)
    for i in range(n - 1, 0, -1):
        if _is_lms(stype, i):
            tails[t[i]] -= 1
            sa[tails[t[i]]] = i
    _induce(t, sa, stype, k)
    return sa


@nb.njit(cache=True)
def _name_lms(
    t: np.ndarray, sa: np.ndarray, stype: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """Name the sorted LMS substrings; returns (reduced string, LMS positions, name count)."""
    n = t.shape[0]
    names = np.full(n // 2 + 1, -1, np.int32)  # LMS positions are never adjacent: index i // 2
    n_lms = 0
    for i in range(1, n):
        if _is_lms(stype, i):
            n_lms += 1
    name = -1
    prev = -1
    for idx in range(n):
        p = sa[idx]
        if not _is_lms(stype, p):
            continue
        same = prev >= 0
        if same:
            d = 0
            while True:
                if t[p + d] != t[prev + d] or stype[p + d] != stype[prev + d]:
                    same = False
                    break
                if d > 0:
                    end_p = _is_lms(stype, p + d)
                    end_q = _is_lms(stype, prev + d)
                    if end_p or end_q:
                        same = end_p and end_q
                        break
                d += 1
        if not same:
            name += 1
        names[p // 2] = name
        prev = p
    reduced = np.empty(n_lms, np.int32)
    positions = np.empty(n_lms, np.int32)
    j = 0
    for i in range(1, n):
        if _is_lms(stype, i):
            reduced[j] = names[i // 2]
            positions[j] = i
            j += 1
    return reduced, positions, name + 1


@nb.njit(cache=True)
def _place_sorted_lms(
    t: np.ndarray, stype: np.ndarray, k: int, positions: np.ndarray, sa1: np.ndarray
) -> np.ndarray:
    """Final SA-IS pass: seed the buckets with the LMS suffixes in sorted order, induce."""
    n = t.shape[0]
    sa = np.full(n, -1, np.int32)
    tails = _bucket_bounds(t, k, True)
    for r in range(sa1.shape[0] - 1, -1, -1):
        p = positions[sa1[r]]
        tails[t[p]] -= 1
        sa[tails[t[p]]] = p
    _induce(t, sa, stype, k)
    return sa


@nb.njit(cache=True)
def _direct_sa(names: np.ndarray) -> np.ndarray:
    sa = np.empty(names.shape[0], np.int32)
    for i in range(names.shape[0]):
        sa[names[i]] = i
    return sa


def suffix_array(t: np.ndarray, k: int) -> np.ndarray:
    """Suffix array by SA-IS (Nong, Zhang & Chan 2009).

    Args:
        t: Integer string (int32) over ``0..k-1`` whose last symbol is a unique 0.
        k: Alphabet size.

    Returns:
        int32 array: the start positions of the suffixes of ``t`` in lexicographic order.
    """
    if t.shape[0] == 1:
        return np.zeros(1, np.int32)
    stype = _classify(t)
    sa = _sort_lms_substrings(t, stype, k)
    reduced, positions, n_names = _name_lms(t, sa, stype)
    del sa
    if n_names < reduced.shape[0]:
        # the recursion halves the input at least, so its depth is logarithmic
        sa1 = suffix_array(reduced, n_names)
    else:
        sa1 = _direct_sa(reduced)
    return _place_sorted_lms(t, stype, k, positions, sa1)


@nb.njit(cache=True)
def lcp_array(t: np.ndarray, sa: np.ndarray) -> np.ndarray:
    """Kasai's LCP array: ``lcp[i]`` is the common prefix of suffixes ``sa[i-1]`` and ``sa[i]``.

    ``t`` must end with a unique symbol, so every comparison stops inside the array.
    """
    n = t.shape[0]
    rank = np.empty(n, np.int32)
    for i in range(n):
        rank[sa[i]] = i
    lcp = np.zeros(n, np.int32)
    h = 0
    for i in range(n):
        r = rank[i]
        if r == 0:
            h = 0
            continue
        j = sa[r - 1]
        while t[i + h] == t[j + h]:
            h += 1
        lcp[r] = h
        if h > 0:
            h -= 1
    return lcp


# --------------------------------------------------------------------------- interval walk


@nb.njit(cache=True)
def _merge_left(a: int, b: int) -> int:
    if a == _EMPTY:
        return b
    if b == _EMPTY or a == b:
        return a
    return _MIXED


@nb.njit(cache=True)
def _grow(a: np.ndarray, size: int) -> np.ndarray:
    out = np.empty((max(size, 2 * a.shape[0]), a.shape[1]), a.dtype)
    out[: a.shape[0]] = a
    return out


@nb.njit(cache=True)
def _max_disjoint_in_doc(sa: np.ndarray, lb: int, rb: int, doc: np.ndarray, length: int) -> int:
    """Most non-overlapping occurrences in one document (greedy leftmost per document)."""
    pos = np.sort(sa[lb : rb + 1])
    best = 0
    count = 0
    cur_doc = -1
    free_from = 0
    for p in pos:
        d = doc[p]
        if d != cur_doc:
            cur_doc = d
            count = 0
            free_from = p
        if p >= free_from:
            count += 1
            free_from = p + length
            best = max(best, count)
    return best


@nb.njit(cache=True)
def _maximal_intervals(
    t: np.ndarray,
    sa: np.ndarray,
    lcp: np.ndarray,
    doc: np.ndarray,
    n_docs: int,
    edge: np.ndarray,
    min_docs: int,
    min_len: int,
    max_len: int,
    min_repeats: int,
) -> np.ndarray:
    """Enumerate maximal repeats that qualify once trimmed.

    Walks the LCP intervals bottom-up with a stack (Abouelhoda, Kurtz & Ohlebusch 2004); an
    interval's left state is the common preceding symbol of its suffixes, or _MIXED.

    Returns:
        int64 rows ``(lb, rb, lead, trimmed_len, n_docs)``: the SA interval, how many leading
        edge characters to skip, the trimmed length, and the number of distinct documents.
    """
    n = t.shape[0]
    out = np.empty((1024, 5), np.int64)
    n_out = 0
    stamp = np.full(n_docs, -1, np.int64)  # last interval that counted each document
    per_doc = np.zeros(n_docs, np.int64)
    serial = 0
    # runs of edge characters starting / ending at each position: O(1) trimming, even inside
    # a long run of dashes or spaces
    run_fwd = np.zeros(n + 1, np.int32)
    for i in range(n - 1, -1, -1):
        if edge[t[i]]:
            run_fwd[i] = run_fwd[i + 1] + 1
    run_bwd = np.zeros(n, np.int32)
    for i in range(n):
        if edge[t[i]]:
            run_bwd[i] = run_bwd[i - 1] + 1 if i > 0 else 1

    st_lcp = np.empty(64, np.int64)
    st_lb = np.empty(64, np.int64)
    st_left = np.empty(64, np.int64)
    st_lcp[0] = 0
    st_lb[0] = 0
    st_left[0] = _EMPTY
    top = 0
    for k in range(1, n + 1):
        h = lcp[k] if k < n else 0
        if h < min_len:
            h = 0  # shallower intervals can never qualify: treat them all as the root
        p = sa[k - 1]
        # a suffix at a segment start has a unique (sentinel) left symbol
        carry = t[p - 1] if p > 0 and doc[p - 1] >= 0 else _MIXED
        lb = k - 1
        while h < st_lcp[top]:
            left = _merge_left(st_left[top], carry)
            length = st_lcp[top]
            lb = st_lb[top]
            top -= 1
            carry = left
            if left != _MIXED:
                continue  # not left-maximal
            rb = k - 1
            q = sa[lb]
            lead = min(run_fwd[q], length)
            tlen = length - lead
            if tlen > 0:
                tlen -= min(run_bwd[q + length - 1], tlen)
            if tlen < min_len or tlen > max_len:
                continue
            serial += 1
            docs = 0
            most = 0
            for i in range(lb, rb + 1):
                d = doc[sa[i]]
                if stamp[d] != serial:
                    stamp[d] = serial
                    per_doc[d] = 0
                    docs += 1
                per_doc[d] += 1
                most = max(most, per_doc[d])
            if docs < min_docs:
                if most < min_repeats:
                    continue
                if _max_disjoint_in_doc(sa, lb, rb, doc, tlen) < min_repeats:
                    continue
            if n_out == out.shape[0]:
                out = _grow(out, n_out + 1)
            out[n_out, 0] = lb
            out[n_out, 1] = rb
            out[n_out, 2] = lead
            out[n_out, 3] = tlen
            out[n_out, 4] = docs
            n_out += 1
        if h > st_lcp[top]:
            top += 1
            if top == st_lcp.shape[0]:
                st_lcp = np.concatenate((st_lcp, st_lcp))
                st_lb = np.concatenate((st_lb, st_lb))
                st_left = np.concatenate((st_left, st_left))
            st_lcp[top] = h
            st_lb[top] = lb
            st_left[top] = carry
        else:
            st_left[top] = _merge_left(st_left[top], carry)
    return out[:n_out]


@nb.njit(cache=True)
def _gather(
    sa: np.ndarray, orig: np.ndarray, rows: np.ndarray, cap: int
) -> tuple[np.ndarray, np.ndarray]:
    """Original (joined-text) start positions of each chosen interval, sorted, capped."""
    ptr = np.zeros(rows.shape[0] + 1, np.int64)
    for r in range(rows.shape[0]):
        ptr[r + 1] = ptr[r] + min(rows[r, 1] - rows[r, 0] + 1, cap)
    pos = np.empty(ptr[-1], np.int64)
    for r in range(rows.shape[0]):
        lb, rb, lead = rows[r, 0], rows[r, 1], rows[r, 2]
        g = np.empty(rb - lb + 1, np.int64)
        for i in range(lb, rb + 1):
            g[i - lb] = orig[sa[i] + lead]
        g.sort()
        pos[ptr[r] : ptr[r + 1]] = g[: ptr[r + 1] - ptr[r]]
    return ptr, pos


# --------------------------------------------------------------------------- driver


@dataclass
class _Prepared:
    joined: str
    doc_starts: np.ndarray  # offset of each document in ``joined``
    t: np.ndarray  # the SA string: chars, one unique sentinel per kept segment, final 0
    k: int  # alphabet size of ``t``
    orig: np.ndarray  # position in ``joined`` of each symbol of ``t`` (-1 for sentinels)
    doc: np.ndarray  # document of each symbol of ``t`` (-1 for sentinels)
    edge: np.ndarray  # per symbol of ``t``: may not start or end a repeat


@nb.njit(cache=True)
def _kept_segments(ranks: np.ndarray, barrier: np.ndarray, min_len: int) -> tuple[int, int]:
    """Count the segments (runs between barriers) of at least ``min_len`` and their length."""
    n_seg = 0
    n_chars = 0
    run = 0
    for i in range(ranks.shape[0] + 1):
        if i == ranks.shape[0] or barrier[ranks[i]]:
            if run >= min_len:
                n_seg += 1
                n_chars += run
            run = 0
        else:
            run += 1
    return n_seg, n_chars


@nb.njit(cache=True)
def _build_text(
    ranks: np.ndarray, barrier: np.ndarray, doc_starts: np.ndarray, min_len: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Lay the kept segments end to end, each closed by its own sentinel.

    Symbols: 0 is the final terminator, 1..n_seg the sentinels (in text order), and character
    rank r becomes n_seg + 1 + r, so sentinels sort below every character.
    """
    n_seg, n_chars = _kept_segments(ranks, barrier, min_len)
    n_t = n_chars + n_seg + 1
    t = np.zeros(n_t, np.int32)
    orig = np.full(n_t, -1, np.int32)
    doc = np.full(n_t, -1, np.int32)
    j = 0
    seg = 0
    d = 0
    start = 0
    for i in range(ranks.shape[0] + 1):
        if i < ranks.shape[0] and not barrier[ranks[i]]:
            continue
        if i - start >= min_len:
            while d + 1 < doc_starts.shape[0] and doc_starts[d + 1] <= start:
                d += 1
            for p in range(start, i):
                t[j] = ranks[p] + n_seg + 1
                orig[j] = p
                doc[j] = d
                j += 1
            seg += 1
            t[j] = seg
            j += 1
        start = i + 1
    return t, orig, doc, n_seg


def _prepare(texts: Sequence[str], min_len: int) -> _Prepared:
    joined = "\x00".join(texts)  # "\x00" is a barrier, so documents never run together
    if len(joined) >= np.iinfo(np.int32).max:
        raise ValueError("texts too large: 2**31 characters at most")
    lengths = np.fromiter((len(s) + 1 for s in texts), np.int64, len(texts))
    doc_starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    cps = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), np.uint32)

    # dense ranks through a presence table over the code space: O(n), no sort of the text
    present = np.zeros(0x110000, np.bool_)
    present[cps] = True
    alphabet = np.flatnonzero(present)
    ranks = (np.cumsum(present, dtype=np.int32) - 1)[cps]
    del cps, present
    chars = [chr(cp) for cp in alphabet.tolist()]
    barrier = np.array([ch in BARRIERS for ch in chars], np.bool_)
    edge = np.array([is_edge_char(ch) for ch in chars], np.bool_)
    t, orig, doc, n_seg = _build_text(ranks, barrier, doc_starts, min_len)
    edge_t = np.concatenate((np.zeros(n_seg + 1, np.bool_), edge))
    return _Prepared(joined, doc_starts, t, n_seg + 1 + len(chars), orig, doc, edge_t)


def find_repeats(
    texts: Sequence[str],
    *,
    min_docs: int = 2,
    min_len: int = 4,
    max_len: int = 80,
    min_repeats_in_doc: int = 2,
    max_occurrences: int | None = None,
) -> list[Repeat]:
    r"""Find the maximal repeated substrings of ``texts``.

    Args:
        texts: Documents (normalised; masked characters replaced by "\x00" beforehand).
        min_docs: A substring in at least this many distinct documents qualifies.
        min_len: Shortest repeat reported, in characters (after trimming).
        max_len: Longest repeat reported, in characters (after trimming).
        min_repeats_in_doc: A substring occurring at least this many times without overlap
            inside a single document also qualifies.
        max_occurrences: Store at most this many occurrences per repeat (the first ones by
            ``(doc, start)``); ``n_docs`` stays exact. None keeps them all.

    Returns:
        Repeats sorted by ``n_docs`` descending, then length descending, then text.

    Raises:
        ValueError: On thresholds that would make every substring qualify, or bad lengths.
    """
    if min_docs < 2 or min_repeats_in_doc < 2:
        raise ValueError("min_docs and min_repeats_in_doc must be at least 2")
    if min_len < 1 or max_len < min_len:
        raise ValueError(f"need 1 <= min_len <= max_len, got {min_len}, {max_len}")
    if max_occurrences is not None and max_occurrences < 1:
        raise ValueError("max_occurrences must be positive")
    if not texts:
        return []
    prep = _prepare(texts, min_len)
    doc_starts = prep.doc_starts
    sa = suffix_array(prep.t, prep.k)
    lcp = lcp_array(prep.t, sa)
    rows = _maximal_intervals(
        prep.t, sa, lcp, prep.doc, len(texts), prep.edge,
        min_docs, min_len, max_len, min_repeats_in_doc,
    )  # fmt: skip
    del lcp

    # Trimming can give several maximal repeats the same text; the closure of that text is one
    # of them and holds every occurrence, so keep the row with the most occurrences.
    joined = prep.joined
    size = (rows[:, 1] - rows[:, 0]).tolist()
    first = prep.orig[sa[rows[:, 0]] + rows[:, 2]].tolist()
    best: dict[str, int] = {}
    for r, (g, tlen) in enumerate(zip(first, rows[:, 3].tolist(), strict=True)):
        text = joined[g : g + tlen]
        other = best.get(text)
        if other is None or size[r] > size[other]:
            best[text] = r
    del first, size
    rows = rows[np.fromiter(best.values(), np.int64, len(best))]
    cap = max_occurrences if max_occurrences is not None else np.iinfo(np.int64).max
    ptr, pos = _gather(sa, prep.orig, rows, cap)
    del sa, prep
    return _materialise(list(best), rows, ptr, pos, doc_starts)


def _shared_ints(values: np.ndarray, table: list[int]) -> list[int]:
    """``values.tolist()`` with its ints drawn from ``table``, so equal ints are one object.

    Offsets repeat endlessly across occurrences; sharing them saves ~28 bytes per int.
    """
    out: list[int] = []
    step = 1 << 20  # convert in chunks so the throwaway ints stay few
    for i in range(0, values.shape[0], step):
        out.extend(map(table.__getitem__, values[i : i + step].tolist()))
    return out


def _materialise(
    texts: list[str], rows: np.ndarray, ptr: np.ndarray, pos: np.ndarray, doc_starts: np.ndarray
) -> list[Repeat]:
    """Build the Repeat objects from the chosen rows and their joined-text positions."""
    docs = np.searchsorted(doc_starts, pos, side="right") - 1
    starts = pos - doc_starts[docs]
    ends = starts + np.repeat(rows[:, 3], np.diff(ptr))
    del pos
    table = list(range(int(max(doc_starts.shape[0], ends.max(initial=0) + 1))))
    docs_l = _shared_ints(docs, table)
    starts_l = _shared_ints(starts, table)
    ends_l = _shared_ints(ends, table)
    del docs, starts, ends, table
    # Millions of small objects: the cyclic GC would rescan them over and over meanwhile.
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        occs = list(map(Occurrence, docs_l, starts_l, ends_l))
        del docs_l, starts_l, ends_l
        ptr_l = ptr.tolist()
        out = [
            Repeat(text, occs[ptr_l[i] : ptr_l[i + 1]], nd)
            for i, (text, nd) in enumerate(zip(texts, rows[:, 4].tolist(), strict=True))
        ]
        del occs
        out.sort(key=lambda r: (-r.n_docs, -len(r.text), r.text))
    finally:
        if gc_was_on:
            gc.enable()
    return out
