"""Progress bars that show on a terminal and stay silent when piped or quiet.

The library takes a ``Progress`` factory; the CLI passes :func:`terminal_progress`.
Usage::

    with progress("Embedding", total=len(texts)) as bar:
        bar.update(32)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol


class Bar(Protocol):
    """What a progress bar must do."""

    def update(self, n: int) -> None:
        """Advance by ``n`` steps."""


class NullBar:
    """A bar that shows nothing."""

    def update(self, n: int) -> None:
        """Do nothing."""

    def __enter__(self) -> NullBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


Progress = Callable[[str, int], AbstractContextManager[Bar]]


def null_progress(label: str, total: int) -> NullBar:
    """A progress factory that shows nothing."""
    return NullBar()


def terminal_progress(quiet: bool = False) -> Progress:
    """A factory of click progress bars on stderr, or silent ones when quiet or piped."""
    if quiet or not sys.stderr.isatty():
        return null_progress

    def make(label: str, total: int) -> AbstractContextManager[Bar]:
        import click

        return click.progressbar(length=max(total, 1), label=label, file=sys.stderr)

    return make
