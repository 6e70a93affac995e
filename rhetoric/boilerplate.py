"""Find site boilerplate: bylines, editor lines, copyright footers, URLs, bare dates.

Boilerplate is flagged, never deleted: it is kept out of formulas and scores but a reader
can still see it. Two detectors:

* :func:`find_boilerplate` - patterns on one normalised (Simplified) text;
* :class:`RecurringBoilerplate` - openings and lines that recur across many documents of one
  source (``央视网消息（新闻联播）：`` opens 15,148 of 15,154 CCTV transcripts).

Usage: ``find_boilerplate(normalize(text, flags=False).text) -> [(start, end), ...]``.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable

_STRONG = re.compile(
    r"版权声明|版权所有|[Cc]opyright|©|已有\d+人发表了?评论|查看心情排行|你看到此篇文章的感受|ICP备|"
    r"^\s*(?:责任编辑|编辑|审核|校对|审校|监制|主编|来源|作者|时间|日期|发布时间)\s*[：:]"
)
_WEAK = re.compile(
    r"相关阅读|相关新闻|新闻热线|广告联系|联系方式|网络监督|举报中心|主管[：:]|主办[：:]|网站简介|"
    r"分享到|扫一扫|打印本页|关闭窗口|返回顶部|来源[：:]"
)
_FOOTER = re.compile(r"责任编辑|^\s*编辑\s*[：:]|版权声明|相关阅读|[Cc]opyright|查看心情排行|已有\d+人发表")
_DATE_LINE = re.compile(
    r"^\s*\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?\s*$"
)
_URL = re.compile(r"(?:https?://|www\.)[\x21-\x7e]+")
_HTML = re.compile(r"\"?\s*/>|<[a-zA-Z/][^<>]{0,200}>")
_INLINE_CREDIT = re.compile(r"(?<=[。！？])\s*(?:实习记者|记者|通讯员|责任编辑|编辑|摄影)：.*$", re.M)
_BYLINE = re.compile(r"（[^（）\n]{0,20}(?:记者|通讯员)[^（）\n]{0,30}）")
_SHORT = 40  # weak keywords count only on short lines


def _lines(text: str) -> Iterable[tuple[int, int]]:
    start = 0
    for line in text.split("\n"):
        yield start, start + len(line)
        start += len(line) + 1


def find_boilerplate(text: str) -> list[tuple[int, int]]:
    """Boilerplate ranges of one normalised text, merged and sorted."""
    spans: list[tuple[int, int]] = []
    half = len(text) // 2
    for a, b in _lines(text):
        line = text[a:b]
        if not line.strip():
            continue
        if (
            _STRONG.search(line)
            or _DATE_LINE.match(line)
            or (len(line) <= _SHORT and _WEAK.search(line))
            or not any(c.isalnum() for c in line)  # a line of bars or dots
        ):
            spans.append((a, b))
            if a >= half and _FOOTER.search(line):
                spans.append((a, len(text)))  # the footer runs to the end
                break
    for rx in (_URL, _HTML, _INLINE_CREDIT, _BYLINE):
        spans += [(m.start(), m.end()) for m in rx.finditer(text) if m.end() > m.start()]
    return merge(spans)


def merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge overlapping or touching ranges."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


_OPENING = re.compile(r"^[^\n。！？]{2,40}?[：:]")


class RecurringBoilerplate:
    """Openings and whole lines that recur across documents of one source.

    A line or opening counts as boilerplate when at least ``min_docs`` documents of the same
    source hold it and they are at least ``min_share`` of that source's documents.

    Usage::

        rb = RecurringBoilerplate().fit([(source, norm_text), ...])
        rb.find(source, norm_text) -> [(start, end), ...]
    """

    def __init__(self, min_docs: int = 5, min_share: float = 0.2):
        self.min_docs = min_docs
        self.min_share = min_share
        self.patterns: dict[str | None, set[str]] = {}

    def fit(self, docs: Iterable[tuple[str | None, str]]) -> RecurringBoilerplate:
        """Count openings and lines per source."""
        counts: dict[str | None, Counter[str]] = defaultdict(Counter)
        totals: Counter[str | None] = Counter()
        for source, text in docs:
            totals[source] += 1
            seen = set()
            m = _OPENING.match(text)
            if m:
                seen.add(m.group(0))
            seen.update(line.strip() for line in text.split("\n") if 4 <= len(line.strip()) <= 80)
            counts[source].update(seen)
        self.patterns = {}
        for source, counter in counts.items():
            need = max(self.min_docs, self.min_share * totals[source])
            found = {k for k, v in counter.items() if v >= need}
            if found:
                self.patterns[source] = found
        return self

    def find(self, source: str | None, text: str) -> list[tuple[int, int]]:
        """Ranges of ``text`` that are this source's recurring boilerplate."""
        pats = self.patterns.get(source)
        if not pats:
            return []
        spans = []
        m = _OPENING.match(text)
        if m and m.group(0) in pats:
            spans.append((0, m.end()))
        for a, b in _lines(text):
            line = text[a:b]
            if line.strip() in pats:
                spans.append((a, b))
        return merge(spans)
