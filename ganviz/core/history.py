"""The metric history of a run (a model: numpy only), and the one metrics CSV writer.

Per-iteration values arrive in chunks with every snapshot. Buffers grow by
doubling (amortised O(1) appends) up to ``limit`` points; past that, pairs of
points are averaged and later chunks are averaged in blocks of the new stride,
so memory stays bounded on a run of any length while the curve keeps its shape.
"""

from __future__ import annotations

import csv
from typing import IO

import numpy as np

from .config import METRIC_NAMES

#: Per-iteration series from ``Snapshot.history``.
STEP_SERIES = ("loss_d", "loss_g", "grad_norm_g", "grad_norm_d", "d_real", "d_fake")
#: Per-measurement series from ``Snapshot.metrics`` (one point per heavy refresh).
MEASURED_SERIES = ("js", "kl", "w1", "modes_captured", "modes_total", "high_quality",
                   "value", "value_opt")
#: Measured columns of the metrics files beyond the metric names of the config module.
EXTRA_NAMES = ("kl", "value", "value_opt")
#: Per-mode sample counts are measured columns ``mode_count_0``, ``mode_count_1``, ...
#: (in a session file; the metrics CSV keeps its fixed columns).
MODE_COUNT = "mode_count_"
#: Most per-mode rows kept; beyond it every other row is dropped (the raster's
#: columns are far fewer).
MODE_ROWS = 4096


class Series:
    """Columns of float values against a step axis, with bounded memory.

    Parameters
    ----------
    names : sequence of str
        Column names.
    limit : int
        Most points kept; beyond it the stride doubles (block means).
    """

    def __init__(self, names, limit: int = 1 << 18, capacity: int = 1024,
                 dtype=np.float32) -> None:
        self.names = tuple(names)
        self.limit = int(limit)
        self.dtype = np.dtype(dtype)
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty((len(self.names), capacity), dtype=self.dtype)
        self.n = 0
        self.stride = 1
        self._carry_x = np.empty(0)
        self._carry_y = np.empty((len(self.names), 0), dtype=self.dtype)

    def clear(self) -> None:
        """Forget every point."""
        self.__init__(self.names, self.limit, dtype=self.dtype)

    @property
    def x(self) -> np.ndarray:
        """The step axis (a view; valid until the next append)."""
        return self._x[: self.n]

    def y(self, name: str) -> np.ndarray:
        """The column ``name`` (a view; valid until the next append)."""
        return self._y[self.names.index(name), : self.n]

    def append(self, x, columns: dict) -> None:
        """Append points: ``x`` (n,) steps and ``columns[name]`` (n,) values."""
        x = np.asarray(x, dtype=np.float64).ravel()
        if not len(x):
            return
        y = np.empty((len(self.names), len(x)), dtype=self.dtype)
        for i, name in enumerate(self.names):
            col = columns.get(name)
            y[i] = np.nan if col is None else np.asarray(col, dtype=self.dtype).ravel()
        x = np.concatenate([self._carry_x, x])
        y = np.concatenate([self._carry_y, y], axis=1)
        while True:  # the stride at which this chunk fits under the limit
            s = self.stride
            whole = len(x) // s * s
            if self.n + whole // s <= self.limit or self.n < 2:
                break
            self._halve()
        self._carry_x, self._carry_y = x[whole:], y[:, whole:]
        if whole:  # block means: the last step of a block, the mean of its values
            x = x[:whole].reshape(-1, s)[:, -1]
            y = y[:, :whole].reshape(len(y), -1, s).mean(axis=2)
            self._put(x, y)

    def _put(self, x: np.ndarray, y: np.ndarray) -> None:
        need = self.n + len(x)
        if need > len(self._x):
            cap = max(need, 2 * len(self._x))
            self._x = np.resize(self._x, cap)
            grown = np.empty((len(self.names), cap), dtype=self.dtype)
            grown[:, : self.n] = self._y[:, : self.n]
            self._y = grown
        self._x[self.n:need] = x
        self._y[:, self.n:need] = y
        self.n = need

    def _halve(self) -> None:
        """Average pairs of stored points; the stride doubles."""
        n2 = self.n // 2
        odd = self.n % 2
        self._x[:n2] = self._x[1 : 2 * n2 : 2]
        self._y[:, :n2] = 0.5 * (self._y[:, 0 : 2 * n2 : 2] + self._y[:, 1 : 2 * n2 : 2])
        if odd:  # the last point stays alone
            self._x[n2] = self._x[self.n - 1]
            self._y[:, n2] = self._y[:, self.n - 1]
        self.n = n2 + odd
        self.stride *= 2

    @property
    def nbytes(self) -> int:
        return self._x.nbytes + self._y.nbytes


class History:
    """All histories of one run: per-iteration and per-measurement series."""

    def __init__(self, limit: int = 1 << 18) -> None:
        self.steps = Series(STEP_SERIES, limit=limit)
        # Measurements are float64 (nats to many digits); per-step scalars are float32 as trained.
        self.measured = Series(MEASURED_SERIES, limit=limit, dtype=np.float64)
        self.run_id = None
        self._fields_step = None
        #: What happened during the run, for the time series' markers: (step, short label).
        self.events: list[tuple[int, str]] = []
        #: Samples per mode at each measurement of a mixture target: (step, (m,) float64),
        #: the "Modes over time" raster's columns.
        self.modes: list[tuple[float, np.ndarray]] = []

    def clear(self) -> None:
        self.steps.clear()
        self.measured.clear()
        self._fields_step = None
        self.events = []
        self.modes = []

    def mark(self, step: int, label: str) -> None:
        """Record an event (a setting changed, a network frozen, ...) at iteration ``step``."""
        self.events = [*self.events, (int(step), str(label))]  # a new list: views compare by value

    def columns(self) -> tuple[dict, dict]:
        """(per-iteration, per-measurement) columns with their ``step``: copies, for a session file.

        The per-measurement columns include the samples per mode, ``mode_count_i``
        for mode i, NaN at a measurement without them.
        """
        measured = {"step": self.measured.x.copy(),
                    **{n: self.measured.y(n).astype(np.float64) for n in MEASURED_SERIES}}
        measured.update(_mode_columns(measured["step"], self.modes))
        return ({"step": self.steps.x.copy(), **{n: self.steps.y(n).astype(np.float64) for n in STEP_SERIES}},
                measured)

    def load(self, steps: dict, measured: dict, run_id=None) -> None:
        """Start run ``run_id`` from columns saved by :meth:`columns` (missing ones read as NaN)."""
        self.clear()
        self.run_id = run_id
        for series, columns in ((self.steps, steps), (self.measured, measured)):
            if len(columns.get("step", ())):
                series.append(columns["step"], columns)
        self.modes = _mode_rows(measured)

    def _keep_modes(self, step: int, counts) -> None:
        self.modes.append((float(step), np.asarray(counts, dtype=np.float64).copy()))
        if len(self.modes) > MODE_ROWS:
            self.modes = self.modes[::-1][::2][::-1]  # every other row, the latest kept

    def add(self, snap) -> None:
        """Append a snapshot's per-iteration history and, when fresh, its measurements."""
        if snap.run_id != self.run_id:
            self.clear()
            self.run_id = snap.run_id
        h = snap.history
        if h and len(h.get("step", ())):
            self.steps.append(h["step"], h)
        m = snap.metrics or {}
        if "js" in m and snap.fields_step != self._fields_step:
            self._fields_step = snap.fields_step
            self.measured.append([snap.fields_step], {k: [_num(m.get(k))] for k in MEASURED_SERIES})
            if getattr(snap, "mode_counts", None) is not None:
                self._keep_modes(snap.fields_step, snap.mode_counts)


def _mode_columns(steps: np.ndarray, modes: list) -> dict:
    """``mode_count_i`` columns aligned with the measured ``steps`` (NaN where a step has none)."""
    if not modes:
        return {}
    m = len(modes[-1][1])
    out = np.full((m, len(steps)), np.nan)
    for step, counts in modes:
        where = np.searchsorted(steps, step)
        if len(counts) == m and where < len(steps) and steps[where] == step:
            out[:, where] = counts
    return {f"{MODE_COUNT}{i}": out[i] for i in range(m)}


def _mode_rows(measured: dict) -> list:
    """The (step, counts) rows of saved ``mode_count_i`` columns (rows with every count finite)."""
    names = [k for k in measured if k.startswith(MODE_COUNT) and k[len(MODE_COUNT):].isdigit()]
    m = len(names)
    if not m or set(names) != {f"{MODE_COUNT}{i}" for i in range(m)}:
        return []
    counts = np.stack([np.asarray(measured[f"{MODE_COUNT}{i}"], dtype=np.float64) for i in range(m)], axis=1)
    steps = np.asarray(measured.get("step", ()), dtype=np.float64)
    if len(steps) != len(counts):
        return []
    ok = np.isfinite(counts).all(axis=1) & (counts >= 0).all(axis=1)
    return [(float(x), c.copy()) for x, c in zip(steps[ok], counts[ok])]


def measured_columns(snap) -> dict:
    """A snapshot's fresh measurements as one-row columns for :class:`MetricsCsv` (empty if none)."""
    m = snap.metrics or {}
    if "js" not in m or snap.fields_step != snap.step:
        return {}
    return {"step": np.array([snap.step]), **{k: np.array([_num(m.get(k))]) for k in MEASURED_SERIES}}


#: The columns of every metrics file, in order: the metric names, then the extras.
CSV_COLUMNS = METRIC_NAMES + EXTRA_NAMES


class MetricsCsv:
    """The metrics CSV: one row per recorded step, measured columns where measured.

    Per-iteration columns are written as the float32 values training
    produced (shortest text that reads back exactly), measured ones as
    float64; a column not measured at a row's step is an empty field, a
    diverged value stays ``inf`` or ``nan``. Rows can be written in chunks
    (a long headless run) or all at once (File > Export).

    Parameters
    ----------
    handle : text file
        Open for writing, ``newline=""``.
    lead : (str, str), optional
        A first column's name and this writer's value in it on every row: a
        comparison writes ``("variant", "loss=minimax")``, one writer per
        variant on the same file.
    header : bool
        Write the header row (the first of several writers on one file).
    """

    def __init__(self, handle: IO, lead: tuple[str, str] | None = None, header: bool = True) -> None:
        self._writer = csv.writer(handle)
        self._lead = lead
        if header:
            self._writer.writerow(((lead[0],) if lead else ()) + CSV_COLUMNS)
        self.rows = 0
        self.last_step = -1

    def write(self, steps: dict, measured: dict | None = None) -> int:
        """Write the rows of ``steps`` (``step`` and per-iteration columns) and ``measured``.

        Returns the number of rows written.
        """
        measured = measured or {}
        s_steps = np.asarray(steps.get("step", ()), dtype=np.int64)
        m_steps = np.asarray(measured.get("step", ()), dtype=np.int64)
        rows = np.union1d(s_steps, m_steps)
        rows = rows[rows > self.last_step]  # a step's row is written once, whole
        if not len(rows):
            return 0
        columns = {"step": rows.astype(str).tolist()}
        for source, own, dtype in ((steps, s_steps, np.float32), (measured, m_steps, np.float64)):
            new = own > self.last_step
            where = np.searchsorted(rows, own[new])
            for name in CSV_COLUMNS[1:]:
                if name in source and name not in columns:
                    text = np.full(len(rows), "", dtype=object)
                    text[where] = _texts(np.asarray(source[name], dtype=dtype)[new])
                    columns[name] = text.tolist()
        empty = [""] * len(rows)
        cols = [columns.get(n, empty) for n in CSV_COLUMNS]
        if self._lead is not None:
            cols.insert(0, [self._lead[1]] * len(rows))
        self._writer.writerows(zip(*cols))
        self.rows += len(rows)
        self.last_step = int(rows[-1])
        return len(rows)


def _texts(values: np.ndarray) -> np.ndarray:
    """Shortest round-trip text of each value (numpy's repr for the dtype, fast for long columns).

    NaN in a measured column means "not applicable" (a mode count of a
    target without modes): an empty field. Per-iteration NaN is a diverged
    value and stays ``nan``.
    """
    text = values.astype(str)
    if values.dtype == np.float64:
        text[np.isnan(values)] = ""
    return text


def _num(value) -> float:
    return np.nan if value is None else float(value)
