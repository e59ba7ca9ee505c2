"""Writing the user's files: atomically, keeping their mode, checked before a run.

Every file ganviz writes for the user (sessions, CSV tables, images,
recordings) goes through :func:`atomic_path`: the content goes to a temporary
file in the target's folder, which then replaces the target in one
``os.replace``. A failure (disk full, a crash, Ctrl+C) leaves the old file as
it was and no temporary file behind. The new file gets the mode of the file it
replaces, or the user's umask for a new one (``mkstemp`` alone would make every
file private, 0600). A read-only target is refused, not silently replaced.

:func:`check_writable` checks an output path before a run starts, so that a
mistyped folder is found in a second, not after an hour of training.
"""

from __future__ import annotations

import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


class FileError(OSError):
    """An output path that cannot be written; the message names it and why."""


def check_writable(path, what: str = "output file") -> Path:
    """Check that ``path`` can be written, creating nothing; return it as a Path.

    Accepted: a new file in an existing, writable folder, or an existing,
    writable regular file (which will be replaced).

    Parameters
    ----------
    path : str or Path
        The file a run will write at its end (``--save``, ``--csv``, ...).
    what : str
        How the message names it, e.g. ``"--save"``.

    Raises
    ------
    FileError
        One line naming ``path`` and the problem: a folder, a missing folder,
        a folder without write permission, a read-only file, not a regular file.
    """
    path = Path(path)
    target = Path(os.path.realpath(path))
    if target.is_dir():
        raise FileError(f"{what} {path} is a folder; give a file name")
    folder = target.parent
    if not folder.exists():
        raise FileError(f"{what} {path}: the folder {path.parent} does not exist")
    if not folder.is_dir():
        raise FileError(f"{what} {path}: {path.parent} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise FileError(f"{what} {path}: no permission to write in the folder {path.parent}")
    if target.exists():
        st = target.stat()
        if not stat.S_ISREG(st.st_mode):
            raise FileError(f"{what} {path} is not a regular file; give a file name")
        if not _writable(target, st):
            raise FileError(f"{what} {path} is read-only; make it writable or choose another name")
    return path


@contextmanager
def atomic_path(path, what: str = "file") -> Iterator[Path]:
    """A temporary path beside ``path``; on success it replaces ``path`` atomically.

    For writers that want a file name, not a handle (Pillow, ffmpeg): the
    temporary name ends with ``path``'s suffix, so a writer that picks its
    format by suffix picks the same one. On any exception the temporary file
    is removed and ``path`` is left as it was.

    Raises
    ------
    FileError
        Before anything is written, when :func:`check_writable` refuses ``path``.
    """
    path = check_writable(path, what)
    target = Path(os.path.realpath(path))  # write through a link, do not replace it
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{target.suffix}",
                               dir=target.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_open(path, mode: str = "w", what: str = "file", **kwargs):
    """``open(path, mode, **kwargs)`` on a temporary file that replaces ``path`` on success.

    ``mode`` is ``"w"`` or ``"wb"``; ``kwargs`` go to :func:`open` (encoding, newline).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes a whole file: mode 'w' or 'wb', got {mode!r}")
    if mode == "w":
        kwargs.setdefault("encoding", "utf-8")
    with atomic_path(path, what) as tmp:
        with open(tmp, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())  # the bytes are on disk before the name points at them


def write_atomic(path, data: bytes | str, what: str = "file") -> None:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_open(path, "wb", what) as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)


def _writable(path: Path, st: os.stat_result) -> bool:
    """Writable by this user, and not marked read-only (root passes ``os.access`` regardless)."""
    return os.access(path, os.W_OK) and bool(st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but brief)
    os.umask(mask)
    return mask
