"""Benchmark the big inputs of issue 5: one 50 MB document and 100,000 tiny ones.

Stages measured:

1. normalise  one million characters of CCTV text, with the fast paths (lines needing neither
              OpenCC nor the punctuation pass are passed over) and with them forced off;
2. dump       ``rhetoric index build`` of a single ~50 MB text file (the CCTV and government
              report corpora joined, repeated to size) with the hashing model, in a subprocess:
              wall time, peak RSS, the report, cache and index sizes;
3. tiny       the same for 100,000 one-sentence JSONL records;
4. environment (versions, CPUs, commit).

Written atomically as JSON (default ``bench/results/robust.json``); a short table is printed.

Usage: ``python bench/bench_robust.py [--mb 50] [--tiny 100000] [--out PATH]`` (about 10 min)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, environment, write_json_atomic  # bench/ is on sys.path when run as a script

CORPORA = [ROOT / ".." / "shared" / "corpus" / n for n in ("xwlb_2020_2022.jsonl", "gov_reports.jsonl")]
DEFAULT_OUT = ROOT / "bench" / "results" / "robust.json"


def corpus_text() -> str:
    texts = []
    for path in CORPORA:
        with open(path, encoding="utf-8") as fh:
            texts += [json.loads(line)["text"] for line in fh]
    return "\n".join(texts)


def bench_normalise(text: str) -> dict[str, Any]:
    import rhetoric.normalize as n

    sample = text[:1_000_000]
    n.normalize(sample[:10_000])  # tables and dictionaries load once

    def cpu() -> float:
        t0 = time.process_time()
        n.normalize(sample)
        return time.process_time() - t0

    fast = cpu()
    saved = n._PUNCT_WORK, n._convertible
    n._PUNCT_WORK, n._convertible = re.compile(""), (lambda: frozenset(sample))
    try:
        slow = cpu()
    finally:
        n._PUNCT_WORK, n._convertible = saved
    return {
        "chars": len(sample),
        "fast_cpu_s": round(fast, 2),
        "without_fast_paths_cpu_s": round(slow, 2),
        "fast_chars_per_s": round(len(sample) / fast),
        "speedup": round(slow / fast, 1),
    }


def build(paths: list[Path], folder: Path, home: Path, *extra: str) -> dict[str, Any]:
    """``rhetoric index build`` in a subprocess: wall time, peak RSS and the JSON report."""
    env = {**os.environ, "RHETORIC_HOME": str(home)}
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu0 = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    t0 = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "rhetoric", "index", "build", *map(str, paths), "--index", str(folder),
         "--model", "hash", "--json", *extra],
        capture_output=True, text=True, cwd=ROOT, env=env,
    )
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime - cpu0
    if result.returncode != 0:
        raise SystemExit(f"build failed: {result.stderr.strip()}")
    report = json.loads(result.stdout)
    cache = home / "cache" / "embeddings.sqlite"
    gen = folder / json.loads((folder / "manifest.json").read_text())["generation"]
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),  # the build's own CPU time: what the wall time is on an idle machine
        # ru_maxrss of children is the largest child so far: valid when this one is the largest.
        "peak_rss_mib": round(peak / 1024) if peak > before else None,
        "report": {k: report[k] for k in ("documents", "sentences", "vectors", "embedded", "seconds", "warnings")},
        "cache_mib": round(cache.stat().st_size / 2**20, 1),
        "cache_bytes_per_vector": round(cache.stat().st_size / max(report["vectors"], 1)),
        "index_mib": round(sum(p.stat().st_size for p in gen.iterdir()) / 2**20, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=50.0, help="size of the single document, in MB of UTF-8")
    ap.add_argument("--tiny", type=int, default=100_000, help="number of tiny documents")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    text = corpus_text()
    out: dict[str, Any] = {"normalise": bench_normalise(text)}
    print("normalise", out["normalise"], flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        # The tiny documents first: ru_maxrss of children only grows, and the dump uses more.
        rng = random.Random(0)
        sentences = [s + "。" for s in text.split("。") if 6 < len(s) < 60]
        tiny = tmpdir / "tiny.jsonl"
        with open(tiny, "w", encoding="utf-8") as fh:
            for i in range(args.tiny):
                rec = {"id": f"t{i:06d}", "text": rng.choice(sentences), "source": f"s{i % 50}"}
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        out["tiny"] = {"documents": args.tiny, **build([tiny], tmpdir / "ix-tiny", tmpdir / "home-tiny")}
        print("tiny", out["tiny"], flush=True)
        target = int(args.mb * 1_000_000)
        parts, size, r = [], 0, 0
        while size < target:
            part = f"第{r}部分\n{text}\n"
            parts.append(part)
            size += len(part.encode("utf-8"))
            r += 1
        dump_text = "".join(parts)
        dump_text = dump_text[: int(len(dump_text) * target / size)]
        dump = tmpdir / "dump.txt"
        dump.write_text(dump_text, encoding="utf-8")
        out["dump"] = {
            "mb": round(dump.stat().st_size / 1e6, 1),
            "chars": len(dump_text),
            **build([dump], tmpdir / "ix-dump", tmpdir / "home-dump"),
        }
        del dump_text, parts
        print("dump", out["dump"], flush=True)
    d = out["dump"]
    if d["peak_rss_mib"]:
        out["dump"]["bytes_per_char"] = round(d["peak_rss_mib"] * 2**20 / d["chars"])
    out["environment"] = environment()
    write_json_atomic(args.out, out)
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
