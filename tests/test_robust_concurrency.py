"""Concurrent use (issue 5): one build at a time, and readers always see one whole generation.

A second build on a locked index fails at once with a line naming the lock, or waits for it
(``build_index(wait=...)``); builds never interleave. Searches during builds answer from the
old or the new generation, never a mix and never an error.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
from helpers import ROOT
from robust_helpers import SlowBuild, cli_run, hash_build, one_line, snapshot, write_corpus

from rhetoric.index import Index


@pytest.mark.slow
def test_a_second_build_fails_at_once_naming_the_lock(tmp_path, build_script):
    folder, cache = tmp_path / "ix", tmp_path / "cache.sqlite"
    ids_a = write_corpus(tmp_path / "A", "A")
    write_corpus(tmp_path / "B", "B")
    first = SlowBuild(build_script, paths=[str(tmp_path / "A")], index=str(folder), cache=str(cache),
                      batch_delay=0.5)
    first.wait_for("embedding")
    t0 = time.monotonic()
    result = cli_run("index", "build", str(tmp_path / "B"), "--index", str(folder), "--model", "hash:64")
    assert time.monotonic() - t0 < 30
    assert result.exit_code == 1
    assert one_line(result.output) == (
        f"Error: {folder}: another build is running on this index (pid {first.proc.pid} holds "
        f"{folder / '.lock'}); try again when it has finished"
    )
    assert first.finish() == 0, first.stderr
    after = snapshot(folder)
    assert set(after["doc_ids"]) == ids_a  # nothing of the refused build got in
    assert after["generation"] == "gen-000001"


@pytest.mark.slow
def test_a_second_build_can_wait_for_the_first(tmp_path, build_script):
    folder, cache = tmp_path / "ix", tmp_path / "cache.sqlite"
    write_corpus(tmp_path / "A", "A")
    ids_b = write_corpus(tmp_path / "B", "B")
    first = SlowBuild(build_script, paths=[str(tmp_path / "A")], index=str(folder), cache=str(cache),
                      batch_delay=0.3)
    first.wait_for("embedding")
    report = hash_build(tmp_path / "B", folder, cache, replace=True, wait=300)
    assert first.proc.poll() is not None  # the first build had finished before the second went on
    assert first.finish() == 0
    assert first.report is not None and first.report["documents"] == 12
    after = snapshot(folder)
    assert set(after["doc_ids"]) == ids_b and report.documents == 12
    assert after["generation"] == "gen-000002"


def test_waiting_has_a_limit(tmp_path):
    from rhetoric.errors import IndexError_
    from rhetoric.index import _Lock

    folder, cache = tmp_path / "ix", tmp_path / "cache.sqlite"
    write_corpus(tmp_path / "A", "A")
    folder.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a'); "
         "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)", str(folder / ".lock")],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        with pytest.raises(IndexError_, match=r"another build is running on this index .* after waiting 1s"):
            hash_build(tmp_path / "A", folder, cache, wait=1.0)
        assert 0.9 < time.monotonic() - t0 < 20
        # The same from the command line (--wait).
        result = cli_run("index", "build", str(tmp_path / "A"), "--index", str(folder), "--model", "hash:64",
                         "--wait", "1")
        assert result.exit_code == 1 and "after waiting 1s" in one_line(result.output)
    finally:
        holder.kill()
        holder.wait()
    with _Lock(folder):  # free again once its holder is gone
        pass


LOOP_SCRIPT = """
import json, sys
from rhetoric.embed import EmbeddingCache, HashingEmbedder
from rhetoric.index import build_index

corpora, folder, cache, rounds = json.loads(sys.argv[1])
for i in range(rounds):
    build_index([corpora[i % 2]], folder, HashingEmbedder(64), cache=EmbeddingCache(cache), replace=True)
    print("built", i, flush=True)
"""


@pytest.mark.slow
def test_searches_during_builds_see_one_whole_generation(tmp_path):
    folder, cache = tmp_path / "ix", tmp_path / "cache.sqlite"
    ids = {v: frozenset(write_corpus(tmp_path / v, v)) for v in ("A", "B")}
    hash_build(tmp_path / "B", folder, cache)
    hash_build(tmp_path / "A", folder, cache, replace=True)  # both corpora cached: builds are quick
    query = "外防输入、内防扩散"
    steady = Index.open(folder)  # opened once, before any of the builds below
    steady_hits = steady.search(query, k=5)
    builder = subprocess.Popen(
        [sys.executable, "-c", LOOP_SCRIPT,
         json.dumps([[str(tmp_path / "B"), str(tmp_path / "A")], str(folder), str(cache), 12])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    errors: list[str] = []
    seen: list[str] = []
    reads = [0]

    def read_until_done() -> None:
        while builder.poll() is None:
            try:
                with Index.open(folder) as ix:
                    docs = frozenset(d.doc_id for d in ix.documents())
                    counts = ix.manifest["counts"]
                    assert docs in ids.values(), f"a mix of corpora: {sorted(docs)[:3]}..."
                    assert len(docs) == counts["documents"] and ix.faiss.ntotal == counts["vectors"]
                    for h in ix.search(query, k=5):
                        assert h.doc_id in docs and h.text == ix.document_text(h.doc_id)[h.start : h.end]
                    seen.append(ix.manifest["generation"])
                assert steady.search(query, k=5) == steady_hits  # the old reader is not disturbed
                reads[0] += 1
            except Exception as exc:  # noqa: BLE001 - every failure is collected and reported
                errors.append(f"{type(exc).__name__}: {exc}")

    readers = [threading.Thread(target=read_until_done) for _ in range(2)]
    for r in readers:
        r.start()
    for r in readers:
        r.join(timeout=600)
    out, err = builder.communicate(timeout=60)
    steady.close()
    assert builder.returncode == 0, err
    assert out.count("built") == 12
    assert errors == []
    assert reads[0] >= 20 and len(set(seen)) >= 3  # the readers really overlapped the builds
    assert snapshot(folder)["generation"] == "gen-000014"


def test_a_reader_opening_during_a_swap_opens_the_new_generation(tmp_path, monkeypatch):
    """The manifest named gen N; before its files were opened a build swapped to N+1 and removed N."""
    folder, cache = tmp_path / "ix", tmp_path / "cache.sqlite"
    write_corpus(tmp_path / "A", "A")
    ids_b = write_corpus(tmp_path / "B", "B")
    hash_build(tmp_path / "A", folder, cache)
    real = Index.__dict__["_open_generation"].__func__
    calls = []

    def racing(cls, root, manifest, verify):
        calls.append(manifest["generation"])
        if len(calls) == 1:
            hash_build(tmp_path / "B", folder, cache, replace=True)  # swaps and removes gen-000001
            assert not (folder / manifest["generation"]).exists()
        return real(cls, root, manifest, verify)

    monkeypatch.setattr(Index, "_open_generation", classmethod(racing))
    with Index.open(folder) as ix:
        assert {d.doc_id for d in ix.documents()} == ids_b
    assert calls == ["gen-000001", "gen-000002"]
