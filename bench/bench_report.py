"""Benchmark report writing: the seeds and the whole CCTV corpus, analysis and writing timed apart.

For each corpus:

1. index     the seeds are indexed with the ``hash`` embedder into a temporary folder; the
             corpus index is given with ``--index`` (build one with ``rhetoric index build
             ../shared/corpus/xwlb_2020_2022.jsonl --model hash --index /tmp/xwlb-hash``, about
             5 min) or, without it, built here the same way and timed;
2. analysis  :func:`rhetoric.report.analyze` (formulas, near duplicates, clusters, scores), per step.
             The corpus is analysed without the semantic part (``semantic=False``, as ``rhetoric
             report --no-semantic``) unless ``--semantic``: its index is built with ``hash``, whose
             vectors are lexical, and the nearest-neighbour search over its 481k vectors takes
             well over an hour on 2 busy cores;
             with ``--analysis-cache FILE`` the corpus analysis is pickled there, and a later run
             loads it and reports the timings measured when it ran (``analysis_from_cache``);
3. report    :func:`rhetoric.report.build_report` once, then :func:`write_report` for HTML, Markdown
             and JSON: seconds, files, total and largest file size. ``write_after_analysis_s`` is
             build + HTML write, what ``rhetoric report --out report.html`` adds to the analysis;
4. browser   when Debian's chromium and selenium are there, the time headless chromium takes to
             open the HTML entry page and one document view (``readyState`` complete).

Peak RSS is the process's high-water mark after each corpus. The result is written atomically
(default ``bench/results/report.json``) and a short table printed.

Usage: ``python bench/bench_report.py [--index /tmp/xwlb-hash] [--seeds-only] [--out PATH]``
"""

from __future__ import annotations

import argparse
import os
import pickle
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, environment, write_json_atomic  # bench/ is on sys.path when run as a script

DEFAULT_CORPUS = ROOT / ".." / "shared" / "corpus" / "xwlb_2020_2022.jsonl"
DEFAULT_OUT = ROOT / "bench" / "results" / "report.json"


def _peak_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _open_times(entry: Path, doc_url: str) -> dict[str, Any] | None:
    """Seconds headless chromium takes to load the entry page and one document view."""
    if not (os.path.exists("/usr/bin/chromium") and os.path.exists("/usr/bin/chromedriver")):
        return None
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,900"):
        opts.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="bench-chromium-")
    opts.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=opts, service=Service("/usr/bin/chromedriver"))
    try:
        driver.set_page_load_timeout(300)
        out = {}
        for key, url in (("entry_s", entry.as_uri()), ("document_s", doc_url)):
            driver.get("about:blank")
            t = time.perf_counter()
            driver.get(url)
            driver.execute_script("return document.readyState")
            out[key] = round(time.perf_counter() - t, 3)
        return out
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def bench_one(
    name: str, index_dir: Path, work: Path, cache: Path | None = None, semantic: bool = True
) -> dict[str, Any]:
    """Analyse one index (or load the analysis pickled in ``cache``) and write its report in three formats."""
    from rhetoric import report as rp
    from rhetoric.index import Index

    with Index.open(index_dir) as ix:
        cached = cache is not None and cache.exists()
        t = time.perf_counter()
        if cached:
            with open(cache, "rb") as fh:
                analysis = pickle.load(fh)
            analysis_s = sum(analysis.seconds.values())  # as measured when it was computed
        else:
            analysis = rp.analyze(ix, semantic=semantic)
            analysis_s = time.perf_counter() - t
            if cache is not None:
                with open(cache, "wb") as fh:
                    pickle.dump(analysis, fh)
        t = time.perf_counter()
        report = rp.build_report(ix, analysis)
        build_s = time.perf_counter() - t
    formats = {}
    for fmt in rp.FORMATS:
        w = rp.write_report(report, work / name / f"report.{fmt}")
        formats[fmt] = {"seconds": w.seconds, "files": w.files, "bytes": w.bytes, "largest_bytes": w.largest_bytes,
                        "mb": round(w.bytes / 1e6, 2), "largest_mb": round(w.largest_bytes / 1e6, 2)}
    # The most formulaic document's view: its link in the entry page (a page of documents, or a fragment).
    entry = work / name / "report.html"
    text = entry.read_text(encoding="utf-8")
    i = text.index("#doc=" + report.documents[0]["doc_id"])
    page = text[text.rindex('href="', 0, i) + 6 : i]
    doc_url = (entry.parent / page).as_uri() if page else entry.as_uri()
    browser = _open_times(entry, doc_url + text[i : text.index('"', i)])
    return {
        "documents": len(report.documents),
        "characters": report.overview["characters"],
        "formulas_found": report.overview["formulas_found"],
        "near_duplicate_pairs": report.overview["near_duplicate_pairs"],
        "clusters_found": report.overview["clusters_found"],
        "analysis_s": round(analysis_s, 3),
        "analysis_from_cache": cached,
        "semantic": bool(analysis.seconds.get("near_duplicates") is not None),
        "analysis_steps_s": analysis.seconds,
        "build_report_s": round(build_s, 3),
        "formats": formats,
        "write_after_analysis_s": round(build_s + formats["html"]["seconds"], 3),
        "browser_open": browser,
        "peak_rss_mib": _peak_mib(),
    }


def main() -> None:
    """Run the benchmark and write the JSON result."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--index", type=Path, default=None, help="prebuilt hash index of --corpus (else built here)")
    ap.add_argument("--seeds-only", action="store_true")
    ap.add_argument("--semantic", action="store_true",
                    help="run the semantic analysis on the corpus too (hours on 2 cores; meaningless on a hash index)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--keep", type=Path, default=None, help="write the reports here instead of a temporary folder")
    ap.add_argument("--analysis-cache", type=Path, default=None,
                    help="pickle of the corpus analysis: loaded if it exists (its own timings are reported), "
                         "else written after the analysis runs")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-report-"))
    os.environ["RHETORIC_HOME"] = str(tmp / "home")  # never read or fill the user's cache
    from rhetoric.embed import load_embedder
    from rhetoric.index import build_index

    work = args.keep or tmp / "reports"
    result: dict[str, Any] = {"environment": environment(loadavg_start=[round(x, 2) for x in os.getloadavg()])}
    try:
        seeds_index = tmp / "seeds-index"
        build_index([ROOT / "seeds"], seeds_index, load_embedder("hash"))
        result["seeds"] = bench_one("seeds", seeds_index, work)
        print(f"seeds: {result['seeds']}", flush=True)
        if not args.seeds_only:
            index_dir = args.index
            if index_dir is None:
                index_dir = tmp / "corpus-index"
                t = time.perf_counter()
                build_index([args.corpus], index_dir, load_embedder("hash"))
                result["corpus_index_build_s"] = round(time.perf_counter() - t, 1)
            result["corpus"] = {"index": str(index_dir), **bench_one("corpus", index_dir, work, args.analysis_cache,
                                                                    args.semantic)}
            print(f"corpus: {result['corpus']}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result["environment"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    write_json_atomic(args.out, result)
    print(f"\n{'corpus':8} {'docs':>6} {'analysis s':>10} {'report s':>9} {'html MB':>8} {'largest MB':>10} "
          f"{'md MB':>6} {'json MB':>7}")
    for name in ("seeds", "corpus"):
        r = result.get(name)
        if r:
            f = r["formats"]
            print(f"{name:8} {r['documents']:>6} {r['analysis_s']:>10.1f} {r['write_after_analysis_s']:>9.1f} "
                  f"{f['html']['mb']:>8.2f} {f['html']['largest_mb']:>10.2f} {f['md']['mb']:>6.2f} "
                  f"{f['json']['mb']:>7.2f}")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
