"""A sweep's phase diagram in the window: the metric's mean over seeds on the first two axes.

Listed values (a grid, a choice) are cells: an :class:`pyqtgraph.ImageItem`
in axis coordinates where a rate's axis is log10 of the rate (the ticks
name the values), each cell reaching halfway (geometrically, for a rate) to
its neighbours, so the cells sit where their values are on a log axis.
Values drawn at random are points coloured the same way. Colours are the
PNG's (:mod:`ganviz.sweep.phase`): viridis from the lowest mean to the
highest, grey where every run diverged. The view reports the cell under the
mouse (``hovered``) and the cell clicked (``clicked``); what to say and do
about it is the sweep window's (:mod:`ganviz.app.sweep`).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Signal

from ganviz.sweep.phase import HIGHER_IS_BETTER, KEY_LABELS, VIRIDIS, Cell
from ganviz.sweep.spec import LOG_KEYS, Axis

from . import style

#: Pixels of the raster along a numeric axis (cells of uneven widths need more than one each).
RASTER = 480
#: Grey of a cell whose runs all diverged (the PNG's).
DIVERGED_RGB = (190, 190, 190)
#: Cells labelled with their mean when there are at most this many.
MOST_LABELS = 64


class AxisMap:
    """One swept axis in plot coordinates: log10 of a rate, the value of a number, a name's index.

    Attributes
    ----------
    values : list
        The axis's values in drawing order (ascending numbers; names as listed).
    log : bool
        Coordinates are log10 of the values.
    edges : ndarray
        Cell boundaries, len(values) + 1 (listed values only).
    """

    def __init__(self, axis: Axis | None, seen: list) -> None:
        self.axis = axis
        self.key = axis.key if axis is not None else ""
        raw = list(axis.values) if axis is not None and axis.categorical else list(seen)
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw)
        self.numeric = numeric and bool(raw)
        self.log = self.numeric and all(v > 0 for v in raw) and (
            self.key in LOG_KEYS or (axis is not None and axis.kind == "loguniform"))
        if axis is None:
            self.values = [None]
        elif axis.categorical:
            self.values = sorted(set(raw)) if self.numeric else raw
        else:
            self.values = sorted(set(raw))
        self.cells = axis is None or axis.categorical
        centres = np.array([self.coord(v) for v in self.values], dtype=float)
        if len(centres) > 1:
            mids = (centres[1:] + centres[:-1]) / 2
            first, last = centres[0] - (mids[0] - centres[0]), centres[-1] + (centres[-1] - mids[-1])
            self.edges = np.concatenate([[first], mids, [last]])
        else:
            self.edges = centres[:1] + np.array([-0.5, 0.5])

    def coord(self, value) -> float:
        """The plot coordinate of ``value``."""
        if self.axis is None:
            return 0.0
        if not self.numeric:
            return float(self.values.index(value)) if hasattr(self, "values") else 0.0
        return math.log10(value) if self.log else float(value)

    def index_at(self, x: float) -> int | None:
        """The cell holding coordinate ``x`` (None outside)."""
        if not self.edges[0] <= x <= self.edges[-1]:
            return None
        return int(min(np.searchsorted(self.edges, x, side="right") - 1, len(self.values) - 1))

    def ticks(self) -> list[tuple[float, str]]:
        if self.axis is None:
            return []
        if self.cells:
            return [(self.coord(v), _text(v)) for v in self.values]
        lo, hi = self.edges[0], self.edges[-1]
        if self.log:
            return [(float(t), f"{10.0 ** t:g}") for t in range(math.floor(lo), math.ceil(hi) + 1)]
        return [(float(t), f"{t:g}") for t in np.linspace(lo, hi, 5)]

    def title(self) -> str:
        if self.axis is None:
            return ""
        text = KEY_LABELS.get(self.key, self.key)
        return text + (" (log scale)" if self.log else "")


def _text(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def colours(means: list[float]) -> tuple[list[tuple[int, int, int]], float, float]:
    """Each mean's viridis colour (grey for NaN), and the range (low, high) the colours span."""
    finite = [m for m in means if math.isfinite(m)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    span = (hi - lo) or 1.0
    out = []
    for m in means:
        if not math.isfinite(m):
            out.append(DIVERGED_RGB)
            continue
        t = min(max((m - lo) / span, 0.0), 1.0) * (len(VIRIDIS) - 1)
        i = min(int(t), len(VIRIDIS) - 2)
        out.append(tuple(int(round(c)) for c in VIRIDIS[i] + (t - i) * (VIRIDIS[i + 1] - VIRIDIS[i])))
    return out, lo, hi


def viridis_map() -> pg.ColorMap:
    return pg.ColorMap(np.linspace(0, 1, len(VIRIDIS)), VIRIDIS.astype(np.ubyte))


class PhaseView(pg.GraphicsLayoutWidget):
    """The phase diagram: cells (or points) coloured by the metric's mean, and a colour bar."""

    #: The cell under the mouse, or None.
    hovered = Signal(object)
    #: A cell was clicked: (cell, the click's position on the screen as a QPointF).
    clicked = Signal(object, object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot = self.addPlot(row=0, col=0)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.getViewBox().setMouseEnabled(False, False)
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        self.points = pg.ScatterPlotItem(size=14, pen=pg.mkPen("#101010"))
        self.plot.addItem(self.points)
        self.bar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=viridis_map(), interactive=False,
                                   width=18)
        self.addItem(self.bar, row=0, col=1)
        self.labels: list[pg.TextItem] = []
        self.cells: list[Cell] = []
        self.maps: tuple[AxisMap, AxisMap] | None = None
        self._by_index: dict[tuple, Cell] = {}
        self.range = (0.0, 1.0)
        self.scene().sigMouseMoved.connect(self._moved)
        self.scene().sigMouseClicked.connect(self._clicked)

    def show_cells(self, axes: tuple, cells: list[Cell], metric: str, title: str = "") -> None:
        """Draw ``cells`` (from :func:`ganviz.sweep.phase.cells`) over ``axes`` (the first two)."""
        axes = tuple(axes[:2]) + (None,) * (2 - len(axes[:2]))
        seen = [[c.point[i][1] for c in cells] if axes[i] is not None else [] for i in range(2)]
        self.maps = (AxisMap(axes[0], seen[0]), AxisMap(axes[1], seen[1]))
        self.cells = list(cells)
        mx, my = self.maps
        rgb, lo, hi = colours([c.mean for c in cells])
        self.range = (lo, hi)
        self._by_index = {}
        for label in self.labels:
            self.plot.removeItem(label)
        self.labels = []
        better = "higher" if metric in HIGHER_IS_BETTER else "lower"
        style.style_plot(self.plot, title or f"{metric} ({better} is better): mean over seeds",
                         left=my.title() or " ", bottom=mx.title())
        if mx.cells and my.cells:
            self._draw_grid(rgb)
            self.points.setData([])
            self.image.setVisible(True)
        else:
            self.image.setVisible(False)
            xs = [mx.coord(c.point[0][1]) for c in cells]
            ys = [my.coord(c.point[1][1]) if my.axis is not None else 0.0 for c in cells]
            self.points.setData(xs, ys, brush=[pg.mkBrush(*c) for c in rgb],
                                data=list(range(len(cells))))
        self.plot.getAxis("bottom").setTicks([mx.ticks()])
        self.plot.getAxis("left").setTicks([my.ticks()])
        self.plot.setXRange(mx.edges[0], mx.edges[-1], padding=0.02)
        self.plot.setYRange(my.edges[0], my.edges[-1], padding=0.02)
        self.bar.setLevels((lo, hi if hi > lo else lo + 1.0))
        self.bar.axis.setLabel(metric)

    def _draw_grid(self, rgb: list) -> None:
        mx, my = self.maps
        for c, colour in zip(self.cells, rgb):
            i = mx.values.index(c.point[0][1])
            j = my.values.index(c.point[1][1]) if my.axis is not None else 0
            self._by_index[(i, j)] = (c, colour)
        xs = self._raster(mx)
        ys = self._raster(my)
        img = np.zeros((len(ys), len(xs), 4), dtype=np.ubyte)  # row-major: (y, x, rgba)
        for (i, j), (c, colour) in self._by_index.items():
            img[np.ix_(ys == j, xs == i)] = (*colour, 255)
        self.image.setImage(img, autoLevels=False)
        self.image.setRect(QRectF(mx.edges[0], my.edges[0], mx.edges[-1] - mx.edges[0],
                                  my.edges[-1] - my.edges[0]))
        if len(self._by_index) <= MOST_LABELS:
            for (i, j), (c, colour) in self._by_index.items():
                lines = [f"{c.mean:.3g}" if math.isfinite(c.mean) else "diverged"]
                if c.diverged and math.isfinite(c.mean):
                    lines.append(f"{c.diverged}/{c.runs} div.")
                lum = 0.3 * colour[0] + 0.59 * colour[1] + 0.11 * colour[2]
                label = pg.TextItem("\n".join(lines), color="#111" if lum > 140 else "#f4f4f4",
                                    anchor=(0.5, 0.5))
                label.setPos(mx.coord(mx.values[i]), my.coord(my.values[j]))
                self.plot.addItem(label)
                self.labels.append(label)

    @staticmethod
    def _raster(m: AxisMap) -> np.ndarray:
        """The cell index of each raster pixel along ``m`` (one pixel per cell for names)."""
        if not m.numeric or len(m.values) == 1:
            return np.arange(len(m.values))
        centres = m.edges[0] + (np.arange(RASTER) + 0.5) * (m.edges[-1] - m.edges[0]) / RASTER
        return np.clip(np.searchsorted(m.edges, centres, side="right") - 1, 0, len(m.values) - 1)

    # --- the mouse -------------------------------------------------------------

    def cell_at(self, x: float, y: float) -> Cell | None:
        """The cell at plot coordinates (x, y); for points, the nearest within 3% of the view."""
        if self.maps is None:
            return None
        mx, my = self.maps
        if mx.cells and my.cells:
            i, j = mx.index_at(x), my.index_at(y)
            if i is None or j is None:
                return None
            found = self._by_index.get((i, j))
            return found[0] if found else None
        best, where = None, math.inf
        (x0, x1), (y0, y1) = self.plot.getViewBox().viewRange()
        for c in self.cells:
            cx = (mx.coord(c.point[0][1]) - x) / ((x1 - x0) or 1)
            cy = ((my.coord(c.point[1][1]) if my.axis is not None else 0.0) - y) / ((y1 - y0) or 1)
            d = math.hypot(cx, cy)
            if d < where:
                best, where = c, d
        return best if where <= 0.03 else None

    def centre(self, cell: Cell) -> QPointF:
        """``cell``'s centre in plot coordinates (what a click on it hits)."""
        mx, my = self.maps
        return QPointF(mx.coord(cell.point[0][1]),
                       my.coord(cell.point[1][1]) if my.axis is not None else 0.0)

    def _moved(self, pos) -> None:
        vb = self.plot.getViewBox()
        if not vb.sceneBoundingRect().contains(pos):
            self.hovered.emit(None)
            return
        p = vb.mapSceneToView(pos)
        self.hovered.emit(self.cell_at(p.x(), p.y()))

    def _clicked(self, event) -> None:
        vb = self.plot.getViewBox()
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        p = vb.mapSceneToView(event.scenePos())
        cell = self.cell_at(p.x(), p.y())
        if cell is not None:
            event.accept()
            self.clicked.emit(cell, QPointF(event.screenPos()))
