"""The 2-D view: D(x) heatmap, p_g density, real and fake samples, generator arrows."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

from . import style

#: Toggleable layers: key -> label.
LAYERS = {
    "d": "D(x) heatmap",
    "p_g": "p_g density (generator)",
    "p_data": "p_data outline",
    "real": "real samples",
    "fake": "fake samples G(z)",
    "arrows": "generator gradient arrows",
    "modes": "mode centres",
}
#: Hover texts (rich text): the plot, the colour bar, each legend entry and layer toggle.
TIPS = {
    "plot": "<b>Data space</b><br>"
            "<b>Background</b>: D(x), teal where D says real, plum where it says fake, dark "
            "where D = 1/2 (it cannot tell).<br>"
            "<b>Orange haze</b>: p<sub>g</sub>, estimated from 10<sup>4</sup> or more samples "
            "G(z). <b>Dashed green</b>: outline of p<sub>data</sub>.<br>"
            "<b>Green dots</b>: real samples. <b>Orange dots</b>: G(z) for a fixed batch of z, "
            "so you follow the same points as G learns.<br>"
            "<b>Yellow arrows</b>: where G's loss pulls each generated point: minus the "
            "gradient of G's loss with respect to that point, length on a fixed log scale "
            "(short arrows = vanishing gradient).<br>"
            "<b>Circles</b>: mode centres of the target, white when captured, red dashed when "
            "missed.",
    "cbar": "D(x) = P(real | x) as a colour: 1 teal (sure real), 1/2 dark, 0 plum (sure "
            "fake). For a WGAN critic the scale follows the critic's scores, which are not "
            "probabilities; for the hinge loss it is D's raw output from -1.5 to 1.5 (its "
            "optimum is +1 where data dominates, -1 where samples do).",
    "d": "D(x) over the plane: teal = D says real, plum = D says fake, dark = D cannot tell "
         "(1/2). For a fixed G the best D is D* = p<sub>data</sub> / (p<sub>data</sub> + "
         "p<sub>g</sub>)",
    "p_g": "p<sub>g</sub>: where the generator puts its mass, a Gaussian kernel estimate from "
           "10<sup>4</sup> or more samples G(z)",
    "p_data": "Outline of p<sub>data</sub> (at 5% of its peak density): where the real data "
              "lives",
    "real": "Real samples x ~ p<sub>data</sub>",
    "fake": "Generated samples G(z) for a fixed batch of noise z: the same z every frame",
    "arrows": "Minus the gradient of G's loss with respect to each generated point: the "
              "direction in which moving it lowers G's loss fastest, where training pulls it. "
              "Length grows with log10(1 + gain x "
              "|gradient| / 0.1), a fixed scale: no arrow means a vanishing gradient "
              "(minimax loss against a confident D)",
    "modes": "Mode centres of the target. A sample is high quality if it lies within 3 "
             "standard deviations of its nearest mode; a mode is captured (white circle) if "
             "at least one sample is, missed (red dashed circle) if none",
}
#: Hover text of each layer's toggle in the controls.
LAYER_TIPS = {key: TIPS[key] for key in LAYERS}
#: Arrow length per unit of log10(1 + gain * |gradient| / ARROW_REF), as a share of the span.
ARROW_UNIT = 0.08
#: Gradient norm that draws log10(2) units: typical per-sample norms are 0.01-1 (WGAN-GP ~1);
#: a vanishing minimax gradient (~1e-4) draws nothing, as it should.
ARROW_REF = 0.1


def arrow_segments(points: np.ndarray, grads: np.ndarray, span: float, gain: float = 1.0):
    """Line segments (2 points each) of arrows along ``-grads`` at ``points``, with heads.

    Length is ``ARROW_UNIT * span * log10(1 + gain * |g| / ARROW_REF)``: a fixed
    log scale, so a vanishing gradient gives a short arrow; never normalised per frame.
    """
    g = -np.asarray(grads, dtype=np.float64)
    mag = np.sqrt((g**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.where(mag[:, None] > 0, g / mag[:, None], 0.0)
    length = ARROW_UNIT * span * np.log10(1.0 + gain * np.nan_to_num(mag) / ARROW_REF)
    p = np.asarray(points, dtype=np.float64)
    tip = p + u * length[:, None]
    head = 0.3 * length[:, None]
    c, s = math.cos(math.radians(28)), math.sin(math.radians(28))
    back = -u
    left = np.stack([c * back[:, 0] - s * back[:, 1], s * back[:, 0] + c * back[:, 1]], axis=1)
    right = np.stack([c * back[:, 0] + s * back[:, 1], -s * back[:, 0] + c * back[:, 1]], axis=1)
    seg = np.empty((len(p), 6, 2))
    seg[:, 0], seg[:, 1] = p, tip
    seg[:, 2], seg[:, 3] = tip, tip + head * left
    seg[:, 4], seg[:, 5] = tip, tip + head * right
    seg = seg.reshape(-1, 2)
    return seg[:, 0], seg[:, 1]


def contour_path(grid: np.ndarray, xs: np.ndarray, ys: np.ndarray, level: float):
    """(x, y) of the ``level`` contour of ``grid`` (rows along ys), NaN between pieces."""
    lines = pg.functions.isocurve(np.asarray(grid, dtype=np.float64).T, level, connected=True,
                                  extendToEdge=True)
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    out_x, out_y = [], []
    for line in lines:
        a = np.asarray(line, dtype=np.float64)
        out_x += [xs[0] + a[:, 0] * dx, [np.nan]]
        out_y += [ys[0] + a[:, 1] * dy, [np.nan]]
    if not out_x:
        return np.empty(0), np.empty(0)
    return np.concatenate(out_x), np.concatenate(out_y)


class FieldView2D(pg.GraphicsLayoutWidget):
    """D(x) as a heatmap under p_g, real and fake samples and the generator's arrows."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot = self.addPlot()
        style.style_plot(self.plot, "D(x), real and generated samples")
        self.plot.setAspectLocked(True)
        self.plot.setMenuEnabled(False)
        self.legend = style.legend(self.plot)

        self.cmap = style.d_colormap()
        self.d_img = pg.ImageItem(axisOrder="row-major")
        self.d_img.setZValue(-20)
        self.plot.addItem(self.d_img)
        self.cbar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=self.cmap, interactive=False,
                                    width=18, label="D(x) = P(real)")
        self.cbar.setImageItem(self.d_img, insert_in=self.plot)
        self.cbar.axis.setStyle(tickFont=style.TICK_FONT)
        for item in (self.d_img, *(self.cbar.getAxis(k) for k in ("left", "right", "top", "bottom"))):
            style.cache(item)

        self.pg_img = pg.ImageItem(axisOrder="row-major")
        self.pg_img.setLookupTable(style.density_lut())
        self.pg_img.setZValue(-10)
        style.cache(self.pg_img)
        self.plot.addItem(self.pg_img)

        self.outline = pg.PlotDataItem(pen=style.pen(style.DATA, 1.2, dash=True), connect="finite")
        self.real = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(78, 224, 122, 170))
        self.fake = pg.ScatterPlotItem(size=6, pen=pg.mkPen(40, 20, 0, 200, width=0.8),
                                       brush=pg.mkBrush(style.GEN))
        self.arrows = pg.PlotDataItem(pen=style.pen(style.ACCENT, 1.3), connect="pairs")
        self.modes = pg.ScatterPlotItem(size=22, symbol="o", brush=None)
        for item, z in ((self.outline, 0), (self.real, 1), (self.arrows, 2), (self.fake, 3),
                        (self.modes, 4)):
            item.setZValue(z)
            self.plot.addItem(item)
        self.legend.addItem(self.real, "real x ~ p_data")
        self.legend.addItem(self.fake, "fake G(z), fixed z")
        self.legend.addItem(self.arrows, "-grad of G's loss (log length)")
        self.legend.addItem(self.outline, "p_data outline")

        self.items = {"d": (self.d_img, self.cbar), "p_g": (self.pg_img,),
                      "p_data": (self.outline,), "real": (self.real,), "fake": (self.fake,),
                      "arrows": (self.arrows,), "modes": (self.modes,)}
        self.visible = {name: True for name in LAYERS}
        self.plot.setToolTip(TIPS["plot"])
        self.cbar.setToolTip(TIPS["cbar"])
        for (_sample, label), key in zip(self.legend.items, ("real", "fake", "arrows", "p_data")):
            label.setToolTip(TIPS[key])
        self.presenter = style.Presenter()
        self.presenter.plot(self.plot)
        for key in ("left", "right", "top", "bottom"):
            self.presenter.axis(self.cbar.getAxis(key))
        self.presenter.legend(self.legend)
        for item in (self.outline, self.arrows):
            self.presenter.curve(item)
        for item in (self.real, self.fake, self.modes):
            self.presenter.scatter(item)
        self.gain = 1.0
        self._drawn: dict = {}
        self._d_scale = None
        self._last = None
        self._rect = QRectF(0, 0, 1, 1)

    def set_layer(self, name: str, on: bool) -> None:
        """Show or hide one layer (a key of LAYERS)."""
        self.visible[name] = bool(on)
        for item in self.items[name]:
            item.setVisible(bool(on))
        if on and self._last is not None:
            self._drawn.clear()
            self.draw(self._last)

    def set_presentation(self, on: bool) -> None:
        """Large text, thick lines, big markers (a projector) when ``on``; the normal look off."""
        if self.presenter.set(on) and self._last is not None:
            self._draw_modes(self._last)  # per-circle pens carry their width

    def set_arrow_gain(self, gain: float) -> None:
        """Multiply gradient magnitudes by ``gain`` before the log length (a fixed scale)."""
        self.gain = float(gain)
        if self._last is not None:
            self._draw_arrows(self._last)

    def forget(self) -> None:  # not clear(): GraphicsLayoutWidget binds that to its layout
        """Forget the drawn run (a new one is coming)."""
        self._drawn.clear()
        self._last = None

    def draw(self, snap) -> None:
        """Draw a 2-D snapshot; heavy layers only when their arrays changed."""
        self._last = snap
        if snap.xs is None or snap.ys is None:
            self._draw_points(snap)
            return
        xs, ys = snap.xs, snap.ys
        if self._changed("xs", xs):
            dx, dy = xs[1] - xs[0], ys[1] - ys[0]
            rect = QRectF(xs[0] - dx / 2, ys[0] - dy / 2, len(xs) * dx, len(ys) * dy)
            self._rect = rect  # applied after each setImage: setRect scales by the image's size
            self.plot.setRange(xRange=(xs[0], xs[-1]), yRange=(ys[0], ys[-1]), padding=0.02)
            self.plot.disableAutoRange()
        if self._changed("p_data", snap.p_data) and snap.p_data is not None:
            top = float(np.max(snap.p_data))
            self._pg_levels = (0.0, top if top > 0 else 1.0)
            if self.visible["p_data"]:
                self.outline.setData(*contour_path(snap.p_data, xs, ys, 0.05 * top))
        # D's colour scale as the loss registry says: fixed levels, or fitted to a critic's.
        levels = None if snap.d_range is None else tuple(float(v) for v in snap.d_range)
        if (snap.d_kind, levels) != self._d_scale:
            self._d_scale = (snap.d_kind, levels)
            label = ("critic D(x)" if levels is None else "D(x) = P(real)"
                     if snap.d_kind == "probability" else "D(x), raw output")
            self.cbar.getAxis("left").setLabel(label)
            if levels is not None:
                self.cbar.setLevels(levels)
            self._drawn.pop("d", None)
        if snap.d is not None and self.visible["d"] and self._changed("d", snap.d):
            d = np.asarray(snap.d)
            if levels is None:
                finite = d[np.isfinite(d)]
                lo, hi = (np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0))
                if hi - lo < 1e-9:
                    lo, hi = lo - 0.5, hi + 0.5
                self.d_img.setImage(d, autoLevels=False)
                self.d_img.setRect(self._rect)
                self.cbar.setLevels((float(lo), float(hi)))
            else:
                self.d_img.setImage(d, autoLevels=False, levels=levels)
                self.d_img.setRect(self._rect)
        if snap.p_g is not None and self.visible["p_g"] and self._changed("p_g", snap.p_g):
            self.pg_img.setImage(np.asarray(snap.p_g), autoLevels=False, levels=self._pg_levels)
            self.pg_img.setRect(self._rect)
        if self.visible["real"] and self._changed("real", snap.real) and snap.real is not None:
            self.real.setData(pos=snap.real)
        if self.visible["modes"] and (self._changed("mode_counts", snap.mode_counts)
                                      or self._changed("mode_centres", snap.mode_centres)):
            self._draw_modes(snap)
        self._draw_points(snap)

    def _draw_points(self, snap) -> None:
        if snap.fake is not None and self.visible["fake"]:
            self.fake.setData(pos=snap.fake)
        self._draw_arrows(snap)

    def _draw_arrows(self, snap) -> None:
        if not self.visible["arrows"] or snap.fake is None or snap.fake_grad is None:
            return
        if snap.xs is not None:
            span = float(max(snap.xs[-1] - snap.xs[0], snap.ys[-1] - snap.ys[0]))
        else:
            span = float(np.ptp(snap.fake)) or 1.0
        self.arrows.setData(*arrow_segments(snap.fake, snap.fake_grad, span, self.gain))

    def _draw_modes(self, snap) -> None:
        if snap.mode_centres is None:
            self.modes.setData([], [])
            return
        centres = np.asarray(snap.mode_centres)
        counts = snap.mode_counts if snap.mode_counts is not None else np.ones(len(centres))
        width = 2 * self.presenter.pen_scale
        pens = [pg.mkPen("#ffffff" if c > 0 else "#ff5252", width=width,
                         style=pg.QtCore.Qt.PenStyle.SolidLine if c > 0
                         else pg.QtCore.Qt.PenStyle.DashLine) for c in counts]
        self.modes.setData(pos=centres, pen=pens, brush=None)

    def _changed(self, key: str, value) -> bool:
        if self._drawn.get(key, ()) is value:
            return False
        self._drawn[key] = value
        return True
