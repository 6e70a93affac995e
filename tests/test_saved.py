"""Saved analyses: a second report of the same index reads the first one's analysis back."""

from __future__ import annotations

import gzip
import os
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import SEEDS

from rhetoric import report as rp
from rhetoric import saved
from rhetoric.cli import cli
from rhetoric.embed import load_embedder
from rhetoric.index import Index, build_index
from rhetoric.lexicon import load_lexicon


@pytest.fixture(scope="module")
def seeds_copy(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("docs")
    for p in SEEDS.glob("*.txt"):
        shutil.copy(p, folder / p.name)
    return folder


@pytest.fixture
def index(seeds_copy, tmp_path) -> Path:
    """The seeds indexed with the hashing embedder into a folder of this test's own."""
    build_index([seeds_copy], tmp_path / "ix", load_embedder("hash"), cache=False)
    return tmp_path / "ix"


def _saved_files(index: Path) -> list[Path]:
    return sorted((index / saved.FOLDER).glob("*.json.gz"))


def test_saved_analysis_reads_back_equal_to_the_computed_one(index):
    with Index.open(index) as ix:
        computed = rp.analyze(ix, reuse=True)
        again = rp.analyze(ix, reuse=True)
    assert not computed.from_saved and again.from_saved
    assert again.seconds == computed.seconds  # the timings of the run that computed it
    again.from_saved = False
    assert again == computed  # formulas, near duplicates, clusters, scores, lexicon: every field
    assert again.near_duplicates and again.clusters.clusters and again.formulas[0].variants


def test_second_report_reuses_the_analysis_and_writes_the_same_file(index, tmp_path):
    first = rp.report_index(index, tmp_path / "a.json")
    second = rp.report_index(index, tmp_path / "b.json")
    assert not first.analysis_reused and second.analysis_reused
    strip = [line for line in (tmp_path / "a.json").read_text().splitlines() if '"generated"' not in line]
    assert strip == [line for line in (tmp_path / "b.json").read_text().splitlines() if '"generated"' not in line]
    fresh = rp.report_index(index, tmp_path / "c.json", reuse=False)
    assert not fresh.analysis_reused


def test_other_settings_or_a_rebuilt_index_are_never_served_an_old_analysis(index, seeds_copy, tmp_path):
    assert not rp.report_index(index, tmp_path / "r.md").analysis_reused
    assert not rp.report_index(index, tmp_path / "r.md", min_docs=3).analysis_reused
    assert not rp.report_index(index, tmp_path / "r.md", lexicon=load_lexicon()[:5]).analysis_reused
    assert rp.report_index(index, tmp_path / "r.md", min_docs=3).analysis_reused
    assert len(_saved_files(index)) == 3
    # A changed corpus: the index is rebuilt, its content differs, the old analyses go.
    extra = seeds_copy.parent / "more"
    extra.mkdir(exist_ok=True)
    (extra / "new.txt").write_text("会议强调，要坚持人民至上、生命至上，外防输入、内防扩散。", encoding="utf-8")
    build_index([seeds_copy, extra], index, load_embedder("hash"), cache=False)
    run = rp.report_index(index, tmp_path / "r.md")
    assert not run.analysis_reused and run.documents == 6
    assert len(_saved_files(index)) == 1


def test_other_rhetoric_code_recomputes_and_drops_the_old_analysis(index, tmp_path, monkeypatch):
    rp.report_index(index, tmp_path / "r.json")
    monkeypatch.setattr(saved, "_code_hash", lambda: "an upgraded rhetoric")
    assert not rp.report_index(index, tmp_path / "r.json").analysis_reused
    assert len(_saved_files(index)) == 1
    assert rp.report_index(index, tmp_path / "r.json").analysis_reused


def test_a_damaged_saved_analysis_is_recomputed(index, tmp_path):
    rp.report_index(index, tmp_path / "r.json")
    (path,) = _saved_files(index)
    path.write_bytes(gzip.compress(b'{"format": 1, "key": "x", "analysis": {'))  # cut short
    assert not rp.report_index(index, tmp_path / "r.json").analysis_reused
    path.write_bytes(b"not gzip at all")
    assert not rp.report_index(index, tmp_path / "r.json").analysis_reused
    assert rp.report_index(index, tmp_path / "r.json").analysis_reused  # rewritten whole


def test_an_unwritable_index_folder_only_means_no_reuse(index, tmp_path):
    (index / saved.FOLDER).write_text("a file where the folder would go")
    for _ in range(2):
        run = rp.report_index(index, tmp_path / "r.html")
        assert not run.analysis_reused and (tmp_path / "r.html").is_file()


def test_cli_report_says_it_reused_and_fresh_recomputes(index, tmp_path):
    args = ["report", "--index", str(index), "--out", str(tmp_path / "r.md")]
    first = CliRunner().invoke(cli, args)
    second = CliRunner().invoke(cli, args)
    before = _saved_files(index)[0].stat().st_mtime_ns
    fresh = CliRunner().invoke(cli, [*args, "--fresh"])
    assert first.exit_code == second.exit_code == fresh.exit_code == 0
    assert first.output.startswith("Analysed") and fresh.output.startswith("Analysed")
    assert second.output.startswith("Read the saved analysis")
    (path,) = _saved_files(index)
    assert path.stat().st_mtime_ns > before  # --fresh saved what it computed


def test_reports_and_saved_analyses_get_the_usual_file_mode(index, tmp_path):
    old = os.umask(0o022)
    try:
        rp.report_index(index, tmp_path / "r.html")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.html").stat().st_mode) == 0o644  # not mkstemp's 0600
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in _saved_files(index))
