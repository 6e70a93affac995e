"""Benchmark a whole-corpus build end to end, from an empty embedding cache, then a rebuild.

Runs ``rhetoric index build CORPUS --model MODEL`` in a subprocess with a fresh
``$RHETORIC_HOME`` (so nothing is cached), times it and its peak memory, then runs the same
build again on the unchanged corpus (everything comes from the index: nothing is embedded) and
reports the rebuild as a share of the first build. The first build's figures are what a user
with a new corpus waits for: reading, normalising, segmenting, embedding every distinct
sentence (and phrase, unless ``--no-phrases``), writing SQLite and FAISS.

Usage: ``python bench/bench_e2e.py [--model onnx] [--no-phrases] [--limit N] [--out PATH]``
(``onnx`` needs ``rhetoric models build e5-small``; ``$RHETORIC_MODELS`` is passed through.)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, environment, write_json_atomic

DEFAULT_CORPUS = ROOT / ".." / "shared" / "corpus" / "xwlb_2020_2022.jsonl"
DEFAULT_OUT = ROOT / "bench" / "results" / "e2e.json"

# A child that runs one build and prints its own children's peak RSS (so earlier runs don't count).
_MEASURE = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(r.returncode)"
)


def run_build(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``rhetoric index build ARGS --json`` once; its report, wall and CPU seconds, peak RSS."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "rhetoric", "index", "build", *args, "--json",
         "--quiet"],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"build failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round((after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), 1),
        "peak_rss_mib": round(int(proc.stderr.strip().splitlines()[-1]) / 1024, 1),
        "report": json.loads(proc.stdout),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--model", default="onnx")
    ap.add_argument("--no-phrases", action="store_true", help="embed sentences only (a third of the work)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N records (0: all)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="rhetoric-e2e-") as tmp:
        corpus = args.corpus
        if args.limit:
            corpus = Path(tmp) / "corpus.jsonl"
            with open(args.corpus, encoding="utf-8") as src, open(corpus, "w", encoding="utf-8") as dst:
                for i, line in enumerate(src):
                    if i >= args.limit:
                        break
                    dst.write(line)
        env = dict(os.environ, RHETORIC_HOME=str(Path(tmp) / "home"))  # an empty embedding cache
        build_args = [str(corpus), "--index", str(Path(tmp) / "index"), "--model", args.model]
        if args.no_phrases:
            build_args.append("--no-phrases")
        first = run_build(build_args, env)
        again = run_build(build_args, env)
    rep = first["report"]
    out = {
        "corpus": str(args.corpus.resolve()),
        "limit": args.limit or None,
        "model": args.model,
        "phrases": not args.no_phrases,
        "documents": rep["documents"],
        "sentences": rep["sentences"],
        "vectors": rep["vectors"],
        "first_build": first,
        "vectors_per_s": round(rep["embedded"] / first["wall_s"], 1) if first["wall_s"] else None,
        "rebuild_unchanged": again,
        "rebuild_share_of_first": round(again["wall_s"] / first["wall_s"], 4) if first["wall_s"] else None,
        "environment": environment(),
    }
    write_json_atomic(args.out, out)
    print(f"{rep['documents']} documents, {rep['sentences']} sentences, {rep['vectors']} vectors ({args.model}, "
          f"phrases {'on' if not args.no_phrases else 'off'})")
    print(f"first build (empty cache): {first['wall_s']} s wall, {first['cpu_s']} s CPU, "
          f"{first['peak_rss_mib']} MiB peak, {out['vectors_per_s']} vectors/s")
    print(f"rebuild, unchanged corpus: {again['wall_s']} s = {out['rebuild_share_of_first']:.2%} of the first, "
          f"{again['report']['embedded']} embedded")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
