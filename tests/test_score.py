"""Per-document reuse scores, document comparison, and the new commands through the CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from helpers import seed_id, seed_text

from rhetoric.cli import cli
from rhetoric.cluster import near_duplicates
from rhetoric.compare import compare_documents
from rhetoric.embed import load_embedder
from rhetoric.formulas import mine_formulas
from rhetoric.index import Index, build_index
from rhetoric.lexicon import load_lexicon, locate_slogans
from rhetoric.score import EVIDENCE_LINKS, WEIGHTS, score_documents


@pytest.fixture(scope="module")
def scores(hash_index):
    lexicon = load_lexicon()
    with Index.open(hash_index) as ix:
        found = mine_formulas(ix, lexicon=lexicon)
        dups, _ = near_duplicates(ix)
        return score_documents(ix, found, dups, lexicon)


def test_every_document_is_scored_in_range(scores):
    assert len(scores) == 5
    assert scores == sorted(scores, key=lambda r: -r.reuse_score)
    for r in scores:
        assert 0 <= r.reuse_score <= 1
        parts = {"coverage": r.coverage, "near_duplicate_share": r.near_duplicate_share, "repetition": r.repetition}
        assert r.reuse_score == pytest.approx(sum(WEIGHTS[k] * v for k, v in parts.items()), abs=1e-3)
        assert r.slogans >= 1 and r.coverage > 0


def test_boilerplate_never_counts(scores):
    text = seed_text("002")
    footer = text.index("责任编辑")
    row = next(r for r in scores if r.doc_id == seed_id("002"))
    assert all(e.end <= footer for e in row.evidence)
    assert row.chars < len(text) - (len(text) - footer)  # the footer is not in the denominator


def test_evidence_points_at_the_original_text(scores, hash_index):
    with Index.open(hash_index) as ix:
        for r in scores:
            text = ix.document_text(r.doc_id)
            for e in r.evidence:
                assert text[e.start : e.end] == e.text
                assert e.kind in {"formula", "slogan", "semantic", "repetition"}


def test_repetition_inside_one_document_counts(scores):
    row = next(r for r in scores if r.doc_id == seed_id("000"))
    assert row.repetition > 0  # 以更坚定的信心、更顽强的意志、更果断的措施 stands twice


def test_widely_shared_formula_names_the_earliest_documents_and_counts_all(tmp_path):
    # 40 dated documents quote one slogan; ids run against dates so "earliest" is not id order.
    n = EVIDENCE_LINKS + 15
    slogan = "稳住基本盘、兜牢民生底线、守住安全线"
    lines = [
        json.dumps({"id": f"d{i:02d}", "date": f"2021-{1 + (n - 1 - i) // 28:02d}-{1 + (n - 1 - i) % 28:02d}",
                    "text": f"第{i}次会议听取了汇报并研究部署工作。会议强调，要{slogan}。第{i}项安排随后下达。"},
                   ensure_ascii=False)
        for i in range(n)
    ]
    (tmp_path / "docs.jsonl").write_text("\n".join(lines), encoding="utf-8")
    build_index([tmp_path / "docs.jsonl"], tmp_path / "ix", load_embedder("hash"), cache=False)
    with Index.open(tmp_path / "ix") as ix:
        dates = {d.doc_id: d.date for d in ix.documents()}
        rows = score_documents(ix, mine_formulas(ix, lexicon=[]), [], [])
    row = next(r for r in rows if r.doc_id == "d00")
    e = next(e for e in row.evidence if slogan in e.text or e.text in slogan and len(e.text) >= 8)
    assert e.n_other_docs == n - 1
    assert len(e.other_docs) == EVIDENCE_LINKS and "d00" not in e.other_docs
    assert [dates[d] for d in e.other_docs] == sorted(dates[d] for d in e.other_docs)
    assert e.other_docs[0] == f"d{n - 1:02d}"  # the earliest-dated document comes first
    shown = CliRunner().invoke(cli, ["score", "--index", str(tmp_path / "ix"), "--evidence"]).output
    assert f"and {n - 1 - EVIDENCE_LINKS} more" in shown
    data = json.loads(CliRunner().invoke(cli, ["score", "--index", str(tmp_path / "ix"), "--json"]).output)
    assert max(e["n_other_docs"] for r in data for e in r["evidence"]) == n - 1


def test_compare_aligns_shared_passages(hash_index):
    with Index.open(hash_index) as ix:
        c = compare_documents(ix, seed_id("002"), seed_id("004"))
        a, b = ix.document_text(c.doc_a), ix.document_text(c.doc_b)
    texts = [p.text for p in c.exact]
    assert any("守土有责、守土担责、守土尽责" in t for t in texts)
    for p in c.exact:
        assert a[p.a_start : p.a_end] == p.a_text and b[p.b_start : p.b_end] == p.b_text
    for d in c.semantic:
        assert d.a.doc_id == c.doc_a and d.b.doc_id == c.doc_b


def test_compare_semantic_pairs_are_mutual_best_matches_above_the_threshold(hash_index):
    """Checked by brute force over the two documents' stored vectors."""

    a_id, b_id = seed_id("002"), seed_id("004")
    with Index.open(hash_index) as ix:
        c = compare_documents(ix, a_id, b_id)
        vecs = ix.vector_matrix()
        owners = {d: [(v, r) for v, r in ix.vector_owners() if r.doc_id == d] for d in (a_id, b_id)}
    threshold = c.calibration.threshold

    def best(src: str, dst: str) -> dict:
        out = {}
        for v, r in owners[src]:
            sims = [(float(vecs[v] @ vecs[w]), (q.sentence, q.start, q.end)) for w, q in owners[dst]]
            score, key = max(sims, key=lambda x: x[0])
            key_r = (r.sentence, r.start, r.end)
            if score >= threshold - 1e-6 and (key_r not in out or score > out[key_r][1]):
                out[key_r] = (key, score)
        return out

    fwd, back = best(a_id, b_id), best(b_id, a_id)
    want = {(ka, kb) for ka, (kb, _) in fwd.items() if back.get(kb, (None,))[0] == ka}
    got = {((d.a.sentence, d.a.start, d.a.end), (d.b.sentence, d.b.start, d.b.end)) for d in c.semantic}
    assert want and got == want
    assert all(d.score >= threshold - 1e-4 for d in c.semantic)
    # A stricter threshold given by the user keeps a subset.
    with Index.open(hash_index) as ix:
        strict = compare_documents(ix, a_id, b_id, threshold=threshold + 0.1)
    assert strict.calibration.method == "given by the user"
    assert {(d.a.start, d.b.start) for d in strict.semantic} < {(d.a.start, d.b.start) for d in c.semantic}


def test_compare_unknown_document_is_an_error(hash_index):
    from rhetoric.errors import RhetoricError

    with Index.open(hash_index) as ix, pytest.raises(RhetoricError, match="no document"):
        compare_documents(ix, "nope", seed_id("000"))


def test_locate_slogans_finds_both_scripts(hash_index):
    with Index.open(hash_index) as ix:
        rows = {r.slogan.text: r for r in locate_slogans(ix, load_lexicon())}
    row = rows["人民至上、生命至上"]
    assert {seed_id("001"), seed_id("002")} <= set(row.doc_ids)  # 001 is in Traditional script


def _run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_formulas_command(hash_index):
    out = _run("formulas", "--index", str(hash_index), "--limit", "5", "--json")
    rows = json.loads(out.stdout)
    assert len(rows) == 5
    assert {"text", "kind", "doc_ids", "occurrences", "variants", "first_seen", "n_docs"} <= set(rows[0])
    assert "docs" in _run("formulas", "--index", str(hash_index), "--limit", "3").stdout


def test_clusters_command(hash_index):
    data = json.loads(_run("clusters", "--index", str(hash_index), "--json").stdout)
    assert data["calibration"]["threshold"] > 0 and data["clusters"]
    assert {"label", "keywords", "members"} <= set(data["clusters"][0])
    assert "Threshold" in _run("clusters", "--index", str(hash_index), "--limit", "2").stdout


def test_score_command(hash_index):
    rows = json.loads(_run("score", "--index", str(hash_index), "--json").stdout)
    assert len(rows) == 5 and {"doc_id", "reuse_score", "coverage", "evidence"} <= set(rows[0])
    assert "reuse" in _run("score", "--index", str(hash_index)).stdout


def test_compare_command(hash_index):
    data = json.loads(_run("compare", seed_id("002"), seed_id("004"), "--index", str(hash_index), "--json").stdout)
    assert data["exact"]
    bad = CliRunner().invoke(cli, ["compare", "x", "y", "--index", str(hash_index)])
    assert bad.exit_code == 1 and "no document" in bad.output


def test_slogans_command_with_user_lexicon(hash_index, tmp_path):
    extra = tmp_path / "mine.toml"
    extra.write_text(
        '[[slogan]]\nid = "jiang-zheng-zhi"\ntext = "提高政治站位"\ncategory = "loyalty"\n', encoding="utf-8"
    )
    rows = json.loads(_run("slogans", "--index", str(hash_index), "--lexicon", str(extra), "--json").stdout)
    mine = [r for r in rows if r["slogan"]["id"] == "jiang-zheng-zhi"]
    assert mine and mine[0]["doc_ids"] == [seed_id("003")]
    bad = tmp_path / "bad.toml"
    bad.write_text("[[slogan]]\nid = 1\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["slogans", "--index", str(hash_index), "--lexicon", str(bad)])
    assert result.exit_code == 1 and "bad.toml" in result.output
