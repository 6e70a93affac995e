"""Atomic file writes: a temporary file beside the target, then ``os.replace``.

Readers see the old file or the new one, whole, never a half-written one. Unlike
``tempfile.mkstemp`` (always mode 0600) the temporary file is created with the mode any new
file gets (0666 less the umask), so a report written for others to read stays readable.

Usage: ``write_bytes_atomic(Path("report.html"), data)``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def open_temp(folder: Path, prefix: str, suffix: str = ".tmp") -> tuple[int, Path]:
    """Create a new, empty file in ``folder`` (unique name, usual permissions): ``(fd, path)``."""
    while True:
        path = folder / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), path
        except FileExistsError:
            continue


def write_bytes_atomic(path: Path, data: bytes) -> int:
    """Write ``data`` to ``path`` atomically; return the bytes written."""
    fd, tmp = open_temp(path.parent, f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return len(data)
