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
