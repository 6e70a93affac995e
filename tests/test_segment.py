from __future__ import annotations

import pytest
from helpers import seed_id, seed_text
from hypothesis import given, settings
from hypothesis import strategies as st

from rhetoric.normalize import normalize
from rhetoric.records import Document
from rhetoric.segment import segment, split_clauses, split_sentences


def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def test_splits_on_terminators_and_line_breaks():
    assert _sentences("会议指出，要压紧压实责任。要做好排查！是否到位？\n下一段；结束") == [
        "会议指出，要压紧压实责任。", "要做好排查！", "是否到位？", "下一段；", "结束",
    ]


def test_quotes_stay_balanced():
    text = "他说：“要做好。要做实。”随后离开。下一句。"
    assert _sentences(text) == ["他说：“要做好。要做实。”随后离开。", "下一句。"]


def test_closing_quote_stays_with_its_sentence():
    assert _sentences("“这些居民能够随意出入吗？”在小区，他询问。") == [
        "“这些居民能够随意出入吗？”在小区，他询问。"
    ]


def test_unbalanced_quote_does_not_swallow_the_document():
    text = "“" + "要做好。" * 100
    assert len(_sentences(text)) > 50


def test_clauses_split_on_commas_and_enumeration_marks():
    text = "坚持人民至上、生命至上，厚植为民情怀"
    assert [text[a:b] for a, b in split_clauses(text, 0, len(text))] == [
        "坚持人民至上、", "生命至上，", "厚植为民情怀",
    ]


@pytest.mark.parametrize("key", ["000", "001", "002", "003", "004"])
def test_seed_sentences_point_at_the_original_text(key):
    original = seed_text(key)
    doc = Document(seed_id(key), original)
    sentences = segment(doc, normalize(original))
    assert sentences
    for s in sentences:
        assert s.text == original[s.start : s.end]
        for a, b in s.clauses:
            assert s.start <= a < b <= s.end
    assert [s.idx for s in sentences] == list(range(len(sentences)))
    assert all(x.end <= y.start for x, y in zip(sentences, sentences[1:]))


def test_boilerplate_and_mojibake_sentences_do_not_count():
    original = seed_text("002")
    sentences = segment(Document("002", original), normalize(original))
    kinds = {s.kind for s in sentences if "版权声明" in s.text or "责任编辑" in s.text}
    assert kinds == {"boilerplate"}
    original = seed_text("000")
    sentences = segment(Document("000", original), normalize(original))
    bad = [s for s in sentences if "巴夥垒" in s.text]
    assert bad and "巴夥垒" not in bad[0].norm  # mojibake never reaches matching


def test_traditional_sentence_is_matched_in_simplified():
    original = seed_text("001")
    sentences = segment(Document("001", original), normalize(original))
    assert any("坚持人民至上、生命至上" in s.norm for s in sentences)


_CHARS = st.text(alphabet="会议指出要做好。！？；…，、：“”‘’\n 疫情防控", max_size=120)


@settings(max_examples=300, deadline=None)
@given(_CHARS)
def test_segmenting_loses_no_character(text):
    ranges = split_sentences(text)
    covered = set()
    for a, b in ranges:
        assert 0 <= a < b <= len(text)
        covered.update(range(a, b))
    assert all(ch.isspace() for i, ch in enumerate(text) if i not in covered)
    assert all(x[1] <= y[0] for x, y in zip(ranges, ranges[1:]))
