"""Bad input never costs a traceback or stored data (issue 5).

Every case is generated here and run through ``rhetoric index build`` against an existing
index: the CLI must exit with the documented code, print exactly one line naming the file and
the problem (an error, or a warning with ``--skip-bad``), and leave the index as it was (or
with only the good documents added).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import random
import shutil
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from helpers import SEEDS
from hypothesis import given, settings
from hypothesis import strategies as st
from robust_helpers import (
    SIMPLIFIED,
    TRADITIONAL,
    cli_run,
    one_line,
    permission_bits,  # noqa: F401 - a fixture
    run_unprivileged,
    snapshot,
)

from rhetoric.errors import RhetoricError
from rhetoric.index import Index


@pytest.fixture
def existing(hash_index: Path, tmp_path: Path) -> tuple[Path, dict]:
    """A copy of the seeds' index (hash model) and a snapshot of what it holds."""
    folder = tmp_path / "ix"
    shutil.copytree(hash_index, folder)
    return folder, snapshot(folder)


def build(folder: Path, *paths: Path | str, skip_bad: bool = False, json_out: bool = False):
    args = ["index", "build", *map(str, paths), "--index", str(folder), "--model", "hash"]
    return cli_run(*args, *(["--skip-bad"] if skip_bad else []), *(["--json"] if json_out else []))


def good_doc(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "good.txt"
    path.write_text(SIMPLIFIED, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- encodings

ENCODINGS = [
    # (encoding written, BOM, what ingest reports)
    ("utf-8", b"", "utf-8"),
    ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"),
    ("gb18030", b"", "gb18030"),
    ("big5", b"", "big5"),
    ("utf-16-le", b"\xff\xfe", "utf-16-le"),
    ("utf-16-be", b"\xfe\xff", "utf-16-be"),
    ("utf-16-le", b"", "utf-16-le"),
    ("utf-16-be", b"", "utf-16-be"),
]
CONTENTS = {"simplified": SIMPLIFIED, "traditional": TRADITIONAL, "crlf": TRADITIONAL.replace("\n", "\r\n")}


def _encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


@pytest.mark.parametrize(
    ("content", "encoding", "bom", "reported"),
    [
        pytest.param(c, e, b, r, id=f"{c}-{e}{'-bom' if b else ''}")
        for c in CONTENTS
        for e, b, r in ENCODINGS
        if _encodable(CONTENTS[c], e)
    ],
)
def test_every_encoding_is_read_exactly(existing, tmp_path, content, encoding, bom, reported):
    folder, before = existing
    text = CONTENTS[content]
    path = tmp_path / "in" / "doc.txt"
    path.parent.mkdir()
    path.write_bytes(bom + text.encode(encoding))
    result = build(folder, path)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    with Index.open(folder) as ix:
        assert ix.document_text("doc") == text.replace("\r\n", "\n")
        assert {d.doc_id: d.encoding for d in ix.documents()}["doc"] == reported
    assert snapshot(folder)["doc_ids"] == sorted([*before["doc_ids"], "doc"])


# --------------------------------------------------------------------------- bad files


def _png() -> bytes:
    """A real 2x2 PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"\x00" + b"\xff\x00\x00" * 2 + b"\x00" + b"\x00\xff\x00" * 2
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    )


def _zip() -> bytes:
    """A real zip archive holding a Chinese text file."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("notice.txt", SIMPLIFIED)
    return buf.getvalue()


def _undecodable() -> bytes:
    rng = random.Random(5)
    return bytes(rng.randrange(0x80, 0x100) for _ in range(600))


def _jsonl(*records: object) -> bytes:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    return ("\n".join(lines) + "\n").encode("utf-8")


OK_RECORD = {"id": "rec-ok", "text": "会议指出，要压紧压实各方责任。"}

# name, file content, the problem the one line must name
BAD_FILES = [
    ("latin1.txt", "Café crème brûlée, naïve façade.\nÜber München nach Zürich.\n".encode("latin-1"),
     "cannot tell the text encoding"),
    ("junk.txt", _undecodable(), "cannot tell the text encoding"),
    ("sjis.txt", "これは日本語のテキストです。東京都の天気。".encode("shift_jis"), "cannot tell the text encoding"),
    ("photo.txt", _png(), "looks like a binary file"),
    ("archive.txt", _zip(), "looks like a binary file"),
    ("archive.jsonl", _zip(), "looks like a binary file"),
    ("archive.csv", _zip(), "looks like a binary file"),
    ("nul.txt", b"abc\x00\x01\x02\x00" * 40, "looks like a binary file"),
    ("columns.csv", "doc,body\na,会议。\n".encode(), "missing column(s): id, text"),
]


@pytest.mark.parametrize(("name", "raw", "problem"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_file_is_one_error_line_and_the_index_is_kept(existing, tmp_path, name, raw, problem):
    folder, before = existing
    inp = tmp_path / "in"
    good_doc(inp)
    bad = inp / name
    bad.write_bytes(raw)
    result = build(folder, inp)
    assert result.exit_code == 1
    line = one_line(result.output)
    assert line.startswith(f"Error: {bad}: ") and problem in line
    assert snapshot(folder) == before


@pytest.mark.parametrize(("name", "raw", "problem"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_skip_bad_skips_a_bad_file_with_one_warning(existing, tmp_path, name, raw, problem):
    folder, before = existing
    inp = tmp_path / "in"
    good_doc(inp)
    bad = inp / name
    bad.write_bytes(raw)
    result = build(folder, inp, skip_bad=True)
    assert result.exit_code == 0, result.output
    line = one_line(result.stderr)
    assert line.startswith(f"Warning: {bad}: ") and problem in line and line.endswith("(skipped)")
    assert snapshot(folder)["doc_ids"] == sorted([*before["doc_ids"], "good"])


def test_images_and_archives_in_a_folder_are_passed_over(existing, tmp_path):
    folder, before = existing
    inp = tmp_path / "in"
    good_doc(inp)
    (inp / "photo.png").write_bytes(_png())
    (inp / "bundle.zip").write_bytes(_zip())
    result = build(folder, inp)
    assert result.exit_code == 0 and result.stderr == ""
    assert snapshot(folder)["doc_ids"] == sorted([*before["doc_ids"], "good"])


@pytest.mark.parametrize("raw", [b"", b" \n\t\r\n  ", "\ufeff\u3000\n".encode("utf-8"), b"\xff\xfe"])
def test_empty_and_whitespace_files_are_skipped_with_a_warning(existing, tmp_path, raw):
    folder, before = existing
    inp = tmp_path / "in"
    good_doc(inp)
    (inp / "blank.txt").write_bytes(raw)
    result = build(folder, inp)
    assert result.exit_code == 0, result.output
    assert one_line(result.stderr) == f"Warning: {inp / 'blank.txt'}: empty file (skipped)"
    assert snapshot(folder)["doc_ids"] == sorted([*before["doc_ids"], "good"])


@pytest.mark.parametrize("via", ["latin-1", "cp1252"])
def test_utf8_once_read_as_latin1_is_repaired_with_a_warning(existing, tmp_path, via):
    folder, _ = existing
    raw = SIMPLIFIED.encode("utf-8")
    # What a scraper does when it takes UTF-8 bytes for Latin-1/cp1252 and saves the result as UTF-8
    # (cp1252 has no character for five bytes; Windows passes them through as C1 controls).
    mislabelled = "".join(
        chr(b) if via == "cp1252" and b in (0x81, 0x8D, 0x8F, 0x90, 0x9D) else bytes([b]).decode(via) for b in raw
    )
    path = tmp_path / "mislabelled.txt"
    path.write_text(mislabelled, encoding="utf-8")
    result = build(folder, path)
    assert result.exit_code == 0, result.output
    assert "read as Latin-1 and saved again; repaired" in one_line(result.stderr)
    with Index.open(folder) as ix:
        assert ix.document_text("mislabelled") == SIMPLIFIED


# --------------------------------------------------------------------------- records

BAD_RECORDS = [
    ("broken-json", '{"id": "b", "text": "会议', "line 2: not valid JSON"),
    ("missing-text", {"id": "b"}, "line 2: no 'text' field"),
    ("blank-text", {"id": "b", "text": "  \n "}, "line 2: no 'text' field"),
    ("float-id", {"id": 1.5, "text": "会议。"}, "line 2: 'id' must be a string or an integer, not float"),
    ("list-id", {"id": ["b"], "text": "会议。"}, "line 2: 'id' must be a string or an integer, not list"),
    ("bool-id", {"id": True, "text": "会议。"}, "line 2: 'id' must be a string or an integer, not bool"),
    ("null-id", {"id": None, "text": "会议。"}, "line 2: no 'id' field"),
    ("not-object", "[1, 2]", "line 2: not a JSON object"),
    ("text-number", {"id": "b", "text": 5}, "line 2: 'text' must be a string, not int"),
]


@pytest.mark.parametrize(("case", "record", "problem"), BAD_RECORDS, ids=[b[0] for b in BAD_RECORDS])
def test_bad_jsonl_record_names_file_and_line(existing, tmp_path, case, record, problem):
    folder, before = existing
    path = tmp_path / "recs.jsonl"
    path.write_bytes(_jsonl(OK_RECORD, record))
    result = build(folder, path)
    assert result.exit_code == 1
    assert one_line(result.output).startswith(f"Error: {path}: {problem}")
    assert snapshot(folder) == before
    # --skip-bad: the good record goes in, the bad one is one warning line.
    result = build(folder, path, skip_bad=True)
    assert result.exit_code == 0, result.output
    line = one_line(result.stderr)
    assert line.startswith(f"Warning: {path}: {problem}") and line.endswith("(skipped)")
    assert snapshot(folder)["doc_ids"] == sorted([*before["doc_ids"], "rec-ok"])


def test_integer_ids_are_accepted_as_strings(existing, tmp_path):
    folder, before = existing
    path = tmp_path / "ints.jsonl"
    path.write_bytes(_jsonl({"id": 7, "text": "会议强调，要压紧压实各方责任。"}))
    assert build(folder, path).exit_code == 0
    assert "7" in snapshot(folder)["doc_ids"]


def test_skip_bad_reports_the_count(existing, tmp_path):
    folder, before = existing
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(_jsonl(OK_RECORD, "{broken", {"id": "x"}, {"id": ["y"], "text": "会议。"}, "",
                            {"id": "rec-2", "text": "会议要求，坚决守住疫情防控防线。"}))
    result = build(folder, path, skip_bad=True, json_out=True)
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["skipped"] == 3 and report["added"] == 2
    assert report["warnings"][-1] == "3 records or files skipped in all"
    assert [w.split(": ")[1] for w in report["warnings"][:3]] == ["line 2", "line 3", "line 4"]
    text = build(folder, path, skip_bad=True)
    assert text.stderr.strip().splitlines()[-1] == "Warning: 3 records or files skipped in all"


def test_thousands_of_bad_lines_are_counted_not_all_listed(existing, tmp_path):
    folder, _ = existing
    path = tmp_path / "noisy.jsonl"
    path.write_bytes(_jsonl(OK_RECORD, *["{broken"] * 5000))
    result = build(folder, path, skip_bad=True, json_out=True)
    report = json.loads(result.stdout)
    assert report["skipped"] == 5000
    assert len(report["warnings"]) == 102  # the first 100, "... and 4900 more", the count
    assert report["warnings"][-2:] == ["... and 4900 more warnings", "5000 records or files skipped in all"]


def test_duplicate_ids_across_files_name_both(existing, tmp_path):
    folder, before = existing
    a = tmp_path / "a.jsonl"
    b = tmp_path / "b.jsonl"
    a.write_bytes(_jsonl({"id": "dup", "text": "会议强调，要压紧压实各方责任。"}))
    b.write_bytes(_jsonl({"id": "other", "text": "会议指出。"}, {"id": "dup", "text": "会议要求。"}))
    result = build(folder, a, b)
    assert result.exit_code == 1
    line = one_line(result.output)
    assert line == f"Error: {b}: line 2: duplicate id 'dup': also in {a}:1"
    assert snapshot(folder) == before
    result = build(folder, a, b, skip_bad=True)
    assert result.exit_code == 0
    assert one_line(result.stderr).startswith(f"Warning: {b}: line 2: duplicate id 'dup'")
    with Index.open(folder) as ix:
        assert ix.document_text("dup") == "会议强调，要压紧压实各方责任。"  # the first one read wins


def test_duplicate_txt_names_in_two_folders(existing, tmp_path):
    folder, before = existing
    for sub in ("x", "y"):
        good_doc(tmp_path / sub)
    result = build(folder, tmp_path / "x", tmp_path / "y")
    assert result.exit_code == 1
    line = one_line(result.output)
    assert str(tmp_path / "x" / "good.txt") in line and str(tmp_path / "y" / "good.txt") in line
    assert snapshot(folder) == before


def test_csv_missing_column_and_quoted_newlines(existing, tmp_path):
    folder, before = existing
    path = tmp_path / "docs.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "title", "text"])
        writer.writerow(["c1", "通知", "会议指出,\n全县上下坚决贯彻落实。\n\n会议强调，守土有责。"])
        writer.writerow(["c2", "", "会议要求，压紧压实各方责任。"])
    result = build(folder, path)
    assert result.exit_code == 0, result.output
    with Index.open(folder) as ix:
        assert ix.document_text("c1") == "会议指出,\n全县上下坚决贯彻落实。\n\n会议强调，守土有责。"
    short = tmp_path / "short.csv"
    short.write_text("id,title\nc3,通知\n", encoding="utf-8")
    result = build(folder, short)
    assert result.exit_code == 1
    assert one_line(result.output) == f"Error: {short}: missing column(s): text"


def test_csv_row_without_text(existing, tmp_path):
    folder, before = existing
    path = tmp_path / "rows.csv"
    path.write_text("id,text\nr1,会议强调，守土有责。\nr2\n", encoding="utf-8")
    result = build(folder, path)
    assert result.exit_code == 1
    assert one_line(result.output) == f"Error: {path}: line 3: no 'text' field"


# --------------------------------------------------------------------------- paths


def test_missing_path(existing, tmp_path):
    folder, before = existing
    result = build(folder, tmp_path / "nowhere")
    assert result.exit_code == 1
    assert one_line(result.output) == f"Error: {tmp_path / 'nowhere'}: no such file or folder"
    assert snapshot(folder) == before


def test_symlink_loop_in_a_folder_is_read_once(existing, tmp_path):
    folder, before = existing
    inp = tmp_path / "in"
    good_doc(inp / "sub")
    (inp / "sub" / "up").symlink_to(inp, target_is_directory=True)
    (inp / "self").symlink_to(inp / "self")
    (inp / "dangling.txt").symlink_to(tmp_path / "gone.txt")
    result = build(folder, inp)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert snapshot(folder)["doc_ids"] == sorted([*before["doc_ids"], "good"])


def test_looping_symlink_given_by_name(existing, tmp_path):
    folder, before = existing
    loop = tmp_path / "loop.txt"
    loop.symlink_to(loop)
    result = build(folder, loop)
    assert result.exit_code == 1
    assert one_line(result.output) == f"Error: {loop}: a broken or looping symbolic link"


def test_index_path_that_is_a_file(tmp_path):
    afile = tmp_path / "index.txt"
    afile.write_text("not an index")
    result = build(afile, SEEDS)
    assert result.exit_code == 2  # click refuses a file for a folder option: a usage error
    assert "is a file" in result.output and "Traceback" not in result.output
    inside = afile / "ix"
    result = build(inside, SEEDS)
    assert result.exit_code == 1
    assert one_line(result.output) == f"Error: {inside}: cannot create the index folder (Not a directory)"
    assert afile.read_text() == "not an index"


@pytest.mark.usefixtures("permission_bits")
def test_unreadable_file(existing, tmp_path):
    folder, before = existing
    inp = tmp_path / "in"
    good_doc(inp)
    secret = inp / "secret.txt"
    secret.write_text(SIMPLIFIED, encoding="utf-8")
    secret.chmod(0)
    try:
        result = run_unprivileged("index", "build", str(inp), "--index", str(folder), "--model", "hash")
        assert result.returncode == 1, result.stderr
        assert one_line(result.stderr) == f"Error: {secret}: cannot read the file (Permission denied)"
        assert snapshot(folder) == before
        result = run_unprivileged("index", "build", str(inp), "--index", str(folder), "--model", "hash", "--skip-bad")
        assert result.returncode == 0, result.stderr
        assert one_line(result.stderr) == f"Warning: {secret}: cannot read the file (Permission denied) (skipped)"
        assert snapshot(folder)["doc_ids"] == sorted([*before["doc_ids"], "good"])
    finally:
        secret.chmod(0o644)


@pytest.mark.usefixtures("permission_bits")
def test_unreadable_folder(existing, tmp_path):
    folder, before = existing
    inp = tmp_path / "in"
    good_doc(inp)
    locked = inp / "locked"
    good_doc(locked)
    locked.chmod(0)
    try:
        result = run_unprivileged("index", "build", str(inp), "--index", str(folder), "--model", "hash")
        assert result.returncode == 1, result.stderr
        assert one_line(result.stderr) == f"Error: {locked}: cannot read the folder (Permission denied)"
        assert snapshot(folder) == before
        result = run_unprivileged("index", "build", str(inp), "--index", str(folder), "--model", "hash", "--skip-bad")
        assert result.returncode == 0, result.stderr
        assert "cannot read the folder (Permission denied) (skipped)" in one_line(result.stderr)
    finally:
        locked.chmod(0o755)


@pytest.mark.usefixtures("permission_bits")
def test_index_folder_without_write_permission(existing, tmp_path):
    folder, before = existing
    folder.chmod(0o555)
    try:
        result = run_unprivileged("index", "build", str(SEEDS), "--index", str(folder), "--model", "hash")
        assert result.returncode == 1, result.stderr
        assert one_line(result.stderr) == f"Error: {folder}: no permission to write the index folder"
        # Reading needs no write permission.
        result = run_unprivileged("search", "外防输入", "--index", str(folder), "-k", "1", "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)
    finally:
        folder.chmod(0o755)
    assert snapshot(folder) == before


def test_unwritable_cache_is_a_warning_not_a_failure(tmp_path, monkeypatch):
    home = tmp_path / "home-file"
    home.write_text("a file where the cache folder should be")
    monkeypatch.setenv("RHETORIC_HOME", str(home))
    result = build(tmp_path / "ix", SEEDS)
    assert result.exit_code == 0, result.output
    assert "vectors will not be cached" in one_line(result.stderr)
    assert snapshot(tmp_path / "ix")["counts"]["documents"] == 5


# --------------------------------------------------------------------------- queries

QUERIES = {
    "empty": ("", "empty query"),
    "whitespace": (" \t\u3000\n ", "empty query"),
    "punctuation": ("。，！？……“”、；：（）", "empty query"),
    "emoji-only": ("😷🦠💉", "empty query"),
    "10000-chars": ("外防输入内防扩散" * 1250, None),
    "emoji-and-words": ("😷外防输入🦠", None),
    "mixed-scripts": ("外防輸入 and 内防扩散 COVID-19 ウイルス 코로나 Ελλάδα", None),
    "pinyin": ("外防(wài fáng)輸入", None),
    "control-chars": ("外防\x00输入\x1b[31m", None),
}


@pytest.mark.parametrize("mode", ["hybrid", "exact", "semantic"])
@pytest.mark.parametrize("case", list(QUERIES))
def test_odd_queries(existing, case, mode):
    folder, before = existing
    query, problem = QUERIES[case]
    result = cli_run("search", query, "--index", str(folder), "--mode", mode, "-k", "3", "--json")
    if problem:
        assert result.exit_code == 1
        assert one_line(result.output) == "Error: empty query: give some words to search for"
    else:
        assert result.exit_code == 0, result.output
        hits = json.loads(result.stdout)
        assert isinstance(hits, list) and len(hits) <= 3
    with Index.open(folder) as ix:
        if problem:
            with pytest.raises(RhetoricError, match="empty query"):
                ix.search(query, k=3, mode=mode)
        else:
            for h in ix.search(query, k=3, mode=mode):
                assert h.text == ix.document_text(h.doc_id)[h.start : h.end]
    assert snapshot(folder) == before


# --------------------------------------------------------------------------- size


def test_a_build_that_cannot_fit_in_memory_is_refused_up_front(existing, tmp_path, monkeypatch):
    import rhetoric.index as index

    folder, before = existing
    monkeypatch.setattr(index, "_available_memory", lambda: 50 * 2**20)
    big = tmp_path / "big.txt"
    big.write_text(SIMPLIFIED * 3000, encoding="utf-8")  # 300,000 characters: ~90 MB needed
    result = build(folder, big)
    assert result.exit_code == 1
    line = one_line(result.output)
    assert line.startswith(f"Error: {folder}: this build needs about ") and "0.0 GB is available" in line
    assert snapshot(folder) == before


@pytest.mark.slow
def test_a_large_single_document(tmp_path):
    """3 MB in CI (the 50 MB dump's figures are in bench/results/robust.json)."""
    import subprocess
    import sys

    from helpers import ROOT

    source = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "xwlb_2020_2022.jsonl"
    if not source.exists():
        pytest.skip("../shared/corpus is not available")
    parts, size = [], 0
    with open(source, encoding="utf-8") as fh:
        for line in fh:
            text = json.loads(line)["text"]
            parts.append(text)
            size += len(text.encode("utf-8"))
            if size > 3_000_000:
                break
    ending = "文末一句：坚持外防输入、内防扩散，守土有责、守土担责、守土尽责。"
    dump = tmp_path / "dump.txt"
    dump.write_text("\n".join(parts) + "\n" + ending + "\n", encoding="utf-8")
    n_chars = len(dump.read_text(encoding="utf-8"))
    # A fresh parent process runs the build, so its RUSAGE_CHILDREN peak is the build's alone
    # (this test process's own children peak includes every earlier test's subprocesses).
    measure = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(r.returncode)")
    result = subprocess.run(
        [sys.executable, "-c", measure, sys.executable, "-m", "rhetoric", "index", "build", str(dump),
         "--index", str(tmp_path / "ix"), "--model", "hash", "--json"],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["documents"] == 1
    assert report["warnings"] == [
        f"{dump}: one document of {n_chars:,} characters; formulas and scores count documents, "
        "so split a dump of many articles into one record each (JSONL)"
    ]
    # Memory stays within the estimate the up-front check uses (plus the interpreter and libraries).
    peak = int(result.stderr.strip().splitlines()[-1]) * 1024
    assert peak < n_chars * (100 + 256 // 2) + 600 * 2**20
    with Index.open(tmp_path / "ix", verify=True) as ix:
        hits = ix.search("文末一句：坚持外防输入", k=1, mode="exact")
        text = ix.document_text("dump")
    assert hits and hits[0].text == text[hits[0].start : hits[0].end]
    assert hits[0].start >= len(text) - len(ending) - 1


@pytest.mark.slow
def test_a_hundred_thousand_tiny_documents(tmp_path):
    path = tmp_path / "tiny.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(100_000):
            fh.write(json.dumps({"id": f"t{i:06d}", "text": f"第{i}号：坚持外防输入、内防扩散。"}, ensure_ascii=False))
            fh.write("\n")
    result = cli_run("index", "build", str(path), "--index", str(tmp_path / "ix"), "--model", "hash:64",
                     "--no-phrases", "--batch-size", "1024", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["documents"] == report["added"] == 100_000
    shot = snapshot(tmp_path / "ix")
    assert shot["counts"]["documents"] == 100_000
    with Index.open(tmp_path / "ix") as ix:
        assert ix.exact_count("第99999号") == 1


# --------------------------------------------------------------------------- the fast paths change nothing

_TRICKY = list("，、。；：！？,;:?!() \t\n\u3000\xa0ＡＢ１ａ戰外防輸入內防擴散坚持人民至上乾隆瞭解么麼覆蓋沈\ufffd“”")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*_TRICKY, "戰(zhàn)", "（wài fáng）", "?qǐng)", "  ", "\n\n"]), max_size=60))
def test_line_by_line_normalisation_equals_the_whole_text_pass(parts):
    """``_pass`` skips per-character work on lines that need none; the result must not change."""
    import rhetoric.normalize as n

    text = "".join(parts)
    chars, offs, pinyin = n._strip_pinyin(list(text), list(range(len(text))))
    whole_chars, whole_offs = n._punctuation(list(n.to_simplified("".join(chars))), offs)
    assert n._pass(text) == ("".join(whole_chars), whole_offs, pinyin)


@functools.lru_cache(maxsize=1)
def _opencc_chars() -> list[str]:
    import opencc

    folder = Path(opencc.__file__).parent / "dictionary"
    chars = set()
    for name in ("TSPhrases.txt", "TSCharacters.txt"):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            chars.update(line.split("\t")[0])
    return sorted(chars)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_lines_the_converter_skips_would_not_change(data):
    """``to_simplified`` skips OpenCC on lines with no character a rule changes: OpenCC agrees."""
    from rhetoric.charfreq import converter
    from rhetoric.normalize import _convertible

    pool = _opencc_chars()
    table = _convertible()
    unchanged = [c for c in pool if c not in table]
    line = "".join(data.draw(st.lists(st.sampled_from(unchanged + list("会议强调，。")), min_size=1, max_size=30)))
    assert converter().convert(line) == line


@pytest.mark.slow
def test_fast_paths_make_normalising_several_times_faster(monkeypatch):
    """Simplified news normalises at least twice as fast with the fast paths as without.

    (Measured here on a million characters: 7.5 s of CPU before them, 1.4 s after.) The slow way is forced by making
    every line look as if it needed OpenCC and the punctuation pass.
    """
    import re
    import time

    import rhetoric.normalize as n

    text = SIMPLIFIED * (200_000 // len(SIMPLIFIED))
    n.normalize(text[:10_000])

    def cpu(fn):
        t0 = time.process_time()
        out = fn(text)
        return time.process_time() - t0, out

    fast, fast_out = cpu(n.normalize)
    monkeypatch.setattr(n, "_PUNCT_WORK", re.compile(""))
    monkeypatch.setattr(n, "_convertible", lambda: frozenset(text))
    slow, slow_out = cpu(n.normalize)
    assert (fast_out.text, fast_out.offsets) == (slow_out.text, slow_out.offsets)
    assert fast < 0.5 * slow


# --------------------------------------------------------------------------- exit codes


def _raising(exc: BaseException):
    def fail(*_a, **_k):
        raise exc

    return fail


def test_an_internal_error_is_one_line_exit_3_and_a_log(existing, monkeypatch, tmp_path):
    folder, _ = existing
    monkeypatch.setattr(Index, "info", _raising(ZeroDivisionError("division by zero")))
    result = cli_run("index", "info", "--index", str(folder))
    assert result.exit_code == 3
    line = one_line(result.output)
    prefix = "Error: internal error: ZeroDivisionError: division by zero (please report it; details in "
    assert line.startswith(prefix) and line.endswith(".log)")
    log = Path(line[len(prefix) : -1])
    assert log.parent == Path(os.environ["RHETORIC_HOME"]) / "logs"
    text = log.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text and "ZeroDivisionError" in text and "def fail" not in line


def _damaged_database_error() -> Exception:
    """A real SQLITE_CORRUPT error: a table whose data pages were overwritten."""
    import sqlite3
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.sqlite"
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE t (x TEXT)")
        db.executemany("INSERT INTO t VALUES (?)", [("会议" * 200,)] * 200)
        db.commit()
        db.close()
        data = bytearray(path.read_bytes())
        data[4096 * 2 : 4096 * 6] = b"\xa5" * (4096 * 4)
        path.write_bytes(bytes(data))
        db = sqlite3.connect(path)
        try:
            db.execute("SELECT sum(length(x)) FROM t").fetchone()
        except sqlite3.DatabaseError as exc:
            return exc
        finally:
            db.close()
    raise AssertionError("the damaged database read without an error")


@pytest.mark.parametrize(
    ("exc", "code", "expected"),
    [
        (OSError(28, "No space left on device", "/data/ix/gen-000002/rhetoric.sqlite"), 1,
         "Error: /data/ix/gen-000002/rhetoric.sqlite: No space left on device"),
        (PermissionError(13, "Permission denied", "/data/ix/.lock"), 1, "Error: /data/ix/.lock: Permission denied"),
        (MemoryError(), 1, "Error: out of memory (try fewer or smaller documents at once)"),
        (KeyboardInterrupt(), 130, "Interrupted."),
        (_damaged_database_error(), 1, "Error: an index file is damaged (database disk image is malformed); "
         "'rhetoric index info --verify' names it, 'rhetoric index build --replace' rebuilds it"),
    ],
    ids=["disk-full", "permission", "memory", "interrupt", "damaged-sqlite"],
)
def test_exit_codes(existing, monkeypatch, exc, code, expected):
    folder, before = existing
    monkeypatch.setattr(Index, "info", _raising(exc))
    result = cli_run("index", "info", "--index", str(folder))
    assert result.exit_code == code
    assert one_line(result.output) == expected
    assert snapshot(folder) == before


def test_a_sqlite_error_that_is_not_damage_is_internal(existing, monkeypatch):
    import sqlite3

    folder, _ = existing
    monkeypatch.setattr(Index, "info", _raising(sqlite3.OperationalError("no such column: x")))
    result = cli_run("index", "info", "--index", str(folder))
    assert result.exit_code == 3 and "internal error: OperationalError: no such column: x" in one_line(result.output)


def test_a_closed_output_pipe_ends_quietly(existing, monkeypatch):
    folder, _ = existing
    monkeypatch.setattr(Index, "info", _raising(BrokenPipeError(32, "Broken pipe")))
    result = cli_run("index", "info", "--index", str(folder))
    assert result.exit_code == 141 and result.output == ""


def test_a_real_internal_error_in_a_subprocess_prints_no_traceback(tmp_path):
    """The whole CLI, as a user runs it: the traceback goes to the log, not the terminal."""
    import subprocess
    import sys

    from helpers import ROOT

    folder = tmp_path / "ix"
    assert cli_run("index", "build", str(SEEDS), "--index", str(folder), "--model", "hash").exit_code == 0
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["counts"] = {}  # a manifest rhetoric wrote itself, but missing what `index info` prints
    (folder / "manifest.json").write_text(json.dumps(manifest))
    result = subprocess.run([sys.executable, "-m", "rhetoric", "index", "info", "--index", str(folder)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 3
    assert one_line(result.stderr).startswith("Error: internal error: KeyError: 'documents' (please report it")
