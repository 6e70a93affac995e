"""Semantic reuse: calibration, near duplicates and directive clusters."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import directive_hits

from rhetoric import cluster as cluster_mod
from rhetoric.cluster import calibrate, cluster_directives, near_duplicates
from rhetoric.index import Index
from rhetoric.normalize import normalize


def test_calibration_takes_a_high_quantile_of_random_pairs():
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(400, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    docs = [frozenset({f"d{i % 7}"}) for i in range(400)]
    cal = calibrate(vecs, docs, quantile=0.97)
    assert cal.pairs > 1000
    assert cal.quantiles["0.5"] < cal.threshold <= cal.quantiles["0.99"]
    assert "quantile 0.97" in cal.method


def test_calibration_ignores_pairs_inside_one_document():
    vecs = np.eye(4, dtype=np.float32)
    docs = [frozenset({"a"})] * 4
    assert calibrate(vecs, docs).pairs == 0


def test_near_duplicates_cross_documents_only(hash_index):
    with Index.open(hash_index) as ix:
        dups, cal = near_duplicates(ix)
    assert dups and cal.threshold > 0
    for d in dups:
        assert d.a.doc_id != d.b.doc_id
        assert d.score >= cal.threshold - 1e-6


def test_identical_sentence_in_two_documents_is_reuse(tmp_path):
    from rhetoric.embed import load_embedder
    from rhetoric.index import build_index

    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("要把人民群众生命安全和身体健康放在第一位。今天天气晴朗。", encoding="utf-8")
    b.write_text("要把人民群众生命安全和身体健康放在第一位。图书馆下月开放。", encoding="utf-8")
    build_index([a, b], tmp_path / "ix", load_embedder("hash"), cache=False)
    with Index.open(tmp_path / "ix") as ix:
        dups, _ = near_duplicates(ix)
    assert any(d.score == 1.0 and {d.a.doc_id, d.b.doc_id} == {"a", "b"} for d in dups)


def _in_order(short: str, long_: str) -> bool:
    chars = iter(long_)
    return all(ch in chars for ch in short)


def test_report_analysis_searches_neighbours_once_with_the_same_results(hash_index, monkeypatch):
    from rhetoric.report import analyze

    with Index.open(hash_index) as ix:
        alone_dups, _ = near_duplicates(ix)
        alone_clusters = cluster_directives(ix, min_docs=2)
        searches = []
        real = cluster_mod._neighbours
        monkeypatch.setattr(cluster_mod, "_neighbours", lambda *a, **kw: searches.append(1) or real(*a, **kw))
        analysis = analyze(ix, lexicon=[])
    assert len(searches) == 1  # near duplicates and clusters share one search
    assert analysis.near_duplicates == alone_dups
    assert analysis.clusters == alone_clusters


def test_clusters_have_labels_keywords_and_members(hash_index):
    with Index.open(hash_index) as ix:
        result = cluster_directives(ix)
        texts = {d.doc_id: ix.document_text(d.doc_id) for d in ix.documents()}
    assert result.clusters
    for c in result.clusters:
        assert c.n_docs >= 2 and c.label and c.keywords
        # The label is one member's matching text: its normalised text less flagged characters
        # (a byline inside the sentence drops out), so its characters appear there in order.
        assert any(_in_order(c.label, normalize(m.text, flags=False).text) for m in c.members), c.label
        for m in c.members:
            assert texts[m.doc_id][m.start : m.end] == m.text


@pytest.mark.model
def test_gold_directives_cluster_with_the_default_model(e5_index, gold):
    with Index.open(e5_index) as ix:
        result = cluster_directives(ix)
    hits = directive_hits(result, gold)
    assert sum(h >= 2 for h in hits) >= 3, hits
