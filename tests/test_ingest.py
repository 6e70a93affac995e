"""Tests for rhetoric.ingest: encodings, file expansion, records, dates, errors."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rhetoric.errors import InputError
from rhetoric.ingest import (
    MARGIN,
    SUPPORTED,
    decode_bytes,
    iter_files,
    parse_date,
    plausibility,
    read_documents,
)

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

# Real sentences from the seeds (004 is Simplified; 000 is Traditional, pinyin glosses removed).
SIMPLIFIED = (
    "坚决打赢疫情防控阻击战 县委常委会召开会议\n"
    "2020/02/04 来源:  记者 应燕航 马传贤\n\n"
    "  2月2日晚,县委书记王志强主持召开县委常委会会议,传达学习习近平总书记关于疫情防控"
    "重要指示精神及中央、省委、市委有关会议和文件精神。\n"
)
TRADITIONAL = (
    "堅決打贏疫情防控和脫貧攻堅兩場硬戰\n"
    "縣委書記、縣疫情防控工作領導小組組長、縣疫情防控工作總指揮長張學鋒採取不打招呼、"
    "直奔現場的方式，先後到外環線檢查點督導檢查。\n"
)
# Only ideographs and full-width punctuation: UTF-16 of it has no NUL bytes at all.
NO_ASCII = "坚决打赢疫情防控阻击战，县委常委会召开会议。"


def read_all(*paths: Path, **kw: object) -> list:
    return list(read_documents([str(p) for p in paths], **kw))  # type: ignore[arg-type]


def write_jsonl(path: Path, lines: list[object | str]) -> Path:
    rows = [x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    ("text", "raw_encoding", "bom", "expected"),
    [
        (SIMPLIFIED, "utf-8", b"", "utf-8"),
        (SIMPLIFIED, "utf-8", b"\xef\xbb\xbf", "utf-8-sig"),
        (SIMPLIFIED, "gb18030", b"", "gb18030"),
        (TRADITIONAL, "gb18030", b"", "gb18030"),
        (TRADITIONAL, "big5", b"", "big5"),
        (SIMPLIFIED, "utf-16-le", b"\xff\xfe", "utf-16-le"),
        (SIMPLIFIED, "utf-16-be", b"\xfe\xff", "utf-16-be"),
        (SIMPLIFIED, "utf-16-le", b"", "utf-16-le"),
        (SIMPLIFIED, "utf-16-be", b"", "utf-16-be"),
        (NO_ASCII, "utf-16-le", b"", "utf-16-le"),
        (NO_ASCII, "utf-16-be", b"", "utf-16-be"),
    ],
)
def test_txt_encodings_decode_exactly(
    tmp_path: Path, text: str, raw_encoding: str, bom: bytes, expected: str
) -> None:
    path = tmp_path / "doc.txt"
    path.write_bytes(bom + text.encode(raw_encoding))
    (doc,) = read_all(path)
    assert doc.text == text
    assert doc.encoding == expected
    assert doc.doc_id == "doc"
    assert doc.path == str(path)
    assert doc.title == text.split("\n")[0].strip()


def test_crlf_and_cr_become_newlines_and_bom_is_dropped() -> None:
    raw = "\ufeff标题\r\n第一段。\r第二段。\n".encode("utf-8")
    text, enc = decode_bytes(raw, "x.txt")
    assert (text, enc) == ("标题\n第一段。\n第二段。\n", "utf-8-sig")


def test_right_codec_beats_wrong_one_by_the_margin() -> None:
    wrong = TRADITIONAL.encode("big5").decode("gb18030")
    assert wrong != TRADITIONAL
    assert plausibility(TRADITIONAL) > plausibility(wrong) + MARGIN


@given(st.sampled_from([s for s in SIMPLIFIED.split(",") if len(s.strip()) >= 6]))
def test_gb18030_sentences_round_trip(sentence: str) -> None:
    assert decode_bytes(sentence.encode("gb18030"), "s.txt") == (sentence, "gb18030")


@pytest.mark.parametrize(
    "raw",
    [
        "Café crème brûlée, naïve façade.\nÜber München nach Zürich.\n".encode("latin-1"),
        bytes(range(0x80, 0x100)) * 4,
        "これは日本語のテキストです。東京都".encode("shift_jis"),
    ],
)
def test_undecodable_txt_names_the_file(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes(raw)
    with pytest.raises(InputError, match="cannot tell the text encoding") as err:
        read_all(path)
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)),
        ("archive.txt", b"PK\x03\x04\x14\x00\x00\x00" + bytes(64)),
        ("blob.txt", b"\x01\x02\x03\x00\xff\xfe\x00\x10\x00\x00\x00\x07abc\x00"),
        ("data.jsonl", b"PK\x03\x04\x14\x00\x00\x00" + bytes(64)),
        ("data.csv", b"id,text\n1,\x00\x00\x00\n"),
    ],
)
def test_binary_files_error(tmp_path: Path, name: str, raw: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(raw)
    with pytest.raises(InputError, match="looks like a binary file, not text") as err:
        read_all(path)
    assert err.value.path == str(path)


@pytest.mark.parametrize("content", [b"", b"  \n\n\t\r\n", "\ufeff \n".encode("utf-8")])
def test_empty_txt_is_skipped_with_a_warning(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "a_empty.txt").write_bytes(content)
    (tmp_path / "b_full.txt").write_text(SIMPLIFIED, encoding="utf-8")
    warnings: list[str] = []
    docs = read_all(tmp_path, on_warning=warnings.append)
    assert [d.doc_id for d in docs] == ["b_full"]
    assert len(warnings) == 1
    assert "a_empty.txt" in warnings[0] and "empty" in warnings[0]


# --------------------------------------------------------------------------- jsonl


def test_jsonl_records(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "news.jsonl",
        [
            {
                "id": "xwlb-1",
                "title": "标题",
                "date": "2021/3/5",
                "source": "央视",
                "text": "今天（1月2日），会议召开。",
            },
            "",
            {"id": 7, "text": "——2022年3月5日在第十三届全国人民代表大会第五次会议上\n各位代表："},
        ],
    )
    first, second = read_all(path)
    assert (first.doc_id, first.title, first.source) == ("xwlb-1", "标题", "央视")
    assert first.date == "2021-03-05"  # the record's own date, normalised to ISO
    assert first.path == f"{path}:1"
    assert first.encoding is None
    # int id becomes str; no date field -> found in the text's first lines; line 2 blank.
    assert (second.doc_id, second.date, second.title) == ("7", "2022-03-05", None)
    assert second.path == f"{path}:3"


def test_jsonl_unparsable_date_field_is_kept_and_wins(tmp_path: Path) -> None:
    rec = {"id": "a", "date": "2020年春", "text": "2021年1月1日，会议召开。"}
    path = write_jsonl(tmp_path / "a.jsonl", [rec])
    (doc,) = read_all(path)
    assert doc.date == "2020年春"


def test_jsonl_broken_line_names_line_number(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "bad.jsonl", [{"id": "a", "text": "会议指出。"}, '{"id": "b", "text": "会议']
    )
    with pytest.raises(InputError, match=r"line 2: not valid JSON") as err:
        read_all(path)
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"id": "a"}, "no 'text' field"),
        ({"id": "a", "text": "   "}, "no 'text' field"),
        ({"id": ["a", "b"], "text": "会议指出。"}, "'id' must be a string or an integer"),
        ({"id": True, "text": "会议指出。"}, "'id' must be a string or an integer"),
        ({"text": "会议指出。"}, "no 'id' field"),
        ({"id": " ", "text": "会议指出。"}, "no 'id' field"),
        ({"id": "a", "text": 5}, "'text' must be a string"),
        ({"id": "a", "text": "会议。", "title": {"x": 1}}, "'title' must be a string"),
        ([1, 2], "not a JSON object"),
    ],
)
def test_jsonl_bad_records(tmp_path: Path, record: object, problem: str) -> None:
    path = write_jsonl(tmp_path / "r.jsonl", [{"id": "ok", "text": "会议指出。"}, record])
    with pytest.raises(InputError) as err:
        read_all(path)
    assert str(err.value).startswith(f"{path}: line 2: {problem}")


def test_skip_bad_continues_and_warns(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            {"id": "a", "text": "会议强调。"},
            "{not json",
            {"id": "b"},
            {"id": ["c"], "text": "会议要求。"},
            {"id": "a", "text": "重复。"},
            {"id": "d", "text": "会议指出。"},
        ],
    )
    warnings: list[str] = []
    docs = read_all(path, skip_bad=True, on_warning=warnings.append)
    assert [d.doc_id for d in docs] == ["a", "d"]
    assert len(warnings) == 4
    for line_no, warning in zip((2, 3, 4, 5), warnings):
        assert f"line {line_no}:" in warning and str(path) in warning and "\n" not in warning


def test_invalid_utf8_jsonl_line(tmp_path: Path) -> None:
    path = tmp_path / "gbk.jsonl"
    line = json.dumps({"id": "a", "text": "会议"}, ensure_ascii=False)
    path.write_bytes(line.encode("gbk") + b"\n")
    with pytest.raises(InputError, match="line 1: not valid UTF-8"):
        read_all(path)


def test_duplicate_ids_across_files_name_both(tmp_path: Path) -> None:
    txt = tmp_path / "000.txt"
    txt.write_text(SIMPLIFIED, encoding="utf-8")
    jsonl = write_jsonl(
        tmp_path / "more.jsonl", [{"id": "x", "text": "会议。"}, {"id": "000", "text": "会议。"}]
    )
    with pytest.raises(InputError) as err:
        read_all(txt, jsonl)
    message = str(err.value)
    assert "duplicate id '000'" in message
    assert str(txt) in message and str(jsonl) in message and "line 2" in message


def test_duplicate_txt_stems_in_two_folders(tmp_path: Path) -> None:
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "001.txt").write_text(SIMPLIFIED, encoding="utf-8")
    with pytest.raises(InputError, match="duplicate id '001'") as err:
        read_all(tmp_path)
    assert str(tmp_path / "a" / "001.txt") in str(err.value)
    assert str(tmp_path / "b" / "001.txt") in str(err.value)


# --------------------------------------------------------------------------- csv


def test_csv_with_quoted_newlines(tmp_path: Path) -> None:
    path = tmp_path / "docs.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "title", "text", "extra"])
        writer.writerow(["a", "县委常委会", "会议指出,\n全县上下坚决贯彻落实。\n\n会议强调。", "x"])
        writer.writerow(["b", "", "2020-05-17 会议要求。", ""])
    first, second = read_all(path)
    assert first.text == "会议指出,\n全县上下坚决贯彻落实。\n\n会议强调。"
    assert (first.doc_id, first.title, first.path) == ("a", "县委常委会", f"{path}:2")
    # The first row spans lines 2-5, so the second starts on line 6; empty title -> None.
    assert (second.doc_id, second.title, second.date) == ("b", None, "2020-05-17")
    assert second.path == f"{path}:6"


def test_csv_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "docs.csv"
    path.write_text("doc,body\na,会议。\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_all(path)
    assert str(err.value) == f"{path}: missing column(s): id, text"


def test_empty_record_files_warn(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"")
    (tmp_path / "b.csv").write_text("id,text\n", encoding="utf-8")
    (tmp_path / "c.jsonl").write_text("\n\n", encoding="utf-8")
    warnings: list[str] = []
    assert read_all(tmp_path, on_warning=warnings.append) == []
    assert warnings == [f"{tmp_path / n}: no records read" for n in ("a.csv", "b.csv", "c.jsonl")]


def test_csv_empty_text_row_is_bad(tmp_path: Path) -> None:
    path = tmp_path / "docs.csv"
    path.write_text("id,text\na,会议。\nb,\n", encoding="utf-8-sig")
    with pytest.raises(InputError, match="line 3: no 'text' field"):
        read_all(path)
    warnings: list[str] = []
    assert [d.doc_id for d in read_all(path, skip_bad=True, on_warning=warnings.append)] == ["a"]
    assert len(warnings) == 1


# --------------------------------------------------------------------------- files


def test_folder_expansion_skips_unsupported_and_hidden(tmp_path: Path) -> None:
    names = ("b.txt", "a.JSONL", "notes.md", ".hidden.txt", ".git/c.txt", "sub/d.csv", "sub/e.pdf")
    for name in (*names, "z.csv"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x", encoding="utf-8")
    files = iter_files([tmp_path])
    rel = [p.relative_to(tmp_path).as_posix() for p in files]
    assert rel == ["a.JSONL", "b.txt", "sub/d.csv", "z.csv"]
    assert all(p.suffix.lower() in SUPPORTED for p in files)


def test_same_file_twice_is_listed_once(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(SIMPLIFIED, encoding="utf-8")
    assert iter_files([tmp_path, tmp_path / "a.txt"]) == [tmp_path / "a.txt"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlink_loops_terminate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text(SIMPLIFIED, encoding="utf-8")
    (tmp_path / "sub" / "back").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "self").symlink_to(tmp_path / "self")
    listed: list[Path] = []
    real_iterdir = Path.iterdir

    def counting_iterdir(self: Path):  # noqa: ANN202
        listed.append(self)
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", counting_iterdir)
    files = iter_files([tmp_path])
    assert files == [tmp_path / "sub" / "a.txt"]
    assert listed == [tmp_path, tmp_path / "sub"]  # each real folder listed once
    assert [d.doc_id for d in read_all(tmp_path)] == ["a"]


def test_nonexistent_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(InputError) as err:
        iter_files([missing])
    assert str(err.value) == f"{missing}: no such file or folder"


def test_explicit_unsupported_file(tmp_path: Path) -> None:
    path = tmp_path / "report.docx"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="unsupported file type '.docx'") as err:
        iter_files([path])
    assert err.value.path == str(path)


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("坚决打赢疫情防控阻击战 县委常委会召开会议\n2020/02/04 来源:  记者 应燕航 马传贤", "2020-02-04"),
        ("發布時間：2020-05-17 10:00", "2020-05-17"),
        ("2020.5.17 会议", "2020-05-17"),
        ("時間:\n2022年02月10日 15:26", "2022-02-10"),
        ("——2022年2月10日在会议上", "2022-02-10"),
        ("2022 年 2 月 10 日", "2022-02-10"),
        ("编号 2020/13/45，发布于 2021-03-01", "2021-03-01"),
        ("2021年2月30日", None),
        ("2020/05-17 混用分隔符", None),
        ("电话 12020/02/04", None),
        ("2月12至13日,县委书记", None),
        ("一\n二\n三\n四\n五\n2020/02/04", None),
        ("会" * 310 + "2020/02/04", None),
    ],
)
def test_parse_date(header: str, expected: str | None) -> None:
    assert parse_date(header) == expected


def test_seed_dates() -> None:
    (d4,) = read_all(*SEEDS.glob("004_*.txt"))
    (d3,) = read_all(*SEEDS.glob("003_*.txt"))
    assert d4.date == "2020-02-04"
    assert d3.date == "2022-02-10"
    assert d4.title == "坚决打赢疫情防控阻击战 县委常委会召开会议"


def test_all_seeds() -> None:
    docs = read_all(SEEDS)
    assert [d.doc_id for d in docs] == [
        "000_5b1ec110a597301c",
        "001_841993cef88b7c39",
        "002_17422850c738e3aa",
        "003_59319fb354f369c6",
        "004_3a2c23593e5dfcf5",
    ]
    for doc in docs:
        assert doc.encoding == "utf-8"
        raw = (SEEDS / f"{doc.doc_id}.txt").read_text(encoding="utf-8")
        assert doc.text == raw.replace("\r\n", "\n")
        assert doc.source is None


def test_title_loses_tag_residue(tmp_path):
    from rhetoric.ingest import read_documents

    f = tmp_path / "a.txt"
    f.write_text('坚决打赢两场“硬战”" />\n正文。', encoding="utf-8")
    (doc,) = read_documents([f])
    assert doc.title == "坚决打赢两场“硬战”"
    assert doc.text.startswith('坚决打赢两场“硬战”" />')  # the text itself is untouched
