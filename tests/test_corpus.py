"""At scale, on the shared CCTV corpus (skipped when ../shared is absent). Slow: ~1-2 minutes."""

from __future__ import annotations

import json

import pytest
from helpers import corpus_records, overlaps

from rhetoric.embed import load_embedder
from rhetoric.formulas import mine_formulas
from rhetoric.index import Index, build_index
from rhetoric.lexicon import load_lexicon

pytestmark = pytest.mark.slow

N_DOCS = 4000  # January to early August 2020


@pytest.fixture(scope="module")
def corpus_formulas(tmp_path_factory):
    recs = corpus_records(N_DOCS)
    path = tmp_path_factory.mktemp("corpus") / "xwlb.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs), encoding="utf-8")
    folder = path.parent / "ix"
    # Formula mining is lexical: the hashing embedder keeps the build fast.
    build_index([path], folder, load_embedder("hash"), cache=False)
    with Index.open(folder) as ix:
        return mine_formulas(ix, limit=100, lexicon=load_lexicon())


@pytest.mark.parametrize(
    "expected",
    ["以习近平同志为核心的党中央", "人民至上、生命至上", "外防输入、内防反弹", "不忘初心、牢记使命",
     "统筹疫情防控和经济社会发展"],
)
def test_known_formulas_are_among_the_top_100(corpus_formulas, expected):
    # The head shows the wording most used in the sample (2020: 统筹推进疫情防控和经济社会发展…);
    # the formula counts when its text, lexicon wording or a variant is the expected one.
    def wordings(f):
        return [f.text, f.canonical or "", *(v.text for v in f.variants)]

    found = [f for f in corpus_formulas if any(overlaps(t, expected) for t in wordings(f))]
    assert found, [f.text for f in corpus_formulas[:20]]


def test_outlet_opening_is_not_a_formula(corpus_formulas):
    for f in corpus_formulas:
        assert "央视网消息" not in f.text and "新闻联播）" not in f.text, f.text
        for v in f.variants:
            assert "央视网消息" not in v.text
