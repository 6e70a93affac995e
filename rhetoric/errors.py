"""Named errors. The library raises them; the CLI turns each into one line and exit code 1.

Usage: ``raise InputError(path, "not valid JSON on line 3")``.
"""

from __future__ import annotations

from pathlib import Path


class RhetoricError(Exception):
    """Base of every error a user can cause and fix (exit code 1 in the CLI)."""


class InputError(RhetoricError):
    """A file or record that cannot be read; the message names the file."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = str(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class IndexError_(RhetoricError):
    """An index folder that is missing, corrupt or built with another model."""


class ModelError(RhetoricError):
    """An embedding model that cannot be found or loaded."""
