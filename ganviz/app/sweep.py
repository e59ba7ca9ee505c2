"""File > Open sweep: a sweep's phase diagram in a window of its own.

The window reads a sweep's folder (or its results.csv) without changing
it (:func:`ganviz.sweep.results.open_folder`), draws the chosen metric's
mean over seeds on the first two axes (:class:`~ganviz.views.phase.PhaseView`),
says under the mouse what a cell holds (the mean, its standard error, each
seed's value, how many diverged), and on a click offers the cell's runs:
each opens in the main window as a live run of that config and seed, as a
preset with ``--set`` changes would. A folder that is not a sweep's, or a
file in it that cannot be read, is one message, and nothing is changed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QMenu, QVBoxLayout, QWidget

from ganviz.core.variants import MAX_SEEDS_WINDOW
from ganviz.sweep.cli import MIXTURES
from ganviz.sweep.phase import HIGHER_IS_BETTER, Cell, cells
from ganviz.sweep.results import METRICS, open_folder
from ganviz.sweep.spec import Row, SweepError, value_text
from ganviz.views.phase import PhaseView

#: Metrics that are not a run's outcome (every row has the same value).
NOT_SHOWN = frozenset({"step", "modes_total"})


def metric_columns(done: dict) -> list[str]:
    """The results' metric columns with a number in at least one row, in results.csv's order."""
    out = []
    for name in METRICS:
        if name in NOT_SHOWN:
            continue
        for fields in done.values():
            try:
                if math.isfinite(float(fields.get(name) or "nan")):
                    out.append(name)
                    break
            except ValueError:
                continue
    return out


def run_label(row: Row, shown: int) -> str:
    """A run of a cell: its seed, and the values of the axes the cell averages over."""
    rest = ", ".join(f"{k}={value_text(v)}" for k, v in row.point[shown:])
    return f"seed {row.seed}" + (f" ({rest})" if rest else "")


def hover_text(cell: Cell, metric: str, shown: int) -> str:
    """What a cell holds, over its runs: mean, standard error, each run's value, the diverged."""
    where = ", ".join(f"{k} = {value_text(v)}" for k, v in cell.point)
    finished = cell.runs - cell.diverged
    if math.isfinite(cell.mean):
        se = f" \u00b1 {cell.se:.3g} (s.e.)" if math.isfinite(cell.se) else ""
        head = f"{metric}: mean {cell.mean:.4g}{se} over {finished} run{'s' * (finished != 1)}"
    else:
        head = f"{metric}: no finished run"
    head += f"; {cell.diverged} of {cell.runs} diverged"
    each = []
    for row, value, diverged in cell.seeds:
        text = "diverged" if diverged else (f"{value:.4g}" if math.isfinite(value) else "undefined")
        each.append(f"{run_label(row, shown)}: {text}")
    return "\n".join([where, head, "   ".join(each)])


class SweepWindow(QWidget):
    """A sweep's phase diagram, a metric menu, the hovered cell's numbers; a click opens a run.

    Parameters
    ----------
    opener : callable, optional
        ``opener(config, preset, note)``: open a run in the main window.
    """

    def __init__(self, opener: Callable | None = None, parent=None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.opener = opener
        self.setWindowTitle("ganviz: sweep")
        self.resize(1000, 780)
        self.sweep = self.results = None
        self.folder: Path | None = None
        self.view = PhaseView()
        self.metric_box = QComboBox()  # not "metric": QWidget.metric() is a virtual of Qt's
        self.metric_box.setToolTip("The results' metric the diagram shows")
        self.metric_box.currentTextChanged.connect(self.redraw)
        self.about = QLabel()
        self.about.setWordWrap(True)
        self.info = QLabel("Hover over a cell for its numbers; click it to open a run.")
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info.setMinimumHeight(64)
        self.info.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.menu: QMenu | None = None
        top = QHBoxLayout()
        top.addWidget(QLabel("Metric:"))
        top.addWidget(self.metric_box)
        top.addWidget(self.about, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.info)
        self.view.hovered.connect(self.on_hover)
        self.view.clicked.connect(self.on_click)

    @property
    def shown(self) -> int:
        return min(2, len(self.sweep.keys)) if self.sweep is not None else 0

    def open(self, path) -> None:
        """Read the sweep at ``path`` (a folder or its results.csv) and draw it.

        Raises SweepError (one line) when it is not a readable sweep; the
        window then keeps what it showed.
        """
        sweep, results, _preset = open_folder(Path(path))
        names = metric_columns(results.done)
        if not names:
            raise SweepError(f"{results.path} holds no finished row yet")
        self.sweep, self.results, self.folder = sweep, results, results.folder
        # the command line's default picture: modes captured on a mixture, else JS
        default = "modes_captured" if sweep.base.data in MIXTURES else "js"
        default = default if default in names else names[0]
        self.metric_box.blockSignals(True)
        self.metric_box.clear()
        self.metric_box.addItems(names)
        self.metric_box.setCurrentText(default)
        self.metric_box.blockSignals(False)
        self.setWindowTitle(f"ganviz: sweep {self.folder}")
        axes = ", ".join(a.key for a in sweep.axes)
        self.about.setText(f"{sweep.preset or 'sweep'}: {len(results.done)} of {len(sweep.rows)} "
                           f"runs done; axes {axes}; {sweep.seeds} seed"
                           f"{'s' * (sweep.seeds != 1)}; {sweep.steps:,} steps per run")
        self.redraw()

    def redraw(self, *_args) -> None:
        if self.sweep is None or not self.metric_box.currentText():
            return
        metric = self.metric_box.currentText()
        rest = self.sweep.axes[2:]
        over = f"mean over {self.sweep.seeds} seed{'s' * (self.sweep.seeds != 1)}"
        if rest:
            over += " and " + ", ".join(a.key for a in rest)
        better = "higher" if metric in HIGHER_IS_BETTER else "lower"
        self.view.show_cells(self.sweep.axes, cells(self.sweep, self.results.done, metric),
                             metric, f"{metric} ({better} is better): {over}")

    def on_hover(self, cell: Cell | None) -> None:
        if cell is not None:
            self.info.setText(hover_text(cell, self.metric_box.currentText(), self.shown))

    def cell_menu(self, cell: Cell) -> QMenu:
        """A menu of the cell's runs: each opens as a live run in the main window."""
        menu = QMenu(self)
        metric = self.metric_box.currentText()
        for row, value, diverged in cell.seeds:
            text = "diverged" if diverged else f"{metric} {value:.4g}"
            act = menu.addAction(f"Open {run_label(row, self.shown)} as a live run ({text})")
            act.triggered.connect(lambda _=False, r=row: self.open_row(r))
            act.setEnabled(self.opener is not None)
        if len(cell.seeds) >= 2:
            n = min(len(cell.seeds), MAX_SEEDS_WINDOW)
            more = f", the first {n} of {len(cell.seeds)}" if n < len(cell.seeds) else ""
            act = menu.addAction(f"Open its seeds as a comparison ({n} seeds{more})")
            act.triggered.connect(lambda _=False, c=cell: self.open_seeds(c))
            act.setEnabled(self.opener is not None)
        return menu

    def on_click(self, cell: Cell, where) -> None:
        self.menu = self.cell_menu(cell)
        self.menu.popup(QPoint(int(where.x()), int(where.y())))

    def open_row(self, row: Row) -> None:
        """Open ``row``'s config and seed as a live run in the main window."""
        if self.opener is None:
            return
        where = ", ".join(f"{k}={value_text(v)}" for k, v in row.point)
        note = (f"From the sweep {self.folder}: {where}, seed {row.seed} (the sweep trained it "
                f"{self.sweep.steps:,} steps).")
        self.opener(row.config, self.sweep.preset, note)

    def open_seeds(self, cell: Cell) -> None:
        """Open ``cell``'s config with its seeds (at most 8) as a comparison in the main window."""
        if self.opener is None:
            return
        seeds = [row.seed for row, _, _ in cell.seeds][:MAX_SEEDS_WINDOW]
        where = ", ".join(f"{k}={value_text(v)}" for k, v in cell.point)
        note = (f"From the sweep {self.folder}: {where}, seeds {seeds[0]}-{seeds[-1]} side by side "
                f"(the sweep trained each {self.sweep.steps:,} steps).")
        self.opener(cell.seeds[0][0].config, self.sweep.preset, note,
                    compare="seed=" + ",".join(str(s) for s in seeds))


def open_sweep_window(parent, path) -> SweepWindow | None:
    """Show the sweep at ``path`` in a window beside ``parent`` (the main window).

    A bad folder is one message in ``parent`` (``show_message``), and no window opens.
    """
    window = SweepWindow(opener=getattr(parent, "open_config", None), parent=parent)
    try:
        window.open(path)
    except SweepError as exc:
        window.deleteLater()
        parent.show_message("error", f"Could not open the sweep: {exc}")
        return None
    parent._sweep_windows = [w for w in getattr(parent, "_sweep_windows", []) if w.isVisible()]
    parent._sweep_windows.append(window)
    window.show()
    window.raise_()
    return window
