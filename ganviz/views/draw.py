"""Drawing a target with the mouse, and editing a mixture's components on the plot.

Two items a data view hosts (``add_overlay``), over its plot and outside its
auto-range:

- :class:`DrawOverlay`: in 2-D a brush paints points (left button) or erases
  them (right button, or the erase flag); in 1-D the mouse sets the heights of
  bins over the x range shown (left: to the pointer's height, right: to 0), a
  histogram-like curve.
- :class:`MixtureEditor`: each component of a Gaussian mixture as handles: the
  centre moves the mean, a handle on the ring (2-D: radius 2 std) or on the
  flank (1-D: mean + std) sets the std, the wheel over a centre its weight;
  double-click adds a component, right-click on a centre removes it.

Both catch the mouse only while shown (the view pans and zooms otherwise), and
say ``changed`` after each edit. They hold numbers only: what the drawing
becomes (points, a ``mixture:`` text) is decided in :mod:`ganviz.app.target`.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal

from . import style

#: The brush radius as a share of the view's larger span, by default ...
BRUSH = 0.04
#: ... and points a dab adds.
DENSITY = 8
#: Dabs along a stroke are this share of the brush radius apart.
DAB_SPACING = 0.5
#: Bins of a drawn 1-D curve over the x range shown.
BINS = 64
#: Handles are picked within this many pixels.
PICK_PX = 12
#: The ring of a 2-D component is drawn at this many stds.
RING_STDS = 2.0
#: The wheel multiplies a weight by this per notch.
WEIGHT_STEP = 1.25
DRAW_COLOUR = (255, 105, 180)  # pink: apart from the arrows (yellow), data (green), G (orange)


class _MouseCatcher(pg.GraphicsObject):
    """An invisible item covering the view box it lives in: it receives the mouse first."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(50)
        self.setVisible(False)
        self.presenter: style.Presenter | None = None  # the host view's (present)
        self._children: list = []

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt name
        vb = self.getViewBox()
        return vb.viewRect() if vb is not None else QRectF()

    def paint(self, painter, *args) -> None:
        pass

    def viewRangeChanged(self) -> None:  # noqa: N802 - pyqtgraph name
        self.prepareGeometryChange()  # the bounding rect is the view's

    def pixel(self) -> tuple[float, float]:
        """Data units per pixel along x and y."""
        vb = self.getViewBox()
        px = vb.viewPixelSize() if vb is not None else (1.0, 1.0)
        return float(px[0]) or 1.0, float(px[1]) or 1.0

    def span(self) -> float:
        vb = self.getViewBox()
        if vb is None:
            return 1.0
        r = vb.viewRect()
        return float(max(r.width(), r.height())) or 1.0

    def add_child(self, item) -> None:
        """An item drawn with this one (its children share its coordinates)."""
        item.setParentItem(self)
        self._children.append(item)
        if self.presenter is not None:
            self._present(item)

    def present(self, presenter: style.Presenter) -> None:
        """Take the host view's presentation mode: thicker lines, larger handles and
        labels on a projector, and a pick radius that grows with the handles."""
        self.presenter = presenter
        for item in self._children:
            self._present(item)

    def _present(self, item) -> None:
        if isinstance(item, pg.ScatterPlotItem):
            self.presenter.scatter(item)
        elif isinstance(item, pg.TextItem):
            self.presenter.text(item)
        else:
            self.presenter.curve(item, thin_fast=False)

    def pick_px(self) -> float:
        """Handles are picked within this many pixels (PICK_PX, grown with them)."""
        on = self.presenter is not None and self.presenter.on
        return PICK_PX * (style.PRESENT_SIZE if on else 1.0)


class DrawOverlay(_MouseCatcher):
    """Paint a target: points in 2-D, bin heights in 1-D.

    Parameters
    ----------
    dim : int
        1 or 2.
    seed : int
        Seeds where a dab puts its points.
    """

    def __init__(self, dim: int, seed: int = 0) -> None:
        super().__init__()
        self.dim = dim
        self.brush = BRUSH
        self.density = DENSITY
        self.erase = False
        self.rng = np.random.default_rng(seed)
        self.points = np.empty((0, 2))
        self.edges: np.ndarray | None = None  # (BINS + 1,) of a 1-D drawing
        self.heights = np.zeros(BINS)
        self.min_radius: float | None = None  # the finest brush painted with (2-D)
        self._last: QPointF | None = None
        colour = pg.mkColor(*DRAW_COLOUR)
        if dim == 2:
            self.scatter = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(*DRAW_COLOUR, 200))
            self.add_child(self.scatter)
        else:
            self.curve = pg.PlotDataItem(stepMode="center", pen=pg.mkPen(colour, width=2.5),
                                         fillLevel=0.0, brush=pg.mkBrush(*DRAW_COLOUR, 60))
            self.add_child(self.curve)
        self.ring = pg.PlotDataItem(pen=pg.mkPen(colour, width=1, style=Qt.PenStyle.DashLine))
        self.add_child(self.ring)
        self.setAcceptHoverEvents(True)

    # --- what was drawn ---------------------------------------------------

    def scale(self) -> float | None:
        """The drawing's own scale, data units: in 2-D the std of one dab along an axis
        (half the finest brush radius painted with), in 1-D a bin's width; None if unknown."""
        if self.dim == 1:
            return None if self.edges is None else float(self.edges[1] - self.edges[0])
        return None if self.min_radius is None else 0.5 * self.min_radius

    @property
    def empty(self) -> bool:
        return len(self.points) == 0 if self.dim == 2 else not self.heights.any()

    def radius(self) -> float:
        """The brush radius, data units."""
        return self.brush * self.span()

    def set_points(self, pts) -> None:
        """Start from these (n, 2) points (a loaded target to edit)."""
        self.points = np.asarray(pts, dtype=np.float64).reshape(-1, 2).copy()
        self._show()
        self.changed.emit()

    def set_range(self, lo: float, hi: float) -> None:
        """The x range of a 1-D drawing's bins (kept heights are resampled onto it)."""
        edges = np.linspace(lo, hi, BINS + 1)
        if self.edges is not None and self.heights.any():
            centres = 0.5 * (edges[1:] + edges[:-1])
            old = 0.5 * (self.edges[1:] + self.edges[:-1])
            self.heights = np.interp(centres, old, self.heights, left=0.0, right=0.0)
        self.edges = edges
        self._show()

    def clear(self) -> None:
        self.min_radius = None
        self.points = np.empty((0, 2))
        self.heights = np.zeros(BINS)
        self._show()
        self.changed.emit()

    def _show(self) -> None:
        if self.dim == 2:
            self.scatter.setData(pos=self.points)
        elif self.edges is not None:
            self.curve.setData(self.edges, self.heights)

    # --- the mouse ----------------------------------------------------------

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph name
        if ev.button() not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            ev.ignore()
            return
        ev.accept()
        self._paint(ev.pos(), self._erasing(ev), None)

    def mouseDragEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph name
        if ev.button() not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            ev.ignore()
            return
        ev.accept()
        if ev.isStart():
            self._last = None
            start = ev.buttonDownPos()
            self._paint(start, self._erasing(ev), None)
            self._last = start
        self._paint(ev.pos(), self._erasing(ev), self._last)
        if ev.isFinish():
            self._last = None

    def hoverEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph name
        if ev.isExit() or self.dim != 2:
            self.ring.setData([], [])
            return
        p, r = ev.pos(), self.radius()
        t = np.linspace(0, 2 * math.pi, 49)
        self.ring.setData(p.x() + r * np.cos(t), p.y() + r * np.sin(t))

    def _erasing(self, ev) -> bool:
        return self.erase or ev.button() == Qt.MouseButton.RightButton

    def _paint(self, pos: QPointF, erase: bool, last: QPointF | None) -> None:
        if self.dim == 1:
            self._set_bins(pos, erase, last)
        else:
            r = self.radius()
            if last is not None:  # dabs spaced along the stroke: even coverage at any speed
                gap = math.hypot(pos.x() - last.x(), pos.y() - last.y())
                if gap < DAB_SPACING * r:
                    return
            self._dab(np.array([pos.x(), pos.y()]), r, erase)
            self._last = QPointF(pos)
        self._show()
        self.changed.emit()

    def _dab(self, c: np.ndarray, r: float, erase: bool) -> None:
        if erase:
            keep = ((self.points - c) ** 2).sum(axis=1) > r * r
            self.points = self.points[keep]
            return
        self.min_radius = r if self.min_radius is None else min(self.min_radius, r)
        # Uniform in the disc: radius sqrt(u) r.
        a = self.rng.uniform(0, 2 * math.pi, self.density)
        rr = r * np.sqrt(self.rng.uniform(0, 1, self.density))
        new = c + np.stack([rr * np.cos(a), rr * np.sin(a)], axis=1)
        self.points = np.concatenate([self.points, new])

    def _set_bins(self, pos: QPointF, erase: bool, last: QPointF | None) -> None:
        if self.edges is None:
            return
        y = 0.0 if erase else max(float(pos.y()), 0.0)
        x0 = float(pos.x()) if last is None else float(last.x())
        y0 = y if last is None or erase else max(float(last.y()), 0.0)
        x1 = float(pos.x())
        centres = 0.5 * (self.edges[1:] + self.edges[:-1])
        lo, hi = min(x0, x1), max(x0, x1)
        width = self.edges[1] - self.edges[0]
        hit = (centres >= lo - width / 2) & (centres <= hi + width / 2)
        if x1 == x0:
            self.heights[hit] = y
        else:  # the stroke's line between its two points: fast strokes leave no gaps
            t = np.clip((centres[hit] - x0) / (x1 - x0), 0.0, 1.0)
            self.heights[hit] = y0 + t * (y - y0)
        self._last = QPointF(pos)


class MixtureEditor(_MouseCatcher):
    """The components of a Gaussian mixture as handles on the plot.

    ``weights`` (m,), ``means`` (m, dim) and ``stds`` (m,) are the components
    as edited (weights not normalised). In 1-D the curves are drawn relative:
    the mixture's peak at ``peak`` in the host's y units.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.weights = np.ones(0)
        self.means = np.empty((0, dim))
        self.stds = np.ones(0)
        self.peak = 0.85
        self._drag: tuple[str, int] | None = None
        pen = pg.mkPen(*DRAW_COLOUR, width=2)
        self.rings = pg.PlotDataItem(pen=pen, connect="finite")
        self.centres = pg.ScatterPlotItem(size=14, symbol="s", pen=pg.mkPen("#202020"),
                                          brush=pg.mkBrush(*DRAW_COLOUR))
        self.sizers = pg.ScatterPlotItem(size=10, symbol="o", pen=pg.mkPen(*DRAW_COLOUR, width=2),
                                         brush=pg.mkBrush(20, 20, 24))
        for item in (self.rings, self.centres, self.sizers):
            self.add_child(item)
        self.labels: list[pg.TextItem] = []

    def set_components(self, weights, means, stds) -> None:
        self.weights = np.asarray(weights, dtype=np.float64).reshape(-1).copy()
        self.means = np.asarray(means, dtype=np.float64).reshape(len(self.weights), self.dim).copy()
        self.stds = np.asarray(stds, dtype=np.float64).reshape(-1).copy()
        self._show()

    # --- geometry of the handles ---------------------------------------------

    def _scale(self) -> float:
        """1-D: the factor that puts the mixture's peak at ``peak``."""
        if not len(self.weights):
            return 1.0
        lo = float((self.means[:, 0] - 4 * self.stds).min())
        hi = float((self.means[:, 0] + 4 * self.stds).max())
        xs = np.linspace(lo, hi, 400)
        return self.peak / max(float(self._density(xs).max()), 1e-300)

    def _density(self, xs: np.ndarray) -> np.ndarray:
        w = self.weights / self.weights.sum()
        z = (xs[:, None] - self.means[None, :, 0]) / self.stds[None, :]
        return (np.exp(-0.5 * z * z) * (w / (math.sqrt(2 * math.pi) * self.stds))).sum(axis=1)

    def handles(self) -> tuple[np.ndarray, np.ndarray]:
        """(centre handles (m, 2), size handles (m, 2)), in the host's coordinates."""
        m = len(self.weights)
        if self.dim == 2:
            size = self.means + np.stack([RING_STDS * self.stds, np.zeros(m)], axis=1)
            return self.means.copy(), size
        k = self._scale()
        w = self.weights / self.weights.sum() if m else self.weights
        top = k * w / (math.sqrt(2 * math.pi) * self.stds)
        centre = np.stack([self.means[:, 0], top], axis=1)
        size = np.stack([self.means[:, 0] + self.stds, top * math.exp(-0.5)], axis=1)
        return centre, size

    def _show(self) -> None:
        centre, size = self.handles()
        self.centres.setData(pos=centre)
        self.sizers.setData(pos=size)
        if self.dim == 2:
            t = np.r_[np.linspace(0, 2 * math.pi, 65), np.nan]
            x = (self.means[:, 0:1] + RING_STDS * self.stds[:, None] * np.cos(t)).ravel()
            y = (self.means[:, 1:2] + RING_STDS * self.stds[:, None] * np.sin(t)).ravel()
            self.rings.setData(x, y)
        elif len(self.weights):
            k = self._scale()
            lo = float((self.means[:, 0] - 4 * self.stds).min())
            hi = float((self.means[:, 0] + 4 * self.stds).max())
            xs = np.linspace(lo, hi, 400)
            self.rings.setData(xs, k * self._density(xs))
        else:
            self.rings.setData([], [])
        w = self.weights / self.weights.sum() if len(self.weights) else self.weights
        while len(self.labels) < len(w):
            label = pg.TextItem("", color=DRAW_COLOUR, anchor=(0.5, 1.6))
            self.add_child(label)
            self.labels.append(label)
        for i, label in enumerate(self.labels):
            label.setVisible(i < len(w))
            if i < len(w):
                label.setText(f"w {w[i]:.2f}")
                label.setPos(float(centre[i, 0]), float(centre[i, 1]))

    def _pick(self, pos: QPointF) -> tuple[str, int] | None:
        """The handle under ``pos``: ("centre" or "size", component), or None."""
        if not len(self.weights):
            return None
        px, py = self.pixel()
        best, which = None, None
        for kind, pts in zip(("centre", "size"), self.handles()):
            d = np.hypot((pts[:, 0] - pos.x()) / px, (pts[:, 1] - pos.y()) / py)
            i = int(np.argmin(d))
            if d[i] <= self.pick_px() and (best is None or d[i] < best):
                best, which = d[i], (kind, i)
        return which

    # --- the mouse ------------------------------------------------------------

    def mouseDragEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph name
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        if ev.isStart():
            self._drag = self._pick(ev.buttonDownPos())
        if self._drag is None:
            ev.ignore()  # not on a handle: the view pans
            return
        ev.accept()
        kind, i = self._drag
        p = ev.pos()
        if kind == "centre":
            self.means[i, 0] = p.x()
            if self.dim == 2:
                self.means[i, 1] = p.y()
        else:
            dx = p.x() - self.means[i, 0]
            if self.dim == 2:
                r = math.hypot(dx, p.y() - self.means[i, 1]) / RING_STDS
            else:
                r = abs(dx)
            self.stds[i] = max(r, 1e-3 * self.span())
        if ev.isFinish():
            self._drag = None
        self._show()
        self.changed.emit()

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph name
        pick = self._pick(ev.pos())
        if ev.button() == Qt.MouseButton.RightButton and pick is not None:
            ev.accept()
            self.remove(pick[1])
        elif ev.button() == Qt.MouseButton.LeftButton and ev.double() and pick is None:
            ev.accept()
            self.add(ev.pos())
        else:
            ev.ignore()

    def wheelEvent(self, ev) -> None:  # noqa: N802 - Qt name
        pick = self._pick(ev.pos())
        if pick is None:
            ev.ignore()  # the view zooms
            return
        ev.accept()
        notches = ev.delta() / 120.0
        self.weights[pick[1]] *= WEIGHT_STEP ** notches
        self._show()
        self.changed.emit()

    def add(self, pos: QPointF) -> None:
        """A component at ``pos`` (1-D: its x), as wide as the narrowest, of mean weight."""
        std = float(self.stds.min()) if len(self.stds) else 0.05 * self.span()
        w = float(self.weights.mean()) if len(self.weights) else 1.0
        mean = [pos.x(), pos.y()][: self.dim]
        self.weights = np.r_[self.weights, w]
        self.means = np.r_[self.means, [mean]]
        self.stds = np.r_[self.stds, std]
        self._show()
        self.changed.emit()

    def remove(self, i: int) -> None:
        """Remove component ``i`` (the last one stays: a mixture has at least one)."""
        if len(self.weights) <= 1:
            return
        keep = np.arange(len(self.weights)) != i
        self.weights, self.means, self.stds = self.weights[keep], self.means[keep], self.stds[keep]
        self._show()
        self.changed.emit()

