"""The slogan lexicon: loading, user overrides, errors, every matching mode, the seeds' gold."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from helpers import ROOT, SEEDS, seed_text

from rhetoric.errors import InputError
from rhetoric.lexicon import Slogan, default_lexicon_path, load_lexicon, match_slogans
from rhetoric.normalize import normalize

CATEGORIES = {"covid", "loyalty", "mobilisation", "development", "discipline"}


@pytest.fixture(scope="module")
def lex() -> list[Slogan]:
    return load_lexicon()


def _found(text: str, lex: list[Slogan]) -> dict[str, list[str]]:
    """slogan id -> the ``how`` of each of its matches in (normalised) ``text``."""
    out: dict[str, list[str]] = {}
    for m in match_slogans(normalize(text, flags=False).text, lex):
        out.setdefault(m.slogan_id, []).append(m.how)
    return out


# ------------------------------------------------------------------------------ loading


def test_default_lexicon(lex):
    assert 60 <= len(lex) <= 100
    assert len({s.id for s in lex}) == len(lex)
    assert {s.category for s in lex} == CATEGORIES
    for s in lex:
        assert s.id.isascii()
        for t in (s.text, *s.parts, *s.variants):
            assert normalize(t, flags=False).text == t  # stored normalised Simplified
        assert s.since is None or s.since[:2] in ("19", "20")


def test_packaged_copy_identical_and_preferred():
    packaged = ROOT / "rhetoric" / "data" / "slogans.toml"
    assert packaged.read_bytes() == (SEEDS / "slogans.toml").read_bytes()
    assert default_lexicon_path() == packaged


def test_user_lexicon_overrides_and_adds(tmp_path, lex):
    user = tmp_path / "mine.toml"
    # Traditional on purpose: user entries are normalised like the texts they match.
    user.write_text(
        """
[[slogan]]
id = "ren-min-zhi-shang"
text = "人民至上、生命至上"
parts = ["人民至上", "生命至上"]
variants = ["人民至上、生命至上、健康至上"]
category = "covid"

[[slogan]]
id = "kuai-zhun-yan-shi-xi"
text = "快準嚴實細"
category = "mobilisation"
note = "fast, precise, strict, solid, meticulous"
""",
        encoding="utf-8",
    )
    merged = load_lexicon([user])
    assert len(merged) == len(lex) + 1
    ids = [s.id for s in merged]
    # An override keeps its place; a new id comes last.
    assert ids.index("ren-min-zhi-shang") == [s.id for s in lex].index("ren-min-zhi-shang")
    by_id = {s.id: s for s in merged}
    assert by_id["ren-min-zhi-shang"].variants == ("人民至上、生命至上、健康至上",)
    assert by_id["kuai-zhun-yan-shi-xi"].text == "快准严实细"
    assert by_id["kuai-zhun-yan-shi-xi"].since is None
    assert _found("快準嚴實細抓好各項防控措施", merged) == {"kuai-zhun-yan-shi-xi": ["exact"]}

    only = load_lexicon([user], include_default=False)
    assert [s.id for s in only] == ["ren-min-zhi-shang", "kuai-zhun-yan-shi-xi"]
    assert load_lexicon(include_default=False) == []


_ENTRY = '[[slogan]]\nid = "a"\ntext = "两个维护"\ncategory = "x"\n'
_LIST = _ENTRY.replace("两个维护", "甲乙、丙丁")


@pytest.mark.parametrize(
    "body,words",
    [
        ('[[slogan]\nid = "x"', ["not valid TOML"]),
        ('title = "mine"\n', ["unknown top-level key", "title"]),
        ('[[slogan]]\nid = "a-b"\ncategory = "covid"\n', ["slogan #1 (a-b)", "'text'"]),
        ('[[slogan]]\nid = "a-b"\ntext = "两个维护"\n', ["slogan #1 (a-b)", "'category'"]),
        ('[[slogan]]\nid = "两个"\ntext = "两个维护"\ncategory = "x"\n', ["slogan #1", "ASCII"]),
        (_ENTRY + "colour = 1\n", ["slogan #1 (a)", "colour"]),
        (_ENTRY + 'since = "March 2020"\n', ["(a)", "since"]),
        (_ENTRY + 'variants = "两个"\n', ["(a)", "variants"]),
        (_LIST + 'parts = ["丙丁", "甲乙"]\n', ["(a)", "in order"]),
        (_LIST + 'parts = ["甲乙"]\n', ["(a)", "two parts"]),
        (_ENTRY.replace("两个维护", "甲"), ["(a)", "too short"]),
        (_ENTRY + _ENTRY.replace("两个维护", "四风"), ["slogan #2 (a)", "duplicate"]),
    ],
)
def test_malformed_lexicon_names_file_and_entry(tmp_path, body, words):
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_lexicon([path])
    assert err.value.path == str(path)
    assert str(path) in str(err.value)
    for w in words:
        assert w in str(err.value)


def test_missing_lexicon_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_lexicon([tmp_path / "nope.toml"])


# ----------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    "text,slogan_id,how",
    [
        ("坚持人民至上、生命至上，坚持外防输入、内防反弹", "ren-min-zhi-shang", "exact"),
        ("坚持人民至上、生命至上，坚持外防输入、内防反弹", "wai-fang-shu-ru", "exact"),
        ("坚决做到“两个维护”", "liang-ge-wei-hu", "exact"),
        ("落实“外防输入，内防反弹”总策略", "wai-fang-shu-ru", "exact"),  # ， for 、
        ("围绕“六稳”“六保”，只争朝夕", "liu-wen-liu-bao", "exact"),  # quotes, no separator
        ("必须高度警惕麻痹思想厌战情绪侥幸心理松劲心态", "yan-zhan-qing-xu", "exact"),  # headline
        ("按照“外防输入、内防扩散”方针", "wai-fang-shu-ru", "variant"),
        ("做到守土有责、守土尽责", "shou-tu-you-ze", "variant"),
        ("把人民群众的生命安全和身体健康放在第一位", "sheng-ming-an-quan", "variant"),  # added 的
        ("坚持以人民为中心发展思想", "yi-ren-min-wei-zhong-xin", "variant"),  # its 的 left out
        ("坚持统筹发展与安全", "tong-chou-fa-zhan-he-an-quan", "variant"),  # 和 -> 与
        ("科学防控，实施群防群控、联防联控", "lian-fang-lian-kong", "reordered"),
        ("坚持生命至上，人民至上", "ren-min-zhi-shang", "reordered"),
        ("集中专家、集中患者、集中资源、集中救治", "si-ji-zhong", "reordered"),
        ("以硬核防控把牢外防输入关口、守住内防扩散防线", "wai-fang-shu-ru", "parts"),
        ("要广泛发动群众、充分依靠群众", "fa-dong-qun-zhong", "parts"),
        ("贯彻新发展理念，加快构建新发展格局", "xin-fa-zhan-jie-duan", "parts"),  # 2 of 3 parts
        ("做好“六稳”工作，全面落实“六保”任务", "liu-wen-liu-bao", "parts"),
        ("守土尽责、守土有责", "shou-tu-you-ze", "reordered"),  # of the variant 守土有责、守土尽责
        ("一体推进不敢腐、不想腐", "bu-gan-fu", "parts"),  # 2 of 3 parts
    ],
)
def test_matching_modes(lex, text, slogan_id, how):
    found = _found(text, lex)
    assert found.get(slogan_id) == [how], found


def test_match_fields_and_offsets(lex):
    text = normalize("会议强调，要坚持人民至上、生命至上。", flags=False).text
    (m,) = match_slogans(text, lex)
    assert (m.slogan_id, m.how, m.matched) == ("ren-min-zhi-shang", "exact", "人民至上、生命至上")
    assert text[m.start : m.end] == m.matched


def test_same_slogan_overlaps_keep_the_longest(lex):
    matches = match_slogans("坚持稳中求进工作总基调", lex)
    assert [(m.slogan_id, m.matched, m.how) for m in matches] == [
        ("wen-zhong-qiu-jin", "稳中求进工作总基调", "variant")
    ]
    ids = [m.slogan_id for m in match_slogans("坚决打赢疫情防控阻击战", lex)]
    assert ids == ["da-ying-zu-ji-zhan"]


def test_different_slogans_may_overlap(lex):
    text = "增强“四个意识”、坚定“四个自信”、做到“两个维护”"
    ids = Counter(m.slogan_id for m in match_slogans(text, lex))
    want = ["zeng-qiang-si-ge-yi-shi", "si-ge-yi-shi", "si-ge-zi-xin", "liang-ge-wei-hu"]
    assert ids == Counter(want)


def test_traditional_input_through_normalize(lex):
    original = "堅決打贏疫情防控阻擊戰(zhàn)，堅持人民至上、生命至上，做到聯防聯控、群防群控"
    norm = normalize(original)
    found = {m.slogan_id: m for m in match_slogans(norm.text, lex)}
    assert set(found) == {"da-ying-zu-ji-zhan", "ren-min-zhi-shang", "lian-fang-lian-kong"}
    assert found["da-ying-zu-ji-zhan"].how == "exact"
    m = found["ren-min-zhi-shang"]
    a, b = norm.to_original(m.start, m.end)
    assert original[a:b] == "人民至上、生命至上"
    a, b = norm.to_original(found["da-ying-zu-ji-zhan"].start, found["da-ying-zu-ji-zhan"].end)
    assert normalize(original[a:b]).text == "坚决打赢疫情防控阻击战"


@pytest.mark.parametrize(
    "text",
    [
        # Real CCTV sentences holding a fragment of a formula but not the formula.
        "根据习近平指示和李克强要求，国务院联防联控机制1月20日召开电视电话会议。",
        "低风险地区实施“外防输入”策略，尽快全面恢复农业生产秩序。",
        "大家表示，一定要落实好总书记要求，坚持人民至上，让人们过上好日子。",
        "湖北省和武汉市要守土有责，全力以赴抓好防控疫情这件头等大事。",
        "高度重视农村疫情防控，发挥基层组织和村医作用，强化群防群控。",
        "要千方百计确保所有患者应收尽收。",
        "一切为了群众、紧紧依靠群众，把工作做细做实做周全。",
        "要立足国家区域发展总体战略，深化区域合作，推进东部产业向西部梯度转移。",
        "只要采取有力措施尽早发现病例，进行严格防控，仍有机会遏制病毒传播。",
        "习近平强调，讲政治必须提高政治判断力。",
        "2021年，碳达峰行动和污染防治攻坚战将如何展开？",
        "引导金融机构创新方式，增加制造业中长期贷款，缓解中小企业融资难融资贵。",
        "今天的走基层看“六稳”，我们看看湖南的一家民营企业信心从何而来。",
        # Parts too far apart, or across a sentence end.
        "外防输入是第一道防线，各个社区还要做好内防反弹",
        "外防输入。内防反弹",
        # Unrelated prose.
        "今天白天，北方大部地区天气晴好，气温回升，南方部分地区有小到中雨。",
        "北京冬奥会闭幕式在国家体育场举行，各国运动员欢聚一堂。",
    ],
)
def test_no_match_in_unrelated_text(lex, text):
    assert match_slogans(normalize(text, flags=False).text, lex) == []


def test_empty_text_and_empty_lexicon(lex):
    assert match_slogans("", lex) == []
    assert match_slogans("坚持人民至上、生命至上", []) == []


# ------------------------------------------------------------------------------- seeds


@pytest.fixture(scope="module")
def seed_matches(lex) -> dict[str, list]:
    keys = ("000", "001", "002", "003", "004")
    return {k: match_slogans(normalize(seed_text(k), flags=False).text, lex) for k in keys}


def _gold_forms(gold: dict) -> list[tuple[str, str, list[str]]]:
    """(formula text, form, docs) for every gold formula text and variant."""
    out = []
    for f in gold["formula"]:
        out.append((f["text"], f["text"], f["docs"]))
        out += [(f["text"], v["text"], v["docs"]) for v in f.get("variants", [])]
    return out


def test_gold_formulas_covered(lex, gold):
    # Every gold formula is a standard formula of the genre, so the lexicon covers each.
    texts = [f["text"] for f in gold["formula"]]
    uncovered = [t for t in texts if not match_slogans(normalize(t).text, lex)]
    assert uncovered == []


def test_gold_formulas_matched_in_their_documents(lex, gold, seed_matches):
    checked = 0
    for formula, form, docs in _gold_forms(gold):
        ids = {m.slogan_id for m in match_slogans(normalize(form).text, lex)}
        if not ids:
            continue  # a wording the lexicon does not cover
        for doc in docs:
            in_doc = {m.slogan_id for m in seed_matches[doc]}
            assert ids <= in_doc, f"{form!r} ({formula}) not in {doc}: want {ids}, got {in_doc}"
            checked += 1
    assert checked >= 30


def test_gold_repetition_inside_one_document(seed_matches):
    ids = Counter(m.slogan_id for m in seed_matches["000"])
    assert ids["geng-jian-ding-de-xin-xin"] == 2


def test_gold_noise_not_matched(gold, lex):
    for noise in gold["noise"]:
        for example in noise["examples"]:
            assert match_slogans(normalize(example).text, lex) == []


def test_lexicon_file_is_valid_toml_for_users(tmp_path):
    # The shipped file doubles as a user file: loading it twice changes nothing.
    assert load_lexicon([default_lexicon_path()]) == load_lexicon()
    assert Path(default_lexicon_path()).suffix == ".toml"
