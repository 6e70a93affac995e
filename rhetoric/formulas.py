"""Formulas: set phrases shared across documents, ranked and grouped with their variants.

1. **Candidates** are maximal repeated spans of the normalised Simplified text shared by at
   least ``min_docs`` documents, or repeated inside one (:func:`rhetoric.repeats.find_repeats`,
   a suffix array); boilerplate and mojibake are masked out first, so they never take part.
2. **Ranking** puts what is formulaic above what is merely topical. A candidate's score is
   ``log2(1 + documents) x length x (1 + structure) x distinctiveness`` where

   * *length* grows with the characters up to 16 (``sqrt(min(len, 16) / 8)``);
   * *structure* rewards the shapes of 提法: enumerations ``A、B、C`` of short parallel parts,
     reduplicated patterns (压紧压实, 联防联控), numbered formulas (两个维护, 四个意识), quoted
     use, standing as a whole clause, and a match in the slogan lexicon;
   * *distinctiveness* is the share of its characters NOT in banal words: very common words
     of jieba's dictionary and words found in most documents of the corpus (TextPAIR's
     "banality" idea), so 疫情防控工作 ranks low and 守土有责 high.

   Candidates whose words are mostly person or place names are dropped: a name shared by two
   documents is not a formula.
3. **Variants** group with a formula when they are the same parts reordered, differ in one
   part, differ only by inserted function words (的, 和 …), or, for wordings found in one
   document only, when a phrase covers most of the formula's character bigrams.

Usage::

    with Index.open("index") as ix:
        for f in mine_formulas(ix, limit=20):
            print(f.text, f.doc_ids, [v.text for v in f.variants])
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from .normalize import MASKED, Normalized
from .records import Document

if TYPE_CHECKING:
    from .index import Index
    from .lexicon import Slogan

_HAN = re.compile(r"[\u4e00-\u9fff]")
_SPLIT = re.compile(r"[、，,；;：:]")
_FUNCTION = re.compile(r"[的和与及之了]")
_NUMBERED = re.compile(r"^[一二两三四五六七八九十]个[\u4e00-\u9fff]{2}")
_TRIM = "的和与及了"  # dangling function characters at either edge
_EDGE = "，、：；。！？…“”‘’（）《》 ,.:;!?\"'()"
TOPICAL_SHARE = 0.6  # words in this share of documents (of >= 5) are topical, not formulaic


@dataclass
class Occurrence:
    """Where a formula stands: original offsets and text of one document."""

    doc_id: str
    start: int
    end: int
    text: str


@dataclass
class Variant:
    """Another wording of a formula. ``how``: reordered, changed, function-words, fuzzy, lexicon."""

    text: str
    how: str
    doc_ids: list[str]
    occurrences: list[Occurrence] = field(default_factory=list)


@dataclass
class Formula:
    """A set phrase shared by documents, with its evidence."""

    text: str  # normalised Simplified
    kind: str  # "formula" or "slogan" (a lexicon entry)
    score: float
    doc_ids: list[str]
    occurrences: list[Occurrence]
    variants: list[Variant] = field(default_factory=list)
    first_seen: str | None = None  # earliest date among its documents (and variants')
    adoption: dict[str, int] = field(default_factory=dict)  # documents using it per month
    slogan_id: str | None = None
    category: str | None = None
    canonical: str | None = None  # the lexicon's wording, for slogans
    features: dict[str, float] = field(default_factory=dict)

    @property
    def n_docs(self) -> int:
        """Documents holding the formula or one of its variants."""
        return len(set(self.doc_ids) | {d for v in self.variants for d in v.doc_ids})


@dataclass
class _Corpus:
    docs: list[Document]
    norms: list[Normalized]
    masked: list[str]
    dates: dict[str, str | None]
    word_df: Counter[str]


@lru_cache(maxsize=1)
def _jieba():  # noqa: ANN202 - jieba has no type hints
    import jieba
    import jieba.posseg

    jieba.setLogLevel(60)
    return jieba, jieba.posseg


# Words that carry no formula by themselves: function words and the filler of reports.
_BANAL = frozenset(
    "一个 我们 他们 自己 没有 可以 这个 什么 进行 已经 这样 这些 不是 如果 因为 通过 其中 现在 一些 以及 "
    "同时 由于 所以 但是 作为 之间 而且 因此 为了 应该 之后 以后 有关 开展 加强 做好 工作 情况 方面 问题 "
    "要求 进一步 相关 当前 目前 积极 认真 切实 全面 各项 有效 及时 继续 持续 深入 不断".split()
)
TOPICAL_MIN_DOCS = 20  # below this many documents, document frequency says little


class Texts:
    """Documents already normalised, for mining without an index (benchmarks, scripts).

    Usage: ``mine_formulas(Texts([(doc, normalize(doc.text)) for doc in docs]))``.
    """

    def __init__(self, pairs: Sequence[tuple[Document, Normalized]]):
        self.pairs = list(pairs)

    def normalized(self) -> Sequence[tuple[Document, Normalized]]:
        """The (document, normalisation) pairs."""
        return self.pairs


def _load(index: Index | Texts) -> _Corpus:
    jieba, _ = _jieba()
    docs, norms, masked = [], [], []
    word_df: Counter[str] = Counter()
    for doc, norm in index.normalized():
        docs.append(doc)
        norms.append(norm)
        m = norm.masked()
        masked.append(m)
        word_df.update({w for w in jieba.cut(m.replace(MASKED, "\n")) if len(w) >= 2})
    return _Corpus(docs, norms, masked, {d.doc_id: d.date for d in docs}, word_df)


def _occurrences(corpus: _Corpus, doc: int, start: int, end: int) -> Occurrence:
    norm, d = corpus.norms[doc], corpus.docs[doc]
    a, b = norm.to_original(start, end)
    return Occurrence(d.doc_id, a, b, d.text[a:b])


def _trim(text: str) -> tuple[int, int]:
    """Offsets that trim edge punctuation and dangling function characters off ``text``."""
    a, b = 0, len(text)
    while a < b and (text[a] in _EDGE or text[a] in _TRIM or text[a] == "要"):
        a += 1
    while b > a and (text[b - 1] in _EDGE or text[b - 1] in _TRIM):
        b -= 1
    return a, b


def _paired(text: str) -> bool:
    """Are brackets and quotes in ``text`` opened before they close, and all closed?"""
    for open_, close in ("（）", "“”", "《》"):
        depth = 0
        for c in text:
            depth += (c == open_) - (c == close)
            if depth < 0:
                return False
        if depth:
            return False
    return True


def _pieces(text: str) -> list[tuple[int, int]]:
    """Candidate spans inside a repeat: its clauses (split at ，：；), trimmed, and quoted parts.

    Set phrases live inside clauses; a repeat that runs across clauses is context.
    """
    out = []
    for m in re.finditer(r"[^，：；,:;]+", text):
        a, b = _trim(m.group(0))
        if b > a:
            out.append((m.start() + a, m.start() + b))
        for q in re.finditer(r"“([^“”]{2,})”", m.group(0)):
            out.append((m.start() + q.start(1), m.start() + q.end(1)))
        # A quote cut by the repeat's edge: keep the part after “ or before ”.
        inner = m.group(0)
        if "“" in inner and "”" not in inner[inner.index("“"):]:
            i = inner.index("“") + 1
            out.append((m.start() + i, m.start() + len(inner.rstrip(_EDGE))))
        if "”" in inner and "“" not in inner[: inner.index("”")]:
            j = inner.index("”")
            a2 = len(inner) - len(inner.lstrip(_EDGE))
            out.append((m.start() + a2, m.start() + j))
    return sorted(set(out))


def _parts(text: str) -> list[str]:
    return [p for p in _SPLIT.split(text) if p]


def _name_share(text: str) -> float:
    """Share of characters in person (nr) and place (ns) names."""
    _, pseg = _jieba()
    named = sum(len(w.word) for w in pseg.cut(text) if w.flag in ("nr", "ns", "nrfg", "nrt") and len(w.word) >= 2)
    return named / max(1, len(text))


# The leader's name is part of Party formulas (以习近平同志为核心的党中央), not a byline.
_FORMULA_NAMES = {"习近平"}


def _has_person(text: str) -> bool:
    """Does ``text`` hold a person's name (other than the leader's, which formulas quote)?"""
    _, pseg = _jieba()
    return any(w.flag in ("nr", "nrfg") and len(w.word) >= 2 and w.word not in _FORMULA_NAMES
               for w in pseg.cut(text))


def _structure(text: str, quoted: bool, whole_clause: bool, in_lexicon: bool) -> float:
    parts = _parts(text)
    s = 0.0
    if len(parts) >= 2 and all(2 <= len(p) <= 10 for p in parts):
        lengths = {len(p) for p in parts}
        s += 1.0 if len(lengths) == 1 else 0.6  # parallel enumeration
        if lengths == {4}:
            s += 0.3  # four-character parallel clauses
    if any(len(p) == 4 and p[0] == p[2] and p[1] != p[3] for p in parts):
        s += 0.5  # 联防联控, 压紧压实 (a whole four-character part, not 新增新冠 inside a phrase)
    if _NUMBERED.match(text):
        s += 0.8
    if quoted:
        s += 0.4
    if whole_clause:
        s += 0.3
    if in_lexicon:
        s += 1.0
    return s


def _distinctiveness(text: str, corpus: _Corpus) -> float:
    jieba, _ = _jieba()
    n_docs = len(corpus.docs)
    topical = n_docs >= TOPICAL_MIN_DOCS
    bad = total = 0
    for w in jieba.cut(text):
        if not _HAN.search(w) or len(w) == 1:
            continue  # single characters say nothing either way
        total += len(w)
        if w in _BANAL or (topical and corpus.word_df[w] >= TOPICAL_SHARE * n_docs):
            bad += len(w)
    return max(0.1, 1.0 - bad / total) if total else 0.5


_NOUNS = {"n", "nr", "ns", "nt", "nz", "nrfg", "nrt", "ng", "j", "b"}  # j: abbreviations, b: 副


def _only_nouns(text: str) -> bool:
    """Is ``text`` a run of nouns (a title, an office, a thing)?"""
    _, pseg = _jieba()
    return all(w.flag in _NOUNS for w in pseg.cut(text) if _HAN.search(w.word))


def _context_flags(corpus: _Corpus, occ: list[tuple[int, int, int]]) -> tuple[bool, bool]:
    """Was it ever quoted? Does it usually stand as a whole clause?"""
    quoted, whole = False, 0
    for doc, a, b in occ:
        t = corpus.masked[doc]
        before = t[a - 1] if a else "\n"
        after = t[b] if b < len(t) else "\n"
        quoted |= before in "“‘「" and after in "”’」"
        whole += (before in _EDGE or before == "\n" or before in "“") and (after in _EDGE or after == "\n")
    return quoted, whole * 2 >= len(occ)


def _bigrams(text: str) -> set[str]:
    t = _SPLIT.sub("", text)
    return {t[i : i + 2] for i in range(len(t) - 1) if _HAN.match(t[i]) and _HAN.match(t[i + 1])}


def _strip_function(text: str) -> str:
    return _FUNCTION.sub("", _SPLIT.sub("、", text))


def _variant_kind(a: str, b: str) -> str | None:
    """How ``b`` is a variant of ``a`` (None if it is not)."""
    if a == b:
        return None
    pa, pb = _parts(a), _parts(b)
    if len(pa) >= 2 and sorted(pa) == sorted(pb):
        return "reordered"
    if len(pa) >= 2 and len(pa) == len(pb):
        same = len(set(pa) & set(pb))
        changed = [x for x in pb if x not in pa]
        close = all(len(_bigrams(x) & set().union(*map(_bigrams, pa))) for x in changed)
        if same >= len(pa) - 1 and close:
            return "changed"
    if _strip_function(a) == _strip_function(b):
        return "function-words"
    return None


def _fuzzy(a: str, b: str) -> float:
    """How much of the smaller bigram set the other covers, damped by Dice."""
    x, y = _bigrams(a), _bigrams(b)
    if not x or not y:
        return 0.0
    shared = len(x & y)
    dice = 2 * shared / (len(x) + len(y))
    return min(max(shared / len(x), shared / len(y)), dice + 0.25)


def mine_formulas(
    index: Index | Texts,
    *,
    min_docs: int = 2,
    limit: int | None = None,
    lexicon: Sequence[Slogan] | None = None,
    min_len: int = 4,
    fuzzy: float = 0.6,
) -> list[Formula]:
    """Ranked formulas of the indexed corpus, each with its occurrences and variants.

    ``index`` is an :class:`~rhetoric.index.Index` or :class:`Texts`.

    Lexicon slogans found in the corpus become formulas of kind "slogan" (their other
    wordings as variants); repeated spans that overlap a slogan's use fold into it.
    """
    from .repeats import find_repeats

    corpus = _load(index)
    repeats = find_repeats(corpus.masked, min_docs=min_docs, min_len=min_len)
    uses = _slogan_uses(corpus, lexicon)
    candidates: dict[str, set[tuple[int, int, int]]] = defaultdict(set)
    for r in repeats:
        for a, b in _pieces(r.text):
            text = r.text[a:b]
            if len(_HAN.findall(text)) < min_len or MASKED in text or "\ufffd" in text:
                continue
            if not _paired(text):
                continue  # cut through a bracket or quote: a fragment
            candidates[text] |= {(o.doc, o.start + a, o.start + b) for o in r.occurrences}
    # Cheap pre-score for every candidate; the costly features (jieba) only for the best.
    pre: list[tuple[float, str, list[tuple[int, int, int]]]] = []
    for text, occ_set in candidates.items():
        occ = sorted(occ_set)
        n_docs = len({d for d, _, _ in occ})
        if n_docs < min_docs and len(occ) < 2:
            continue
        if n_docs == 1 and len(text) > 24:
            continue  # a title or summary copied into its own body, not a set phrase
        pre.append((_pre_score(text, n_docs, len(occ)), text, occ))
    pre.sort(key=lambda x: (-x[0], x[1]))
    keep = max(2000, 20 * (limit or 0))
    scored = [
        _formula(text, occ, corpus, None) for _, text, occ in pre[:keep] if _name_share(text) < 0.4
    ]
    slogan_formulas = _slogan_formulas(uses, corpus, min_docs)
    scored = _absorb(slogan_formulas, scored) + scored
    scored.sort(key=lambda f: (-f.score, f.text))
    grouped = _group(scored)
    shown = grouped[:limit] if limit else grouped
    _find_fuzzy_variants(shown[: max(200, limit or 0)], corpus, fuzzy)
    for f in shown:
        f.first_seen = _first_seen(f, corpus)
        f.adoption = _adoption(f, corpus)
    return shown


def _pre_score(text: str, n_docs: int, n_occ: int) -> float:
    """An upper-bound-ish score from spread, length and shape alone (no word segmentation)."""
    spread = math.log2(1 + n_docs) if n_docs > 1 else 0.8
    structure = _structure(text, False, False, False)
    return (spread + (0.3 if n_occ > n_docs else 0.0)) * math.sqrt(min(len(text), 16) / 8) * (1.7 + structure)


def _formula(
    text: str, occ: list[tuple[int, int, int]], corpus: _Corpus, slogan: Slogan | None, extra_docs: int = 0
) -> Formula:
    """Score one candidate (see the module docstring for the formula)."""
    docs = sorted({corpus.docs[d].doc_id for d, _, _ in occ})
    quoted, whole = _context_flags(corpus, occ)
    structure = _structure(text, quoted, whole, slogan is not None)
    distinct = _distinctiveness(text, corpus)
    length = math.sqrt(min(len(text), 16) / 8)
    n = len(docs) + extra_docs
    # Reuse across documents counts more than repetition inside one.
    spread = math.log2(1 + n) if n > 1 else 0.8
    spread += 0.3 if len(occ) > len(docs) else 0.0
    shape = 1.0
    if slogan is None:
        if _only_nouns(text):
            shape *= 0.5  # titles, offices and things (中共中央政治局常委、国务院副总理), not formulas
        if any(c.isdigit() for c in text):
            shape *= 0.3  # counts and dates belong to reports (31个省…报告新增…), not to slogans
        if _has_person(text):
            shape *= 0.3  # 国务院总理李克强作…: a title and a name, not a formula
    score = spread * length * (1 + structure) * distinct * shape
    return Formula(
        text, "slogan" if slogan else "formula", round(score, 4), docs,
        [_occurrences(corpus, d, a, b) for d, a, b in occ],
        slogan_id=slogan.id if slogan else None, category=slogan.category if slogan else None,
        features={"spread": round(spread, 3), "length": round(length, 3),
                  "structure": round(structure, 3), "distinct": round(distinct, 3), "shape": shape},
    )


@dataclass
class _Use:
    slogan: Slogan
    doc: int
    start: int
    end: int
    matched: str
    how: str


def _slogan_uses(corpus: _Corpus, lexicon: Sequence[Slogan] | None) -> list[_Use]:
    """Every use of a lexicon slogan in the (masked) corpus."""
    if not lexicon:
        return []
    from .lexicon import match_slogans

    by_id = {s.id: s for s in lexicon}
    return [
        _Use(by_id[h.slogan_id], d, h.start, h.end, h.matched, h.how)
        for d, m in enumerate(corpus.masked)
        for h in match_slogans(m, lexicon)
    ]


def _slogan_formulas(uses: list[_Use], corpus: _Corpus, min_docs: int) -> list[Formula]:
    """One formula per slogan used in ``min_docs`` documents (or twice in one).

    Slogans whose uses overlap in the text (人民战争、总体战、阻击战 inside 坚决打赢疫情防控的
    人民战争、总体战、阻击战) are one family: the less used folds into the more used.
    """
    by_slogan: dict[str, list[_Use]] = defaultdict(list)
    for u in uses:
        by_slogan[u.slogan.id].append(u)
    parent = {sid: sid for sid in by_slogan}

    def find(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    ordered = sorted(uses, key=lambda u: (u.doc, u.start))
    for x, y in zip(ordered, ordered[1:]):
        if x.doc == y.doc and y.start < x.end and x.slogan.id != y.slogan.id:
            a, b = find(x.slogan.id), find(y.slogan.id)
            if a != b:
                big, small = sorted((a, b), key=lambda s: (-len(by_slogan[s]), s))
                parent[small] = big
    families: dict[str, list[_Use]] = defaultdict(list)
    for sid, us in by_slogan.items():
        families[find(sid)] += us
    out = []
    for sid, us in families.items():
        docs = {u.doc for u in us}
        if len(docs) < min_docs and len(us) < 2:
            continue
        slogan = by_slogan[sid][0].slogan
        # Show the wording the corpus uses most (the canonical text wins ties).
        counts = Counter(u.matched for u in us)
        balanced = [t for t in counts if _paired(t)] or [slogan.text]
        text = max(balanced, key=lambda t: (counts.get(t, 0), t == slogan.text, -len(t)))
        exact = set()
        for u in us:
            i = u.matched.find(text)  # also inside a longer wording (不打招呼 in 不打招呼、直奔现场)
            if i >= 0:
                exact.add((u.doc, u.start + i, u.start + i + len(text)))
        exact_sorted = sorted(exact)
        f = _formula(text, exact_sorted, corpus, slogan, extra_docs=len(docs - {d for d, _, _ in exact}))
        f.canonical = slogan.text
        by_text: dict[str, list[_Use]] = defaultdict(list)
        for u in us:
            if u.matched != text:
                by_text[u.matched].append(u)
        for text, vs in sorted(by_text.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            occ = [_occurrences(corpus, u.doc, u.start, u.end) for u in vs]
            f.variants.append(Variant(text, vs[0].how, sorted({o.doc_id for o in occ}), occ))
        out.append(f)
    return out


def _similar_length_containment(a: str, b: str) -> bool:
    """One contains the other and the shorter is at least 60% of the longer."""
    short, long_ = sorted((a, b), key=len)
    return short in long_ and len(short) >= 0.6 * len(long_)


def _absorb(slogans: list[Formula], candidates: list[Formula]) -> list[Formula]:
    """Fold repeated spans that overlap a slogan's use into that slogan; return the slogans.

    ``candidates`` loses what was folded.
    """
    spans: dict[str, list[tuple[int, int, Formula, str]]] = defaultdict(list)
    for f in slogans:
        for text, occ in [(f.text, f.occurrences)] + [(v.text, v.occurrences) for v in f.variants]:
            for o in occ:
                spans[o.doc_id].append((o.start, o.end, f, text))
    keep = []
    for c in candidates:
        home = None
        for o in c.occurrences:
            for a, b, f, text in spans.get(o.doc_id, ()):
                # Same place, and nearly the same words: 国务院联防联控机制 is not 联防联控、群防群控.
                if min(b, o.end) > max(a, o.start) and _similar_length_containment(c.text, text):
                    home = f
                    break
            if home:
                break
        if home is None:
            keep.append(c)
            continue
        known = {home.text, *(v.text for v in home.variants)}
        if c.text not in known:
            home.variants.append(Variant(c.text, "repeat", c.doc_ids, c.occurrences))
        home.score = max(home.score, c.score)
    candidates[:] = keep
    return slogans


def _group(ranked: list[Formula]) -> list[Formula]:
    """Fold variants (and fragments of longer formulas) into the best-ranked formula.

    Only heads sharing a character bigram with a candidate can be its home, so an inverted
    index over heads' bigrams keeps this near-linear.
    """
    heads: list[Formula] = []
    postings: dict[str, list[int]] = defaultdict(list)
    for f in ranked:
        home = None
        near = sorted({i for g in _bigrams(f.text) for i in postings.get(g, ())})
        for h in (heads[i] for i in near):
            how = _variant_kind(h.text, f.text)
            if how is None and (f.text in h.text or h.text in f.text):
                shorter, longer = sorted((f.text, h.text), key=len)
                if len(shorter) >= 0.6 * len(longer):
                    how = "extended" if len(f.text) > len(h.text) else "part"
            if how:
                home = (h, how)
                break
        if home is None:
            for g in _bigrams(f.text):
                postings[g].append(len(heads))
            heads.append(f)
            continue
        h, how = home
        if how == "part" and set(f.doc_ids) <= set(h.doc_ids):
            continue  # a fragment of the formula in the same documents: nothing new to show
        h.variants.append(Variant(f.text, how, f.doc_ids, f.occurrences))
    return heads


def _find_fuzzy_variants(formulas: list[Formula], corpus: _Corpus, threshold: float) -> None:
    """Wordings found in one document only: phrases that cover most of a formula's bigrams."""
    phrases: list[tuple[int, int, int, str]] = []
    postings: dict[str, list[int]] = defaultdict(list)
    for d, text in enumerate(corpus.masked):
        for m in re.finditer(r"[^，。；：！？\n\x00,;:!?]+", text):
            a, b = _trim(m.group(0))
            if b - a >= 4:
                pid = len(phrases)
                phrases.append((d, m.start() + a, m.start() + b, m.group(0)[a:b]))
                for g in _bigrams(m.group(0)[a:b]):
                    postings[g].append(pid)
    for f in formulas:
        grams = _bigrams(f.text)
        if len(grams) < 3:
            continue
        known = {f.text, *(v.text for v in f.variants)}
        taken = {(o.doc_id, o.start) for o in f.occurrences}
        counts = Counter(pid for g in grams for pid in postings.get(g, ()))
        for pid, shared in sorted(counts.items()):  # corpus order: a set's order changes from run to run
            if shared < 0.4 * len(grams):
                continue
            d, a, b, text = phrases[pid]
            # Keep the window from the first to the last shared bigram.
            hits = [i for i in range(len(text) - 1) if text[i : i + 2] in grams]
            if not hits:
                continue
            a, b = a + hits[0], a + hits[-1] + 2
            text = corpus.masked[d][a:b]
            if text in known or any(k in text and len(k) >= 0.6 * len(text) for k in known):
                continue
            if not 0.75 * len(f.text) <= len(text) <= 2 * len(f.text) or _fuzzy(f.text, text) < threshold:
                continue
            occ = _occurrences(corpus, d, a, b)
            if (occ.doc_id, occ.start) in taken:
                continue
            f.variants.append(Variant(text, "fuzzy", [occ.doc_id], [occ]))
            known.add(text)


def _adoption(f: Formula, corpus: _Corpus) -> dict[str, int]:
    """Documents using the formula (or a variant) per month, "YYYY-MM" -> count, in order."""
    docs = set(f.doc_ids) | {d for v in f.variants for d in v.doc_ids}
    months = Counter(date[:7] for date in (corpus.dates.get(d) for d in docs) if date)
    return dict(sorted(months.items()))


def _first_seen(f: Formula, corpus: _Corpus) -> str | None:
    docs = set(f.doc_ids) | {d for v in f.variants for d in v.doc_ids}
    dates = sorted(x for x in (corpus.dates.get(d) for d in docs) if x)
    return dates[0] if dates else None
