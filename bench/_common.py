"""Helpers shared by the benchmark scripts (run them as ``python bench/NAME.py``).

Importing this module puts the checkout on ``sys.path``, so the scripts run without installing.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rhetoric.index import write_json_atomic  # noqa: E402,F401 - shared with the index's manifest


def version(module: str) -> str | None:
    """A module's ``__version__``, or None when it is not installed."""
    try:
        return str(__import__(module).__version__)
    except ImportError:
        return None


def environment(**extra: Any) -> dict[str, Any]:
    """Where a benchmark ran: Python, CPUs, load, date and commit, plus ``extra``."""
    try:
        commit: str | None = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
            timeout=10, check=True,
        ).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_commit": commit,
        **extra,
    }


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (ru_maxrss is KiB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def rss_mib() -> float:
    """Resident memory of this process now."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0
