"""A curated lexicon of standard formulas (提法) and a script-, order- and variant-aware matcher.

The lexicon is TOML (``[[slogan]]`` tables: ``id``, ``text``, ``parts``, ``variants``,
``category``, ``since``, ``note``); the shipped one is ``rhetoric/data/slogans.toml`` (a copy
of ``seeds/slogans.toml``). User files add entries or replace those with the same ``id``.

Matching runs on normalised Simplified text (:func:`rhetoric.normalize.normalize`), so the
caller normalises first and Traditional input works. Each match says how it was found:

* ``exact``: the canonical text (quotation marks ignored; 、 and ， interchangeable, or left
  out between the parts of an enumeration, as in headlines);
* ``variant``: a listed variant, or the canonical with function words inserted between its
  characters (人民群众的生命安全和身体健康; up to two of 的和与及 or quote marks in a gap) or
  with its own inner 的/和/与/及 left out;
* ``reordered``: all parts of an enumeration in another order (群防群控、联防联控);
* ``parts``: the parts standing together with small gaps (外防输入关口、守住内防扩散), all of
  them, or all but one for enumerations of three or more.

Overlapping matches of one slogan are reduced to the longest. Different slogans may
overlap and are all reported: 两个维护 inside 增强“四个意识”、坚定“四个自信”、做到“两个维护”
gives both ``liang-ge-wei-hu`` and ``zeng-qiang-si-ge-yi-shi``.

Usage::

    lex = load_lexicon()
    text = normalize("堅持人民至上、生命至上").text
    [m.slogan_id for m in match_slogans(text, lex)]   # ['ren-min-zhi-shang']
"""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError
from .normalize import normalize

if TYPE_CHECKING:
    from .index import Index

#: Most characters allowed between two consecutive parts of a ``parts`` match.
MAX_GAP = 6
#: Function words that may be inserted between characters (or dropped from the canonical).
FUNCTION_WORDS = "的和与及"
_QUOTES = "“”‘’\"'「」『』"
_SEPS = "、，,"
# What may stand between two characters: up to two function words or quote marks (“六稳”“六保”
# puts two marks between 稳 and 六). One character class, not an alternation: the regex
# engine runs a class repeat several times faster than an optional group.
_FILLER = f"[{FUNCTION_WORDS}{re.escape(_QUOTES)}]{{0,2}}"
_SEP_CLASS = f"[{_SEPS}]"
# A gap that crosses a sentence or clause end cannot join parts.
_GAP_STOP = re.compile(r"[。！？；!?;\n]")
_KEYS = {"id", "text", "parts", "variants", "category", "since", "note"}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SINCE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2]))?$")
_RANK = {"exact": 0, "variant": 1, "reordered": 2, "parts": 3}


@dataclass(frozen=True)
class Slogan:
    """One formula of the lexicon; all texts are normalised Simplified Chinese."""

    id: str
    text: str
    parts: tuple[str, ...]
    variants: tuple[str, ...]
    category: str
    since: str | None
    note: str | None


@dataclass(frozen=True)
class SloganMatch:
    """A slogan found in a text; ``start``/``end`` are offsets in the *normalised* text.

    ``how`` is ``exact``, ``variant``, ``reordered`` or ``parts`` (see the module docstring).
    """

    slogan_id: str
    start: int
    end: int
    matched: str
    how: str


def default_lexicon_path() -> Path:
    """The lexicon shipped with the package (falls back to the repository's seeds copy)."""
    here = Path(__file__).resolve().parent
    packaged = here / "data" / "slogans.toml"
    return packaged if packaged.exists() else here.parent / "seeds" / "slogans.toml"


# ------------------------------------------------------------------------------ loading


def _strip_quotes(s: str) -> str:
    return "".join(c for c in s if c not in _QUOTES)


def _skeleton(s: str) -> str:
    """Text compared for "exact": quotes dropped, enumeration commas unified."""
    return "".join("、" if c in _SEPS else c for c in _strip_quotes(s))


def _norm(s: str) -> str:
    return normalize(s, flags=False).text.strip()


def _parse_entry(raw: object, where: str, path: Path) -> Slogan:
    """Validate one ``[[slogan]]`` table; raise InputError naming ``where`` on a fault."""

    def fail(problem: str) -> InputError:
        return InputError(path, f"{where}: {problem}")

    if not isinstance(raw, dict):
        raise fail("is not a table")
    unknown = set(raw) - _KEYS
    if unknown:
        raise fail(f"unknown key(s) {', '.join(sorted(unknown))}")

    def string(key: str, required: bool) -> str | None:
        val = raw.get(key)
        if val is None and not required:
            return None
        if not isinstance(val, str) or not val.strip():
            raise fail(f"'{key}' must be a non-empty string")
        return val.strip()

    def strings(key: str) -> tuple[str, ...]:
        val = raw.get(key, [])
        if not isinstance(val, list) or not all(isinstance(v, str) and v.strip() for v in val):
            raise fail(f"'{key}' must be a list of non-empty strings")
        return tuple(_norm(v) for v in val)

    sid = string("id", True)
    assert sid is not None
    if not _ID.match(sid):
        raise fail(f"id {sid!r} must be ASCII letters, digits, '-', '_' or '.'")
    text = _norm(string("text", True) or "")
    category = string("category", True)
    since = string("since", False)
    if since is not None and not _SINCE.match(since):
        raise fail(f"'since' must be YYYY or YYYY-MM, not {since!r}")
    parts, variants = strings("parts"), strings("variants")
    if parts:
        if len(parts) < 2:
            raise fail("'parts' needs at least two parts (omit it for a single phrase)")
        # Parts must stand in the text in order, or order-aware matching means nothing.
        rest = _skeleton(text)
        for p in parts:
            pos = rest.find(_skeleton(p))
            if pos < 0:
                raise fail(f"part {p!r} is not in the text in order")
            rest = rest[pos + len(_skeleton(p)) :]
    for t in (text, *variants, *parts):
        bare = _strip_quotes(t)
        if len(bare) < 2:
            raise fail(f"{t!r} is too short (two characters at least)")
        if bare[0] in _SEPS or bare[-1] in _SEPS:
            raise fail(f"{t!r} begins or ends with a separator")
    return Slogan(sid, text, parts, variants, category or "", since, string("note", False))


def _read_file(path: Path) -> list[Slogan]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(path, "lexicon file not found") from None
    except OSError as e:
        raise InputError(path, f"cannot read lexicon: {e.strerror or e}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(path, f"not valid TOML: {e}") from None
    extra = set(data) - {"slogan"}
    if extra:
        keys = ", ".join(sorted(extra))
        raise InputError(path, f"unknown top-level key(s) {keys}; expected [[slogan]] tables")
    entries = data.get("slogan", [])
    if not isinstance(entries, list):
        raise InputError(path, "'slogan' must be an array of tables ([[slogan]])")
    out: list[Slogan] = []
    seen: set[str] = set()
    for i, raw in enumerate(entries, 1):
        label = raw.get("id") if isinstance(raw, dict) else None
        where = f"slogan #{i}" + (f" ({label})" if isinstance(label, str) else "")
        slogan = _parse_entry(raw, where, path)
        if slogan.id in seen:
            raise InputError(path, f"{where}: duplicate id {slogan.id!r}")
        seen.add(slogan.id)
        out.append(slogan)
    return out


def load_lexicon(paths: Sequence[str | Path] = (), *, include_default: bool = True) -> list[Slogan]:
    """Load the default lexicon and/or user lexicon files.

    Args:
        paths: User TOML files, applied in order; an entry whose ``id`` is already loaded
            replaces it in place, a new ``id`` is appended.
        include_default: Start from the shipped lexicon.

    Returns:
        The slogans, texts normalised (Traditional user entries become Simplified).

    Raises:
        InputError: A file is missing or malformed; the message names the file and entry.
    """
    files = ([default_lexicon_path()] if include_default else []) + [Path(p) for p in paths]
    merged: dict[str, Slogan] = {}
    for path in files:
        for slogan in _read_file(path):
            merged[slogan.id] = slogan  # dicts keep first-insertion order: overrides stay put
    return list(merged.values())


# ----------------------------------------------------------------------------- matching


def _pieces(text: str) -> list[str]:
    """One regex piece per character of ``text`` (quotes dropped)."""
    chars = _strip_quotes(text)
    pieces = []
    for i, c in enumerate(chars):
        if c in _SEPS:
            pieces.append(_SEP_CLASS)
        elif c in FUNCTION_WORDS and 0 < i < len(chars) - 1:
            pieces.append(re.escape(c) + "?")  # the canonical's own 的/和 may be left out
        else:
            pieces.append(re.escape(c))
    return pieces


def _pattern(text: str) -> str:
    """Regex for ``text`` tolerating inserted function words/quotes between characters."""
    return _FILLER.join(_pieces(text))


@dataclass(frozen=True)
class _Form:
    slogan: int  # index into the lexicon
    text: str
    canonical: bool
    atom: int  # atom of the whole text
    parts: tuple[int, ...]  # atoms of the parts, in order; () for a single phrase


class _Matcher:
    """A lexicon compiled for scanning: atoms (texts and parts) found by one regex."""

    def __init__(self, lexicon: Sequence[Slogan]):
        self.lexicon = list(lexicon)
        atom_ids: dict[str, int] = {}

        def atom(text: str) -> int:
            key = _strip_quotes(text)
            return atom_ids.setdefault(key, len(atom_ids))

        self.forms: list[_Form] = []
        for k, s in enumerate(self.lexicon):
            for text, canonical in [(s.text, True)] + [(v, False) for v in s.variants]:
                if canonical:
                    parts = s.parts
                elif s.parts and any(c in _SEPS for c in text):
                    split = re.split(_SEP_CLASS, text)
                    parts = tuple(p for p in split if len(_strip_quotes(p)) >= 2)
                else:
                    parts = ()
                part_atoms = tuple(atom(p) for p in parts) if len(parts) >= 2 else ()
                self.forms.append(_Form(k, text, canonical, atom(text), part_atoms))
        self.atoms = list(atom_ids)
        # The forms each atom belongs to (as whole text or part): only those are examined.
        self.by_atom: dict[int, set[int]] = defaultdict(set)
        for f, form in enumerate(self.forms):
            for a in (form.atom, *form.parts):
                self.by_atom[a].add(f)
        self.compiled = [re.compile(_pattern(a)) for a in self.atoms]
        # Atoms bucketed by first character (never optional): the scanner finds a start, the
        # bucket says which atoms to try there. The scanner factors out the first character,
        # so the regex engine tests few branches per position.
        self.bucket: dict[str, list[int]] = defaultdict(list)
        for i, a in enumerate(self.atoms):
            self.bucket[a[0]].append(i)
        branches = []
        for first, ids in self.bucket.items():
            rests = {_FILLER.join(_pieces(self.atoms[i])[1:]) for i in ids}
            rests = sorted(rests, key=len, reverse=True)
            branches.append(re.escape(first) + _FILLER + "(?:" + "|".join(rests) + ")")
        self.scanner = re.compile("|".join(branches)) if branches else None

    def atom_hits(self, text: str) -> dict[int, list[tuple[int, int]]]:
        """Every (start, end) of every atom, overlapping starts included."""
        hits: dict[int, list[tuple[int, int]]] = defaultdict(list)
        if self.scanner is None:
            return hits
        pos, search = 0, self.scanner.search
        while (m := search(text, pos)) is not None:
            s = m.start()
            for i in self.bucket[text[s]]:
                am = self.compiled[i].match(text, s)
                if am is not None:
                    hits[i].append((s, am.end()))
            pos = s + 1  # restart one on: another atom may begin inside this one
        return hits

    def match(self, text: str) -> list[SloganMatch]:
        hits = self.atom_hits(text)
        found: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
        touched = sorted({f for a in hits for f in self.by_atom[a]})
        for form in (self.forms[f] for f in touched):
            slogan = self.lexicon[form.slogan]
            for s, e in hits.get(form.atom, ()):
                exact = form.canonical and _skeleton(text[s:e]) == _skeleton(slogan.text)
                found[form.slogan].append((s, e, "exact" if exact else "variant"))
            if form.parts:
                found[form.slogan] += self._chains(text, form, hits)
        out = []
        for k, cands in found.items():
            # Longest first, then the better kind: overlapping matches of one slogan reduce to it.
            cands.sort(key=lambda c: (c[0] - c[1], _RANK[c[2]], c[0]))
            kept: list[tuple[int, int, str]] = []
            for s, e, how in cands:
                if all(e <= ks or s >= ke for ks, ke, _ in kept):
                    kept.append((s, e, how))
            sid = self.lexicon[k].id
            out += [SloganMatch(sid, s, e, text[s:e], how) for s, e, how in kept]
        out.sort(key=lambda m: (m.start, -m.end, m.slogan_id))
        return out

    def _chains(
        self, text: str, form: _Form, hits: dict[int, list[tuple[int, int]]]
    ) -> list[tuple[int, int, str]]:
        """Parts of ``form`` standing together: reordered enumerations and gapped parts."""
        items = sorted(
            ((s, e, j) for j, a in enumerate(form.parts) for s, e in hits.get(a, ())),
            key=lambda t: (t[0], -t[1]),
        )
        n = len(form.parts)
        need = n if n <= 2 else n - 1
        out: list[tuple[int, int, str]] = []

        def flush(chain: list[tuple[int, int, int]]) -> None:
            if len(chain) < need:
                return
            gaps = [
                _strip_quotes(text[x[1] : y[0]]) for x, y in zip(chain, chain[1:], strict=False)
            ]
            listed = all(g == "" or (len(g) == 1 and g in _SEPS) for g in gaps)
            order = [j for _, _, j in chain]
            if len(chain) == n and listed:
                if order == sorted(order):
                    how = "exact" if form.canonical else "variant"
                else:
                    how = "reordered"
            else:
                how = "parts"
            out.append((chain[0][0], chain[-1][1], how))

        chain: list[tuple[int, int, int]] = []
        for s, e, j in items:
            if chain:
                last_end = chain[-1][1]
                if s < last_end:
                    continue  # overlaps the part before: not a new link
                gap = text[last_end:s]
                new_part = j not in {c[2] for c in chain}
                if new_part and len(gap) <= MAX_GAP and not _GAP_STOP.search(gap):
                    chain.append((s, e, j))
                    continue
                flush(chain)
            chain = [(s, e, j)]
        if chain:
            flush(chain)
        return out


_CACHE: dict[tuple[int, ...], _Matcher] = {}


def _compiled(lexicon: Sequence[Slogan]) -> _Matcher:
    """The compiled matcher of ``lexicon``, cached by the identity of its (immutable) slogans.

    Identity, not equality: hashing every slogan on every call would cost more than matching
    a short text. The cached matcher holds the slogans, so their ids cannot be reused.
    """
    key = tuple(map(id, lexicon))
    matcher = _CACHE.get(key)
    if matcher is None:
        if len(_CACHE) >= 8:
            _CACHE.pop(next(iter(_CACHE)))
        matcher = _CACHE[key] = _Matcher(lexicon)
    return matcher


def match_slogans(norm_text: str, lexicon: Sequence[Slogan]) -> list[SloganMatch]:
    """Find every slogan of ``lexicon`` in ``norm_text``.

    Args:
        norm_text: Normalised text (``normalize(text).text``); offsets refer to it, map them
            back with ``Normalized.to_original``.
        lexicon: Slogans from :func:`load_lexicon`; compiled once and cached.

    Returns:
        Matches sorted by start (longer first). One slogan's overlapping matches are reduced
        to the longest; different slogans may overlap (a slogan that is also a part of a
        longer one is reported with it).
    """
    return _compiled(lexicon).match(norm_text)


@dataclass
class SloganUse:
    """One use of a slogan in an indexed document, in original offsets."""

    doc_id: str
    start: int
    end: int
    text: str  # the original text there
    matched: str  # the normalised wording matched
    how: str


@dataclass
class SloganRow:
    """A lexicon entry and where the index uses it."""

    slogan: Slogan
    occurrences: list[SloganUse]
    doc_ids: list[str]
    first_seen: str | None


def locate_slogans(index: Index, lexicon: Sequence[Slogan]) -> list[SloganRow]:
    """Every lexicon entry with its uses in ``index`` (boilerplate and mojibake left out).

    Rows come in lexicon order; entries used nowhere have no occurrences.
    """
    uses: dict[str, list[SloganUse]] = {s.id: [] for s in lexicon}
    dates: dict[str, str | None] = {}
    for doc, norm in index.normalized():
        dates[doc.doc_id] = doc.date
        for m in match_slogans(norm.masked(), lexicon):
            a, b = norm.to_original(m.start, m.end)
            uses[m.slogan_id].append(SloganUse(doc.doc_id, a, b, doc.text[a:b], m.matched, m.how))
    rows = []
    for s in lexicon:
        docs = sorted({u.doc_id for u in uses[s.id]})
        seen = sorted(d for d in (dates.get(x) for x in docs) if d)
        rows.append(SloganRow(s, uses[s.id], docs, seen[0] if seen else None))
    return rows
