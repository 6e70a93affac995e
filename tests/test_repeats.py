from __future__ import annotations

import numpy as np
import pytest
from helpers import seed_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rhetoric.repeats import (
    BARRIERS,
    Occurrence,
    Repeat,
    find_repeats,
    is_edge_char,
    lcp_array,
    suffix_array,
)


def by_text(reps: list[Repeat]) -> dict[str, Repeat]:
    out = {r.text: r for r in reps}
    assert len(out) == len(reps), "a text is reported twice"
    return out


def occurrences_of(texts: list[str], sub: str) -> list[Occurrence]:
    return [
        Occurrence(d, i, i + len(sub))
        for d, text in enumerate(texts)
        for i in range(len(text))
        if text.startswith(sub, i)
    ]


# --------------------------------------------------------------------------- building blocks


@settings(deadline=None)
@given(st.lists(st.integers(1, 4), max_size=80))
def test_suffix_array_and_lcp_match_sorting(body: list[int]) -> None:
    s = body + [0]
    t = np.array(s, np.int32)
    sa = suffix_array(t, 5)
    assert sa.tolist() == sorted(range(len(s)), key=lambda i: s[i:])
    lcp = lcp_array(t, sa)
    for r in range(1, len(s)):
        a, b = s[sa[r - 1] :], s[sa[r] :]
        h = 0
        while h < min(len(a), len(b)) and a[h] == b[h]:
            h += 1
        assert lcp[r] == h


def test_edge_chars() -> None:
    for ch in "，、：“”‘’（）《》 ,:\"'()\t【】—…·":
        assert is_edge_char(ch), ch
    for ch in "中a1%":
        assert not is_edge_char(ch), ch


# --------------------------------------------------------------------------- behaviour


def test_planted_slogan_in_three_docs() -> None:
    texts = [
        "今天会议强调，要坚持外防输入、内防扩散，毫不放松抓好各项工作。",
        "各地坚持外防输入、内防扩散的策略。",
        "记者了解到外防输入、内防扩散已落实到位！",
        "这篇文章与防控无关。",
    ]
    rep = by_text(find_repeats(texts))["外防输入、内防扩散"]
    assert rep.n_docs == 3
    assert rep.occurrences == occurrences_of(texts, "外防输入、内防扩散")
    assert [(o.doc, o.start) for o in rep.occurrences] == [(0, 10), (1, 4), (2, 5)]
    for o in rep.occurrences:
        assert texts[o.doc][o.start : o.end] == rep.text


def test_phrase_repeated_in_one_document() -> None:
    texts = [
        "我们要坚持人民至上、生命至上，始终把人民至上、生命至上落到实处。",
        "今天天气晴朗。",
    ]
    rep = by_text(find_repeats(texts))["人民至上、生命至上"]
    assert rep.n_docs == 1
    assert rep.occurrences == [Occurrence(0, 5, 14), Occurrence(0, 18, 27)]
    # not enough when three repeats are required
    assert "人民至上、生命至上" not in by_text(find_repeats(texts, min_repeats_in_doc=3))


def test_overlapping_repeats_in_one_document_do_not_count() -> None:
    # "哈哈哈哈" occurs at 0 and 1 of "哈哈哈哈哈", but never twice without overlap
    assert find_repeats(["哈哈哈哈哈", "别的内容不同"]) == []
    reps = by_text(find_repeats(["哈哈哈哈哈哈哈哈", "别的内容不同"]))
    assert reps["哈哈哈哈"].n_docs == 1


def test_seed_repeats_its_own_slogan() -> None:
    from rhetoric.normalize import normalize

    text = normalize(seed_text("000")).text
    slogan = "以更坚定的信心、更顽强的意志、更果断的措施"
    assert text.count(slogan) == 2
    reps = find_repeats([text])
    hits = [r for r in reps if slogan in r.text]
    assert hits and all(len(r.occurrences) >= 2 and r.n_docs == 1 for r in hits)


def test_only_maximal_repeats() -> None:
    texts = ["甲外防输入、内防扩散乙", "丙外防输入、内防扩散丁", "戊外防输入、内防扩散己"]
    reps = by_text(find_repeats(texts))
    assert list(reps) == ["外防输入、内防扩散"]
    # a fragment that also occurs on its own is maximal: it has an occurrence of its own
    texts.append("严防输入、内防止")
    reps = by_text(find_repeats(texts))
    assert reps["防输入、内防"].n_docs == 4
    assert reps["外防输入、内防扩散"].n_docs == 3


def test_nothing_crosses_barriers_or_documents() -> None:
    texts = [
        "人民至上。生命至上",
        "人民至上\x00生命至上",
        "人民至上\n生命至上",
        "人民至上；生命至上",
        "人民至上",
        "生命至上",
    ]
    reps = find_repeats(texts, min_len=3)
    for r in reps:
        assert not set(r.text) & set(BARRIERS)
        for o in r.occurrences:
            assert texts[o.doc][o.start : o.end] == r.text
    assert {r.text for r in reps} == {"人民至上", "生命至上"}
    # documents are never joined: "上生" would straddle the two documents
    assert all(
        "上生" not in r.text for r in find_repeats(["天下人民至上", "生命至上啊"], min_len=2)
    )


def test_masked_text_never_takes_part() -> None:
    texts = ["央视网消息：今天", "央视网消息：明天"]
    masked = ["\x00" * 6 + "今天", "\x00" * 6 + "明天"]
    assert "央视网消息" in by_text(find_repeats(texts))
    assert find_repeats(masked, min_len=2) == []


def test_punctuation_is_trimmed_and_duplicates_merged() -> None:
    texts = [
        "甲，“外防输入、内防扩散”，乙",
        "丙，“外防输入、内防扩散”，丁",
        "戊外防输入、内防扩散己",
    ]
    reps = by_text(find_repeats(texts))
    assert list(reps) == ["外防输入、内防扩散"]
    rep = reps["外防输入、内防扩散"]
    assert rep.n_docs == 3
    assert rep.occurrences == occurrences_of(texts, "外防输入、内防扩散")


def test_min_and_max_len() -> None:
    texts = ["甲乙丙丁戊己庚辛。子丑寅", "甲乙丙丁戊己庚辛，子丑寅"]
    assert {r.text for r in find_repeats(texts)} == {"甲乙丙丁戊己庚辛"}
    assert {r.text for r in find_repeats(texts, min_len=3)} == {"甲乙丙丁戊己庚辛", "子丑寅"}
    assert find_repeats(texts, max_len=7) == []
    assert all(len(r.text) >= 9 for r in find_repeats(texts, min_len=9))


def test_max_occurrences_keeps_n_docs_exact() -> None:
    texts = [f"{ch}：坚持人民至上、生命至上。" for ch in "甲乙丙丁戊己庚辛壬癸"]
    rep = by_text(find_repeats(texts, max_occurrences=3))["坚持人民至上、生命至上"]
    assert rep.n_docs == 10
    assert [o.doc for o in rep.occurrences] == [0, 1, 2]


def test_sorted_output_and_unicode_offsets() -> None:
    texts = ["𠮷野家的人民至上、生命至上", "人民至上、生命至上𠮷野家的", "x𠮷野家的"]
    reps = find_repeats(texts)
    assert [r.text for r in reps] == ["𠮷野家的", "人民至上、生命至上"]
    for r in reps:
        for o in r.occurrences:
            assert texts[o.doc][o.start : o.end] == r.text
    keys = [(-r.n_docs, -len(r.text), r.text) for r in reps]
    assert keys == sorted(keys)


def test_degenerate_inputs() -> None:
    assert find_repeats([]) == []
    assert find_repeats(["", ""]) == []
    assert find_repeats(["。。。", "\x00"]) == []
    with pytest.raises(ValueError):
        find_repeats(["a"], min_docs=1)
    with pytest.raises(ValueError):
        find_repeats(["a"], min_len=5, max_len=4)


# --------------------------------------------------------------------------- against brute force


def brute_force(
    texts: list[str], min_docs: int, min_len: int, max_len: int, min_repeats: int
) -> dict[str, tuple[list[Occurrence], int]]:
    """Every qualifying text, straight from the definition.

    A text is reported when it is maximal up to trimming: extending it by the context that all
    its occurrences share (its closure) adds only punctuation or whitespace.
    """
    subs = {
        text[i:j]
        for text in texts
        for i in range(len(text))
        for j in range(i + min_len, min(len(text), i + max_len) + 1)
    }
    out = {}
    for sub in subs:
        if set(sub) & set(BARRIERS) or is_edge_char(sub[0]) or is_edge_char(sub[-1]):
            continue
        occs = occurrences_of(texts, sub)
        n_docs = len({o.doc for o in occs})
        best_in_doc = 0
        for d in {o.doc for o in occs}:
            count, free = 0, 0
            for o in occs:
                if o.doc == d and o.start >= free:
                    count, free = count + 1, o.end
            best_in_doc = max(best_in_doc, count)
        if n_docs < min_docs and best_in_doc < min_repeats:
            continue
        if _closure_adds_only_edges(texts, occs):
            out[sub] = (occs, n_docs)
    return out


def _closure_adds_only_edges(texts: list[str], occs: list[Occurrence]) -> bool:
    for side in (-1, 1):
        k = 0
        while True:
            ctx = set()
            for o in occs:
                i = o.start - 1 - k if side < 0 else o.end + k
                text = texts[o.doc]
                ctx.add(text[i] if 0 <= i < len(text) and text[i] not in BARRIERS else None)
            ch = ctx.pop() if len(ctx) == 1 else None
            if ch is None:
                break
            if not is_edge_char(ch):
                return False
            k += 1
    return True


ALPHABET = "ab、， 。\x00"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(st.text(ALPHABET, max_size=24), min_size=2, max_size=4),
    min_docs=st.integers(2, 3),
    min_len=st.integers(1, 3),
    span=st.integers(0, 6),
    min_repeats=st.integers(2, 3),
)
def test_matches_brute_force(
    texts: list[str], min_docs: int, min_len: int, span: int, min_repeats: int
) -> None:
    max_len = min_len + span
    got = find_repeats(
        texts, min_docs=min_docs, min_len=min_len, max_len=max_len, min_repeats_in_doc=min_repeats
    )
    want = brute_force(texts, min_docs, min_len, max_len, min_repeats)
    got_map = by_text(got)
    assert set(got_map) == set(want)
    for text, rep in got_map.items():
        assert rep.occurrences == want[text][0]
        assert rep.n_docs == want[text][1]
