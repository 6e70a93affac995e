"""Find mojibake: runs of characters produced by decoding bytes with the wrong alignment or codec.

The seeds hold GBK text read one byte off (``“外防輸入”`` became ``?“巴夥垒斎搿``). Such runs are
dense in rare ideographs, kana and box-drawing marks. A candidate run is confirmed only if
re-reading its bytes (shifted by one byte, or as UTF-8) gives ordinary text, so rare names
do not trip it.

Usage: ``find_mojibake(text) -> [(start, end), ...]``.
"""

from __future__ import annotations

from functools import lru_cache

from .charfreq import is_cjk, is_rare

_STOPS = set("，。、：；！？“”")
WINDOW = 8
MIN_ODD = 3  # odd characters in a window that make it a candidate


@lru_cache(maxsize=65536)
def _odd(ch: str) -> bool:
    """A character unlikely in Chinese prose: rare ideograph, kana, box drawing, accented Latin."""
    o = ord(ch)
    if is_cjk(ch):
        return is_rare(ch)
    if ch == "\ufffd":
        return True
    if 0x3040 <= o <= 0x30FF or 0x2500 <= o <= 0x257F:  # kana, box drawing
        return True
    return 0xC0 <= o <= 0x24F  # accented Latin outside pinyin annotations


def _plain_share(text: str) -> float:
    """Share of ideographs in ``text`` that are common; 0 when it holds none."""
    han = [c for c in text if is_cjk(c)]
    if len(han) < 3:
        return 0.0
    return sum(not is_rare(c) for c in han) / len(han)


def _rereads(run: str) -> list[str]:
    """Other readings of the run's bytes: GBK shifted by one byte either way, or UTF-8."""
    try:
        raw = run.encode("gb18030")
    except UnicodeEncodeError:
        return []
    out = [raw[1:].decode("gb18030", "replace"), (b"\xa1" + raw).decode("gb18030", "replace")]
    out.append(raw.decode("utf-8", "replace"))
    return out


def _reread_share(run: str) -> float:
    """Best plain share among the other readings of ``run``'s bytes."""
    best = 0.0
    for alt in _rereads(run):
        if alt.count("\ufffd") <= max(1, len(alt) // 10):
            best = max(best, _plain_share(alt))
    return best


def _breaks(ch: str) -> bool:
    """Byte alignment restarts at ASCII and where the decoder gave up (U+FFFD)."""
    return ord(ch) < 128 or ch == "\ufffd" or ch.isspace()


def _confirmed_part(text: str, i: int, j: int) -> tuple[int, int] | None:
    """Confirm the candidate ``text[i:j]``; return the span its bad sub-runs cover.

    Each sub-run between alignment breaks is re-read on its own, from its first odd
    character to its last, then grown while the grown run still re-reads as plain text.
    """
    good: list[tuple[int, int]] = []
    k = i
    while k < j:
        if _breaks(text[k]):
            k += 1
            continue
        m = k
        while m < j and not _breaks(text[m]):
            m += 1
        # Re-read from the first odd character to the last: ordinary text may lead in.
        odd = [x for x in range(k, m) if _odd(text[x])]
        if odd:
            k2, m2 = odd[0], odd[-1] + 1
        part = text[k2:m2] if odd else ""
        if len(part) >= 3 and _plain_share(part) <= 0.8 and _reread_share(part) >= 0.9:
            a, b = k2, m2
            # Grow over neighbours while the whole still re-reads as plain text; ordinary
            # punctuation ends a misread run.
            while b < m and text[b] not in _STOPS and _reread_share(text[a : b + 1]) >= 0.95:
                b += 1
            while a > k and text[a - 1] not in _STOPS and _reread_share(text[a - 1 : b]) >= 0.95:
                a -= 1
            good.append((a, b))
        k = m
    if not good:
        return None
    return min(a for a, _ in good), max(b for _, b in good)


def find_mojibake(text: str) -> list[tuple[int, int]]:
    """Return ``(start, end)`` ranges of ``text`` that are mojibake, merged and sorted."""
    odd = [_odd(c) for c in text]
    n = len(text)
    if sum(odd) < MIN_ODD:
        return []
    marked = [False] * n
    count = sum(odd[:WINDOW])
    for i in range(max(1, n - WINDOW + 1)):
        if i:
            count += (odd[i + WINDOW - 1] if i + WINDOW - 1 < n else 0) - odd[i - 1]
        if count >= MIN_ODD:
            for j in range(i, min(n, i + WINDOW)):
                marked[j] = True
    spans: list[tuple[int, int]] = []
    i = 0
    while i < n:
        if not marked[i]:
            i += 1
            continue
        j = i
        while j < n and marked[j]:
            j += 1
        found = _confirmed_part(text, i, j)
        if found and (not spans or found[0] >= spans[-1][1]):
            spans.append(found)
        i = max(j, found[1] if found else j)
    return spans
