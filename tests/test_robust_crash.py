"""Crash safety (issue 5): builds SIGKILLed at any moment never break the index or lose work.

Builds run in subprocesses (``robust_helpers.BUILD_SCRIPT``) that announce each phase on
stdout and linger a moment in it, so that a kill lands inside the phase the test picks:
normalising, embedding, writing the generation, writing its FAISS file, swapping the manifest,
removing the old generation, and removing what an earlier killed build left.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest
from robust_helpers import (
    SlowBuild,
    cli_run,
    hash_build,
    one_line,
    snapshot,
    write_corpus,
)

from rhetoric.embed import EmbeddingCache
from rhetoric.errors import IndexError_
from rhetoric.index import MANIFEST, Index

# "cleaning": removing the half-written generation a killed build left (follows a kill in "writing").
PHASES = ["normalising", "embedding", "writing", "cleaning", "writing-faiss", "swapping", "removing"]
KILLS = 21


@pytest.mark.slow
def test_builds_killed_at_random_moments_never_break_the_index(tmp_path, build_script):
    rng = random.Random(5)
    folder, cache = tmp_path / "ix", tmp_path / "cache.sqlite"
    ids = {v: write_corpus(tmp_path / v, v) for v in ("A", "B")}
    hash_build(tmp_path / "A", folder, cache)
    before = snapshot(folder)
    assert set(before["doc_ids"]) == ids["A"]
    outcomes = []
    for i in range(KILLS):
        phase = PHASES[i % len(PHASES)]
        version = "B" if set(before["doc_ids"]) == ids["A"] else "A"
        write_corpus(tmp_path / version, version, salt=i + 1)  # new sentences: there is embedding to do
        if phase == "cleaning" and len(list(folder.glob("gen-*"))) < 2:
            # The kill in "writing" came before the folder was made: leave what it would have left.
            half = folder / f"gen-{int(before['generation'][4:]) + 1:06d}"
            half.mkdir()
            (half / "rhetoric.sqlite").write_bytes(b"SQLite format 3\x00")
        build = SlowBuild(
            build_script, paths=[str(tmp_path / version)], index=str(folder), cache=str(cache), replace=True,
            pause=0.3, batch_delay=0.05,
        )
        if build.wait_for(phase):
            time.sleep(rng.uniform(0, 0.45))
            build.kill()
            killed = True
        else:  # the build ended before the phase came (e.g. nothing left to remove)
            assert build.finish() == 0, build.stderr
            killed = False
        after = snapshot(folder)  # opens with verify=True, counts match files, no half document
        swapped = "swapping" in build.phases
        if not swapped:
            assert after == before, f"killed in {phase}: the previous index changed"
        elif build.phases[-1] == "removing" or not killed:
            assert set(after["doc_ids"]) == ids[version] and after["generation"] != before["generation"]
        else:  # killed around the swap itself: old or new, whole
            assert after == before or set(after["doc_ids"]) == ids[version]
        with Index.open(folder) as ix:
            hits = ix.search("外防输入、内防扩散", k=3)
            assert hits and {h.doc_id for h in hits} <= set(after["doc_ids"])
        outcomes.append((phase, killed, after["generation"] != before["generation"]))
        before = after
    print("OUTCOMES", outcomes)
    assert sum(k for _, k, _ in outcomes) >= KILLS - 2  # (almost) every build was killed
    assert {p for p, k, _ in outcomes if k} == set(PHASES)
    # A final build goes through and leaves nothing of the killed ones behind.
    version = "B" if set(before["doc_ids"]) == ids["A"] else "A"
    write_corpus(tmp_path / version, version, salt=99)
    report = hash_build(tmp_path / version, folder, cache, replace=True)
    final = snapshot(folder)
    assert set(final["doc_ids"]) == ids[version] and report.documents == len(ids[version])
    assert sorted(p.name for p in folder.glob("gen-*")) == [final["generation"]]
    assert not list(folder.glob(f".{MANIFEST}.*.tmp"))


@pytest.mark.slow
def test_a_killed_build_resumes_from_the_embedding_cache(tmp_path, build_script):
    folder, cache = tmp_path / "ix", tmp_path / "cache.sqlite"
    write_corpus(tmp_path / "A", "A")
    build = SlowBuild(build_script, paths=[str(tmp_path / "A")], index=str(folder), cache=str(cache),
                      batch_delay=0.3, batch_size=4)
    build.wait_for("embedding", count=4)  # three batches done and cached, the fourth under way
    build.kill()
    with pytest.raises(IndexError_, match="no index here"):
        Index.open(folder)  # nothing half-built is visible
    with EmbeddingCache(cache) as c:
        done = len(c)
    assert done >= 12
    report = hash_build(tmp_path / "A", folder, cache)
    assert 0 < done < report.vectors
    assert report.embedded == report.vectors - done  # what the killed build paid for is not paid again
    assert snapshot(folder)["counts"]["vectors"] == report.vectors


@pytest.mark.slow
def test_a_killed_build_leaves_no_lock_behind(tmp_path, build_script):
    folder, cache = tmp_path / "ix", tmp_path / "cache.sqlite"
    write_corpus(tmp_path / "A", "A")
    build = SlowBuild(build_script, paths=[str(tmp_path / "A")], index=str(folder), cache=str(cache),
                      batch_delay=1.0)
    build.wait_for("embedding")
    lock = folder / ".lock"
    assert lock.read_text().strip() == str(build.proc.pid)  # the holder names itself
    build.kill()
    assert lock.read_text().strip() == str(build.proc.pid)  # the file outlives the dead build...
    t0 = time.monotonic()
    report = hash_build(tmp_path / "A", folder, cache)  # ...but its lock does not
    assert time.monotonic() - t0 < 60 and report.documents == 12
    assert lock.read_text() == ""  # released after the build


def test_a_lock_file_naming_a_dead_process_does_not_block(tmp_path):
    folder, cache = tmp_path / "ix", tmp_path / "cache.sqlite"
    write_corpus(tmp_path / "A", "A")
    folder.mkdir()
    (folder / ".lock").write_text("999999999\n")  # left by a build on another boot, say
    assert hash_build(tmp_path / "A", folder, cache).documents == 12


def test_leftovers_of_killed_builds_are_ignored_then_removed(tmp_path):
    folder, cache = tmp_path / "ix", tmp_path / "cache.sqlite"
    write_corpus(tmp_path / "A", "A")
    hash_build(tmp_path / "A", folder, cache)
    before = snapshot(folder)
    half = folder / "gen-000050"
    half.mkdir()
    (half / "rhetoric.sqlite").write_bytes(b"SQLite format 3\x00 cut short")
    (folder / f".{MANIFEST}.12345.tmp").write_text('{"format": 2, "generation": "gen-0000')
    assert snapshot(folder) == before  # readers follow the manifest only
    write_corpus(tmp_path / "B", "B")
    hash_build(tmp_path / "B", folder, cache, replace=True)
    after = snapshot(folder)
    assert after["generation"] == "gen-000051"  # numbers above the leftovers, never reused
    assert sorted(p.name for p in folder.glob("gen-*")) == ["gen-000051"]
    assert not list(folder.glob(f".{MANIFEST}.*.tmp"))


def test_a_failed_replace_build_keeps_the_index(tmp_path):
    folder, cache = tmp_path / "ix", tmp_path / "cache.sqlite"
    write_corpus(tmp_path / "A", "A")
    hash_build(tmp_path / "A", folder, cache)
    before = snapshot(folder)
    (tmp_path / "bad.jsonl").write_text('{"id": "x", "text": \n', encoding="utf-8")
    result = cli_run("index", "build", str(tmp_path / "bad.jsonl"), "--index", str(folder), "--model", "hash:64",
                     "--replace")
    assert result.exit_code == 1 and "line 1: not valid JSON" in one_line(result.output)
    assert snapshot(folder) == before


# --------------------------------------------------------------------------- corruption


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for at in (len(data) // 3, len(data) // 2, 2 * len(data) // 3):
        data[at] ^= 0x5A
    path.write_bytes(bytes(data))


@pytest.fixture
def built(tmp_path) -> Path:
    write_corpus(tmp_path / "A", "A")
    hash_build(tmp_path / "A", tmp_path / "ix", tmp_path / "cache.sqlite")
    return tmp_path / "ix"


@pytest.mark.parametrize("name", ["rhetoric.sqlite", "faiss.index"])
def test_verify_names_the_corrupted_file(built, name):
    gen = built / json.loads((built / MANIFEST).read_text())["generation"]
    assert cli_run("index", "info", "--index", str(built), "--verify").exit_code == 0
    _flip(gen / name)
    result = cli_run("index", "info", "--index", str(built), "--verify")
    assert result.exit_code == 1
    assert one_line(result.output) == f"Error: {gen / name}: checksum does not match the manifest (file corrupted)"
    # A rebuild from the documents is the way out.
    result = cli_run("index", "build", str(built.parent / "A"), "--index", str(built), "--model", "hash:64",
                     "--replace")
    assert result.exit_code == 0, result.output
    assert cli_run("index", "info", "--index", str(built), "--verify").exit_code == 0


def test_verify_checks_counts_against_the_manifest(built):
    manifest = json.loads((built / MANIFEST).read_text())
    manifest["counts"]["documents"] += 1
    (built / MANIFEST).write_text(json.dumps(manifest))
    result = cli_run("index", "info", "--index", str(built), "--verify")
    assert result.exit_code == 1
    gen = built / manifest["generation"]
    assert one_line(result.output) == f"Error: {gen / 'rhetoric.sqlite'}: holds 12 documents, the manifest says 13"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"format": 2, "generation": "gen-00', "the manifest is not valid JSON"),
        ("[1, 2]", "the manifest is not a JSON object"),
        ('{"format": 2}', "the manifest has no valid 'generation'"),
        (None, "the manifest names no generation folder"),
    ],
)
def test_a_broken_manifest_is_one_line_and_replace_recovers(built, content, problem):
    if content is None:  # a generation name pointing outside the index folder
        manifest = json.loads((built / MANIFEST).read_text())
        content = json.dumps({**manifest, "generation": "../../etc"})
    (built / MANIFEST).write_text(content)
    for args in (["index", "info"], ["search", "外防输入"], ["index", "build", str(built.parent / "A"), "--model",
                                                           "hash:64"]):
        result = cli_run(*args, "--index", str(built))
        assert result.exit_code == 1
        line = one_line(result.output)
        assert line.startswith(f"Error: {built / MANIFEST}: {problem}") and "--replace" in line
    result = cli_run("index", "build", str(built.parent / "A"), "--index", str(built), "--model", "hash:64",
                     "--replace")
    assert result.exit_code == 0, result.output
    assert snapshot(built)["counts"]["documents"] == 12


def test_a_missing_generation_folder_is_named(built):
    gen = built / json.loads((built / MANIFEST).read_text())["generation"]
    (gen / "faiss.index").unlink()
    result = cli_run("index", "info", "--index", str(built))
    assert result.exit_code == 1
    assert one_line(result.output) == f"Error: {gen / 'faiss.index'}: missing index file"
