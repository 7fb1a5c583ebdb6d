"""The commit a benchmark measured, for the figures it prints (one copy for every program in bench/)."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def git_commit(mark_dirty: bool = False, ignore: tuple[str, ...] = ()) -> str:
    """``git rev-parse --short HEAD`` (``"unknown"`` outside a checkout); with ``mark_dirty``, `` dirty``
    appended when the tree has changes other than the paths in ``ignore`` (files the run writes itself)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, cwd=REPO, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        changed = mark_dirty and git("status", "--porcelain", "--", ".", *(f":!{p}" for p in ignore))
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" dirty" if changed else "")
