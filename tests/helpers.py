"""Helpers shared by the tests (import as ``from helpers import ...``)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
CORPUS = ROOT.parent / "shared" / "corpus" / "xwlb_2020_2022.jsonl"


def seed_text(key: str) -> str:
    """Original text of seed ``key`` ("000" ... "004")."""
    (path,) = SEEDS.glob(f"{key}_*.txt")
    return path.read_text(encoding="utf-8")


def seed_id(key: str) -> str:
    (path,) = SEEDS.glob(f"{key}_*.txt")
    return path.stem


def corpus_records(n: int) -> list[dict]:
    """The first ``n`` records of the shared CCTV corpus (skip the test if it is absent)."""
    import json

    if not CORPUS.exists():
        pytest.skip("../shared/corpus is not available")
    out = []
    with open(CORPUS, encoding="utf-8") as fh:
        for line in fh:
            out.append(json.loads(line))
            if len(out) >= n:
                break
    return out


def overlaps(a: str, b: str) -> bool:
    """gold.toml's rule: one contains the other, the shorter at least 60% of the longer."""
    short, long_ = sorted((a, b), key=len)
    return short in long_ and len(short) >= 0.6 * len(long_)


def evaluate_formulas(formulas: list, gold: dict) -> dict:
    """Score reported formulas against gold.toml (the issue's measures).

    ``formulas`` are rhetoric.formulas.Formula objects, ranked. A gold formula is found when
    reported entries (texts or variants) overlap its text and together cover its documents; a
    gold variant is grouped when it overlaps the text or a variant of the entry that found its
    formula.
    """
    def entries(f):
        yield f.text, set(f.doc_ids)
        for v in f.variants:
            yield v.text, set(v.doc_ids)

    def short(doc_ids):
        return {d[:3] for d in doc_ids}

    found, grouped, variants_total = [], [], 0
    for g in gold["formula"]:
        homes = []
        covered: set[str] = set()
        for f in formulas:
            hit = [short(d) for t, d in entries(f) if overlaps(t, g["text"])]
            if hit:
                homes.append(f)
                for d in hit:
                    covered |= d
        ok = set(g["docs"]) <= covered
        if ok:
            found.append(g["text"])
        for v in g.get("variants", []):
            variants_total += 1
            if any(any(overlaps(t, v["text"]) and set(v["docs"]) & short(d) for t, d in entries(f)) for f in homes):
                grouped.append(v["text"])
    gold_texts = [g["text"] for g in gold["formula"]] + [
        v["text"] for g in gold["formula"] for v in g.get("variants", [])
    ]
    top20 = [f.text for f in formulas[:20]]
    good_top = [t for t in top20 if any(overlaps(t, x) for x in gold_texts)]
    noise = [n for n in gold["noise"] for x in n["examples"]]
    noise_texts = [x for n in gold["noise"] for x in n["examples"]]
    bad_top30 = [f.text for f in formulas[:30] if any(x in f.text or f.text in x for x in noise_texts)]
    return {
        "found": found,
        "n_found": len(found),
        "grouped": grouped,
        "n_grouped": len(grouped),
        "n_variants": variants_total,
        "good_top20": good_top,
        "n_good_top20": len(good_top),
        "noise_top30": bad_top30,
        "missing": [g["text"] for g in gold["formula"] if g["text"] not in found],
        "_noise_kinds": len(noise),
    }


def directive_hits(result, gold: dict) -> list[int]:
    """Per gold directive, the most of its examples that stand together in one cluster.

    An example is in a cluster when a member's text holds it, or lies inside it.
    """
    from rhetoric.normalize import normalize

    out = []
    for d in gold["directive"]:
        best = 0
        for c in result.clusters:
            seen = set()
            for doc, text in d["examples"]:
                t = normalize(text, flags=False).text
                for m in c.members:
                    mn = normalize(m.text, flags=False).text.strip("，。、；")
                    if m.doc_id.startswith(doc) and (t in mn or (len(mn) >= 4 and mn in t)):
                        seen.add((doc, text))
            best = max(best, len(seen))
        out.append(best)
    return out
