"""Normalise Chinese text for matching while keeping a map back to the original.

Steps: inserted pinyin (``戰(zhàn)``) removed; Traditional -> Simplified (OpenCC ``t2s``);
full-width letters and digits made ASCII; half-width ``, ; : ? ! ( )`` next to Chinese made
full-width; doubled marks from bad conversions (``,,`` ``,、`` ``,。``) collapsed; spaces
beside Chinese dropped. Mojibake and boilerplate are found and flagged, never deleted.

Every character of ``Normalized.text`` comes from one character of the original, at
``offsets[i]``, so any normalised span maps back with :meth:`Normalized.to_original`.
Normalising is idempotent: ``normalize(normalize(x).text).text == normalize(x).text``.

Usage: ``n = normalize("堅決打贏疫情防控阻擊戰(zhàn)"); n.text == "坚决打赢疫情防控阻击战"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from .boilerplate import find_boilerplate
from .charfreq import converter, is_cjk, t2s_char
from .mojibake import find_mojibake
from .records import Span

NORMALIZER_VERSION = "2"  # 2: multi-syllable pinyin, full-width parentheses
MASKED = "\x00"  # stands in for flagged characters in Normalized.masked()

# Pinyin written after a character: lower-case Latin with at least one tone mark, one syllable
# (``戰(zhàn)``) or up to four for a word (``外防（wài fáng）``), in half- or full-width brackets.
_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
_SYLLABLES = rf"(?=[a-zü{_TONED} ]*[{_TONED}])[a-zü{_TONED}]{{1,7}}(?: ?[a-zü{_TONED}]{{1,7}}){{0,3}}"
_PINYIN = re.compile(rf"[(（]{_SYLLABLES}[)）]")
# The same with its "(" lost to a broken byte: ``日?qǐng)``.
_PINYIN_OPENLESS = re.compile(rf"(?<=\?){_SYLLABLES}[)）]")
_HALF_TO_FULL = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！", "(": "（", ")": "）"}
_MARKS = set("，、。；：！？")
_ENDS = set("。！？")


def _is_zh(ch: str) -> bool:
    """Chinese ideograph or full-width Chinese punctuation."""
    o = ord(ch)
    return is_cjk(ch) or 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFF0F or ch in "“”‘’…—"


@dataclass
class Normalized:
    """Normalised text with its map to the original.

    ``offsets[i]`` is the original index of ``text[i]``; ``spans`` are the flagged regions
    (mojibake, boilerplate, pinyin) in original offsets.
    """

    text: str
    offsets: list[int]
    original_length: int
    spans: list[Span] = field(default_factory=list)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map the normalised span ``[start, end)`` to the original span it came from."""
        if end <= start:
            pos = self.offsets[start] if start < len(self.offsets) else self.original_length
            return pos, pos
        return self.offsets[start], self.offsets[end - 1] + 1

    def flagged(self, kind: str) -> list[Span]:
        """The flagged spans of one kind."""
        return [s for s in self.spans if s.kind == kind]

    def flag_mask(self, *kinds: str) -> list[bool]:
        """Per normalised character: does it lie in a flagged span of one of ``kinds``?"""
        flagged = bytearray(self.original_length + 1)
        for s in self.spans:
            if s.kind in kinds:
                flagged[s.start : s.end] = b"\x01" * (s.end - s.start)
        return [bool(flagged[o]) for o in self.offsets]

    def masked(self) -> str:
        """The text with boilerplate and mojibake characters replaced by ``MASKED``.

        What matching sees: nothing flagged can take part in a formula or a slogan.
        """
        mask = self.flag_mask("boilerplate", "mojibake")
        return "".join(MASKED if m else c for c, m in zip(self.text, mask))


@lru_cache(maxsize=1)
def _convertible() -> frozenset[str] | None:
    """The characters some t2s rule changes; None if OpenCC's tables are not found.

    OpenCC only replaces dictionary keys by their values, so a line holding no character that
    a rule changes converts to itself and the (slow) converter is skipped. For a phrase rule
    of equal length only the positions that change count (``不瞭解 -> 不了解`` marks 瞭, not
    不 or 解): taking every character of every phrase key would send almost every line
    of Simplified text through OpenCC (10,535 of 10,991 lines of CCTV text, against 187).
    """
    import os

    import opencc

    folder = os.path.join(os.path.dirname(opencc.__file__), "dictionary")
    chars: set[str] = set()
    try:
        for name in ("TSCharacters.txt", "TSPhrases.txt"):
            with open(os.path.join(folder, name), encoding="utf-8") as fh:
                for line in fh:
                    key, _, values = line.rstrip("\n").partition("\t")
                    value = values.split(" ")[0]  # OpenCC takes the first of several values
                    if not key or value == key:
                        continue
                    if len(value) == len(key):
                        chars.update(k for k, v in zip(key, value) if k != v)
                    else:
                        chars.update(key)
    except OSError:
        return None
    return frozenset(chars)


def to_simplified(text: str) -> str:
    """Traditional -> Simplified with the same length as the input (so offsets hold).

    OpenCC's phrase rules are used line by line when they keep the length; otherwise
    the line is converted character by character.
    """
    table = _convertible()
    out = []
    for line in text.split("\n"):
        conv = converter().convert(line) if (table is None or not table.isdisjoint(line)) else line
        if len(conv) != len(line):
            conv = "".join(t2s_char(c) for c in line)
        out.append(conv)
    return "\n".join(out)


def _strip_pinyin(chars: list[str], offs: list[int]) -> tuple[list[str], list[int], list[Span]]:
    """Drop ``(pinyin)`` written right after a Chinese character (or a lost one, ``?``)."""
    text = "".join(chars)
    drop: set[int] = set()
    spans = []
    matches = sorted([*_PINYIN.finditer(text), *_PINYIN_OPENLESS.finditer(text)], key=lambda m: m.start())
    if not matches:
        return chars, offs, []
    for m in matches:
        prev = text[m.start() - 1] if m.start() else ""
        if prev and (is_cjk(prev) or prev in "?？\ufffd" or m.start() - 1 in drop):
            drop.update(range(m.start(), m.end()))
            spans.append(Span(offs[m.start()], offs[m.end() - 1] + 1, "pinyin"))
    keep = [i for i in range(len(chars)) if i not in drop]
    out = [chars[i] for i in keep]
    for k, i in enumerate(keep):
        if out[k] == "?" and i + 1 in drop:
            out[k] = "\ufffd"  # a character lost to a broken byte, not a question mark
    return out, [offs[i] for i in keep], spans


def _punctuation(chars: list[str], offs: list[int]) -> tuple[list[str], list[int]]:
    """Unify widths, repair doubled marks and drop spaces beside Chinese text."""
    n = len(chars)
    out = list(chars)
    for i, ch in enumerate(out):
        o = ord(ch)
        if 0xFF10 <= o <= 0xFF19 or 0xFF21 <= o <= 0xFF3A or 0xFF41 <= o <= 0xFF5A:
            out[i] = chr(o - 0xFEE0)  # full-width letters and digits -> ASCII
        elif ch in "\u3000\xa0":
            out[i] = " "

    def neighbour(i: int, step: int) -> str:
        j = i + step
        while 0 <= j < n and out[j] in " \t":
            j += step
        return out[j] if 0 <= j < n else ""

    for i, ch in enumerate(out):
        if ch in _HALF_TO_FULL:
            before, after = neighbour(i, -1), neighbour(i, 1)
            if ch == "," and before.isdigit() and after.isdigit():
                continue  # 1,000
            if ch == "?" and i + 1 < n and out[i + 1].isascii() and out[i + 1].isalpha():
                continue  # a lost character before stray pinyin, not a question
            if (before and _is_zh(before)) or (ch in ",(" and after and _is_zh(after)):
                out[i] = _HALF_TO_FULL[ch]
    keep = []
    for i, ch in enumerate(out):
        if ch in " \t" and (_is_zh(neighbour(i, -1) or "a") or _is_zh(neighbour(i, 1) or "a")):
            continue
        keep.append(i)
    chars2 = [out[i] for i in keep]
    offs2 = [offs[i] for i in keep]
    # Doubled marks: a comma next to another mark goes; a mark repeated at once goes.
    final = []
    for i, ch in enumerate(chars2):
        prev = chars2[final[-1]] if final else ""
        nxt = chars2[i + 1] if i + 1 < len(chars2) else ""
        if ch == "，" and (prev in _MARKS or nxt in _MARKS - {"，"}):
            continue
        if ch in _MARKS and prev == ch:
            continue
        if ch in _MARKS and prev == "，" and final:
            final.pop()  # ",。" keeps the stronger mark
        final.append(i)
    return [chars2[i] for i in final], [offs2[i] for i in final]


# A line holding none of these is left as it is by _punctuation (no width to unify, no space
# to drop, no two marks side by side), so the per-character work is skipped for it.
_PUNCT_WORK = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\u3000\xa0,;:?!() \t]|[，、。；：！？]{2}")


def _pass(text: str) -> tuple[str, list[int], list[Span]]:
    chars, offs = list(text), list(range(len(text)))
    chars, offs, pinyin = _strip_pinyin(chars, offs)
    simp = to_simplified("".join(chars))
    # _punctuation never looks across a line break, so lines are done one by one and only
    # where there is work: a 17M-character dump is mostly lines that need none.
    lines, out_offs, pos = [], [], 0
    for line in simp.split("\n"):
        end = pos + len(line)
        if _PUNCT_WORK.search(line):
            cs, os_ = _punctuation(list(line), offs[pos:end])
            lines.append("".join(cs))
            out_offs += os_
        else:
            lines.append(line)
            out_offs += offs[pos:end]
        if end < len(simp):
            out_offs.append(offs[end])  # the line break itself
        pos = end + 1
    return "\n".join(lines), out_offs, pinyin


def normalize(text: str, *, flags: bool = True) -> Normalized:
    """Normalise ``text``; with ``flags`` also find mojibake and boilerplate spans.

    Passes repeat until nothing changes (at most eight), which makes the result idempotent
    even where one repair exposes another (pinyin after pinyin, a comma after a comma).
    """
    cur, offs, spans = text, list(range(len(text))), []
    for _ in range(8):
        nxt, step, found = _pass(cur)
        spans += [Span(offs[s.start], offs[s.end - 1] + 1, s.kind) for s in found]
        offs = [offs[i] for i in step]
        if nxt == cur:
            break
        cur = nxt
    result = Normalized(cur, offs, len(text), sorted(spans, key=lambda s: s.start))
    if flags:
        result.spans += [Span(a, b, "mojibake") for a, b in find_mojibake(text)]
        result.spans += [Span(*result.to_original(a, b), "boilerplate") for a, b in find_boilerplate(cur)]
        result.spans.sort(key=lambda s: (s.start, s.end))
    return result
