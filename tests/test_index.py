from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import SEEDS, seed_id, seed_text

from rhetoric.embed import EmbeddingCache, HashingEmbedder, load_embedder
from rhetoric.errors import IndexError_, RhetoricError
from rhetoric.index import Index, _Lock, build_index


def _build(paths, folder, **kw):
    kw.setdefault("cache", EmbeddingCache(Path(folder).parent / f"{Path(folder).name}-cache.sqlite"))
    return build_index(paths, folder, load_embedder("hash"), **kw)


def test_info_counts_match_manifest(hash_index):
    with Index.open(hash_index) as ix:
        info = ix.info()
        docs = ix.documents()
        sentences = list(ix.sentences())
    assert info["counts"]["documents"] == len(docs) == 5
    assert info["counts"]["sentences"] == len(sentences)
    assert info["counts"]["vectors"] == ix.faiss.ntotal
    assert info["model_id"] == "hash-256" and info["dim"] == 256
    assert info["date_range"] == ["2020-02-04", "2022-02-10"]
    assert info["normalizer"] and info["index_type"] == "flat-ip"


def test_every_sentence_is_the_original_text(hash_index):
    with Index.open(hash_index) as ix:
        for doc in ix.documents():
            text = ix.document_text(doc.doc_id)
            for s in ix.sentences(doc.doc_id):
                assert s.text == text[s.start : s.end]
                assert all(s.start <= a < b <= s.end for a, b in s.clauses)


def test_flagged_spans_are_stored(hash_index):
    with Index.open(hash_index) as ix:
        kinds = {s.kind for s in ix.spans(seed_id("000"))}
        doc2 = {d.doc_id: d for d in ix.documents()}[seed_id("002")]
    assert {"mojibake", "pinyin", "boilerplate"} <= kinds
    text2 = seed_text("002")
    footer = len(text2) - text2.index("责任编辑")
    assert doc2.n_boilerplate >= footer  # the editor line and copyright footer at least


def test_search_hits_point_at_original_text(hash_index):
    with Index.open(hash_index) as ix:
        hits = ix.search("外防输入、内防扩散", k=5)
        assert len(hits) == 5
        assert hits == sorted(hits, key=lambda h: -h.score)
        for h in hits:
            assert h.text == ix.document_text(h.doc_id)[h.start : h.end]
    assert {h.doc_id[:3] for h in hits} >= {"000", "002"}


def test_traditional_query_finds_simplified_and_back(hash_index):
    with Index.open(hash_index) as ix:
        trad = ix.search("堅持人民至上、生命至上", k=3)
        simp = ix.search("坚持人民至上、生命至上", k=3)
    assert [h.doc_id for h in trad] == [h.doc_id for h in simp]
    # 001 writes it in Traditional characters, 002 in Simplified: both scripts meet.
    assert {seed_id("001"), seed_id("002")} <= {h.doc_id for h in simp}


def test_search_filters_by_date_and_min_score(hash_index):
    with Index.open(hash_index) as ix:
        hits = ix.search("疫情防控", k=5, date_from="2022-01-01")
        assert hits and all(h.date >= "2022-01-01" for h in hits)
        strict = ix.search("疫情防控", k=50, min_score=0.5)
        assert all(h.score >= 0.5 for h in strict)


@pytest.mark.parametrize("query", ["", "   ", "。，！", "\n"])
def test_empty_queries_are_a_clear_error(hash_index, query):
    with Index.open(hash_index) as ix, pytest.raises(RhetoricError, match="empty query"):
        ix.search(query)


def test_odd_queries_do_not_fail(hash_index):
    with Index.open(hash_index) as ix:
        for q in ["😷防疫", "外防輸入 and 内防扩散", "防" * 10_000]:
            assert ix.search(q, k=3)


def test_querying_with_another_model_is_an_error(hash_index):
    with Index.open(hash_index) as ix, pytest.raises(IndexError_, match="built with model"):
        ix.search("防控", embedder=HashingEmbedder(dim=64))


def test_rebuild_of_unchanged_corpus_embeds_nothing(tmp_path):
    first = _build([SEEDS], tmp_path / "ix")
    assert first.embedded == first.vectors > 0
    again = _build([SEEDS], tmp_path / "ix")
    assert again.unchanged == 5 and again.added == again.replaced == 0
    assert again.embedded == 0 and again.reused_vectors == again.vectors
    # A new folder with the same cache embeds nothing either.
    cache = EmbeddingCache(tmp_path / "ix-cache.sqlite")
    fresh = build_index([SEEDS], tmp_path / "other", load_embedder("hash"), cache=cache)
    assert fresh.embedded == 0


def test_build_adds_new_and_replaces_changed_documents(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus, ignore=shutil.ignore_patterns("*.toml"))
    _build([corpus], tmp_path / "ix")
    new = tmp_path / "more" / "005_new.txt"
    new.parent.mkdir()
    new.write_text("坚决打赢疫情防控阻击战。\n要压紧压实各方责任。", encoding="utf-8")
    report = _build([new], tmp_path / "ix")
    assert (report.added, report.documents) == (1, 6)
    changed = corpus / f"{seed_id('004')}.txt"
    # (Added at the top: anything after 004's editor line is footer boilerplate.)
    changed.write_text("会议要求，守土有责、守土担责、守土尽责。\n" + seed_text("004"), encoding="utf-8")
    before = report.vectors
    report = _build([corpus], tmp_path / "ix")
    assert (report.replaced, report.unchanged, report.documents) == (1, 4, 6)
    # Only the new sentence and its phrases are embedded.
    assert report.embedded == report.vectors - before == 2
    with Index.open(tmp_path / "ix") as ix:
        assert "守土有责、守土担责、守土尽责。" in ix.document_text(seed_id("004"))
        assert len(ix.documents()) == 6


def test_replace_starts_over(tmp_path):
    _build([SEEDS], tmp_path / "ix")
    one = tmp_path / "one.txt"
    one.write_text("要压紧压实各方责任。", encoding="utf-8")
    report = _build([one], tmp_path / "ix", replace=True)
    assert report.documents == 1


def test_building_with_another_model_needs_replace(tmp_path):
    _build([SEEDS], tmp_path / "ix")
    with pytest.raises(IndexError_, match="--replace"):
        build_index([SEEDS], tmp_path / "ix", HashingEmbedder(dim=64), cache=False)
    report = build_index([SEEDS], tmp_path / "ix", HashingEmbedder(dim=64), cache=False, replace=True)
    assert report.documents == 5


def test_a_build_swaps_generations_atomically(tmp_path):
    _build([SEEDS], tmp_path / "ix")
    _build([SEEDS], tmp_path / "ix")
    manifest = json.loads((tmp_path / "ix" / "manifest.json").read_text())
    gens = sorted(p.name for p in (tmp_path / "ix").glob("gen-*"))
    assert gens == [manifest["generation"]] == ["gen-000002"]


def test_reader_keeps_its_generation_during_a_rebuild(tmp_path):
    _build([SEEDS], tmp_path / "ix")
    reader = Index.open(tmp_path / "ix")
    before = reader.search("外防输入", k=3)
    _build([SEEDS], tmp_path / "ix", replace=True)
    assert reader.search("外防输入", k=3) == before
    reader.close()


def test_corrupted_file_is_named(tmp_path):
    _build([SEEDS], tmp_path / "ix")
    manifest = json.loads((tmp_path / "ix" / "manifest.json").read_text())
    target = tmp_path / "ix" / manifest["generation"] / "faiss.index"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(IndexError_, match="faiss.index: checksum"):
        Index.open(tmp_path / "ix", verify=True)


def test_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(IndexError_, match="no index here"):
        Index.open(tmp_path / "nothing")


def test_second_build_on_a_locked_index_fails_clearly(tmp_path):
    folder = tmp_path / "ix"
    folder.mkdir()
    with _Lock(folder), pytest.raises(IndexError_, match="another build is running"):
        _build([SEEDS], folder)


def test_approximate_index_above_the_limit_reports_recall(tmp_path):
    report = _build([SEEDS], tmp_path / "ix", exact_limit=10)
    manifest = json.loads((tmp_path / "ix" / "manifest.json").read_text())
    assert manifest["index_type"] == "hnsw-ip"
    assert manifest["recall_at_10"] >= 0.9
    with Index.open(tmp_path / "ix") as ix:
        assert ix.search("外防输入、内防扩散", k=3)
    assert report.vectors > 10


def test_float16_flat_index_searches_like_the_exact_one_and_is_kept(tmp_path, hash_index):
    from rhetoric.cluster import near_duplicates

    report = _build([SEEDS], tmp_path / "ix", index_type="flat-fp16")
    manifest = json.loads((tmp_path / "ix" / "manifest.json").read_text())
    assert manifest["index_type"] == "flat-fp16-ip" and manifest["index_kind"] == "flat-fp16"
    assert manifest["recall_at_10"] >= 0.95
    assert (tmp_path / "ix" / manifest["generation"] / "faiss.index").stat().st_size < report.vectors * 256 * 4 * 0.6
    with Index.open(tmp_path / "ix") as half, Index.open(hash_index) as full:
        for query in ("外防输入、内防扩散", "坚决打赢疫情防控阻击战", "压紧压实各方责任"):
            a = half.search(query, k=5, mode="semantic")
            b = full.search(query, k=5, mode="semantic")
            assert [(h.doc_id, h.sentence) for h in a][:3] == [(h.doc_id, h.sentence) for h in b][:3], query
            assert all(abs(x.score - y.score) < 5e-3 for x, y in zip(a, b))
        assert abs(len(near_duplicates(half)[0]) - len(near_duplicates(full)[0])) <= 3
    # A later build without --index-type keeps it; naming another kind changes it.
    _build([SEEDS], tmp_path / "ix")
    assert json.loads((tmp_path / "ix" / "manifest.json").read_text())["index_type"] == "flat-fp16-ip"
    _build([SEEDS], tmp_path / "ix", index_type="flat")
    assert json.loads((tmp_path / "ix" / "manifest.json").read_text())["index_type"] == "flat-ip"


def test_unknown_index_type_fails_before_any_work(tmp_path):
    from rhetoric.errors import RhetoricError

    with pytest.raises(RhetoricError, match="unknown index kind 'ivf'"):
        _build([SEEDS], tmp_path / "ix", index_type="ivf")
    assert not (tmp_path / "ix" / "manifest.json").exists()


def test_jsonl_sources_are_queryable(tmp_path):
    recs = [
        {"id": "a1", "text": "坚持人民至上、生命至上。", "source": "县融媒体", "date": "2020-02-01"},
        {"id": "a2", "text": "坚持人民至上、生命至上，抓好疫情防控。", "source": "市新闻网", "date": "2021-03-01"},
    ]
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs), encoding="utf-8")
    _build([path], tmp_path / "ix")
    with Index.open(tmp_path / "ix") as ix:
        assert [d.doc_id for d in ix.documents(source="市新闻网")] == ["a2"]
        assert [d.doc_id for d in ix.documents(date_to="2020-12-31")] == ["a1"]
        hits = ix.search("人民至上", k=5, source="县融媒体")
        assert [h.doc_id for h in hits] == ["a1"]


def test_phrase_vectors_point_inside_their_sentence(hash_index):
    with Index.open(hash_index) as ix:
        hits = ix.search("守土有责、守土担责、守土尽责", k=5, mode="semantic")
        phrase_hits = [h for h in hits if h.via == "phrase"]
        assert phrase_hits
        for h in hits:
            assert h.start <= h.match_start < h.match_end <= h.end
        top = phrase_hits[0]
        matched = ix.document_text(top.doc_id)[top.match_start : top.match_end]
        assert "守土有责" in matched and len(matched) < len(top.text)


def test_build_without_phrase_vectors(tmp_path):
    with_phrases = _build([SEEDS], tmp_path / "a")
    without = _build([SEEDS], tmp_path / "b", phrases=False)
    assert without.vectors < with_phrases.vectors
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["phrase_vectors"] is False and manifest["counts"]["phrases"] == 0
    with Index.open(tmp_path / "b") as ix:
        assert all(h.via == "sentence" for h in ix.search("守土有责", k=5, mode="semantic"))
