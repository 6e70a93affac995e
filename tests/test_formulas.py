"""Formula mining: gold checks on the seeds, planted slogans with known answers, variants."""

from __future__ import annotations

import json
import os

import pytest
from helpers import evaluate_formulas, overlaps

from rhetoric.embed import load_embedder
from rhetoric.formulas import _variant_kind, mine_formulas
from rhetoric.index import Index, build_index
from rhetoric.lexicon import load_lexicon


@pytest.fixture(scope="module")
def seed_formulas(hash_index):
    # Formula mining is lexical: the embedding model does not change it.
    with Index.open(hash_index) as ix:
        return mine_formulas(ix, lexicon=load_lexicon())


def test_gold_formulas_are_found(seed_formulas, gold):
    result = evaluate_formulas(seed_formulas, gold)
    assert result["n_found"] >= 14, result["missing"]


def test_gold_variants_are_grouped_with_their_formula(seed_formulas, gold):
    result = evaluate_formulas(seed_formulas, gold)
    assert result["n_grouped"] >= 11, result["grouped"]


def test_top_20_are_mostly_gold(seed_formulas, gold):
    result = evaluate_formulas(seed_formulas, gold)
    assert result["n_good_top20"] >= 12, [f.text for f in seed_formulas[:20]]


def test_no_noise_in_the_top_30(seed_formulas, gold):
    noise = [x for n in gold["noise"] for x in n["examples"]]
    for f in seed_formulas[:30]:
        for x in noise:
            assert x not in f.text and "(" not in f.text, f.text
        assert "\ufffd" not in f.text


def test_boilerplate_never_becomes_a_formula(seed_formulas):
    for f in seed_formulas:
        for bad in ("版权", "责任编辑", "编辑", "本网", "来源", "Copyright", "新闻热线"):
            assert bad not in f.text, f.text


def test_occurrences_point_at_the_original_text(seed_formulas, hash_index):
    with Index.open(hash_index) as ix:
        texts = {d.doc_id: ix.document_text(d.doc_id) for d in ix.documents()}
    for f in seed_formulas[:30]:
        for o in f.occurrences + [o for v in f.variants for o in v.occurrences]:
            assert texts[o.doc_id][o.start : o.end] == o.text


def test_dates_give_first_seen_and_adoption(seed_formulas):
    f = next(f for f in seed_formulas if "联防联控" in f.text)
    assert f.first_seen == "2020-02-04"  # seed 004, the earliest dated document using it
    # 003 (2022-02) uses a variant; 001 and 002 carry no date.
    assert f.adoption == {"2020-02": 1, "2022-02": 1}


def _corpus(tmp_path, docs: dict[str, str]):
    path = tmp_path / "docs.jsonl"
    path.write_text(
        "\n".join(json.dumps({"id": k, "text": v, "date": f"2021-01-{i + 1:02d}"}, ensure_ascii=False)
                  for i, (k, v) in enumerate(docs.items())),
        encoding="utf-8",
    )
    build_index([path], tmp_path / "ix", load_embedder("hash"), cache=False)
    return Index.open(tmp_path / "ix")


FILLER = [
    "今天上午，市里召开了全市农业生产调度会议，研究部署春耕备耕。",
    "会议听取了各县区关于道路建设的进展汇报，并提出下一步安排。",
    "据悉，当地新建的图书馆将于下月正式对外开放，市民可免费借阅。",
    "随后，调研组一行来到产业园区，详细了解企业复工复产情况。",
    "气象部门提醒，未来三天将有较强降雨，请市民注意出行安全。",
]


def test_planted_slogan_is_found_in_exactly_its_documents(tmp_path):
    slogan = "稳住基本盘、兜牢民生底线"
    docs = {f"d{i}": FILLER[i] + (f"会议强调，要{slogan}。" if i in (0, 2, 4) else "") + FILLER[(i + 1) % 5]
            for i in range(5)}
    with _corpus(tmp_path, docs) as ix:
        found = mine_formulas(ix, lexicon=[])
    top = found[0]
    assert top.text == slogan
    assert sorted(top.doc_ids) == ["d0", "d2", "d4"]
    assert len(top.occurrences) == 3


def test_reordered_and_changed_parts_group(tmp_path):
    docs = {
        "a": "会议要求，坚持联防联控、群防群控，筑牢防线。" + FILLER[0],
        "b": "各地要坚持联防联控、群防群控，守住底线。" + FILLER[1],
        "c": "要形成群防群控、联防联控的合力。" + FILLER[2],
        "d": "切实做到群防群治、联防联控，不留死角。" + FILLER[3],
    }
    with _corpus(tmp_path, docs) as ix:
        found = mine_formulas(ix, lexicon=[])
    head = next(f for f in found if overlaps(f.text, "联防联控、群防群控"))
    texts = {head.text, *(v.text for v in head.variants)}
    assert any(overlaps(t, "群防群控、联防联控") for t in texts)
    assert any(overlaps(t, "群防群治、联防联控") for t in texts)
    assert head.n_docs == 4


def test_names_do_not_make_a_formula(tmp_path):
    docs = {
        "a": "张学锋强调，要做好春耕。" + FILLER[0],
        "b": "张学锋强调，要修好道路。" + FILLER[1],
    }
    with _corpus(tmp_path, docs) as ix:
        found = mine_formulas(ix, lexicon=[])
    assert not any("张学锋" in f.text for f in found)


def test_variant_kinds():
    assert _variant_kind("联防联控、群防群控", "群防群控、联防联控") == "reordered"
    assert _variant_kind("守土有责、守土担责、守土尽责", "守土有责、守土负责、守土尽责") == "changed"
    assert _variant_kind("人民群众生命安全和身体健康", "人民群众的生命安全和身体健康") == "function-words"
    assert _variant_kind("外防输入、内防扩散", "统筹疫情防控和经济社会发展") is None


def test_lexicon_slogans_are_marked_and_keep_their_category(seed_formulas):
    slogans = [f for f in seed_formulas if f.kind == "slogan"]
    assert slogans
    assert all(f.slogan_id and f.category and f.canonical for f in slogans)


def test_analysis_is_the_same_whatever_the_hash_seed(hash_index):
    # Python orders sets of strings differently in each process (PYTHONHASHSEED); the results
    # (formulas, variants and their order, scores) must not depend on it.
    import subprocess
    import sys

    script = (
        "import dataclasses, json, sys\n"
        "from rhetoric.index import Index\n"
        "from rhetoric.report import analyze\n"
        "with Index.open(sys.argv[1]) as ix:\n"
        "    a = analyze(ix)\n"
        "a.seconds = {}\n"
        "print(json.dumps(dataclasses.asdict(a), ensure_ascii=False, sort_keys=True))\n"
    )
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run([sys.executable, "-c", script, str(hash_index)], capture_output=True, text=True,
                              env=env, check=True)
        outs.append(proc.stdout)
    assert outs[0] == outs[1]
