"""The Ray engine: embedding spread over a pool of actors, on a local Ray instance.

One Ray session serves the whole module (starting one takes 5-20 s); the tests skip when Ray
is not installed (``pip install 'rhetoric[ray]'``).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from helpers import SEEDS

from rhetoric.distribute import INSTALL_HINT, RayEmbedder, RayEngineError, embed_with_ray, merge_shards
from rhetoric.embed import EmbeddingCache, HashingEmbedder, cache_key, load_embedder
from rhetoric.errors import ModelError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    import logging

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
             object_store_memory=256 << 20)
    yield ray
    ray.shutdown()


def _texts() -> list[str]:
    """Seed sentences of many lengths, with duplicates, in no particular order."""
    lines = [ln.strip() for p in sorted(SEEDS.glob("*.txt")) for ln in p.read_text(encoding="utf-8").split("。")]
    lines = [ln for ln in lines if ln][:150]
    return lines + lines[::7] + ["外防输入、内防扩散", "外防输入、内防扩散"]


@pytest.mark.parametrize("workers", [1, 2])
def test_ray_vectors_equal_the_local_path_in_input_order(ray_session, tmp_path, workers):
    texts = _texts()
    seen: list[int] = []
    got = embed_with_ray(texts, "hash", workers=workers, batch_size=16, shard_dir=tmp_path / "shards",
                         progress=seen.append)
    want = HashingEmbedder().embed(texts)
    assert got.shape == want.shape and got.dtype == np.float32
    assert np.allclose(got, want, atol=1e-6)
    assert sum(seen) == len(texts)
    # The shards hold each distinct text once, with its id.
    ids = np.concatenate([np.load(p) for p in (tmp_path / "shards").glob("shard-*.ids.npy")])
    assert sorted(ids.tolist()) == list(range(len(set(texts))))


def test_cache_is_read_first_and_filled_after(ray_session, tmp_path):
    texts = _texts()
    emb = HashingEmbedder()
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    # Plant a marker vector for one text: it must come back as is, not recomputed.
    marker = np.full(emb.dim, 1 / np.sqrt(emb.dim), dtype=np.float32)
    cache.put_many(emb.model_id, [(cache_key("passage", texts[3]), marker)])
    ray_emb = RayEmbedder(emb, workers=2, shard_dir=tmp_path / "shards")
    got = ray_emb.embed(texts, cache=cache)
    assert np.allclose(got[3], marker)
    others = [i for i, t in enumerate(texts) if t != texts[3]]
    assert np.allclose(got[others], emb.embed([texts[i] for i in others]), atol=1e-6)
    distinct = len(set(texts))
    assert ray_emb.stats.computed == distinct - 1 and ray_emb.stats.cached == 1
    assert len(cache) == distinct
    # A second run sends nothing to Ray: no shard is written.
    again = RayEmbedder(emb, workers=2, shard_dir=tmp_path / "shards2")
    assert np.allclose(again.embed(texts, cache=cache), got)
    assert again.stats.computed == 0
    assert not list((tmp_path / "shards2").glob("shard-*"))


def test_build_index_with_the_ray_engine_equals_a_local_build(ray_session, tmp_path):
    from rhetoric.index import Index, build_index

    emb = load_embedder("hash")
    local = build_index([SEEDS], tmp_path / "local", emb, cache=False)
    remote = build_index([SEEDS], tmp_path / "ray", emb, cache=False, engine="ray", workers=2)
    assert remote.vectors == local.vectors and remote.embedded == local.embedded > 0
    with Index.open(tmp_path / "local") as a, Index.open(tmp_path / "ray") as b:
        assert a.model_id == b.model_id
        assert a.vector_texts() == b.vector_texts()
        assert np.allclose(a.vector_matrix(), b.vector_matrix(), atol=1e-6)
        query = "外防输入、内防扩散"
        assert [h.text for h in a.search(query, k=5)] == [h.text for h in b.search(query, k=5)]


def test_index_build_engine_ray_from_the_cli(ray_session, tmp_path):
    from click.testing import CliRunner

    from rhetoric.cli import cli

    ix = tmp_path / "ix"
    result = CliRunner().invoke(
        cli, ["index", "build", str(SEEDS), "--index", str(ix), "--model", "hash", "--engine", "ray", "--workers", "1",
              "--json"]
    )
    assert result.exit_code == 0, result.output
    import json

    report = json.loads(result.stdout)
    assert report["documents"] == 5 and report["embedded"] == report["vectors"] > 0


@pytest.mark.model
def test_a_sentence_transformers_model_in_the_workers(ray_session, tiny_st):
    texts = _texts()[:60]
    local = load_embedder(str(tiny_st))
    got = embed_with_ray(texts, local, workers=2, batch_size=8)
    assert np.allclose(got, local.embed(texts, batch_size=8), atol=1e-5)


def test_a_worker_that_cannot_load_the_model_is_one_clear_error(ray_session):
    class Elsewhere(HashingEmbedder):
        """A model whose id no worker can load."""

        def __init__(self) -> None:
            super().__init__(64)
            self.model_id = "./no/such/model-folder"

    with pytest.raises(ModelError, match="model folder not found: ./no/such/model-folder"):
        embed_with_ray(["一", "二"], Elsewhere(), workers=1)


def test_more_workers_than_the_session_has_cpus_fails_instead_of_waiting(ray_session):
    with pytest.raises(RayEngineError, match="use fewer --workers"):
        embed_with_ray(["一", "二"], "hash", workers=3, cpus_per_worker=1)


def test_cuda_workers_match_cpu(ray_session, request):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available() or ray_session.cluster_resources().get("GPU", 0) < 1:
        pytest.skip("no GPU")
    tiny_st = request.getfixturevalue("tiny_st")
    texts = _texts()[:40]
    got = embed_with_ray(texts, str(tiny_st), workers=1, device="cuda")
    assert np.allclose(got, load_embedder(str(tiny_st)).embed(texts), atol=2e-2)  # fp16 on the GPU


def test_without_ray_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(RayEngineError, match=INSTALL_HINT.replace("[", r"\[").replace("]", r"\]")):
        embed_with_ray(["一"], "hash", workers=1)


def test_shards_merge_back_in_id_order_and_a_missing_one_is_an_error(tmp_path):
    np.save(tmp_path / "shard-000000.vectors.npy", np.array([[0, 0], [2, 2]], dtype=np.float32))
    np.save(tmp_path / "shard-000000.ids.npy", np.array([0, 2]))
    with pytest.raises(RayEngineError, match="1 of 3 texts came back without a vector"):
        merge_shards(tmp_path, 3, 2)
    np.save(tmp_path / "shard-000001.vectors.npy", np.array([[1, 1]], dtype=np.float32))
    np.save(tmp_path / "shard-000001.ids.npy", np.array([1]))
    assert merge_shards(tmp_path, 3, 2).tolist() == [[0, 0], [1, 1], [2, 2]]
