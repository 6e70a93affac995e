"""Character frequencies of Simplified Chinese, from jieba's bundled dictionary.

Used to tell plausible text from mojibake and to pick between candidate encodings.
Usage: ``rank("的") == 0``; ``is_rare("斎")``.
"""

from __future__ import annotations

import os
from collections import Counter
from functools import lru_cache

RARE_RANK = 4500  # ranks past this hold few characters of ordinary official prose


@lru_cache(maxsize=1)
def char_freq() -> dict[str, int]:
    """Each character's summed word frequency in jieba's dictionary."""
    import jieba

    path = os.path.join(os.path.dirname(jieba.__file__), "dict.txt")
    freq: Counter[str] = Counter()
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.split(" ")
            if len(parts) >= 2 and parts[1].isdigit():
                n = int(parts[1])
                for ch in parts[0]:
                    freq[ch] += n
    return dict(freq)


@lru_cache(maxsize=1)
def _ranks() -> dict[str, int]:
    ordered = sorted(char_freq().items(), key=lambda kv: -kv[1])
    return {ch: i for i, (ch, _) in enumerate(ordered)}


@lru_cache(maxsize=1)
def converter():  # noqa: ANN201 - OpenCC has no type hints
    """The process-wide OpenCC Traditional -> Simplified converter."""
    from opencc import OpenCC

    return OpenCC("t2s")


@lru_cache(maxsize=65536)
def t2s_char(ch: str) -> str:
    """Simplified form of one character (itself when OpenCC has no single-character rule)."""
    out = converter().convert(ch)
    return out if len(out) == 1 else ch


def rank(ch: str) -> int | None:
    """Frequency rank of a Chinese character (0 = most common), None if unseen."""
    return _ranks().get(ch)


def is_cjk(ch: str) -> bool:
    """True for a CJK unified ideograph (basic block or extension A)."""
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF


def is_rare(ch: str) -> bool:
    """True if ``ch`` (through its Simplified form) is a rare ideograph."""
    r = rank(t2s_char(ch))
    return r is None or r > RARE_RANK
