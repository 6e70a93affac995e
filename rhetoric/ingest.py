"""Read documents from .txt, .jsonl and .csv files, folders of them, in any common Chinese encoding.

Every problem with an input raises :class:`InputError` naming the file (and line), so the CLI
can report it in one line. ``Document.text`` is the text exactly as decoded, except that
``"\\r\\n"`` and ``"\\r"`` become ``"\\n"`` and a leading BOM is dropped; all offsets computed
elsewhere point into that text.

Usage::

    for doc in read_documents(["seeds/", "extra.jsonl"], skip_bad=True, on_warning=print):
        print(doc.doc_id, doc.date, doc.encoding)
"""

from __future__ import annotations

import csv
import datetime
import json
import math
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from pathlib import Path

from .charfreq import char_freq, converter
from .errors import InputError
from .records import Document

SUPPORTED = (".txt", ".jsonl", ".csv")

ENCODING_ERROR = "cannot tell the text encoding (tried utf-8, gb18030, big5, utf-16)"
BINARY_ERROR = "looks like a binary file, not text"
DOUBLE_ENCODED = "utf-8/latin-1"  # UTF-8 read as Latin-1 (or cp1252) and saved as UTF-8 again

# Magic numbers of common binary formats that may carry a .txt name by mistake.
_MAGIC = (
    b"\x89PNG",
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"\x1f\x8b",
    b"%PDF",
    b"\xff\xd8\xff",
    b"GIF8",
    b"\x7fELF",
    b"\xfd7zXZ",
    b"7z\xbc\xaf",
    b"Rar!",
)
_SNIFF_BYTES = 8192  # enough to see magic numbers and the NUL pattern of UTF-16
_SCORE_CHARS = 3000  # characters scored per candidate decoding; OpenCC is slow on whole books
MARGIN = 1.5  # mean log-frequency lead the winning decoding needs over the runner-up
MIN_SCORE = 6.0  # a decoding scoring below this is not ordinary Chinese prose
MAX_JUNK = 0.3  # share of control/replacement characters that makes a decoding junk
TITLE_MAX = 200
HEADER_LINES = 5  # where parse_date looks for a date
HEADER_CHARS = 300

Warn = Callable[[str], None]
# Controls other than whitespace, lone surrogates and U+FFFD: what binary data decodes to.
_JUNK = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffd]")


# --------------------------------------------------------------------------- files


def iter_files(paths: Iterable[str | Path], on_unreadable: Warn | None = None) -> list[Path]:
    """Expand files and folders into the list of input files to read.

    Folders are walked recursively in sorted order; hidden entries (names starting with
    ``"."``) and files with unsupported suffixes are skipped, and each real folder is
    entered once, so symlink loops end. A file reached twice is listed once.

    Args:
        paths: Files and folders, in the order they should be read.
        on_unreadable: Called with a one-line message for a folder inside ``paths`` that
            cannot be listed (no permission); without it that is an error.

    Returns:
        The files, in a deterministic order.

    Raises:
        InputError: A path does not exist, a folder cannot be listed, or a file named
            explicitly has an unsupported suffix.
    """
    out: list[Path] = []
    seen_files: set[Path] = set()
    seen_dirs: set[Path] = set()

    def unreadable(folder: Path, exc: OSError) -> None:
        err = InputError(folder, f"cannot read the folder ({exc.strerror or exc})")
        if on_unreadable is None:
            raise err
        on_unreadable(f"{err} (skipped)")

    def add(path: Path) -> None:
        real = path.resolve()
        if real not in seen_files:  # same file given twice would be a duplicate-id error
            seen_files.add(real)
            out.append(path)

    def walk(folder: Path) -> None:
        try:
            real = folder.resolve(strict=True)
        except (OSError, RuntimeError):  # broken link or symlink loop: nothing new to read
            return
        if real in seen_dirs:
            return
        seen_dirs.add(real)
        try:
            entries = sorted(folder.iterdir(), key=lambda p: p.name)
        except OSError as exc:
            unreadable(folder, exc)
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir, is_file = entry.is_dir(), entry.is_file()
            except OSError:
                continue
            if is_dir:
                walk(entry)
            elif is_file and entry.suffix.lower() in SUPPORTED:
                add(entry)

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            walk(path)
        elif path.is_file():
            if path.suffix.lower() not in SUPPORTED:
                raise InputError(
                    path, f"unsupported file type '{path.suffix}' (use {', '.join(SUPPORTED)})"
                )
            add(path)
        elif path.is_symlink():
            raise InputError(path, "a broken or looping symbolic link")
        else:
            raise InputError(path, "no such file or folder")
    return out


# --------------------------------------------------------------------------- encodings


@lru_cache(maxsize=1)
def _log_freq() -> dict[str, float]:
    """Natural log of each character's summed word frequency in jieba's dictionary."""
    return {ch: math.log(n + 1) for ch, n in char_freq().items()}


def _is_han(ch: str) -> bool:
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2FA1F


def plausibility(text: str) -> float:
    """Mean log-frequency of the characters of ``text`` as Simplified Chinese.

    Ideographs score their log-frequency (0 when unknown); ASCII, spaces and punctuation
    are neutral; anything else (kana, hangul, Yi, symbols, private use) scores 0, since a
    wrong codec mostly produces rare ideographs and such characters.
    """
    freq = _log_freq()
    total, n = 0.0, 0
    for ch in converter().convert(text[:_SCORE_CHARS]):
        if _is_han(ch):
            total += freq.get(ch, 0.0)
            n += 1
        elif ord(ch) < 128 or unicodedata.category(ch)[0] in "PZ":
            continue
        else:
            n += 1
    return total / n if n else 0.0


def _junk_share(text: str) -> float:
    """Share of control, surrogate and replacement characters in ``text``."""
    return len(_JUNK.findall(text)) / len(text) if text else 0.0


def _try(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _utf16_by_nuls(data: bytes) -> str | None:
    """Byte order of BOM-less UTF-16, from where its NUL bytes sit (the high byte of ASCII)."""
    if len(data) % 2:
        return None
    even = data[0::2].count(0)
    odd = data[1::2].count(0)
    # ASCII in UTF-16LE is "x\0", so NULs gather at odd positions; mostly on one side, and
    # common enough that this is not binary data with stray NULs.
    if odd >= 4 * max(even, 1) and odd >= len(data) // 2 // 50:
        return "utf-16-le"
    if even >= 4 * max(odd, 1) and even >= len(data) // 2 // 50:
        return "utf-16-be"
    return None


# cp1252's characters for bytes 0x80-0x9F; Latin-1 gives every other byte its own code point.
_CP1252_BYTE = {bytes([b]).decode("cp1252"): b for b in range(0x80, 0xA0) if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}


def _undo_latin1(text: str) -> str | None:
    """The Chinese text behind UTF-8 that was read as Latin-1/cp1252 and saved again, or None."""
    if text.isascii():
        return None
    raw = bytearray()
    for ch in text:
        o = ord(ch)
        if o < 0x100:
            raw.append(o)
        elif ch in _CP1252_BYTE:
            raw.append(_CP1252_BYTE[ch])
        else:
            return None  # a character no single byte reads as: not this kind of mojibake
    fixed = _try(bytes(raw), "utf-8")
    if fixed is None or not any(_is_han(c) for c in fixed) or plausibility(fixed) < MIN_SCORE:
        return None
    return fixed


def _looks_binary(data: bytes) -> bool:
    return data.startswith(_MAGIC) or b"\x00" in data[:_SNIFF_BYTES]


def decode_bytes(data: bytes, path: str | Path | None = None) -> tuple[str, str]:
    """Decode the bytes of a text file, detecting its encoding.

    Order: a BOM (utf-8-sig, utf-16-le/-be); BOM-less UTF-16 when NUL bytes sit on one side
    (the high byte of ASCII characters); strict UTF-8 (repaired, with encoding
    ``DOUBLE_ENCODED``, when it is Chinese UTF-8 once read as Latin-1 or cp1252 and saved
    again: ``å¤é²è¾å¥`` for 外防输入); otherwise gb18030, big5 and (for
    even lengths) utf-16-le/-be, chosen by :func:`plausibility`. A guess that is not clearly
    right is an error, never a silent wrong decoding. UTF-16 is reported as
    "utf-16-le"/"utf-16-be" with or without a BOM.

    Args:
        data: The raw file content.
        path: The file, for error messages.

    Returns:
        ``(text, encoding)``; ``text`` has ``"\\r\\n"``/``"\\r"`` turned into ``"\\n"`` and no
        leading BOM, and is otherwise exactly the decoded text.

    Raises:
        InputError: The data is binary, or no encoding gives plausible text.
    """
    text: str | None
    if data.startswith(b"\xef\xbb\xbf"):
        text, encoding = _try(data[3:], "utf-8"), "utf-8-sig"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16-le" if data[0] == 0xFF else "utf-16-be"
        text = _try(data[2:], encoding)
    elif data.startswith(_MAGIC):
        raise InputError(path, BINARY_ERROR)
    elif (utf16 := _utf16_by_nuls(data[: _SNIFF_BYTES * 4])) is not None:
        text, encoding = _try(data, utf16), utf16
    elif b"\x00" not in data and (text := _try(data, "utf-8")) is not None:
        encoding = "utf-8"
        if (repaired := _undo_latin1(text)) is not None:
            text, encoding = repaired, DOUBLE_ENCODED
    else:
        # Stray NULs without the UTF-16 pattern: only a plausible UTF-16 reading saves it.
        nul = b"\x00" in data
        encs = ("utf-16-le", "utf-16-be") if nul else ("gb18030", "big5", "utf-16-le", "utf-16-be")
        text, encoding = _pick(data, encs, path, BINARY_ERROR if nul else ENCODING_ERROR)
    if text is None:
        raise InputError(path, ENCODING_ERROR)
    if _junk_share(text) > MAX_JUNK:
        raise InputError(path, BINARY_ERROR if "\x00" in text else ENCODING_ERROR)
    return _normalise_newlines(text.removeprefix("\ufeff")), encoding


def _pick(
    data: bytes, encodings: Iterable[str], path: str | Path | None, error: str
) -> tuple[str, str]:
    """Decode with the most plausible of ``encodings``; raise ``error`` unless one clearly wins."""
    scored = []
    for enc in encodings:
        if enc.startswith("utf-16") and len(data) % 2:
            continue
        text = _try(data, enc)
        if text is not None and _junk_share(text) <= MAX_JUNK:
            scored.append((plausibility(text), enc, text))
    scored.sort(reverse=True)
    if not scored or scored[0][0] < MIN_SCORE:
        raise InputError(path, error)
    if len(scored) > 1 and scored[0][0] - scored[1][0] < MARGIN:
        raise InputError(path, ENCODING_ERROR)
    return scored[0][2], scored[0][1]


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --------------------------------------------------------------------------- dates

_DATE = re.compile(
    r"(?<!\d)(\d{4})(?:([/.\-])(\d{1,2})\2(\d{1,2})|\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日)(?!\d)"
)


def parse_date(text_header: str) -> str | None:
    """Find the first valid date near the start of a text.

    Looks at the first 5 lines (at most 300 characters) for ``2020/02/04``, ``2020-05-17``,
    ``2020.5.17``, ``2022年02月10日`` or ``2022年2月10日``; impossible dates are passed over.

    Args:
        text_header: The text (or just its start).

    Returns:
        The date as ISO ``YYYY-MM-DD``, or None.
    """
    head = "\n".join(text_header.split("\n", HEADER_LINES)[:HEADER_LINES])[:HEADER_CHARS]
    for m in _DATE.finditer(head):
        year = int(m[1])
        month, day = (int(m[3]), int(m[4])) if m[2] else (int(m[5]), int(m[6]))
        if _valid(year, month, day):
            return f"{year:04d}-{month:02d}-{day:02d}"
    return None


def _valid(year: int, month: int, day: int) -> bool:
    if not 1800 <= year <= 2200:  # four digits that are a count, not a year
        return False
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- documents


class _BadRecord(Exception):
    """A record that can be skipped with ``skip_bad`` (message is the problem)."""


def read_documents(
    paths: Iterable[str | Path],
    *,
    skip_bad: bool = False,
    on_warning: Warn | None = None,
) -> Iterator[Document]:
    """Read every document from the given files and folders.

    A .txt file is one document (id = file stem, title = first non-empty line, date from its
    first lines); each line of a .jsonl file and each row of a .csv file is one record with
    ``id`` and ``text`` and optional ``title``, ``date``, ``source``. Empty .txt files are
    skipped with a warning.

    Args:
        paths: Files and folders (see :func:`iter_files`).
        skip_bad: Skip bad records of .jsonl/.csv files (broken JSON, missing text, bad or
            duplicate id) and bad files (undecodable, binary, unreadable, missing columns,
            folders that cannot be listed) with a warning instead of raising. A path given
            that does not exist is always an error.
        on_warning: Called with a one-line message for each skipped file or record.

    Yields:
        Documents, in file order and record order.

    Raises:
        InputError: A bad file, or a bad record when ``skip_bad`` is False.
    """
    warn: Warn = on_warning or (lambda _msg: None)
    seen: dict[str, str] = {}  # doc id -> where it was first read
    for file in iter_files(paths, on_unreadable=warn if skip_bad else None):
        count = 0
        try:
            for doc in _read_file(file, seen, skip_bad, warn):
                count += 1
                yield doc
        except InputError as exc:
            if not skip_bad:
                raise
            warn(f"{exc} ({'the rest of the file ' if count else ''}skipped)")


def _read_file(file: Path, seen: dict[str, str], skip_bad: bool, warn: Warn) -> Iterator[Document]:
    """The documents of one file; ``seen`` maps the ids read so far to where they were read."""
    suffix = file.suffix.lower()
    if suffix == ".txt":
        doc = _read_txt(file, warn)
        if doc is None:
            return
        if doc.doc_id in seen:
            raise InputError(file, f"duplicate id '{doc.doc_id}': also in {seen[doc.doc_id]}")
        seen[doc.doc_id] = str(file)
        yield doc
        return
    records = _iter_jsonl(file) if suffix == ".jsonl" else _iter_csv(file)
    count = 0
    for line_no, rec in records:
        try:
            if isinstance(rec, _BadRecord):
                raise rec
            doc = _make_record(rec, f"{file}:{line_no}")
            if doc.doc_id in seen:
                raise _BadRecord(f"duplicate id '{doc.doc_id}': also in {seen[doc.doc_id]}")
        except _BadRecord as exc:
            if not skip_bad:
                raise InputError(file, f"line {line_no}: {exc}") from None
            warn(f"{file}: line {line_no}: {exc} (skipped)")
            continue
        seen[doc.doc_id] = doc.path or ""
        count += 1
        yield doc
    if count == 0:
        warn(f"{file}: no records read")


def _read_bytes(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        raise InputError(file, f"cannot read the file ({exc.strerror or exc})") from None


def _read_txt(file: Path, warn: Warn) -> Document | None:
    text, encoding = decode_bytes(_read_bytes(file), file)
    if not text.strip():
        warn(f"{file}: empty file (skipped)")
        return None
    if encoding == DOUBLE_ENCODED:
        warn(f"{file}: UTF-8 text that was once read as Latin-1 and saved again; repaired")
    first = next(line.strip() for line in text.split("\n") if line.strip())
    # Scraped pages leave tag residue on the headline (seed 000: 两场“硬戰”" />).
    title = re.sub(r"\s*\"?\s*/?>\s*$", "", first)[:TITLE_MAX] or first[:TITLE_MAX]
    return Document(
        doc_id=file.stem,
        text=text,
        title=title,
        date=parse_date(text),
        path=str(file),
        encoding=encoding,
    )


def _check_binary_head(file: Path) -> None:
    try:
        with open(file, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        raise InputError(file, f"cannot read the file ({exc.strerror or exc})") from None
    if _looks_binary(head):
        raise InputError(file, BINARY_ERROR)


def _iter_jsonl(file: Path) -> Iterator[tuple[int, dict | _BadRecord]]:
    """Yield ``(line_no, record or problem)`` per non-blank line, reading line by line."""
    _check_binary_head(file)
    with open(file, "rb") as fh:
        for line_no, raw in enumerate(fh, 1):
            if line_no == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                yield line_no, _BadRecord("not valid UTF-8")
                continue
            except json.JSONDecodeError as exc:
                yield line_no, _BadRecord(f"not valid JSON ({exc.msg}, column {exc.colno})")
                continue
            if not isinstance(rec, dict):
                yield line_no, _BadRecord("not a JSON object")
                continue
            yield line_no, rec


def _iter_csv(file: Path) -> Iterator[tuple[int, dict | _BadRecord]]:
    """Yield ``(first line of the row, record)`` per row of a CSV file with a header."""
    _check_binary_head(file)
    # Long articles exceed the csv module's default 128 KiB field limit.
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with open(file, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
            if header is None:  # empty file: read_documents warns that it held no records
                return
            names = [h.strip() for h in header]
            missing = [c for c in ("id", "text") if c not in names]
            if missing:
                raise InputError(file, f"missing column(s): {', '.join(missing)}")
            start = reader.line_num + 1
            for row in reader:
                if any(cell.strip() for cell in row):
                    yield start, dict(zip(names, row))
                start = reader.line_num + 1
        except UnicodeDecodeError:
            # Decoding runs ahead of the parser, so the line is approximate.
            raise InputError(file, f"near line {reader.line_num + 1}: not valid UTF-8") from None
        except csv.Error as exc:
            raise InputError(file, f"line {reader.line_num}: bad CSV ({exc})") from None


def _make_record(rec: dict, where: str) -> Document:
    """Build a Document from a JSONL/CSV record, or raise _BadRecord."""
    raw_id = rec.get("id")
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
        raise _BadRecord("no 'id' field")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
        raise _BadRecord(f"'id' must be a string or an integer, not {type(raw_id).__name__}")
    text = rec.get("text")
    if text is not None and not isinstance(text, str):
        raise _BadRecord(f"'text' must be a string, not {type(text).__name__}")
    if not text or not text.strip():
        raise _BadRecord("no 'text' field")
    text = _normalise_newlines(text.removeprefix("\ufeff"))
    title, date, source = (_optional(rec, k) for k in ("title", "date", "source"))
    # The record's own date wins; normalised to ISO when it parses, else kept as given.
    date = (parse_date(date) or date) if date else parse_date(text)
    return Document(
        doc_id=str(raw_id), text=text, title=title, date=date, source=source, path=where
    )


def _optional(rec: dict, key: str) -> str | None:
    value = rec.get(key)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise _BadRecord(f"'{key}' must be a string, not {type(value).__name__}")
    value = value.strip()
    return value or None
