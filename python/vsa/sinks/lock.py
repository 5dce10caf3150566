"""The writer lock of an output root: one process at a time writes the tables under it.

A table has one writer (its log's batch ids are the job's); the streaming job, ``vsa batch``
and ``vsa rollup`` each hold ``<output_root>/_vsa.lock`` while they write. It is an OS advisory
lock (``flock``): the OS releases it when the process ends, however it ends (``kill -9``
included), so no stale lock is left to clean up. An output root that is not a local path (S3,
HDFS, ...) has no OS lock: there one must stop the job before ``vsa rollup``.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from urllib.parse import urlparse

from vsa.config import VsaConfig

LOCK_NAME = "_vsa.lock"

# The locks this process holds (lock file → descriptor): kept until the process ends.
_held: dict[Path, int] = {}


class TablesBusy(RuntimeError):
    """Another process writes the tables of the output root."""


def lock_path(config: VsaConfig) -> Path | None:
    """The lock file of ``config.output_root``; None for a root that is not a local path."""
    root = config.output_root
    url = urlparse(root)
    if url.scheme == "file":
        return Path(url.path) / LOCK_NAME
    if "://" in root:
        return None
    return Path(root).resolve() / LOCK_NAME


def hold_writer_lock(config: VsaConfig) -> None:
    """Takes the writer lock of ``config.output_root`` for this process, which holds it until
    it ends (again: nothing). :class:`TablesBusy` names the process that holds it."""
    path = lock_path(config)
    if path is None or path in _held:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise TablesBusy(
            f"another vsa process (pid {holder}) writes the tables under {config.output_root} "
            f"(it holds {path}): stop it first; a table has one writer"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _held[path] = fd
