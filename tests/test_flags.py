"""Mojibake and boilerplate are flagged (not deleted) and kept out of matching."""

from __future__ import annotations

import pytest
from helpers import corpus_records, seed_text

from rhetoric.boilerplate import RecurringBoilerplate, find_boilerplate
from rhetoric.mojibake import find_mojibake
from rhetoric.normalize import normalize

KEYS = ["000", "001", "002", "003", "004"]


def _covered(spans, a: int, b: int) -> float:
    hit = sum(max(0, min(b, e) - max(a, s)) for s, e in spans)
    return hit / (b - a)


def test_gold_mojibake_of_seed_000_is_flagged(gold):
    (noise,) = [n for n in gold["noise"] if n["kind"] == "mojibake"]
    text = seed_text("000")
    spans = find_mojibake(text)
    for example in noise["examples"]:
        # gold writes the examples with pinyin removed; anchor on a run the original holds.
        k = next(k for k in range(len(example) - 3) if example[k : k + 4] in text)
        i = text.find(example[k : k + 4])
        # The example's odd characters are covered; its ordinary edges may be left out.
        assert _covered(spans, i, i + len(example) - k) >= 0.6, example


def test_gbk_read_one_byte_off_is_detected():
    sentences = [
        "坚决贯彻党中央国务院决策部署，全面落实各方责任",
        # Misreads made only of common characters ("切实把人民群众..." -> "惺蛋讶嗣袢褐") are
        # not caught by the rarity test; see mojibake.py.
        "外防输入一定不能掉以轻心，要保持高度警惕",
    ]
    tested = 0
    for s in sentences:
        for prefix in (b"", b"\xa1"):
            raw = prefix + s.encode("gbk")
            broken = (raw[1:] if not prefix else raw).decode("gbk", "replace")
            # The decoder may fall back into step; only the misread head is mojibake.
            same = 0
            while same < min(len(s), len(broken)) and s[-1 - same] == broken[-1 - same]:
                same += 1
            head = len(broken) - same
            if head < 8:
                continue
            tested += 1
            text = "会议指出，" + broken + "。"
            spans = find_mojibake(text)
            assert spans and _covered(spans, 5, 5 + head) >= 0.6, (s, broken)
            assert all(a >= 5 for a, _ in spans), "the ordinary text before it stays unflagged"
    assert tested >= 2


def test_rare_names_are_not_mojibake():
    assert find_mojibake("縣委副書記、縣長陳震受鄺驅書記委托主持會議，雷恣偉、李釗參加") == []


def test_clean_corpus_text_has_no_mojibake():
    for rec in corpus_records(800):
        assert find_mojibake(rec["text"]) == [], rec["id"]


@pytest.mark.parametrize("key", KEYS)
def test_gold_boilerplate_is_flagged(gold, key):
    (noise,) = [n for n in gold["noise"] if n["kind"] == "boilerplate"]
    n = normalize(seed_text(key))
    spans = [(s.start, s.end) for s in n.flagged("boilerplate")]
    original = seed_text(key)
    for example in noise["examples"]:
        target = normalize(example, flags=False).text
        start = 0
        while (i := n.text.find(target, start)) >= 0:
            a, b = n.to_original(i, i + len(target))
            assert _covered(spans, a, b) == 1.0, (key, example, original[a:b])
            start = i + 1


def test_body_text_is_not_boilerplate():
    n = normalize(seed_text("004"))
    body = n.text.index("会议指出")
    a, _ = n.to_original(body, body + 4)
    assert _covered([(s.start, s.end) for s in n.flagged("boilerplate")], a, a + 4) == 0


def test_urls_and_bare_dates_are_boilerplate():
    text = "2022年02月10日 15:26\n详见https://mp.weixin.qq.com/s/abc 会议在县政府召开。\n2020-05-17"
    spans = find_boilerplate(text)
    flagged = "".join(text[a:b] for a, b in spans)
    assert "https://mp.weixin.qq.com/s/abc" in flagged
    assert "2022年02月10日 15:26" in flagged and "2020-05-17" in flagged
    assert "会议在县政府召开" not in flagged


def test_recurring_opening_of_one_source_is_boilerplate():
    recs = corpus_records(300)
    docs = [(r["source"], normalize(r["text"], flags=False).text) for r in recs]
    rb = RecurringBoilerplate().fit(docs)
    source, text = docs[0]
    found = [text[a:b] for a, b in rb.find(source, text)]
    assert found[0] == "央视网消息（新闻联播）："
    # The same opening in a document of another source is left alone.
    assert rb.find("县融媒体中心", text) == []


def test_recurring_lines_need_many_documents():
    docs = [("s", f"第{i}条消息。\n本网讯") for i in range(3)] + [("s", "另一条。")] * 2
    assert RecurringBoilerplate(min_docs=5).fit(docs).find("s", docs[0][1]) == []
