"""Helpers for the robustness tests: run the CLI, snapshot an index, slow builds in subprocesses."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import ROOT

from rhetoric.cli import cli

# Real sentences of the genre, in both scripts (Big5 can only encode the Traditional one).
SIMPLIFIED = (
    "坚决打赢疫情防控阻击战 县委常委会召开会议\n2020/02/04\n"
    "会议强调，要坚持外防输入、内防扩散，压紧压实各方责任，坚决守住疫情防控防线。\n"
    "各级领导干部要靠前指挥，守土有责、守土担责、守土尽责。\n"
)
TRADITIONAL = (
    "堅決打贏疫情防控和脫貧攻堅兩場硬戰\n"
    "縣委書記張學鋒採取不打招呼、直奔現場的方式，先後到外環線檢查點督導檢查。\n"
    "要堅持人民至上、生命至上，切實做好外防輸入、內防擴散工作。\n"
)


def cli_run(*args: str):
    """Run the CLI in-process; an exception escaping it fails the test (it would be a traceback)."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def one_line(text: str) -> str:
    """The only line of ``text`` (asserting there is exactly one and no traceback)."""
    assert "Traceback" not in text
    lines = text.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def snapshot(folder: Path) -> dict:
    """What an index holds, read through ``Index.open(verify=True)``, and checked against its files."""
    from rhetoric.index import Index

    with Index.open(folder, verify=True) as ix:
        db = ix.db
        counts = ix.manifest["counts"]
        found = {
            "documents": db.execute("SELECT count(*) FROM documents").fetchone()[0],
            "sentences": db.execute("SELECT count(*) FROM sentences").fetchone()[0],
            "vectors": db.execute("SELECT count(*) FROM vectors").fetchone()[0],
        }
        assert found == {k: counts[k] for k in found}
        assert ix.faiss.ntotal == counts["vectors"]
        # No document half-present: each has its sentences, each sentence's vector exists.
        bare = db.execute(
            "SELECT doc_id FROM documents d WHERE NOT EXISTS (SELECT 1 FROM sentences s WHERE s.doc = d.id)"
        ).fetchall()
        assert bare == []
        top = db.execute("SELECT max(vec) FROM sentences").fetchone()[0]
        assert top is None or top < ix.faiss.ntotal
        return {
            "generation": ix.manifest["generation"],
            "counts": counts,
            "doc_ids": sorted(d.doc_id for d in ix.documents()),
        }


# --------------------------------------------------------------------------- permissions

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def _drop_file_permission_override() -> None:
    """In a child before exec: drop root's power to ignore permission bits (it stays uid 0).

    Root reads and writes any file whatever its mode, so ``chmod 000`` alone tests nothing.
    Without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH in the bounding set, the program that
    is exec'd gets neither, and the kernel applies the owner's permission bits to it.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run_unprivileged(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m rhetoric ARGS`` in a subprocess that permission bits apply to (even as root)."""
    preexec = _drop_file_permission_override if os.geteuid() == 0 else None
    return subprocess.run(
        [sys.executable, "-m", "rhetoric", *args], capture_output=True, text=True, timeout=timeout,
        preexec_fn=preexec, cwd=ROOT,
    )


@pytest.fixture
def permission_bits(tmp_path: Path):
    """Skip unless a subprocess here can be refused a chmod-000 file (root without capabilities)."""
    probe = tmp_path / "probe.txt"
    probe.write_text("x")
    probe.chmod(0)
    try:
        code = "open(__import__('sys').argv[1]).read()"
        preexec = _drop_file_permission_override if os.geteuid() == 0 else None
        result = subprocess.run([sys.executable, "-c", code, str(probe)], capture_output=True, preexec_fn=preexec)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot run a subprocess without root's permission override: {exc}")
    finally:
        probe.chmod(0o644)
    if result.returncode == 0:
        pytest.skip("permission bits are not enforced for subprocesses here")
    yield


# --------------------------------------------------------------------------- slow builds

BUILD_SCRIPT = '''
import json, os, shutil, sys, time
from dataclasses import asdict

import rhetoric.index as index
from rhetoric.embed import EmbeddingCache, HashingEmbedder

cfg = json.loads(sys.argv[1])
pause = cfg.get("pause", 0.0)


def mark(phase):
    print("PHASE", phase, flush=True)


class SlowHash(HashingEmbedder):
    """The 64-d hashing embedder (model id hash-64), slowed down per batch."""

    def __init__(self):
        super().__init__(64)

    def embed_batch(self, texts, kind):
        mark("embedding")
        time.sleep(cfg.get("batch_delay", 0.0))
        return super().embed_batch(texts, kind)


swapped = False


def wrap(module, name, phase):
    real = getattr(module, name)

    def wrapped(*a, **k):
        global swapped
        label = phase(*a) if callable(phase) else phase
        mark(label)
        time.sleep(pause)
        out = real(*a, **k)
        swapped = swapped or label == "swapping"
        return out

    setattr(module, name, wrapped)


# Mark each phase of a build and give it some width, so that a kill can land inside it.
wrap(index, "_prepare", "normalising")
wrap(index, "_write_generation", "writing")
import faiss
wrap(faiss, "write_index", "writing-faiss")
wrap(index.os, "replace", "swapping")
# Generations removed before the swap are a killed build's leftovers; after it, the old one.
wrap(index.shutil, "rmtree", lambda *a: "removing" if swapped else "cleaning")
report = index.build_index(
    cfg["paths"], cfg["index"], SlowHash(), cache=EmbeddingCache(cfg["cache"]), replace=cfg.get("replace", False),
    batch_size=cfg.get("batch_size", 4), wait=cfg.get("wait", 0.0),
)
mark("done")
print("REPORT", json.dumps(asdict(report)), flush=True)
'''


class SlowBuild:
    """A build in a subprocess whose phases announce themselves on stdout (``PHASE name``)."""

    def __init__(self, script: Path, **cfg):
        self.proc = subprocess.Popen(
            [sys.executable, str(script), json.dumps(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, cwd=ROOT,
        )
        self.phases: list[str] = []
        self.report: dict | None = None

    def wait_for(self, phase: str, count: int = 1, timeout: float = 120) -> bool:
        """Read the child's output until ``phase`` has been announced ``count`` times (False: it ended)."""
        deadline = time.monotonic() + timeout
        while self.phases.count(phase) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no phase {phase!r} after {timeout}s; saw {self.phases}")
            line = self.proc.stdout.readline()
            if not line:
                return False
            if line.startswith("PHASE "):
                self.phases.append(line.split()[1])
            elif line.startswith("REPORT "):
                self.report = json.loads(line[7:])
        return True

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def finish(self, timeout: float = 300) -> int:
        out, err = self.proc.communicate(timeout=timeout)
        for line in out.splitlines():
            if line.startswith("REPORT "):
                self.report = json.loads(line[7:])
        self.stderr = err
        return self.proc.returncode


def write_build_script(folder: Path) -> Path:
    """Write ``BUILD_SCRIPT`` into ``folder``; run it through :class:`SlowBuild`."""
    path = folder / "slow_build.py"
    path.write_text(BUILD_SCRIPT, encoding="utf-8")
    return path


def write_corpus(folder: Path, version: str, n: int = 12, salt: int = 0) -> set[str]:
    """``n`` small documents in ``folder/docs.jsonl``; ids depend on ``version``, text also on ``salt``.

    Returns the ids. A new ``salt`` gives new sentences, so a build has vectors to embed.
    """
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    lines = []
    for i in range(n):
        text = (
            f"第{i}号通知（{version}版第{salt}稿）\n会议强调，要坚持外防输入、内防扩散，第{i}次压实{version}{salt}各方责任。\n"
            f"各级领导干部要靠前指挥，守土有责、守土担责，落实第{i}项{version}{salt}措施。\n"
        )
        lines.append(json.dumps({"id": f"{version}-{i:03d}", "text": text, "source": version}, ensure_ascii=False))
    (folder / "docs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {f"{version}-{i:03d}" for i in range(n)}


def hash_build(corpus: Path, folder: Path, cache: Path, **kw: object) -> object:
    """Build ``folder`` from ``corpus`` with a 64-d hashing embedder and the cache at ``cache``."""
    from rhetoric.embed import EmbeddingCache, HashingEmbedder
    from rhetoric.index import build_index

    return build_index([corpus], folder, HashingEmbedder(64), cache=EmbeddingCache(cache), batch_size=4, **kw)
