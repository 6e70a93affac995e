"""Hybrid search: verbatim uses of a query come first, in either script, then paraphrases."""

from __future__ import annotations

import json
import random
import re
import shutil
import sqlite3
from pathlib import Path

import opencc
import pytest
from click.testing import CliRunner
from helpers import SEEDS, corpus_records
from hypothesis import given
from hypothesis import strategies as st

from rhetoric.cli import cli
from rhetoric.errors import IndexError_, RhetoricError
from rhetoric.index import Index, build_index
from rhetoric.search import _key_char, key_text, locate, match_key

# The queries and the seeds holding the sentences that quote them (one entry a sentence).
DONE_CRITERIA = {
    "外防输入、内防扩散": ["000", "002"],
    "人民至上、生命至上": ["001", "002"],
    "守土有责、守土担责、守土尽责": ["002", "004"],
    "联防联控、群防群控": ["002", "004", "004"],
    "疫情防控阻击战": ["003"] + ["004"] * 5,
}

_T2S = opencc.OpenCC("t2s")
_PINYIN = re.compile(r"\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü ]+\)")


def _plain(text: str) -> str:
    """An independent rendering of 'contains the phrase': pinyin out, Simplified, letters only."""
    simple = _T2S.convert(_PINYIN.sub("", text))
    return "".join(c for c in simple if c.isalnum())


def _containing(ix: Index, phrase: str) -> set[tuple[str, int]]:
    """Text sentences that contain ``phrase``, found without rhetoric's normaliser or index."""
    want = _plain(phrase)
    return {(s.doc_id, s.idx) for s in ix.sentences() if s.kind == "text" and want in _plain(s.text)}


def _check_exact_first(folder: Path) -> None:
    with Index.open(folder) as ix:
        for query, docs in DONE_CRITERIA.items():
            truth = _containing(ix, query)
            assert sorted(d[:3] for d, _ in truth) == docs, query  # the count, checked independently
            n = len(truth)
            hits = ix.search(query, k=n + 3)
            assert {(h.doc_id, h.sentence) for h in hits[:n]} == truth, query
            assert all(h.match in ("exact", "exact+semantic") for h in hits[:n])
            assert hits[n:] and all(h.match == "semantic" for h in hits[n:]), query
            assert all(h.score > 1 >= t.score for h in hits[:n] for t in hits[n:])
            for h in hits[:n]:
                used = ix.document_text(h.doc_id)[h.match_start : h.match_end]
                assert _plain(used) == _plain(query), (query, used)  # the highlight is the phrase itself


def test_seed_queries_list_every_verbatim_use_first(hash_index: Path) -> None:
    _check_exact_first(hash_index)


@pytest.mark.model
def test_seed_queries_list_every_verbatim_use_first_with_the_real_model(e5_index: Path) -> None:
    _check_exact_first(e5_index)


def test_exact_mode_returns_only_verbatim_uses_in_either_script(hash_index: Path) -> None:
    with Index.open(hash_index) as ix:
        simp = ix.search("守土有责", mode="exact", k=50)
        trad = ix.search("守土有責", mode="exact", k=50)
        quoted = ix.search("“守土，有责”", mode="exact", k=50)
        assert simp and [(h.doc_id, h.sentence) for h in simp] == [(h.doc_id, h.sentence) for h in trad]
        assert [(h.doc_id, h.sentence) for h in quoted] == [(h.doc_id, h.sentence) for h in simp]
        assert {(h.doc_id, h.sentence) for h in simp} == _containing(ix, "守土有责")
        assert all(h.match == "exact" and 0 < h.score <= 1 for h in simp)
        # Tightest uses first: coverage = query length / sentence length, never increasing.
        assert [h.score for h in simp] == sorted((h.score for h in simp), reverse=True)
        assert ix.exact_count("守土有責") == len(simp)


def test_short_queries_use_the_scan_and_agree_with_an_independent_count(hash_index: Path) -> None:
    with Index.open(hash_index) as ix:
        hits = ix.search("防控", mode="exact", k=1000)
        assert {(h.doc_id, h.sentence) for h in hits} == _containing(ix, "防控")
        assert ix.exact_count("防控") == len(hits)


def test_semantic_mode_never_claims_an_exact_match(hash_index: Path) -> None:
    with Index.open(hash_index) as ix:
        hits = ix.search("外防输入、内防扩散", mode="semantic", k=5)
        assert hits and all(h.match == "semantic" and h.semantic_score == h.score <= 1.0 for h in hits)


def test_hybrid_with_more_verbatim_uses_than_k_returns_only_those(hash_index: Path) -> None:
    with Index.open(hash_index) as ix:
        total = ix.exact_count("疫情防控")
        assert total > 5
        hits = ix.search("疫情防控", k=5)
        assert len(hits) == 5 and all(h.match.startswith("exact") for h in hits)
        hits = ix.search("疫情防控", k=5, source="no such source")
        assert hits == []


def test_filters_apply_to_the_exact_channel(hash_index: Path) -> None:
    with Index.open(hash_index) as ix:
        everything = ix.search("疫情防控阻击战", mode="exact", k=50)
        late = ix.search("疫情防控阻击战", mode="exact", k=50, date_from="2020-03-01")
        assert late and len(late) < len(everything)
        assert all(h.date >= "2020-03-01" for h in late)


def test_docs_restrict_both_channels(hash_index: Path) -> None:
    with Index.open(hash_index) as ix:
        docs = {d for d, _ in _containing(ix, "疫情防控阻击战")}
        only = sorted(d for d in docs if d.startswith("004"))
        for mode in ("exact", "semantic", "hybrid"):
            hits = ix.search("疫情防控阻击战", k=12, mode=mode, docs=only)
            assert hits and {h.doc_id for h in hits} == set(only), mode
        assert ix.exact_count("疫情防控阻击战", docs=only) == 5
        # The semantic channel searches only those documents: the best there, not the corpus's best
        # filtered afterwards (which could leave fewer than k).
        other = sorted(d for d in {s.doc_id for s in ix.sentences()} if d.startswith("001"))
        hits = ix.search("外防输入、内防扩散", k=8, mode="semantic", docs=other)
        assert len(hits) == 8 and {h.doc_id for h in hits} == set(other)
        assert ix.search("外防输入", k=3, docs=[]) == []


def test_cli_search_in_one_document(hash_index: Path) -> None:
    runner = CliRunner()
    with Index.open(hash_index) as ix:
        doc = next(s.doc_id for s in ix.sentences() if s.doc_id.startswith("004"))
    out = runner.invoke(cli, ["search", "疫情防控阻击战", "--index", str(hash_index), "--doc", doc, "--json"])
    assert out.exit_code == 0, out.output
    assert {h["doc_id"] for h in json.loads(out.output)} == {doc}
    out = runner.invoke(cli, ["search", "疫情", "--index", str(hash_index), "--doc", "nope"])
    assert out.exit_code == 1 and "no document 'nope'" in out.output


def test_bad_queries_and_modes_are_clear_errors(hash_index: Path) -> None:
    with Index.open(hash_index) as ix:
        for q in ("", "  ", "，。！"):
            with pytest.raises(RhetoricError, match="empty query"):
                ix.search(q, mode="exact")
        with pytest.raises(RhetoricError, match="unknown search mode"):
            ix.search("防控", mode="fuzzy")


@given(st.text(max_size=80))
def test_the_stored_key_is_the_match_key_char_by_char(text: str) -> None:
    # The index stores key_text (a cached translate table); locate and exact search use match_key.
    key, where = match_key(text)
    assert key_text(text) == key == "".join(_key_char(c) for c in text)
    assert where == [i for i, c in enumerate(text) if _key_char(c)]


def test_locate_maps_a_key_through_pinyin_and_script() -> None:
    text = "要做好外防輸入、內(nèi)防擴(kuò)散工作"
    a, b = locate(text, match_key("外防输入内防扩散")[0])
    assert text[a:b] == "外防輸入、內(nèi)防擴(kuò)散"
    assert locate(text, "人民至上") is None


def test_an_index_without_the_exact_table_asks_for_a_rebuild(hash_index: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(hash_index, old)
    manifest = json.loads((old / "manifest.json").read_text())
    db = sqlite3.connect(old / manifest["generation"] / "rhetoric.sqlite")
    db.execute("DROP TABLE sentence_keys")
    db.commit()
    db.close()
    manifest["format"] = 1
    (old / "manifest.json").write_text(json.dumps(manifest))
    with Index.open(old) as ix:
        assert ix.search("外防输入", mode="semantic", k=3)
        with pytest.raises(IndexError_, match="predates exact search"):
            ix.search("外防输入", k=3)
    from rhetoric.embed import load_embedder

    report = build_index([SEEDS], old, load_embedder("hash"))
    assert report.embedded == 0
    with Index.open(old) as ix:
        assert ix.search("外防输入", mode="exact", k=3)


def test_cli_search_modes(hash_index: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["search", "外防輸入、內防擴散", "--index", str(hash_index), "-k", "4", "--json"])
    assert out.exit_code == 0, out.output
    hits = json.loads(out.output)
    assert [h["match"] for h in hits[:2]] != ["semantic", "semantic"]
    assert {h["doc_id"][:3] for h in hits[:2]} == {"000", "002"}
    assert all({"match", "match_start", "match_end", "semantic_score"} <= set(h) for h in hits)
    out = runner.invoke(cli, ["search", "疫情防控", "--index", str(hash_index), "-k", "2", "--mode", "exact"])
    assert out.exit_code == 0, out.output
    assert "【疫情防控】" in out.output and "verbatim uses shown" in out.output
    out = runner.invoke(cli, ["search", "疫情防控", "--index", str(hash_index), "--mode", "fuzzy"])
    assert out.exit_code == 2


def _disguise(sentence: str, rng: random.Random) -> str:
    """Traditional script, pinyin after the first two Chinese characters, half-width commas."""
    from pypinyin import pinyin

    trad = opencc.OpenCC("s2t").convert(sentence)
    han = [i for i, c in enumerate(trad) if "\u4e00" <= c <= "\u9fff"]
    if len(han) >= 2:
        i, j = han[0], han[1]
        syllables = " ".join(p[0] for p in pinyin(trad[i] + trad[j]))
        trad = trad[: j + 1] + f"({syllables})" + trad[j + 1 :]
    return trad.replace("，", ",")


@pytest.mark.slow
def test_disguised_corpus_sentences_find_their_source_first(tmp_path: Path) -> None:
    from rhetoric.embed import load_embedder

    records = corpus_records(1500)
    corpus = tmp_path / "sample.jsonl"
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8")
    build_index([corpus], tmp_path / "ix", load_embedder("hash"))
    rng = random.Random(7)
    with Index.open(tmp_path / "ix") as ix:
        pool = [s for s in ix.sentences() if s.kind == "text" and len(s.norm) >= 12]
        cases = rng.sample(pool, 100)
        found = 0
        for s in cases:
            hits = ix.search(_disguise(s.text, rng), k=5)
            found += bool(hits) and hits[0].norm == s.norm  # the sentence itself (or an identical one)
        assert found >= 95, found
