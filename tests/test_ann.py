"""Index choice by size: exact below the limit, HNSW or IVF-SQ8 above, with recall measured."""

from __future__ import annotations

import numpy as np
import pytest

from rhetoric.ann import (
    EXACT_LIMIT,
    build_faiss,
    choose_index,
    describe,
    exact_neighbours,
    recall_at_10,
)
from rhetoric.cluster import _neighbours, _Space
from rhetoric.errors import RhetoricError

DIM = 48


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def mixture() -> tuple[np.ndarray, np.ndarray]:
    """12,000 vectors around 400 centres (neighbours mean something), and 300 fresh queries."""
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((400, DIM))
    spread = rng.uniform(0.3, 0.8, size=400)[:, None]
    own = rng.integers(0, 400, 12_000)
    x = _unit(centres[own] + spread[own] * rng.standard_normal((12_000, DIM)))
    qc = rng.integers(0, 400, 300)
    q = _unit(centres[qc] + spread[qc] * rng.standard_normal((300, DIM)))
    return x, q


def test_choice_is_exact_below_the_limit_and_approximate_above():
    assert choose_index(EXACT_LIMIT - 1, 384).kind == "flat"
    assert choose_index(EXACT_LIMIT, 384).kind in ("hnsw", "ivf-sq8")
    assert choose_index(10, 384, "ivf-sq8").kind == "ivf-sq8"
    assert choose_index(5_000_000, 384, "flat").kind == "flat"
    assert choose_index(100, 8, exact_limit=50).kind != "flat"


def test_ivf_cells_grow_with_the_square_root_and_have_enough_training_points():
    big = choose_index(1_000_000, 384, "ivf-sq8")
    assert big.nlist == 4000 and big.train_size >= 39 * big.nlist
    small = choose_index(2_000, 384, "ivf-sq8")
    assert 1 <= small.nlist and small.train_size <= 2_000 and small.train_size >= 39 * small.nlist


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(RhetoricError, match="unknown index kind 'annoy'"):
        choose_index(10, 4, "annoy")


@pytest.mark.parametrize("kind", ["hnsw", "ivf-sq8"])
def test_approximate_index_reaches_the_recall_target_on_unseen_queries(mixture, kind):
    x, q = mixture
    built = build_faiss(x, kind)
    assert built.kind == kind and built.recall_at_10 >= 0.95
    # Tuned on probe queries; it must hold for queries drawn afresh from the same data.
    assert recall_at_10(built.index, x, q) >= 0.93
    knob = built.choice.ef_search if kind == "hnsw" else built.choice.nprobe
    assert knob >= 1


def test_a_higher_recall_target_raises_the_search_knob(mixture):
    x, _ = mixture
    loose, strict = build_faiss(x, "ivf-sq8", target_recall=0.5), build_faiss(x, "ivf-sq8", target_recall=0.97)
    assert loose.choice.nprobe < strict.choice.nprobe
    assert loose.recall_at_10 >= 0.5 and strict.recall_at_10 >= 0.97
    assert strict.choice.nprobe < strict.choice.nlist  # otherwise the index is pointless here


def test_search_knob_and_ids_survive_saving(mixture, tmp_path):
    import faiss

    x, q = mixture
    for kind in ("flat", "hnsw", "ivf-sq8"):
        built = build_faiss(x, kind)
        path = tmp_path / f"{kind}.index"
        faiss.write_index(built.index, str(path))
        back = faiss.read_index(str(path))
        assert describe(back) == {"flat": "flat-ip", "hnsw": "hnsw-ip", "ivf-sq8": "ivf-sq8-ip"}[kind]
        if kind == "hnsw":
            assert faiss.downcast_index(back).hnsw.efSearch == built.choice.ef_search
        if kind == "ivf-sq8":
            assert faiss.extract_index_ivf(back).nprobe == built.choice.nprobe
        # ids are row numbers, and a stored vector can be read back (index readers need both)
        _, ids = back.search(x[:50], 1)
        assert (ids[:, 0] == np.arange(50)).mean() >= 0.9
        assert np.allclose(back.reconstruct(7), x[7], atol=0.02)


def test_recall_measure_can_fail():
    """A deliberately starved IVF (one cell of many) scores well under 1; exact scores 1."""
    import faiss

    rng = np.random.default_rng(3)
    x = _unit(rng.standard_normal((4_000, 16)))
    exact = build_faiss(x, "flat")
    assert recall_at_10(exact.index, x, x[:100]) == 1.0
    ivf = build_faiss(x, choose_index(len(x), 16, "ivf-sq8"))
    faiss.extract_index_ivf(ivf.index).nprobe = 1
    assert recall_at_10(ivf.index, x, x[:100]) < 0.8


def test_exact_neighbours_can_leave_the_query_itself_out(mixture):
    x, _ = mixture
    ids = np.arange(20)
    with_self = exact_neighbours(x, x[ids], 10)
    without = exact_neighbours(x, x[ids], 10, exclude=ids)
    assert (with_self[:, 0] == ids).all()
    assert not (without == ids[:, None]).any()
    assert (without[:, :9] == with_self[:, 1:]).all()


def test_mining_over_an_approximate_index_finds_the_exact_pairs(mixture):
    """near_duplicates' kernel over HNSW / IVF-SQ8 (as above the size limit) agrees with exact search."""
    x, _ = mixture
    rng = np.random.default_rng(5)
    docs = [frozenset({f"d{i}"}) for i in rng.integers(0, 600, len(x))]
    space = _Space(x, [[]] * len(x), docs, [""] * len(x))
    exact = _neighbours(space, 0.8, 10, 1000)
    assert len(exact) > 500
    truth = {(a, b) for a, b, _ in exact}
    for kind in ("hnsw", "ivf-sq8"):
        approx_space = _Space(x, [[]] * len(x), docs, [""] * len(x), build_faiss(x, kind).index)
        approx = _neighbours(approx_space, 0.8, 10, 1000)
        found = {(a, b) for a, b, _ in approx}
        assert len(found & truth) >= 0.9 * len(truth), kind
        for a, b, s in approx:  # scores are exact cosines even over 8-bit codes
            assert abs(s - float(x[a] @ x[b])) < 1e-5
