"""Semantic reuse: near-duplicate sentences across documents, and clusters of them (directives).

Embedding scores of one model live in a narrow band (with multilingual-e5-small unrelated
Chinese sentences still score about 0.86 and paraphrases about 0.94), so no fixed cut-off will
do. :func:`calibrate` samples random pairs of passages (sentences and phrases) from
*different* documents and takes a high quantile of their scores (default the 95th
percentile). A pair then counts as reuse only when it scores above that AND each passage is
the other's best match in the other's document (mutual best match), which is far rarer among
unrelated passages than a high score alone.

Near duplicates are searched among each passage's k nearest neighbours, in blocks, so memory
stays bounded. Clusters are the connected groups of near duplicates (a group that grows too
large is split again at a stricter threshold); each has a label (its most central passage)
and keywords (jieba words ranked by class-based TF-IDF).

Usage::

    with Index.open("index") as ix:
        result = cluster_directives(ix)
        for c in result.clusters: print(c.label, c.keywords)
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .index import Index

DEFAULT_QUANTILE = 0.95


@dataclass
class Calibration:
    """How the similarity threshold was chosen, to show the user."""

    model_id: str
    method: str
    pairs: int
    mean: float
    std: float
    quantiles: dict[str, float]
    threshold: float


@dataclass(frozen=True)
class SentenceRef:
    """A sentence of the index, in original offsets."""

    doc_id: str
    sentence: int
    start: int
    end: int
    text: str


@dataclass
class NearDuplicate:
    """Two sentences of different documents that say the same (cosine ``score``)."""

    a: SentenceRef
    b: SentenceRef
    score: float


@dataclass
class Member:
    """A sentence in a cluster; ``centrality`` is its mean similarity to the other members."""

    doc_id: str
    sentence: int
    start: int
    end: int
    text: str
    centrality: float


@dataclass
class Cluster:
    """A recurring directive: sentences from several documents that say the same thing."""

    id: int
    label: str
    keywords: list[str]
    n_docs: int
    members: list[Member] = field(default_factory=list)


@dataclass
class ClusterResult:
    """Clusters with the calibration that produced them."""

    calibration: Calibration
    clusters: list[Cluster]


@dataclass
class _Space:
    """Vectors of the index's text sentences and which sentences each stands for."""

    vectors: np.ndarray  # (n_vectors, dim), rows L2-normalised
    owners: list[list[SentenceRef]]  # per vector: the sentences with that normalised text
    docs: list[frozenset[str]]  # per vector: their documents
    norms: list[str]  # per vector: the normalised text
    ann: Any = None  # a FAISS index over ``vectors`` (ids = rows) to search, if there is one


def _space(index: Index) -> _Space:
    vectors = index.vector_matrix()
    owners: list[list[SentenceRef]] = [[] for _ in range(len(vectors))]
    for vec, ref in index.vector_owners():
        owners[vec].append(ref)
    norms = index.vector_texts()
    return _Space(vectors, owners, [frozenset(r.doc_id for r in o) for o in owners], norms, index.faiss)


def calibrate(
    vectors: np.ndarray,
    docs: list[frozenset[str]],
    *,
    model_id: str = "",
    quantile: float = DEFAULT_QUANTILE,
    pairs: int = 50_000,
    seed: int = 0,
) -> Calibration:
    """Pick the similarity threshold from random pairs of sentences of different documents."""
    n = len(vectors)
    rng = np.random.default_rng(seed)
    if n < 2:
        return Calibration(model_id, "too few sentences", 0, 0.0, 0.0, {}, 1.0)
    i = rng.integers(0, n, size=pairs * 2)
    j = rng.integers(0, n, size=pairs * 2)
    keep = np.array([a != b and not (docs[a] & docs[b]) for a, b in zip(i.tolist(), j.tolist())])
    i, j = i[keep][:pairs], j[keep][:pairs]
    if len(i) == 0:
        return Calibration(model_id, "all sentences share a document", 0, 0.0, 0.0, {}, 1.0)
    # In chunks: gathering all pairs' rows at once would take pairs x dim x 8 bytes (150 MiB).
    step = 4096
    scores = np.concatenate(
        [np.einsum("ij,ij->i", vectors[i[lo : lo + step]], vectors[j[lo : lo + step]]) for lo in range(0, len(i), step)]
    )
    mean, std = float(scores.mean()), float(scores.std())
    qs = {f"{q:g}": float(np.quantile(scores, q)) for q in (0.5, 0.9, quantile, 0.99, 0.999)}
    threshold = float(np.quantile(scores, quantile))
    method = (
        f"quantile {quantile:g} of {len(i)} random cross-document pairs, "
        "and each the other's best match in its document"
    )
    return Calibration(model_id, method, int(len(i)), round(mean, 4), round(std, 4),
                       {k: round(v, 4) for k, v in qs.items()}, round(min(threshold, 0.999), 4))


def calibrate_index(index: Index, *, max_vectors: int = 100_000, seed: int = 0) -> Calibration:
    """``calibrate`` over the index's vectors (a random ``max_vectors`` of them in a bigger index).

    Usage: ``calibrate_index(ix).threshold`` is the cosine from which two passages count as saying the same.
    """
    docs = index.vector_docs()
    n = len(docs)
    if n <= max_vectors:
        return calibrate(index.vector_matrix(), docs, model_id=index.model_id, seed=seed)
    ids = np.sort(np.random.default_rng(seed).choice(n, max_vectors, replace=False))
    vectors = np.vstack([index.faiss.reconstruct(int(i)) for i in ids])
    return calibrate(vectors, [docs[i] for i in ids], model_id=index.model_id, seed=seed)


def _neighbours(
    space: _Space, threshold: float, k: int, block: int
) -> list[tuple[int, int, float]]:
    """Mutual best matches between documents scoring >= threshold: ``(i, j, score)``, i < j.

    For each vector, its best match in every other document among its ``k`` nearest
    neighbours; a pair counts when each is the other's best match in the other's document.
    Requiring both directions keeps a sentence from pairing with whatever happens to be
    nearest in a document that says nothing like it.

    Memory stays bounded: neighbours are searched ``block`` vectors at a time, and only the
    directed best matches at or above ``threshold`` are kept (two int64 ids and a float32 score
    each), never a per-vector table of every document. The search uses the index's own FAISS
    index when it has one (no second copy of the vectors), else :func:`rhetoric.ann.build_faiss`
    (exact below ``EXACT_LIMIT`` vectors, approximate above); scores from compressed vectors
    (IVF-SQ8) are recomputed exactly.
    """
    from .ann import build_faiss

    vecs = np.ascontiguousarray(space.vectors, dtype=np.float32)
    n = len(vecs)
    if n < 2:
        return []
    index = space.ann if space.ann is not None and space.ann.ntotal == n else build_faiss(vecs).index
    exact_scores = _exact_scores(index)
    kk = min(n, k + 1)
    docs = space.docs
    src: list[np.ndarray] = []
    dst: list[np.ndarray] = []
    val: list[np.ndarray] = []
    for lo in range(0, n, block):  # one block of block x kk results at a time
        q = vecs[lo : lo + block]
        scores, ids = index.search(q, kk)
        if not exact_scores:
            # Compressed vectors (IVF-SQ8) give approximate scores: recompute them, then re-sort.
            scores = np.where(ids >= 0, np.einsum("id,ikd->ik", q, vecs[np.maximum(ids, 0)]), -np.inf)
            order = np.argsort(-scores, axis=1, kind="stable")
            scores, ids = np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)
        a_out: list[int] = []
        b_out: list[int] = []
        s_out: list[float] = []
        for r in np.flatnonzero((scores >= threshold).any(axis=1)).tolist():
            a = lo + r
            covered: set[str] = set()  # documents whose best match (in score order) is taken
            for sc, b in zip(scores[r].tolist(), ids[r].tolist()):
                if sc < threshold:
                    break
                if b < 0 or b == a or docs[a] & docs[b]:
                    continue
                if not docs[b] <= covered:  # b is the best match in one of its documents
                    covered |= docs[b]
                    a_out.append(a)
                    b_out.append(b)
                    s_out.append(sc)
        src.append(np.asarray(a_out, dtype=np.int64))
        dst.append(np.asarray(b_out, dtype=np.int64))
        val.append(np.asarray(s_out, dtype=np.float32))
    a_all, b_all, s_all = np.concatenate(src), np.concatenate(dst), np.concatenate(val)
    del src, dst, val
    # Mutual: a -> b and b -> a are both best matches; each pair once, from its lower id.
    mutual = np.isin(a_all * n + b_all, b_all * n + a_all) & (a_all < b_all)
    return sorted(set(zip(a_all[mutual].tolist(), b_all[mutual].tolist(), s_all[mutual].astype(float).tolist())))


def _exact_scores(index: Any) -> bool:
    """True when the index's scores are exact inner products (flat, or HNSW over flat vectors)."""
    import faiss

    return isinstance(faiss.downcast_index(index), faiss.IndexFlat | faiss.IndexHNSWFlat)


@dataclass
class Pairs:
    """The index's mutual best matches above the calibrated threshold (see :func:`mutual_pairs`)."""

    space: _Space
    calibration: Calibration
    edges: list[tuple[int, int, float]]  # (vector a, vector b, cosine), a < b


def mutual_pairs(index: Index, *, threshold: float | None = None, k: int = 10, block: int = 4096) -> Pairs:
    """Calibrate and search the index's neighbours once, for near duplicates and clusters both.

    The search is by far the largest cost of :func:`near_duplicates` and
    :func:`cluster_directives` on a big corpus; ``pairs=`` lets them share one.

    Usage: ``p = mutual_pairs(ix); near_duplicates(ix, pairs=p); cluster_directives(ix, pairs=p)``.
    """
    space = _space(index)
    cal = calibrate(space.vectors, space.docs, model_id=index.model_id)
    if threshold is not None:
        cal.threshold, cal.method = threshold, "given by the user"
    return Pairs(space, cal, _neighbours(space, cal.threshold, k, block))


def near_duplicates(
    index: Index, *, threshold: float | None = None, k: int = 10, block: int = 4096, pairs: Pairs | None = None
) -> tuple[list[NearDuplicate], Calibration]:
    """Sentence pairs of different documents that say the same, with the calibration used.

    ``pairs`` from :func:`mutual_pairs` skips the search (``threshold``, ``k`` and ``block`` are then theirs).
    """
    pairs = pairs or mutual_pairs(index, threshold=threshold, k=k, block=block)
    space, cal = pairs.space, pairs.calibration
    out: list[NearDuplicate] = []
    for a, b, s in pairs.edges:
        for ra in space.owners[a]:
            for rb in space.owners[b]:
                if ra.doc_id != rb.doc_id:
                    out.append(NearDuplicate(ra, rb, round(s, 4)))
    # Identical normalised sentences in several documents share one vector: score 1.
    for refs in space.owners:
        for x in range(len(refs)):
            for y in range(x + 1, len(refs)):
                if refs[x].doc_id != refs[y].doc_id:
                    out.append(NearDuplicate(refs[x], refs[y], 1.0))
    out.sort(key=lambda d: (-d.score, d.a.doc_id, d.a.sentence, d.b.doc_id, d.b.sentence))
    return out, cal


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _components(nodes: list[int], edges: list[tuple[int, int, float]], threshold: float,
                max_size: int) -> list[list[int]]:
    """Connected groups over edges >= threshold; groups above ``max_size`` split stricter."""
    pos = {v: i for i, v in enumerate(nodes)}
    uf = _UnionFind(len(nodes))
    live = [(a, b, s) for a, b, s in edges if s >= threshold and a in pos and b in pos]
    for a, b, _ in live:
        uf.union(pos[a], pos[b])
    groups: dict[int, list[int]] = {}
    for v in nodes:
        groups.setdefault(uf.find(pos[v]), []).append(v)
    out = []
    for g in groups.values():
        if len(g) > max_size and threshold < 0.995:
            # Chaining made it too big: split it at a stricter threshold.
            out += _components(g, live, threshold + 0.005, max_size)
        else:
            out.append(g)
    return out


_STOP = set(
    "的 了 和 与 及 等 在 是 要 对 把 将 为 以 并 从 向 于 中 上 下 也 都 就 还 又 再 更 各 该 其 之 这 那 "
    "我们 他们 一个 一些 进行 工作 开展 同时 目前 当前 已经 没有 可以 通过 以及 有关 相关 加强 做好 "
    "坚持 全面 进一步 重要 同志 强调 指出 表示 要求".split()
)
_WORD = re.compile(r"^[\u4e00-\u9fff]{2,}$")


def _keywords(groups: list[list[str]], top: int = 5) -> list[list[str]]:
    """Top words per group by class-based TF-IDF over jieba words."""
    import jieba

    jieba.setLogLevel(60)
    counts = [Counter(w for t in texts for w in jieba.cut(t) if _WORD.match(w) and w not in _STOP)
              for texts in groups]
    total = Counter()
    for c in counts:
        total.update(c)
    avg = sum(total.values()) / max(1, len(counts))
    out = []
    for c in counts:
        size = sum(c.values()) or 1
        scored = {w: (n / size) * math.log(1 + avg / total[w]) for w, n in c.items()}
        out.append([w for w, _ in sorted(scored.items(), key=lambda x: (-x[1], x[0]))[:top]])
    return out


def cluster_directives(
    index: Index,
    *,
    threshold: float | None = None,
    k: int = 10,
    min_docs: int = 2,
    max_size: int | None = None,
    block: int = 4096,
    pairs: Pairs | None = None,
) -> ClusterResult:
    """Group sentences of different documents that say the same thing.

    Returns clusters covering at least ``min_docs`` documents, largest first, with the
    calibration used. ``pairs`` from :func:`mutual_pairs` skips the neighbour search.
    """
    pairs = pairs or mutual_pairs(index, threshold=threshold, k=k, block=block)
    space, cal, edges = pairs.space, pairs.calibration, pairs.edges
    # Sentences written identically in several documents share one vector: reuse by themselves.
    shared = {v for v, d in enumerate(space.docs) if len(d) >= 2}
    nodes = sorted({v for a, b, _ in edges for v in (a, b)} | shared)
    limit = max_size or max(12, len(space.vectors) // 50)
    groups = [g for g in _components(nodes, edges, cal.threshold, limit)]
    groups = [g for g in groups if len(frozenset().union(*(space.docs[v] for v in g))) >= min_docs]
    labels = _keywords([[space.norms[v] for v in g] for g in groups])
    clusters = []
    for g, keywords in zip(groups, labels):
        sub = space.vectors[g]
        # Row sums of sub @ sub.T without the g x g matrix (a big group would need GBs).
        central = (sub @ sub.sum(axis=0) - 1.0) / max(1, len(g) - 1)
        members = [
            Member(r.doc_id, r.sentence, r.start, r.end, r.text, round(float(central[i]), 4))
            for i, v in enumerate(g)
            for r in space.owners[v]
        ]
        members.sort(key=lambda m: (-m.centrality, m.doc_id, m.sentence))
        best = g[int(np.argmax(central))]
        n_docs = len({m.doc_id for m in members})
        clusters.append(Cluster(0, space.norms[best], keywords, n_docs, members))
    clusters.sort(key=lambda c: (-c.n_docs, -len(c.members), c.label))
    for i, c in enumerate(clusters):
        c.id = i + 1
    return ClusterResult(cal, clusters)
