"""Loaded targets: a set of points, ``points:PATH`` (torch-free).

A point set is read from a CSV or text file (one point a row; comma or
whitespace between the 1 or 2 columns; an optional header line; ``#``
comments) or an NPY file of shape (n,), (n, 1) or (n, 2). Its target is the
Gaussian kernel density estimate of the points (:mod:`ganviz.core.data`).

The config keeps ``data`` as text: ``points:SOURCE#DIGEST``, where SOURCE is
the path as given (or ``inline`` for a preset's own list, ``drawn`` for a
drawing) and DIGEST the first 16 hex digits of the SHA-256 of the points
(float64). Points are found by their digest, in order: this process's store,
the on-disk store (so a training process started with ``spawn`` finds what the
window registered), then the file at SOURCE, whose digest must match. A
session carries its points, so it reopens with the same target bit for bit
even if the file has moved or changed. The on-disk store is bounded
(:func:`prune_store`): past STORE_BYTES, the files used longest ago go.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import ConfigError
from .files import atomic_open

PREFIX = "points:"
#: The most rows a points file may hold; a larger file is refused (subsample it first):
#: the kernel estimate is evaluated against every point, and the user's data are never
#: silently thinned.
MAX_POINTS = 1_000_000
#: The fewest points accepted: the bandwidth rule estimates each axis's spread from them.
MIN_POINTS = 10
#: The largest points file read, bytes (a million rows of two 17-digit numbers is ~40 MB).
MAX_BYTES = 256 * 2**20
#: Sources that name no file: a preset's inline list, a drawing in the window.
INLINE_SOURCES = ("inline", "drawn")
ACCEPTED = "a CSV or whitespace-separated text file, or an NPY file, of 1 or 2 numeric columns"
#: The on-disk store's bound, bytes: past it the files used longest ago are deleted
#: (about 16 of the largest point sets; thousands of drawn ones).
STORE_BYTES = 256 * 2**20
#: A stored file used less than this long ago (seconds) is never deleted: another
#: process (a window's training process) may be about to read it.
STORE_GRACE = 3600.0
_STORED = re.compile(r"^[0-9a-f]{16}\.npy$")

_DIGEST = re.compile(r"#([0-9a-f]{16})$")
#: How the density is made of the points, written after them: ``@kde`` (default), ``@gmm``, ``@gmm:K``.
_FIT = re.compile(r"@([A-Za-z]+(?::\S*)?)$")
FITS = ("@kde (kernel estimate, Scott's rule: the default), @kde:H (kernel std H), @gmm "
        "(Gaussian mixture, components by BIC) or @gmm:K")


@dataclass(frozen=True)
class PointSet:
    """Points of a loaded target.

    Attributes
    ----------
    points : ndarray
        (n, dim) float64, read-only, finite; MIN_POINTS <= n <= MAX_POINTS.
    source : str
        The path as given, or one of INLINE_SOURCES.
    digest : str
        16 hex digits identifying the points.
    fit : str
        The density made of them: ``kde`` (the kernel estimate, Scott's rule),
        ``kde:H`` (a kernel of std H data units on every axis), ``gmm`` (a
        Gaussian mixture, components chosen by BIC) or ``gmm:K``.
    """

    points: np.ndarray
    source: str
    digest: str
    fit: str = "kde"

    @property
    def dim(self) -> int:
        return self.points.shape[1]

    @property
    def bandwidth(self) -> np.ndarray:
        """(dim,) float64 kernel std per axis, data units: Scott's rule, s_j n^(-1/(dim+4)),
        or the H of ``kde:H``."""
        return bandwidth(self.points, self.fixed_bandwidth)

    @property
    def fixed_bandwidth(self) -> float | None:
        """H of a ``kde:H`` fit, else None."""
        return float(self.fit[4:]) if self.fit.startswith("kde:") else None

    @property
    def extent(self) -> tuple[tuple[float, float], ...]:
        """The view per axis: the points, plus 4 kernel widths and 5 % of their range each side."""
        return view_extent(self.points, self.fixed_bandwidth)

    @property
    def data(self) -> str:
        """The config's ``data`` text for this point set."""
        suffix = "" if self.fit == "kde" else f"@{self.fit}"
        return f"{PREFIX}{self.source}#{self.digest}{suffix}"

    @property
    def fit_k(self) -> int | None:
        """The components of a ``gmm:K`` fit; None for ``gmm`` (chosen by BIC) or a kernel."""
        return int(self.fit[4:]) if self.fit.startswith("gmm:") else None


_store: dict[str, np.ndarray] = {}  # digest -> points, this process
_file_cache: dict[tuple, PointSet] = {}  # (real path, mtime_ns, size) -> PointSet


#: View grid points per axis (the Yardstick's defaults) ...
GRID_POINTS = {1: 512, 2: 100}
#: ... and the most kernel widths a cell may span: Riemann sums of a Gaussian of
#: std half a cell are off by < 2 %, so p_data on the grid keeps its shape and mass.
MAX_CELL_PER_BANDWIDTH = 2.0


def bandwidth(points: np.ndarray, fixed: float | None = None) -> np.ndarray:
    """Scott's rule per axis: h_j = s_j n^(-1/(d+4)), s_j the sample std (ddof 1); (d,) float64.

    The normal-reference rule, one formula in 1-D and 2-D (scipy's
    ``gaussian_kde`` default factor); per axis, so the kernel is a product and
    sampling adds independent noise per axis. ``fixed``: that std on every
    axis instead (``@kde:H``; a drawing's own scale: Scott's rule, made for
    one Gaussian bump, blurs a drawn shape into a blob).
    """
    n, d = points.shape
    if fixed is not None:
        return np.full(d, float(fixed))
    return points.std(axis=0, ddof=1) * n ** (-1.0 / (d + 4))


def view_extent(points: np.ndarray, fixed: float | None = None) -> tuple[tuple[float, float], ...]:
    """Per axis (lo, hi): the points, plus 4 kernel widths and 5 % of their range each side."""
    h = bandwidth(points, fixed)
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = 4 * h + 0.05 * (hi - lo)
    return tuple((float(a - p), float(b + p)) for a, b, p in zip(lo, hi, pad))


def digest_of(points: np.ndarray) -> str:
    """16 hex digits of the SHA-256 of (n, dim) float64 points and their shape."""
    a = np.ascontiguousarray(points, dtype="<f8")
    h = hashlib.sha256(f"ganviz-points {a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()[:16]


def store_dir() -> Path:
    """The on-disk store: ``$GANVIZ_CACHE/points``, else the user's cache folder.

    Falls back to the temporary folder when there is no home folder.
    """
    root = os.environ.get("GANVIZ_CACHE")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or (
            os.path.join(os.path.expanduser("~"), ".cache") if os.path.expanduser("~") != "~"
            else tempfile.gettempdir())
        root = os.path.join(base, "ganviz")
    return Path(root) / "points"


def register_points(points, source: str) -> PointSet:
    """Check ``points`` and keep them where every process finds them by digest.

    Parameters
    ----------
    points : array_like
        (n,) or (n, d) numbers, d 1 or 2, data units.
    source : str
        The path they came from, or ``"inline"`` / ``"drawn"``.

    Returns
    -------
    PointSet
        Its ``data`` is the config text that names these points.

    Raises
    ------
    ConfigError
        Not numbers, not finite, 0 or more than 2 columns, fewer than
        MIN_POINTS or more than MAX_POINTS points, or no spread along an axis.
    """
    where = "inline points" if source in INLINE_SOURCES else f"points file {source}"
    a = _checked(points, where)
    a.flags.writeable = False
    digest = digest_of(a)
    if digest not in _store:
        _store[digest] = a
        _save_to_store(a, digest)
    else:
        _mark_used(digest)
    return PointSet(_store[digest], source, digest)


def _checked(points, where: str) -> np.ndarray:
    try:
        a = np.array(points, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{where} are not all numbers; accepted: {ACCEPTED}") from None
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ConfigError(f"{where} have shape {a.shape}; accepted: (n,), (n, 1) or (n, 2)")
    n, d = a.shape
    if n == 0 or d == 0:
        raise ConfigError(f"{where} hold no points; accepted: {ACCEPTED}")
    if d > 2:
        raise ConfigError(f"{where} have {d} columns; accepted: 1 (x) or 2 (x, y)")
    bad = ~np.isfinite(a).all(axis=1)
    if bad.any():
        raise ConfigError(f"{where}: point {int(np.argmax(bad)) + 1} is NaN or infinite; "
                          "accepted: finite numbers")
    if n < MIN_POINTS:
        raise ConfigError(f"{where} hold {n} point{'s' if n != 1 else ''}; the kernel density "
                          f"estimate needs at least {MIN_POINTS}")
    if n > MAX_POINTS:
        raise ConfigError(f"{where} hold {n:,} points; the most accepted is {MAX_POINTS:,} "
                          "(subsample them first)")
    if np.abs(a).max() > 1e15:
        raise ConfigError(f"{where} hold numbers above 1e15 in size; accepted: finite numbers "
                          "up to 1e15")
    flat = [("x", "y")[j] for j in range(d) if a[:, j].std() == 0]
    if flat:
        raise ConfigError(f"{where} do not vary along {flat[0]}: a kernel density estimate "
                          "needs a spread along every axis")
    check_resolution(a, where)
    return a


def check_resolution(a: np.ndarray, where: str, fixed: float | None = None) -> None:
    """ConfigError when the view grid cannot resolve the kernel of these points."""
    d = a.shape[1]
    h = bandwidth(a, fixed)
    cells = GRID_POINTS[d] - 1
    for j, (lo, hi) in enumerate(view_extent(a, fixed)):
        if (hi - lo) / cells > MAX_CELL_PER_BANDWIDTH * h[j]:
            raise ConfigError(
                f"{where}: the kernel along {'xy'[j]} is {h[j]:.3g} wide but the points spread "
                f"over {hi - lo:.4g}: the view grid's {cells} cells cannot resolve it (at most "
                f"{MAX_CELL_PER_BANDWIDTH * cells:g} kernel widths); "
                + ("give a wider kernel" if fixed is not None else "remove far outliers"))


def _save_to_store(a: np.ndarray, digest: str) -> None:
    """Write the points to the on-disk store; a store that cannot be written is not an error here
    (this process keeps them; another process then reads the source file or says it cannot)."""
    path = store_dir() / f"{digest}.npy"
    if path.exists():
        _mark_used(digest)
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path, "wb", what="points store") as f:
            np.save(f, a, allow_pickle=False)
    except OSError:
        return
    prune_store()


def _mark_used(digest: str) -> None:
    """Record a use of a stored file (its modification time): pruning deletes the least recent.

    Points this process holds whose file is gone (another process pruned it) are
    written again, so a training process started for them finds them.
    """
    try:
        os.utime(store_dir() / f"{digest}.npy")
    except FileNotFoundError:
        if digest in _store:
            _save_to_store(_store[digest], digest)
    except OSError:
        pass


def prune_store(limit: int | None = None, now: float | None = None) -> list[str]:
    """Bound the on-disk store: delete the files used longest ago until it holds ``limit`` bytes.

    A file is never deleted when this process holds its points (a run, a
    session or a preset being opened needs them) or when it was used less
    than STORE_GRACE seconds ago (another process may be about to read it);
    a deleted file is written again when its points are next registered (a
    session carries its points). Only the store's own ``DIGEST.npy`` files
    are touched; a store that cannot be listed is left as it is.

    Parameters
    ----------
    limit : int, optional
        Bytes to keep (default STORE_BYTES).
    now : float, optional
        The current time, seconds since the epoch (default: the clock).

    Returns
    -------
    list of str
        The digests deleted, least recently used first.
    """
    import time

    limit = STORE_BYTES if limit is None else int(limit)
    now = time.time() if now is None else float(now)
    try:
        entries = []
        with os.scandir(store_dir()) as it:
            for entry in it:
                if _STORED.match(entry.name) and entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    entries.append((st.st_mtime, st.st_size, entry.name[:16], entry.path))
    except OSError:
        return []
    total = sum(size for _, size, _, _ in entries)
    deleted = []
    for mtime, size, digest, path in sorted(entries):  # least recently used first
        if total <= limit:
            break
        if digest in _store or now - mtime < STORE_GRACE:
            continue
        try:
            os.unlink(path)
        except OSError:
            continue
        total -= size
        deleted.append(digest)
    return deleted


def _from_store(digest: str) -> np.ndarray | None:
    if digest in _store:
        _mark_used(digest)
        return _store[digest]
    path = store_dir() / f"{digest}.npy"
    try:
        a = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or digest_of(a) != digest:  # damaged: ignore it
        return None
    a.flags.writeable = False
    _store[digest] = a
    _mark_used(digest)
    return a


def split_fit(data: str) -> tuple[str, str]:
    """(the ``points:`` text without its fit, the fit: ``kde``, ``kde:H``, ``gmm`` or ``gmm:K``)."""
    m = _FIT.search(data.strip())
    if m is None:
        return data.strip(), "kde"
    fit = m.group(1).lower()
    name, _, k = fit.partition(":")
    if name == "kde" and not k:
        pass
    elif name == "kde":
        try:
            h = float(k)
        except ValueError:
            h = math.nan
        if not (math.isfinite(h) and 0 < h <= 1e15):
            raise ConfigError(f"@kde:{k}: the kernel std must be a number > 0; accepted: {FITS}")
        fit = f"kde:{_short(h)}"
    elif name == "gmm" and (not k or (k.isdigit() and 1 <= int(k) <= 100)):
        fit = f"gmm:{int(k)}" if k else "gmm"
    else:
        raise ConfigError(f"unknown fit @{m.group(1)} of points; accepted: {FITS} (K 1 to 100)")
    return data.strip()[: m.start()], fit


def split_data(data: str) -> tuple[str, str | None]:
    """(source, digest or None) of a ``points:`` text (a fit, ``@...``, is left off)."""
    body = split_fit(data)[0][len(PREFIX):].strip()
    m = _DIGEST.search(body)
    return (body[: m.start()], m.group(1)) if m else (body, None)


def resolve_points(data: str) -> PointSet:
    """The point set a ``points:SOURCE[#DIGEST][@FIT]`` text names; ConfigError if it cannot be had.

    Without a digest the file SOURCE is read (once per path, modification time
    and size). With one, the stored points are used, or the file if its points
    still have that digest.
    """
    fit = split_fit(data)[1]
    found = _resolve(data)
    if fit == "kde":
        return found
    found = PointSet(found.points, found.source, found.digest, fit)
    if found.fixed_bandwidth is not None:
        where = ("inline points" if found.source in INLINE_SOURCES
                 else f"points file {found.source}")
        check_resolution(found.points, where, found.fixed_bandwidth)
    return found


def _short(x: float) -> str:
    """Shortest text that reads back as ``x``, without a trailing ``.0``."""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def _resolve(data: str) -> PointSet:
    source, digest = split_data(data)
    if not source:
        raise ConfigError(f"points: needs a file, e.g. points:data.csv; accepted: {ACCEPTED}")
    if digest is not None:
        a = _from_store(digest)
        if a is not None:
            return PointSet(a, source, digest)
    if source in INLINE_SOURCES:
        if digest is None:
            raise ConfigError(f"points:{source} is written in a preset file beside a \"points\" "
                              "list; on the command line give points:PATH")
        raise ConfigError(f"the {source} points #{digest} are not at hand: they come with the "
                          "session or preset that holds them")
    found = load_points(source)
    if digest is not None and found.digest != digest:
        raise ConfigError(f"points file {source} has changed since this target was made "
                          f"(#{digest}, now #{found.digest}); load it again as points:{source}")
    return found


def load_points(path) -> PointSet:
    """Read a points file (once per path, modification time and size) and register its points.

    Raises
    ------
    ConfigError
        One line naming the file, the problem and what is accepted.
    """
    source = str(path)
    try:
        st = os.stat(source)
    except OSError as exc:
        raise ConfigError(f"cannot read points file {source}: {exc.strerror or exc}; "
                          f"accepted: {ACCEPTED}") from None
    key = (os.path.realpath(source), st.st_mtime_ns, st.st_size)
    if key not in _file_cache:
        _file_cache[key] = register_points(read_points(source), source)
    found = _file_cache[key]
    return found if found.source == source else PointSet(found.points, source, found.digest)


def read_points(path) -> np.ndarray:
    """The numbers in a points file, (n, d) float64; the checks of :func:`register_points` follow.

    NPY is recognised by its magic bytes, anything else is read as text: an
    optional header (a first line that is not all numbers), then rows of 1 or 2
    numbers separated by commas or whitespace; ``#`` starts a comment.
    """
    source = str(path)
    try:
        if os.path.isdir(source):
            raise ConfigError(f"points file {source} is a folder; accepted: {ACCEPTED}")
        size = os.path.getsize(source)
        if size > MAX_BYTES:
            raise ConfigError(f"points file {source} is {size / 2**20:,.0f} MB; the largest "
                              f"accepted is {MAX_BYTES // 2**20} MB ({MAX_POINTS:,} points)")
        with open(source, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read points file {source}: {exc.strerror or exc}; "
                          f"accepted: {ACCEPTED}") from None
    if raw.startswith(b"\x93NUMPY"):
        return _read_npy(raw, source)
    return _read_text(raw, source)


def _read_npy(raw: bytes, source: str) -> np.ndarray:
    try:
        buf = io.BytesIO(raw)
        version = np.lib.format.read_magic(buf)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(buf)
    except (ValueError, OSError, SyntaxError) as exc:
        raise ConfigError(f"points file {source} is a damaged NPY file ({exc})") from None
    if dtype.kind not in "iuf":
        raise ConfigError(f"points file {source} holds {dtype} values; accepted: {ACCEPTED}")
    if len(shape) not in (1, 2):
        raise ConfigError(f"points file {source} holds an array of shape {shape}; "
                          "accepted: (n,), (n, 1) or (n, 2)")
    if shape[0] > MAX_POINTS:  # before reading them
        raise ConfigError(f"points file {source} holds {shape[0]:,} points; the most accepted "
                          f"is {MAX_POINTS:,} (subsample them first)")
    try:
        a = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ConfigError(f"points file {source} is a damaged NPY file ({exc})") from None
    return np.asarray(a, dtype=np.float64)


def _read_text(raw: bytes, source: str) -> np.ndarray:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"points file {source} is not text (byte {exc.start}); "
                          f"accepted: {ACCEPTED}") from None
    lines = [(k + 1, line.split("#", 1)[0].strip()) for k, line in enumerate(text.splitlines())]
    lines = [(k, line) for k, line in lines if line]
    if lines and not _all_numbers(_fields(lines[0][1])):
        lines = lines[1:]  # a header
    if not lines:
        raise ConfigError(f"points file {source} holds no points; accepted: {ACCEPTED}")
    if len(lines) > MAX_POINTS:
        raise ConfigError(f"points file {source} has {len(lines):,} rows; the most accepted "
                          f"is {MAX_POINTS:,} (subsample it first)")
    width = len(_fields(lines[0][1]))
    if width > 2:
        raise ConfigError(f"points file {source} has {width} columns; accepted: 1 (x) or 2 (x, y)")
    rows = []
    for k, line in lines:
        fields = _fields(line)
        if len(fields) != width:
            raise ConfigError(f"points file {source}, line {k}: {len(fields)} column"
                              f"{'s' if len(fields) != 1 else ''} where the first row has "
                              f"{width}; accepted: {ACCEPTED}")
        try:
            rows.append([float(v) for v in fields])
        except ValueError:
            raise ConfigError(f"points file {source}, line {k}: {line[:40]!r} is not numbers; "
                              f"accepted: {ACCEPTED}") from None
    return np.asarray(rows, dtype=np.float64)


def _fields(line: str) -> list[str]:
    return [f.strip() for f in line.split(",")] if "," in line else line.split()


def _all_numbers(fields: list[str]) -> bool:
    try:
        [float(f) for f in fields]
    except ValueError:
        return False
    return True


def export_points_csv(path, points, comment: str = "") -> None:
    """Write points as a CSV (header ``x`` or ``x,y``) that reads back bit for bit.

    Parameters
    ----------
    path : str or Path
        Destination; written atomically (:func:`ganviz.core.files.atomic_open`).
    points : array_like
        (n,) or (n, d) float64, d 1 or 2 (e.g. ``PointSet.points``).
    comment : str
        Lines written first, each after ``# `` (read back as comments): e.g. the
        ``mixture:`` spec the points were sampled from.
    """
    a = np.asarray(points, dtype=np.float64)
    a = a[:, None] if a.ndim == 1 else a
    with atomic_open(path, "w", what="points file") as f:
        for line in comment.splitlines():
            f.write(f"# {line}\n")
        f.write(",".join(("x", "y")[: a.shape[1]]) + "\n")
        for row in a:
            f.write(",".join(repr(float(v)) for v in row) + "\n")


#: Points a drawn 1-D curve becomes.
HISTOGRAM_POINTS = 4000


def points_from_histogram(edges, heights, n: int = HISTOGRAM_POINTS) -> np.ndarray:
    """Points at ``n`` evenly spaced quantiles of a piecewise-constant density.

    The density is proportional to ``heights[i]`` on ``[edges[i], edges[i+1])``
    (a curve drawn as bins). The points are its inverse CDF at (j + 1/2) / n:
    deterministic, and the histogram of them is the drawn one to within one
    point per bin (no sampling noise).

    Parameters
    ----------
    edges : array_like
        (m + 1,) increasing, data units.
    heights : array_like
        (m,) >= 0, any scale; at least one positive.
    n : int
        Points to make.

    Returns
    -------
    ndarray
        (n, 1) float64, sorted.

    Raises
    ------
    ConfigError
        No positive height, or edges that do not increase.
    """
    e = np.asarray(edges, dtype=np.float64)
    h = np.clip(np.nan_to_num(np.asarray(heights, dtype=np.float64)), 0.0, None)
    if len(e) != len(h) + 1 or not np.all(np.diff(e) > 0):
        raise ConfigError("a drawn curve needs increasing bin edges, one more than its heights")
    mass = h * np.diff(e)
    if not mass.sum() > 0:
        raise ConfigError("the drawn curve is zero everywhere: draw some height first")
    cdf = np.concatenate([[0.0], np.cumsum(mass) / mass.sum()])
    u = (np.arange(n) + 0.5) / n
    # Linear inside each bin; bins of zero mass are never landed in.
    return np.interp(u, cdf, e)[:, None]
