from __future__ import annotations

import pytest
from helpers import seed_text
from hypothesis import given, settings
from hypothesis import strategies as st

from rhetoric.normalize import normalize, to_simplified

KEYS = ["000", "001", "002", "003", "004"]


def test_traditional_becomes_simplified():
    assert normalize("堅決打贏疫情防控阻擊戰").text == "坚决打赢疫情防控阻击战"


def test_inserted_pinyin_is_removed_and_flagged():
    original = "兩場“硬戰(zhàn)”,各級領(lǐng)導(dǎo)干部"
    n = normalize(original)
    assert n.text == "两场“硬战”，各级领导干部"
    pinyin = [original[s.start : s.end] for s in n.flagged("pinyin")]
    assert pinyin == ["(zhàn)", "(lǐng)", "(dǎo)"]


def test_bylines_in_parentheses_are_not_pinyin():
    n = normalize("云阳网讯(记者 唐斌)2月12日")
    assert "记者唐斌" in n.text
    assert not n.flagged("pinyin")


def test_doubled_marks_from_seed_003_are_collapsed():
    n = normalize("再安排,、再部署,,要求全县上下发扬过硬作风,。会议指出")
    assert n.text == "再安排、再部署，要求全县上下发扬过硬作风。会议指出"


def test_widths_are_unified_but_numbers_keep_their_commas():
    n = normalize("共有１２３人,其中1,000名志愿者:全部到岗")
    assert n.text == "共有123人，其中1,000名志愿者：全部到岗"


def test_spaces_beside_chinese_are_dropped():
    assert normalize("更有效 ,確保重點人員").text == "更有效，确保重点人员"


def test_seed_003_has_no_doubled_marks_after_normalising():
    text = normalize(seed_text("003")).text
    for bad in ("，，", "，、", "，。", "、，"):
        assert bad not in text


@pytest.mark.parametrize("key", KEYS)
def test_seeds_normalise_idempotently_and_map_back(key):
    original = seed_text(key)
    n = normalize(original)
    assert normalize(n.text).text == n.text
    _assert_offsets_map_back(original, n)


def test_gold_formulas_are_substrings_of_normalised_seeds(gold):
    # gold.toml's promise: every text is a substring of the normalised seeds.
    texts = {k: normalize(seed_text(k)).text for k in KEYS}
    for f in gold["formula"]:
        for doc in f["docs"]:
            assert f["text"] in texts[doc], (f["text"], doc)
        for v in f.get("variants", []):
            for doc in v["docs"]:
                assert v["text"] in texts[doc], (v["text"], doc)


def test_to_original_recovers_the_span_a_user_sees():
    original = seed_text("002")
    n = normalize(original)
    i = n.text.index("外防输入、内防扩散")
    a, b = n.to_original(i, i + len("外防输入、内防扩散"))
    assert original[a:b] == "外防输入、内防扩散"
    original = seed_text("000")
    n = normalize(original)
    i = n.text.index("外防输入、内防扩散")
    a, b = n.to_original(i, i + len("外防输入、内防扩散"))
    assert "(nèi)" in original[a:b]  # the user sees the original, pinyin and all
    assert normalize(original[a:b]).text == "外防输入、内防扩散"


def _assert_offsets_map_back(original: str, n) -> None:
    ref = to_simplified(original)
    assert len(n.offsets) == len(n.text)
    assert all(a < b for a, b in zip(n.offsets, n.offsets[1:]))
    widths = {"，": ",", "；": ";", "：": ":", "？": "?", "！": "!", "（": "(", "）": ")"}
    for ch, o in zip(n.text, n.offsets):
        assert 0 <= o < len(original)
        src = original[o]
        ok = (
            ch in (src, ref[o], "\ufffd")
            or widths.get(ch) == src
            or (ch == " " and src in "\u3000\xa0")
            or (ch.isascii() and ord(src) - 0xFEE0 == ord(ch))
        )
        assert ok, (ch, src, o)


# Text made of the pieces bulletins are made of: both scripts, pinyin, odd punctuation.
_PIECES = st.sampled_from(
    ["戰", "(zhàn)", "领", "領", "(lǐng)", "导", "導", "疫情", "防控", ",", ",,", ",、", ",。", "。", "、",
     "“", "”", " ", "\n", "１", "2", "a", "?", "!", ":", ";", "(", ")", "（记者 唐斌）", "外防輸入",
     "，", "\u3000", "\xa0", "巴夥垒斎搿币欢ú荒艿粢暂", "1,000"]
)
_TEXT = st.lists(_PIECES, max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_normalise_is_idempotent(text):
    once = normalize(text).text
    assert normalize(once).text == once


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_offsets_always_map_back(text):
    _assert_offsets_map_back(text, normalize(text))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_text_normalises_without_error_and_idempotently(text):
    once = normalize(text)
    assert normalize(once.text).text == once.text
    assert all(0 <= o < len(text) for o in once.offsets)
