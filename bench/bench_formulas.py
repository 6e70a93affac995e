"""Benchmark formula mining on the CCTV corpus: normalising, scaling, ranking checks, memory.

Measured in one run:

1. normalise  every document once (docs/s, chars/s), then recurring boilerplate flagged per
              source as :func:`rhetoric.index.build_index` does (``央视网消息（新闻联播）：``);
2. scaling    ``mine_formulas(Texts(pairs[:N]), lexicon=load_lexicon())`` over the first N
              documents for each fraction, each in a fresh process so that peak RSS (a
              high-water mark) belongs to that run alone: seconds, peak RSS, formulas, seconds
              per stage (``find_repeats`` against the rest: ranking, grouping, fuzzy variants),
              and ``find_repeats`` timed again on its own over the same masked texts;
3. ranking    on the largest fraction the top 40 formulas are printed, and the top 50 are
              checked for the expected formulas (:data:`EXPECTED`) and for leaked boilerplate;
4. semantic   the memory bound of near-duplicate search (:func:`rhetoric.cluster.calibrate` +
              ``_neighbours``) over the sentences and phrases of the first 25 %, embedded with
              ``HashingEmbedder(dim=384)``: a stand-in with the real model's dimension (the real
              model would take hours here), for block sizes 1024 and 4096, each in a fresh process.

The result is written atomically as JSON (default ``bench/results/formulas.json``) and a short
table is printed.

Usage: ``python bench/bench_formulas.py [--quick] [--fractions 0.25,0.5,1.0] [--out PATH]``
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing as mp
import os
import pickle
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import (  # bench/ is on sys.path when run as a script
    ROOT,
    environment,
    peak_rss_mib,
    rss_mib,
    write_json_atomic,
)

DEFAULT_CORPUS = ROOT / ".." / "shared" / "corpus" / "xwlb_2020_2022.jsonl"
DEFAULT_OUT = ROOT / "bench" / "results" / "formulas.json"
QUICK_FRACTIONS = "0.05,0.1"
EXPECTED = (
    "以习近平同志为核心的党中央",
    "人民至上、生命至上",
    "外防输入、内防反弹",
    "动态清零",
    "不忘初心、牢记使命",
    "统筹疫情防控和经济社会发展",
)
LEAKS = ("央视网消息", "新闻联播）")
TOP_PRINT, TOP_CHECK = 40, 50
SEMANTIC_FRACTION, SEMANTIC_DIM, SEMANTIC_K, BLOCKS = 0.25, 384, 10, (1024, 4096)
# The stages of mine_formulas timed by wrapping them (outermost call only: no double count).
# Names missing from the library are skipped, so the bench survives refactoring.
STAGES = (
    "_load",
    "_slogan_uses",
    "_pre_score",
    "_name_share",
    "_formula",
    "_slogan_formulas",
    "_absorb",
    "_group",
    "_find_fuzzy_variants",
    "_first_seen",
    "_adoption",
)
TIMEOUT_S = 3600  # per fraction; a run past it is recorded as timed out, with its stage log


def overlaps(a: str, b: str) -> bool:
    """One contains the other and the shorter is at least 60 % of the longer."""
    short, long_ = sorted((a, b), key=len)
    return short in long_ and len(short) >= 0.6 * len(long_)


def in_subprocess(fn: Callable[..., dict[str, Any]], *args: Any, timeout: float | None = None) -> dict[str, Any]:
    """Run ``fn(*args)`` in a fresh (spawned) process and return its result.

    Past ``timeout`` seconds the process is ended and ``{"timed_out": True}`` returned.
    """
    with mp.get_context("spawn").Pool(1) as pool:
        try:
            return pool.apply_async(fn, args).get(timeout)
        except mp.TimeoutError:
            return {"timed_out": True, "timeout_s": timeout}


# --------------------------------------------------------------------------- normalising


def normalise_corpus(corpus: Path) -> tuple[list[Any], dict[str, Any]]:
    """Read and normalise every document, then flag recurring boilerplate per source."""
    from rhetoric.boilerplate import RecurringBoilerplate
    from rhetoric.ingest import read_documents
    from rhetoric.normalize import normalize
    from rhetoric.records import Span

    t0 = time.perf_counter()
    docs = list(read_documents([corpus]))
    read_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    norms = [normalize(d.text) for d in docs]
    norm_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rb = RecurringBoilerplate().fit((d.source, n.text) for d, n in zip(docs, norms, strict=True))
    flagged = 0
    for d, n in zip(docs, norms, strict=True):
        found = rb.find(d.source, n.text)
        n.spans = sorted(
            n.spans + [Span(*n.to_original(a, b), "boilerplate") for a, b in found],
            key=lambda s: (s.start, s.end),
        )
        flagged += sum(b - a for a, b in found)
    recur_s = time.perf_counter() - t0
    chars = sum(len(d.text) for d in docs)
    info = {
        "docs": len(docs),
        "chars": chars,
        "read_s": round(read_s, 2),
        "normalise_s": round(norm_s, 2),
        "docs_per_s": round(len(docs) / norm_s, 1),
        "chars_per_s": round(chars / norm_s),
        "recurring_s": round(recur_s, 2),
        "recurring_patterns": {str(k): sorted(v) for k, v in rb.patterns.items()},
        "recurring_flagged_chars": flagged,
        "peak_rss_mib": peak_rss_mib(),
    }
    return list(zip(docs, norms, strict=True)), info


# --------------------------------------------------------------------------- mining worker


class StageClock:
    """Wraps module functions to add up their seconds; nested wrapped calls count once."""

    def __init__(self, log: str | None = None) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.depth = 0
        self.log = log
        self.t0 = time.perf_counter()

    def note(self, event: str, label: str, size: int | None) -> None:
        """Log entries to (and exits from) the stages called once, for a run that times out."""
        if self.log and self.calls[label] == 0:
            with open(self.log, "a", encoding="utf-8") as fh:
                fh.write(
                    json.dumps(
                        {
                            "at_s": round(time.perf_counter() - self.t0, 2),
                            "event": event,
                            "stage": label,
                            "input_size": size,
                        }
                    )
                    + "\n"
                )

    def wrap(self, module: Any, name: str, label: str | None = None) -> None:
        if not hasattr(module, name):
            return
        inner = getattr(module, name)
        label = label or name.lstrip("_")

        def timed(*args: Any, **kwargs: Any) -> Any:
            if self.depth == 0:
                size = len(args[0]) if args and isinstance(args[0], (list, tuple)) else None
                self.note("enter", label, size)
            self.depth += 1
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.depth -= 1
                if self.depth == 0:
                    self.seconds[label] += time.perf_counter() - t0
                    self.note("exit", label, None)
                    self.calls[label] += 1

        setattr(module, name, timed)


def formula_row(rank: int, f: Any, texts: dict[str, str] | None = None) -> dict[str, Any]:
    """One formula for the JSON; with ``texts`` (doc id -> text), its first use in context."""
    row = {
        "rank": rank,
        "text": f.text,
        "kind": f.kind,
        "n_docs": f.n_docs,
        "score": f.score,
        "features": f.features,
        "variants": len(f.variants),
    }
    if texts and f.occurrences:
        o = f.occurrences[0]
        t = texts[o.doc_id]
        row["example"] = f"{o.doc_id}: …{t[max(0, o.start - 12) : o.start]}[{o.text}]{t[o.end : o.end + 12]}…"
    return row


def ranking_checks(formulas: list[Any], texts: dict[str, str]) -> dict[str, Any]:
    """Where the expected formulas rank, and boilerplate leaking into the top."""
    expected = {}
    for e in EXPECTED:
        rank = next((i + 1 for i, f in enumerate(formulas) if overlaps(e, f.text)), None)
        via_variant = next(
            (i + 1 for i, f in enumerate(formulas) if any(overlaps(e, v.text) for v in f.variants)),
            None,
        )
        expected[e] = {
            "rank": rank,
            "in_top50": rank is not None and rank <= TOP_CHECK,
            "matched": formulas[rank - 1].text if rank else None,
            "row": formula_row(rank, formulas[rank - 1], texts) if rank else None,
            "rank_as_variant": via_variant,
            "variant_of": formulas[via_variant - 1].text if via_variant else None,
        }
    leaks = [
        formula_row(i + 1, f, texts) for i, f in enumerate(formulas[:TOP_CHECK]) if any(x in f.text for x in LEAKS)
    ]
    return {
        "expected": expected,
        "boilerplate_in_top50": leaks,
        "top": [formula_row(i + 1, f, texts) for i, f in enumerate(formulas[:TOP_CHECK])],
    }


def mine_worker(pairs_path: str, analyse: bool, log: str) -> dict[str, Any]:
    """Mine one fraction (in a fresh process); time the stages and find_repeats alone."""
    import rhetoric.formulas as formulas
    import rhetoric.repeats as repeats
    from rhetoric.lexicon import load_lexicon

    with open(pairs_path, "rb") as fh:
        pairs = pickle.load(fh)
    t0 = time.perf_counter()
    lexicon = load_lexicon()
    formulas._jieba()[0].initialize()
    formulas._jieba()[1].lcut("以习近平同志为核心的党中央")  # loads the POS model too
    repeats.find_repeats(["人民至上、生命至上", "人民至上、生命至上"])  # numba cache
    warm_s = time.perf_counter() - t0
    gc.collect()
    rss_before = rss_mib()
    find_repeats = repeats.find_repeats
    clock = StageClock(log)
    clock.wrap(repeats, "find_repeats")  # imported by mine_formulas at call time
    for name in STAGES:
        clock.wrap(formulas, name)
    t0 = time.perf_counter()
    found = formulas.mine_formulas(formulas.Texts(pairs), lexicon=lexicon)
    seconds = time.perf_counter() - t0
    peak = peak_rss_mib()
    stages = {k: round(v, 2) for k, v in sorted(clock.seconds.items(), key=lambda kv: -kv[1])}
    stages["other (candidate loop)"] = round(seconds - sum(clock.seconds.values()), 2)
    out: dict[str, Any] = {
        "docs": len(pairs),
        "chars": sum(len(d.text) for d, _ in pairs),
        "seconds": round(seconds, 2),
        "warmup_s": round(warm_s, 2),
        "rss_before_mib": rss_before,
        "peak_rss_mib": peak,
        "formulas": len(found),
        "slogans": sum(f.kind == "slogan" for f in found),
        "stages_s": stages,
        "stage_calls": dict(clock.calls),
        "find_repeats_in_run_s": round(clock.seconds["find_repeats"], 2),
        "rest_s": round(seconds - clock.seconds["find_repeats"], 2),
    }
    if analyse:
        out["ranking"] = ranking_checks(found, {d.doc_id: d.text for d, _ in pairs})
    del found
    gc.collect()
    masked = [n.masked() for _, n in pairs]
    t0 = time.perf_counter()
    reps = find_repeats(masked)  # the same arguments mine_formulas passes (min_docs=2, min_len=4)
    out["find_repeats_alone_s"] = round(time.perf_counter() - t0, 2)
    out["repeats"] = len(reps)
    return out


# --------------------------------------------------------------------------- semantic workers


def embed_worker(pairs_path: str, space_path: str) -> dict[str, Any]:
    """Sentences and phrases of the documents (as the index embeds them), hashed to vectors."""
    import numpy as np

    from rhetoric.embed import HashingEmbedder
    from rhetoric.index import phrase_units
    from rhetoric.segment import segment

    with open(pairs_path, "rb") as fh:
        pairs = pickle.load(fh)
    t0 = time.perf_counter()
    owners: dict[str, set[str]] = defaultdict(set)
    n_sent = n_phrase = 0
    for doc, norm in pairs:
        for s in segment(doc, norm):
            if s.kind == "text" and s.norm:
                owners[s.norm].add(doc.doc_id)
                n_sent += 1
            for _, _, t in phrase_units(s):
                owners[t].add(doc.doc_id)
                n_phrase += 1
    texts = sorted(owners)
    segment_s = time.perf_counter() - t0
    emb = HashingEmbedder(dim=SEMANTIC_DIM)
    t0 = time.perf_counter()
    vectors = emb.embed(texts, "passage", batch_size=1024)
    embed_s = time.perf_counter() - t0
    np.save(space_path + ".npy", np.ascontiguousarray(vectors, dtype=np.float32))
    with open(space_path + ".pkl", "wb") as fh:
        pickle.dump((texts, [frozenset(owners[t]) for t in texts]), fh, protocol=pickle.HIGHEST_PROTOCOL)
    return {
        "docs": len(pairs),
        "sentences": n_sent,
        "phrases": n_phrase,
        "vectors": len(texts),
        "dim": SEMANTIC_DIM,
        "segment_s": round(segment_s, 2),
        "embed_s": round(embed_s, 2),
        "embedder": emb.model_id,
    }


def neighbours_worker(space_path: str, block: int, k: int) -> dict[str, Any]:
    """calibrate + _neighbours over the saved vectors (in a fresh process)."""
    import faiss  # noqa: F401 - loaded before the baseline so its libraries do not count
    import numpy as np

    from rhetoric.cluster import _neighbours, _Space, calibrate

    vectors = np.load(space_path + ".npy")
    with open(space_path + ".pkl", "rb") as fh:
        texts, docs = pickle.load(fh)
    n = len(vectors)
    space = _Space(vectors, [[]] * n, docs, texts)
    gc.collect()
    rss_before, peak_before = rss_mib(), peak_rss_mib()
    t0 = time.perf_counter()
    cal = calibrate(vectors, docs, model_id=f"hash-{vectors.shape[1]}")
    cal_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    edges = _neighbours(space, cal.threshold, k, block)
    nb_s = time.perf_counter() - t0
    peak = peak_rss_mib()
    vec_bytes = n * vectors.shape[1] * 4
    block_bytes = min(block, n) * (k + 1) * (4 + 8)  # faiss results: float32 scores + int64 ids
    return {
        "block": block,
        "k": k,
        "vectors": n,
        "calibrate_s": round(cal_s, 2),
        "neighbours_s": round(nb_s, 2),
        "edges": len(edges),
        "threshold": cal.threshold,
        "rss_before_mib": rss_before,
        "peak_before_mib": peak_before,
        "peak_rss_mib": peak,
        "peak_delta_mib": round(peak - rss_before, 1),
        "bound_block_bytes": block_bytes,
        "vector_bytes": vec_bytes,
        "bound_mib": round((block_bytes + vec_bytes) / 2**20, 1),
        "bound_note": "bound = block*(k+1)*(4+8) bytes of faiss results + n*d*4 bytes of vectors; "
        "the vectors are loaded before rss_before, so the delta holds IndexFlatIP's own copy "
        "of them (another n*d*4) and _neighbours' per-vector best-match dicts, which grow "
        "with n, not with block",
    }


# --------------------------------------------------------------------------- reporting


def print_report(r: dict[str, Any]) -> None:
    n = r["normalise"]
    print(
        f"normalise: {n['docs']} docs, {n['chars']} chars in {n['normalise_s']} s "
        f"({n['docs_per_s']} docs/s, {n['chars_per_s']} chars/s); "
        f"recurring boilerplate {n['recurring_flagged_chars']} chars in {n['recurring_s']} s"
    )
    print(
        f"\n{'fraction':>8}{'docs':>7}{'chars':>10}{'sec':>8}{'ratio':>7}{'chars/s':>9}"
        f"{'peakMiB':>9}{'formulas':>9}{'repeats s':>10}{'rest s':>8}"
    )
    for row in r["scaling"]:
        if row.get("timed_out"):
            print(
                f"{row['fraction']:>8}{row['docs']:>7}  timed out after {row['timeout_s']} s; "
                f"stage log: {row['stage_log'][-2:]}"
            )
            continue
        print(
            f"{row['fraction']:>8}{row['docs']:>7}{row['chars']:>10}{row['seconds']:>8}"
            f"{row['seconds_ratio']!s:>7}{row['chars_per_s']:>9}{row['peak_rss_mib']:>9}"
            f"{row['formulas']:>9}{row['find_repeats_in_run_s']:>10}{row['rest_s']:>8}"
        )
    for row in r["scaling"]:
        if not row.get("timed_out"):
            print(f"stages at {row['fraction']:g} (s): " + ", ".join(f"{k} {v}" for k, v in row["stages_s"].items()))
    rk = r["ranking"] or {
        "fraction": r["scaling"][-1]["fraction"],
        "top": [],
        "expected": {},
        "boilerplate_in_top50": [],
    }
    print(f"\ntop {TOP_PRINT} formulas at fraction {rk['fraction']:g}:")
    for f in rk["top"][:TOP_PRINT]:
        print(f"{f['rank']:>3}  {f['score']:>7.2f}  {f['n_docs']:>5}  {f['kind']:<7}  {f['text']}")
    print(f"\nexpected formulas (top {TOP_CHECK}):")
    for e, v in rk["expected"].items():
        extra = (
            f" (as a variant of #{v['rank_as_variant']} {v['variant_of']})"
            if v["rank_as_variant"] and not v["in_top50"]
            else ""
        )
        ok = "OK" if v["in_top50"] else "MISSING"
        row = v.get("row") or {}
        why = f" score {row['score']}, {row['n_docs']} docs, {row['features']}" if row else ""
        print(f"  {e}: rank {v['rank']} {ok} {v['matched'] or ''}{extra}{why if not v['in_top50'] else ''}")
    print(f"boilerplate in top {TOP_CHECK}: {len(rk['boilerplate_in_top50'])}")
    s, e = r["semantic"], r["semantic"]["embed"]
    print(
        f"\nsemantic ({e['embedder']}, stand-in for the real model's dimension; "
        f"{e['vectors']} vectors of {e['docs']} docs, embedded in {e['embed_s']} s)"
    )
    print(f"{'block':>6}{'k':>4}{'calib s':>9}{'neigh s':>9}{'RSS before':>11}{'peak':>8}{'delta':>8}{'bound MiB':>10}")
    for b in s["runs"]:
        print(
            f"{b['block']:>6}{b['k']:>4}{b['calibrate_s']:>9}{b['neighbours_s']:>9}"
            f"{b['rss_before_mib']:>11}{b['peak_rss_mib']:>8}{b['peak_delta_mib']:>8}{b['bound_mib']:>10}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--fractions", default="0.25,0.5,1.0")
    ap.add_argument("--quick", action="store_true", help=f"fractions {QUICK_FRACTIONS}")
    ap.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds per fraction")
    args = ap.parse_args(argv)
    fractions = sorted(float(x) for x in (QUICK_FRACTIONS if args.quick else args.fractions).split(","))
    corpus = args.corpus.resolve()
    result: dict[str, Any] = {
        "corpus": str(corpus),
        "quick": args.quick,
        "environment": environment(),
    }

    pairs, result["normalise"] = normalise_corpus(corpus)
    with tempfile.TemporaryDirectory(prefix="bench_formulas.") as tmp:
        paths = {}
        for frac in sorted(set(fractions) | {SEMANTIC_FRACTION}):
            paths[frac] = os.path.join(tmp, f"pairs_{frac:g}.pkl")
            with open(paths[frac], "wb") as fh:
                pickle.dump(pairs[: max(1, round(len(pairs) * frac))], fh, protocol=pickle.HIGHEST_PROTOCOL)
        del pairs
        gc.collect()
        rows = []
        for frac in fractions:
            print(f"mining {frac:g} …", file=sys.stderr, flush=True)
            log = os.path.join(tmp, f"stages_{frac:g}.jsonl")
            row = in_subprocess(mine_worker, paths[frac], frac == fractions[-1], log, timeout=args.timeout)
            if row.get("timed_out"):
                with open(log, encoding="utf-8") as fh:
                    row["stage_log"] = [json.loads(line) for line in fh]
                row["docs"] = max(1, round(result["normalise"]["docs"] * frac))
                print(
                    f"  timed out after {args.timeout} s; last stage: {row['stage_log'][-1:]}",
                    file=sys.stderr,
                    flush=True,
                )
            rows.append({"fraction": frac, **row})
        ranking = rows[-1].pop("ranking", None)
        full = rows[-1]
        for row in rows:
            done = not row.get("timed_out")
            row["seconds_ratio"] = round(row["seconds"] / full["seconds"], 3) if done and "seconds" in full else None
            row["chars_ratio"] = round(row["chars"] / full["chars"], 3) if done and "chars" in full else None
            row["chars_per_s"] = round(row["chars"] / row["seconds"]) if done else None
        result["scaling"] = rows
        result["ranking"] = {"fraction": fractions[-1], **ranking} if ranking else None

        print("semantic …", file=sys.stderr, flush=True)
        space = os.path.join(tmp, "space")
        embed = in_subprocess(embed_worker, paths[SEMANTIC_FRACTION], space)
        runs = [in_subprocess(neighbours_worker, space, b, SEMANTIC_K) for b in BLOCKS]
    result["semantic"] = {
        "fraction": SEMANTIC_FRACTION,
        "note": f"HashingEmbedder(dim={SEMANTIC_DIM}) stands in for the real model "
        "(multilingual-e5-small, 384 dimensions): same vector count and dimension, so the "
        "same memory and search cost, but not the same neighbours; embedding this many "
        "passages with the real model on CPU would take hours",
        "embed": embed,
        "runs": runs,
    }
    write_json_atomic(args.out, result)
    print_report(result)
    print(f"\nwritten {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
