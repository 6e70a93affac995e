"""Choosing and building the FAISS index: exact below a size limit, approximate above it.

Vectors are L2-normalised, so inner product is cosine. Below ``EXACT_LIMIT`` vectors the
index is exact (``IndexFlatIP``); above it an approximate index keeps search fast:

* ``flat-fp16`` — every vector scanned, stored as float16 (``IndexScalarQuantizer`` QT_fp16):
  half the memory and about half the scan time of ``flat`` (27 vs 50 ms for one query over
  481k 384-d vectors, bench/README.md), scores off by ~1e-3, recall@10 measured (1.0 there).
  Not chosen by "auto"; asked for with ``--index-type flat-fp16`` where search latency matters.
* ``hnsw`` — a graph (``IndexHNSWFlat``): no training, the fastest queries, but it keeps the
  full float32 vectors plus the graph (about 1.7 KiB per 384-d vector) and builds slowly.
* ``ivf-sq8`` — an inverted file over ``nlist ≈ 4·√n`` spherical k-means cells with 8-bit
  scalar-quantised vectors (``IndexIVFScalarQuantizer``): a quarter of the memory and a
  faster build (k-means on a sample), slower queries.

Either way the search-time knob (HNSW ``efSearch``, IVF ``nprobe``) is raised until recall@10
against exact search reaches ``target_recall`` on queries near the data but not in it
(``probe_queries``); the knob is saved inside the FAISS file, and the recall goes into the
index manifest.

Usage::

    built = build_faiss(vectors, choose_index(len(vectors), vectors.shape[1]))
    faiss.write_index(built.index, "faiss.index"); print(built.kind, built.recall_at_10)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .errors import RhetoricError

EXACT_LIMIT = 1_000_000  # below this many vectors the index is exact
KINDS = ("auto", "flat", "flat-fp16", "hnsw", "ivf-sq8")
AUTO_APPROX = "hnsw"  # what "auto" picks above the limit (see bench/bench_scale.py)
TARGET_RECALL = 0.95
_EF_STEPS = (16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1024)
_TRAIN_PER_LIST = 40  # faiss wants >= 39 training points per k-means centroid


@dataclass(frozen=True)
class IndexChoice:
    """Which FAISS index to build, and its parameters.

    Attributes:
        kind: "flat", "flat-fp16", "hnsw" or "ivf-sq8".
        hnsw_m: HNSW neighbours per node (graph degree).
        ef_construction: HNSW candidate list while building.
        ef_search: HNSW candidate list while searching (tuned by ``build_faiss``).
        nlist: IVF cells.
        nprobe: IVF cells visited per query (tuned by ``build_faiss``).
        train_size: Vectors sampled to train the IVF k-means.
    """

    kind: str
    hnsw_m: int = 0
    ef_construction: int = 0
    ef_search: int = 0
    nlist: int = 0
    nprobe: int = 0
    train_size: int = 0


@dataclass
class BuiltIndex:
    """A built FAISS index with how it was built and how well it recalls.

    Attributes:
        index: The FAISS index (vector ids are row numbers of the input).
        choice: The parameters, with ``ef_search``/``nprobe`` as tuned.
        recall_at_10: Recall@10 against exact search (None for the exact index).
        train_s: Seconds training (IVF k-means).
        add_s: Seconds adding the vectors.
        tune_s: Seconds measuring recall and tuning the search knob.
    """

    index: Any
    choice: IndexChoice
    recall_at_10: float | None
    train_s: float = 0.0
    add_s: float = 0.0
    tune_s: float = 0.0

    @property
    def kind(self) -> str:
        """The index kind ("flat", "hnsw", "ivf-sq8")."""
        return self.choice.kind

    @property
    def build_s(self) -> float:
        """Total build seconds (train + add + tune)."""
        return round(self.train_s + self.add_s + self.tune_s, 3)


def choose_index(n_vectors: int, dim: int, kind: str = "auto", *, exact_limit: int = EXACT_LIMIT) -> IndexChoice:
    """Pick the index for ``n_vectors`` vectors of dimension ``dim``.

    Args:
        n_vectors: Number of vectors to index.
        dim: Their dimension.
        kind: "auto" (exact below ``exact_limit``, else ``AUTO_APPROX``), "flat", "hnsw" or "ivf-sq8".
        exact_limit: The size from which "auto" goes approximate.

    Returns:
        The choice with default parameters (search knobs are tuned when building).

    Raises:
        RhetoricError: Unknown kind.
    """
    if kind not in KINDS:
        raise RhetoricError(f"unknown index kind {kind!r}: use one of {', '.join(KINDS)}")
    if kind == "auto":
        kind = "flat" if n_vectors < exact_limit else AUTO_APPROX
    if kind in ("flat", "flat-fp16"):
        return IndexChoice(kind)
    if kind == "hnsw":
        # M=32, efConstruction=40: recall@10 >= 0.95 at efSearch ~64-128 on e5-like data, and a
        # build that stays within minutes per million vectors on a few cores.
        return IndexChoice("hnsw", hnsw_m=32, ef_construction=40, ef_search=64)
    nlist = max(1, min(int(round(4 * math.sqrt(max(n_vectors, 1)))), n_vectors // _TRAIN_PER_LIST or 1))
    train = min(n_vectors, max(_TRAIN_PER_LIST * nlist, 10_000))
    return IndexChoice("ivf-sq8", nlist=nlist, nprobe=min(nlist, 16), train_size=train)


def _metric() -> int:
    import faiss

    return faiss.METRIC_INNER_PRODUCT


def set_search_param(index: Any, choice: IndexChoice) -> None:
    """Apply the choice's search knob (``efSearch`` or ``nprobe``) to ``index``."""
    import faiss

    if choice.kind == "hnsw":
        faiss.downcast_index(index).hnsw.efSearch = choice.ef_search
    elif choice.kind == "ivf-sq8":
        faiss.extract_index_ivf(index).nprobe = choice.nprobe


def build_faiss(
    vectors: np.ndarray,
    choice: IndexChoice | str = "auto",
    *,
    target_recall: float = TARGET_RECALL,
    tune_queries: int = 500,
    seed: int = 0,
) -> BuiltIndex:
    """Build the index of ``choice`` over ``vectors`` (ids = row numbers) and tune its recall.

    Args:
        vectors: (n, dim) float32, rows L2-normalised.
        choice: An ``IndexChoice``, or a kind for ``choose_index``.
        target_recall: Recall@10 the search knob is raised to reach (approximate kinds).
        tune_queries: Queries (``probe_queries``) used to measure recall.
        seed: Sampling seed (training sample, tuning queries).

    Returns:
        The index with its tuned parameters and measured recall@10.
    """
    import faiss

    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = x.shape
    if isinstance(choice, str):
        choice = choose_index(n, dim, choice)
    rng = np.random.default_rng(seed)
    train_s = 0.0
    if choice.kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif choice.kind == "flat-fp16":
        index = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, _metric())
    elif choice.kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, choice.hnsw_m, _metric())
        index.hnsw.efConstruction = choice.ef_construction
    elif choice.kind == "ivf-sq8":
        nlist = max(1, min(choice.nlist, n))
        choice = replace(choice, nlist=nlist, nprobe=min(choice.nprobe, nlist))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, _metric())
        index.cp.spherical = True  # centroids on the sphere, like the vectors
        t0 = time.perf_counter()
        sample = x if choice.train_size >= n else x[np.sort(rng.choice(n, choice.train_size, replace=False))]
        if n:
            index.train(sample)
        train_s = time.perf_counter() - t0
    else:
        raise RhetoricError(f"unknown index kind {choice.kind!r}")
    t0 = time.perf_counter()
    if n:
        index.add(x)
    if choice.kind == "ivf-sq8":
        index.make_direct_map()  # so reconstruct(id) works, as the index's readers expect
    add_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    recall = None
    if choice.kind == "flat-fp16" and n:  # nothing to tune: measure what float16 costs
        q = probe_queries(x, tune_queries, rng)
        recall = recall_at_10(index, x, q)
    elif choice.kind != "flat" and n:
        choice, recall = _tune(index, x, choice, target_recall, tune_queries, rng)
    return BuiltIndex(index, choice, recall, round(train_s, 3), round(add_s, 3), round(time.perf_counter() - t0, 3))


def probe_queries(x: np.ndarray, n_queries: int, rng: np.random.Generator) -> np.ndarray:
    """Queries near the data but not in it: stored vectors moved off themselves, unit length.

    Each query is a sampled stored vector turned in a random direction until its cosine to
    that vector equals the vector's cosine to its nearest other vector, so it sits as far away
    as a paraphrase would. Stored vectors themselves would overstate recall (an HNSW graph
    leads straight to them).
    """
    import faiss

    ids = np.sort(rng.choice(len(x), size=min(n_queries, len(x)), replace=False))
    base = x[ids]
    if len(x) < 2:
        return base.copy()
    sims, _ = faiss.knn(base, x, 2, _metric())
    cos = np.clip(sims[:, 1], -1.0, 1.0)[:, None]  # [:, 0] is the vector itself
    u = rng.standard_normal(base.shape).astype(np.float32)
    u -= (u * base).sum(axis=1, keepdims=True) * base  # orthogonal to the stored vector
    u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
    q = cos * base + np.sqrt(1.0 - cos**2) * u
    return np.ascontiguousarray(q / np.linalg.norm(q, axis=1, keepdims=True), dtype=np.float32)


def _tune(
    index: Any, x: np.ndarray, choice: IndexChoice, target: float, n_queries: int, rng: np.random.Generator
) -> tuple[IndexChoice, float]:
    """The smallest efSearch / nprobe whose recall@10 on ``probe_queries`` reaches ``target``.

    Smaller knobs are faster; if no setting reaches the target, the largest tried is kept.
    """
    q = probe_queries(x, n_queries, rng)
    truth = exact_neighbours(x, q, 10)
    if choice.kind == "hnsw":
        options = [replace(choice, ef_search=e) for e in _EF_STEPS]
    else:
        steps = sorted({*(2**i for i in range(20) if 2**i <= choice.nlist), choice.nlist})
        options = [replace(choice, nprobe=p) for p in steps]
    recall = 0.0
    for option in options:
        set_search_param(index, option)
        recall = recall_at_10(index, x, q, truth=truth)
        choice = option
        if recall >= target:
            break
    return choice, recall


def exact_neighbours(
    vectors: np.ndarray, queries: np.ndarray, k: int = 10, *, exclude: np.ndarray | None = None
) -> np.ndarray:
    """Ids of the exact top-``k`` inner-product neighbours of each query (brute force, no copy).

    Args:
        vectors: (n, dim) float32 database.
        queries: (q, dim) float32 queries.
        k: Neighbours per query.
        exclude: Optional id per query to leave out (the query's own row when it is stored).

    Returns:
        (q, k) int64 ids, best first (-1 pads when fewer exist).
    """
    import faiss

    extra = 0 if exclude is None else 1
    kk = min(len(vectors), k + extra)
    _, ids = faiss.knn(np.ascontiguousarray(queries, dtype=np.float32), np.ascontiguousarray(vectors), kk, _metric())
    return _drop(ids, exclude, k)


def _drop(ids: np.ndarray, exclude: np.ndarray | None, k: int) -> np.ndarray:
    """Keep the first ``k`` ids of each row that are not the row's excluded id."""
    if exclude is None:
        out = ids[:, :k]
    else:
        out = np.full((len(ids), k), -1, dtype=np.int64)
        for r, (row, own) in enumerate(zip(ids, exclude)):
            kept = row[(row != own) & (row >= 0)][:k]
            out[r, : len(kept)] = kept
    if out.shape[1] < k:
        out = np.hstack([out, np.full((len(out), k - out.shape[1]), -1, dtype=np.int64)])
    return out


def recall_at_10(
    index: Any,
    vectors: np.ndarray,
    queries: np.ndarray,
    *,
    exclude: np.ndarray | None = None,
    truth: np.ndarray | None = None,
) -> float:
    """Share of the exact top 10 (by inner product over ``vectors``) that ``index`` returns in its top 10.

    Args:
        index: A FAISS index over ``vectors`` (ids = row numbers).
        vectors: (n, dim) float32, the indexed vectors, for the exact answer.
        queries: (q, dim) float32 queries.
        exclude: Optional id per query left out of both lists (its own row, for stored queries).
        truth: Precomputed ``exact_neighbours(vectors, queries, 10, exclude=exclude)``.

    Returns:
        Recall@10 in [0, 1].
    """
    if truth is None:
        truth = exact_neighbours(vectors, queries, 10, exclude=exclude)
    kk = min(index.ntotal, 10 + (0 if exclude is None else 1))
    _, approx = index.search(np.ascontiguousarray(queries, dtype=np.float32), kk)
    approx = _drop(approx, exclude, 10)
    hits = total = 0
    for a, t in zip(approx.tolist(), truth.tolist()):
        want = {i for i in t if i >= 0}
        hits += len(want & set(a))
        total += len(want)
    return hits / total if total else 1.0


def describe(index: Any) -> str:
    """The manifest name of a FAISS index: "flat-ip", "flat-fp16-ip", "hnsw-ip" or "ivf-sq8-ip"."""
    import faiss

    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexFlat):
        return "flat-ip"
    if isinstance(index, faiss.IndexHNSW):
        return "hnsw-ip"
    if isinstance(index, faiss.IndexIVFScalarQuantizer):
        return "ivf-sq8-ip"
    if isinstance(index, faiss.IndexScalarQuantizer):
        return "flat-fp16-ip"
    return type(index).__name__
