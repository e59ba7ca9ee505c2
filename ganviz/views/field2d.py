"""The 2-D view: D(x) heatmap, p_g density, real and fake samples, generator arrows."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QTimer, Signal

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
    "p_g_lines": "p_g contours (50%, 90%)",
}
#: Layers that start hidden (drawn on request).
OFF_BY_DEFAULT = ("p_g_lines",)
#: What the heatmap shows: key -> label (the controls' choice).
HEATMAPS = {
    "d": "D(x)",
    "d_star": "optimal D*(x)",
    "gap": "D(x) - D*(x)",
}
#: p_g's contour lines enclose these shares of its mass (the densest regions).
PG_MASS_LEVELS = (0.5, 0.9)
#: Hover texts (rich text): the plot, the colour bar, each legend entry and layer toggle.
TIPS = {
    "plot": "<b>Data space</b><br>"
            "<b>Background</b>: D(x), teal where D says real, plum where it says fake, dark "
            "where D = 1/2 (it cannot tell).<br>"
            "<b>Orange haze</b>: p<sub>g</sub>, estimated from 10<sup>4</sup> or more samples "
            "G(z). <b>Dashed green</b>: outline of p<sub>data</sub>.<br>"
            "<b>Green dots</b>: real samples. <b>Orange dots</b>: G(z) for a fixed batch of z, "
            "so you follow the same points as G learns.<br>"
            "<b>Yellow arrows</b>: where G's loss pulls generated points (a few dozen, spread "
            "evenly over z): minus the gradient of G's loss with respect to each point. The "
            "legend prints the gradient a full-length arrow stands for: a tiny number there "
            "is a vanishing gradient.<br>"
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
    "arrows": "Minus the gradient of G's loss with respect to a few dozen generated points, "
              "spread evenly over z: the direction in which moving each lowers G's loss "
              "fastest, where training pulls it. Lengths are proportional to |gradient|, on a "
              "scale set each frame and printed in the legend (a full-length arrow = that "
              "|gradient|): a scale of 1e-4 or less is a vanishing gradient (the minimax loss "
              "against a confident D)",
    "modes": "Mode centres of the target. A sample is high quality if it lies within 3 "
             "standard deviations of its nearest mode; a mode is captured (white circle) if "
             "at least one sample is, missed (red dashed circle) if none",
    "p_g_lines": "Contour lines of p<sub>g</sub>: the solid line encloses the densest region "
                 "holding half of the generated samples, the dashed one 90%. Unlike the haze "
                 "they stay readable over the heatmap",
    "heatmap": "What the background shows: D(x); the optimal D*(x) = p<sub>data</sub> / "
               "(p<sub>data</sub> + p<sub>g</sub>) for the current G (blank where p<sub>g</sub>'s "
               "estimate is too thin to trust it, see docs/measurements.md); or D - D*, dark "
               "where D is optimal, teal where D says 'real' more than it should, plum where "
               "less. A critic (WGAN) has no D*: the heatmap then shows D",
}
#: Hover text of each layer's toggle in the controls.
LAYER_TIPS = {key: TIPS[key] for key in LAYERS}


def mass_levels(density: np.ndarray, shares=PG_MASS_LEVELS) -> list[float]:
    """Density thresholds whose super-level sets hold ``shares`` of the grid's mass
    (highest-density regions); a share the grid cannot reach is left out."""
    v = np.sort(np.nan_to_num(np.asarray(density, dtype=np.float64)).ravel())[::-1]
    total = v.sum()
    if not total > 0:
        return []
    cum = np.cumsum(v) / total
    out = []
    for share in shares:
        i = int(np.searchsorted(cum, share))
        if i < len(v) and v[i] > 0:
            out.append(float(v[i]))
    return out
#: Length of a full arrow as a share of the view's span (gain 1).
ARROW_UNIT = 0.08
#: Arrows drawn: about this many, one per cell of a square grid over z's quantiles.
N_ARROWS = 49
#: The 90th percentile of the drawn gradients' norms is a full-length arrow.
ARROW_QUANTILE = 90
#: D's contrast around its middle value (1/2, or 0 for a raw output): the colour scale
#: spans the range divided by the factor.
CONTRASTS = (1.0, 2.0, 5.0, 20.0)
#: Heatmaps are drawn bilinearly upsampled by this factor (no visible grid cells).
UPSAMPLE = 3
#: The view grows to take in generated samples while the grown span stays within this
#: factor of the grid's; beyond, edge markers give their count and direction.
EXTEND_MAX = 3.0
#: Samples off the view are marked once they are at least this share of them.
EDGE_SHARE = 0.02
#: A grown view shrinks back towards the samples and the grid once it is this many times
#: larger than they need.
SHRINK_AT = 1.4


#: A critic whose values vary by less than this (relative to their size) over the plane
#: is called flat: its colour scale would only blow up noise.
FLAT_CRITIC = 1e-2
#: Room between the legend and the data below it, px.
LEGEND_GAP_PX = 8
#: The visible rectangle is sent to the run (view_changed) this long after it last moved...
VIEW_SETTLE_MS = 200
#: ... when an edge moved by more than this share of the span since it was last sent.
VIEW_MOVED = 0.01
#: The fields asked of the run reach this share of the shown span beyond each edge, so
#: that a view that follows the samples a little needs no new ones (each request is a
#: measurement in the training process, at every member of a comparison) ...
FIELD_MARGIN = 0.1
#: ... and are asked again once they are this many times wider than what is shown (their
#: cells would look coarse), or no longer cover it.
REFINE_AT = 1.6


def target_extent(snap):
    """The target's own extent ((x0, x1), ...) from a snapshot, or None if it does not say."""
    info = (getattr(snap, "extras", None) or {}).get("target") or {}
    return info.get("extent")


def view_settled(view, snap) -> bool:
    """Whether ``view`` (a 1-D or 2-D field view) draws fields over the rectangle it last
    sent: its settle timer is idle and ``snap``'s grid covers that rectangle (a panel of a
    comparison gets the union of the panels' rectangles)."""
    if view._settle.isActive():
        return False
    if snap is None or snap.xs is None or view._sent_view is None:
        return True
    grid = [(float(snap.xs[0]), float(snap.xs[-1]))]
    if snap.ys is not None:
        grid.append((float(snap.ys[0]), float(snap.ys[-1])))
    for (g0, g1), (r0, r1) in zip(grid, view._sent_view):
        tol = 2 * VIEW_MOVED * max(r1 - r0, 1e-12)
        if g0 > r0 + tol or g1 < r1 - tol:
            return False
    return True


def fields_wanted(asked, shown):
    """The rectangle to ask the run's fields over so that they cover ``shown``, or None
    while ``asked`` (the rectangle last asked for; None: none yet) still does.

    Both are ((x0, x1),) or ((x0, x1), (y0, y1)), data units. A new request reaches
    FIELD_MARGIN of the span beyond each edge of ``shown``.
    """
    if asked is not None and all(a0 <= v0 and v1 <= a1 and (a1 - a0) <= REFINE_AT * (v1 - v0)
                                 for (a0, a1), (v0, v1) in zip(asked, shown)):
        return None
    return tuple((v0 - FIELD_MARGIN * (v1 - v0), v1 + FIELD_MARGIN * (v1 - v0))
                 for v0, v1 in shown)


class HoldsOnMouse:
    """A data view that follows the samples, unless the user holds it.

    A pan or zoom with the mouse holds the view where the user put it: it
    stops following the samples (which would undo a zoom into a mode at the
    next frame), with its linked panels (``shared.held``). pyqtgraph's "A"
    button (bottom left, on hover) or a new run lets it follow them again.
    The view has ``plot``, ``shared`` and ``_held``, and implements
    ``_follow_again(leader)``: show again the range the samples last asked
    for (``leader`` sets the range of linked panels).
    """

    def _hold_on_mouse(self) -> None:
        self._held = False
        self.plot.vb.sigRangeChangedManually.connect(lambda *_: self.hold(True))
        self.plot.autoBtn.clicked.connect(lambda *_: self.hold(False))

    def held(self) -> bool:
        """Whether the user holds the view where they panned or zoomed it."""
        return self.shared.held if self.shared is not None else self._held

    def hold(self, on: bool) -> None:
        """Keep the view where the user put it (``on``), or follow the samples again."""
        if self.shared is not None:
            self.shared.held = on
        self._held = on
        if not on:
            # The A button turned pyqtgraph's own fit on (over the fields too): the
            # samples decide the range again.
            self.plot.disableAutoRange()
            self._follow_again(self if self.shared is None else self.shared.views[0])


def moved(old, new, share: float = VIEW_MOVED) -> bool:
    """Whether rectangle ``new`` differs from ``old`` (None: always) by more than ``share``
    of its span at any edge."""
    if old is None:
        return True
    for (a0, a1), (b0, b1) in zip(old, new):
        tol = share * max(b1 - b0, 1e-12)
        if abs(a0 - b0) > tol or abs(a1 - b1) > tol:
            return True
    return False


def _direction_arrow(dx: float, dy: float) -> str:
    """The arrow character pointing along (dx, dy) (y up)."""
    angle = math.degrees(math.atan2(dy, dx)) % 360
    return "\u2192\u2197\u2191\u2196\u2190\u2199\u2193\u2198"[int(((angle + 22.5) % 360) // 45)]


def spread_over_z(z: np.ndarray, n: int = N_ARROWS) -> np.ndarray:
    """Indices of about ``n`` rows of ``z`` (n_show, z_dim) spread evenly over z.

    z ~ N(0, I): the first two coordinates are mapped through the normal CDF to
    the unit square, cut into a sqrt(n) x sqrt(n) grid; the sample nearest each
    cell's centre is taken (a 1-D z: nearest each of n quantiles).
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or len(z) <= n:
        return np.arange(len(z))
    u = _phi(z[:, : min(2, z.shape[1])])
    if u.shape[1] == 1:
        targets = ((np.arange(n) + 0.5) / n)[:, None]
    else:
        side = int(round(math.sqrt(n)))
        c = (np.arange(side) + 0.5) / side
        targets = np.stack(np.meshgrid(c, c), axis=-1).reshape(-1, 2)
    dist = ((u[None, :, :] - targets[:, None, :]) ** 2).sum(axis=2)
    return np.unique(dist.argmin(axis=1))


def _phi(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF, elementwise."""
    erf = np.vectorize(math.erf, otypes=[float])
    return 0.5 * (1.0 + erf(z / math.sqrt(2.0)))


def scaled_arrows(points: np.ndarray, grads: np.ndarray, span: float, gain: float = 1.0):
    """Segments of arrows along ``-grads``, length proportional to |grad|, and the scale.

    Returns (x, y, scale): a gradient of norm ``scale`` (the ARROW_QUANTILE-th
    percentile of the norms) is ``ARROW_UNIT * span * gain`` long; longer ones are
    capped at 1.5 times that. ``scale`` is 0 when every gradient is 0.
    """
    g = -np.nan_to_num(np.asarray(grads, dtype=np.float64))
    mag = np.sqrt((g**2).sum(axis=1))
    scale = float(np.percentile(mag, ARROW_QUANTILE)) if len(mag) else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.where(mag[:, None] > 0, g / mag[:, None], 0.0)
        rel = np.where(mag > 0, mag / scale, 0.0) if scale > 0 else np.zeros_like(mag)
    length = ARROW_UNIT * span * gain * np.minimum(rel, 1.5)
    x, y = _segments(np.asarray(points, dtype=np.float64), u, length)
    return x, y, scale


def _segments(p: np.ndarray, u: np.ndarray, length: np.ndarray):
    """Shaft and two head strokes of each arrow: 6 points per arrow, joined in pairs."""
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


def upsample(grid: np.ndarray, factor: int = UPSAMPLE) -> np.ndarray:
    """Bilinear upsampling of an (h, w) grid of cell values to (factor h, factor w) pixels
    covering the same cells (NaN stays NaN where it touches)."""
    a = np.asarray(grid, dtype=np.float64)
    if factor <= 1 or a.ndim != 2 or min(a.shape) < 2:
        return a
    out = a
    for axis in (0, 1):
        n = a.shape[axis]
        t = np.clip((np.arange(n * factor) + 0.5) / factor - 0.5, 0, n - 1)
        i0 = np.minimum(np.floor(t).astype(int), n - 2)
        w = (t - i0)
        lo, hi = np.take(out, i0, axis=axis), np.take(out, i0 + 1, axis=axis)
        shape = [1, 1]
        shape[axis] = -1
        w = w.reshape(shape)
        out = lo * (1 - w) + hi * w
    return out


def nice_ticks(lo: float, hi: float, n: int = 5) -> tuple[list, str]:
    """(value, text) ticks for a colour bar from ``lo`` to ``hi``, always with numbers, and
    the factor they are written in ("" or e.g. "x 1e-3"): short texts fit the bar's axis,
    which hides any label that does not fit (a critic's -0.0195 showed no numbers)."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return [(lo, f"{lo:.3g}")], ""
    vals = np.linspace(lo, hi, n)
    top = max(abs(lo), abs(hi))
    exp = int(math.floor(math.log10(top))) if top > 0 else 0
    factor, unit = (10.0 ** exp, f"x 1e{exp}") if exp < -1 or exp > 3 else (1.0, "")
    scaled = vals / factor
    step = (scaled[-1] - scaled[0]) / (n - 1)
    decimals = max(0, min(6, int(math.ceil(-math.log10(step))) + 1)) if step > 0 else 2
    texts = [f"{v:.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{v:.0f}"
             for v in scaled]
    return [(float(v), "0" if t in ("-0", "") else t) for v, t in zip(vals, texts)], unit


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


class FieldView2D(HoldsOnMouse, pg.GraphicsLayoutWidget):
    """D(x) as a heatmap under p_g, real and fake samples and the generator's arrows."""

    #: The visible rectangle ((x0, x1), (y0, y1)), data units, once it settled after a
    #: change, with a margin (fields_wanted): the run then draws D, p_g and D* over it
    #: (Probe.set_view).
    view_changed = Signal(object)

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
        self.pg_lines = [pg.PlotDataItem(pen=style.pen(style.GEN, 2.0, dash=dash), connect="finite")
                         for dash in (False, True)]
        # Real samples above the fakes and arrows: the target stays readable under a crowd.
        for item, z in ((self.outline, 0), (self.pg_lines[0], 0.5), (self.pg_lines[1], 0.5),
                        (self.arrows, 1), (self.fake, 2), (self.real, 3), (self.modes, 4)):
            item.setZValue(z)
            self.plot.addItem(item)
        self.legend.addItem(self.real, "real x ~ p_data")
        self.legend.addItem(self.fake, "fake G(z), fixed z")
        self.legend.addItem(self.arrows, "-grad of G's loss")
        self.legend.addItem(self.outline, "p_data outline")

        self.items = {"d": (self.d_img, self.cbar), "p_g": (self.pg_img,),
                      "p_data": (self.outline,), "real": (self.real,), "fake": (self.fake,),
                      "arrows": (self.arrows,), "modes": (self.modes,),
                      "p_g_lines": tuple(self.pg_lines)}
        self.visible = {name: name not in OFF_BY_DEFAULT for name in LAYERS}
        for name in OFF_BY_DEFAULT:
            for item in self.items[name]:
                item.setVisible(False)
        self.heat = "d"  # what the heatmap shows (HEATMAPS)
        self.plot.setToolTip(TIPS["plot"])
        self.cbar.setToolTip(TIPS["cbar"])
        for (_sample, label), key in zip(self.legend.items, ("real", "fake", "arrows", "p_data")):
            label.setToolTip(TIPS[key])
        self.presenter = style.Presenter()
        self.presenter.plot(self.plot)
        for key in ("left", "right", "top", "bottom"):
            self.presenter.axis(self.cbar.getAxis(key))
        self.presenter.legend(self.legend)
        for item in (self.outline, self.arrows, *self.pg_lines):
            self.presenter.curve(item)
        for item in (self.real, self.fake, self.modes):
            self.presenter.scatter(item)
        self.gain = 1.0
        self.contrast = 1.0
        self.arrow_scale = None  # |gradient| of a full-length arrow, last drawn
        self._arrow_text = ""  # the legend's words for it (changed only when they change)
        self._picked = (None, None)  # (z, the rows spread over it): z is fixed for a run
        self._modes_drawn = None  # (centres, counts, pen width) last drawn
        # Where generated samples lie outside the view: a marker with count and direction.
        self.edge = pg.TextItem("", color=style.GEN, anchor=(0.5, 0.5),
                                fill=pg.mkBrush(20, 20, 24, 210))
        self.edge.setZValue(10)
        self.edge.setVisible(False)
        self.plot.addItem(self.edge, ignoreBounds=True)
        self.flat = pg.TextItem("", color=style.ACCENT, anchor=(0.5, 1), fill=pg.mkBrush(20, 20, 24, 210))
        self.flat.setZValue(10)
        self.flat.setVisible(False)
        self.plot.addItem(self.flat, ignoreBounds=True)
        self._drawn: dict = {}
        self._d_scale = None
        self._last = None
        self._rect = QRectF(0, 0, 1, 1)
        self._cbar_label = "D(x) = P(real)"
        self._cbar_shown = self._cbar_label
        self._own_bar = True  # False: a grid of panels draws the bar for this one
        self._scale = None  # (label, levels) of a fixed colour scale; None when fitted
        self._grid_range = None  # ((x0, x1), (y0, y1)) of the target's extent
        self._view_range = None  # what the view shows now (the grid, or grown)
        self._sent_view = None  # the visible rectangle last sent to the run
        self.shared = None  # linked panels' SharedRange (views.multiples): it sets the range
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(VIEW_SETTLE_MS)
        self._settle.timeout.connect(self._send_view)
        self.plot.vb.sigRangeChanged.connect(lambda *_: self._settle.start())
        self._refitting = False
        self.plot.vb.sigResized.connect(self._refit)
        self._hold_on_mouse()

    def visible_rect(self):
        """((x0, x1), (y0, y1)) the plot shows now, data units (wider than asked: the
        aspect is locked)."""
        (x0, x1), (y0, y1) = self.plot.vb.viewRange()
        return ((float(x0), float(x1)), (float(y0), float(y1)))

    def settled(self) -> bool:
        """Whether the fields drawn cover what the view shows: no view change on its way."""
        return view_settled(self, self._last)

    def _send_view(self) -> None:
        if self._grid_range is None:  # no run drawn yet
            return
        rect = fields_wanted(self._sent_view, self.visible_rect())
        if rect is not None:
            self._sent_view = rect
            self.view_changed.emit(rect)

    def add_overlay(self, item) -> None:
        """Host an interactive item over the data (:mod:`ganviz.views.draw`), outside auto-range."""
        self.plot.addItem(item, ignoreBounds=True)
        item.present(self.presenter)

    def colour_scale(self):
        """(label, (lo, hi)) of the heatmap's colour scale when it is fixed (D as a
        probability, D*, a raw output's range), None when fitted to a critic's values
        or when the heatmap is hidden: panels with equal scales can share one bar."""
        return self._scale if self.visible["d"] else None

    def show_colour_bar(self, on: bool) -> None:
        """Draw this view's colour bar (True), or leave its width to the data (False:
        a bar beside a grid of views stands for it)."""
        on = bool(on)
        if on == self._own_bar:
            return
        self._own_bar = on
        layout = self.plot.layout
        if on:
            layout.addItem(self.cbar, 2, 5)
            layout.setColumnFixedWidth(4, 5)
        else:
            layout.removeItem(self.cbar)
            layout.setColumnFixedWidth(4, 0)
        self.cbar.setVisible(on and self.visible["d"])

    def set_layer(self, name: str, on: bool) -> None:
        """Show or hide one layer (a key of LAYERS)."""
        self.visible[name] = bool(on)
        for item in self.items[name]:
            item.setVisible(bool(on) and (item is not self.cbar or self._own_bar))
        if name == "p_g_lines":
            in_legend = any(sample.item is self.pg_lines[0] for sample, _ in self.legend.items)
            if on and not in_legend:
                self.legend.addItem(self.pg_lines[0], "p_g: 50% (90% dashed) of its mass")
                self.legend.items[-1][1].setToolTip(TIPS["p_g_lines"])
                if self.presenter.on:
                    label = self.legend.items[-1][1]
                    label.setText(label.text, size=self.legend.opts["labelTextSize"])
            elif not on and in_legend:
                self.legend.removeItem(self.pg_lines[0])
        if on and self._last is not None:
            self._drawn.clear()
            self.draw(self._last)

    def set_heatmap(self, kind: str) -> None:
        """What the heatmap shows: a key of HEATMAPS (D, D*, or D - D*)."""
        if kind not in HEATMAPS:
            raise ValueError(f"unknown heatmap {kind!r}; accepted: {', '.join(HEATMAPS)}")
        self.heat = kind
        self._d_scale = None  # its colour scale and label follow
        if self._last is not None:
            self._drawn.pop("d", None)
            self.draw(self._last)

    def set_presentation(self, on: bool) -> None:
        """Large text, thick lines, big markers (a projector) when ``on``; the normal look off."""
        if self.presenter.set(on) and self._last is not None:
            self._draw_modes(self._last)  # per-circle pens carry their width
        self._refit()  # the legend's size changed

    def set_arrow_gain(self, gain: float) -> None:
        """Arrows ``gain`` times their automatic length (the printed scale follows)."""
        self.gain = float(gain)
        if self._last is not None:
            self._draw_arrows(self._last)

    def set_contrast(self, factor: float) -> None:
        """D's colour scale spans its range / ``factor`` around its middle (1/2, or 0 raw)."""
        self.contrast = max(float(factor), 1.0)
        self._d_scale = None  # redraw with the new levels
        if self._last is not None:
            self._drawn.pop("d", None)
            self.draw(self._last)

    def _follow_again(self, leader) -> None:
        if leader._view_range is not None:
            leader._set_view(leader._view_range)
        if self._last is not None and self._last.fake is not None:
            self._keep_in_view(np.asarray(self._last.fake, dtype=np.float64))

    def forget(self) -> None:  # not clear(): GraphicsLayoutWidget binds that to its layout
        """Forget the drawn run (a new one is coming): the view goes back to the grid."""
        self._drawn.clear()
        self._last = None
        self._grid_range = None
        self._view_range = None
        self._sent_view = None
        self._held = False
        self._picked = (None, None)
        self._modes_drawn = None
        self.edge.setVisible(False)
        self.flat.setVisible(False)

    def draw(self, snap) -> None:
        """Draw a 2-D snapshot; heavy layers only when their arrays changed."""
        self._last = snap
        if snap.xs is None or snap.ys is None:
            self._draw_points(snap)
            return
        xs, ys = snap.xs, snap.ys
        if self._changed("xs", xs) | self._changed("ys", ys):
            dx, dy = xs[1] - xs[0], ys[1] - ys[0]
            rect = QRectF(xs[0] - dx / 2, ys[0] - dy / 2, len(xs) * dx, len(ys) * dy)
            self._rect = rect  # applied after each setImage: setRect scales by the image's size
            if self._grid_range is None:  # a new run: the view starts at the target's extent
                ext = target_extent(snap)
                self._grid_range = (tuple(ext[0]), tuple(ext[1])) if ext else (
                    (float(xs[0]), float(xs[-1])), (float(ys[0]), float(ys[-1])))
                self._set_view(self._grid_range)
            # Later grids follow the view (the run draws over what is shown): the view stays.
        if self._changed("p_data", snap.p_data) and snap.p_data is not None:
            top = float(np.max(snap.p_data))
            self._pg_levels = (0.0, top if top > 0 else 1.0)
            if self.visible["p_data"]:
                self.outline.setData(*contour_path(snap.p_data, xs, ys, 0.05 * top))
        # D's colour scale as the loss registry says: fixed levels, or fitted to a critic's.
        heat = self.heat if snap.d_star is not None else "d"  # a critic has no D*
        levels = None if snap.d_range is None else tuple(float(v) for v in snap.d_range)
        if levels is not None:
            mid = 0.5 if snap.d_kind == "probability" else 0.0
            half = 0.5 * (levels[1] - levels[0]) / self.contrast
            if heat == "gap":  # a difference: symmetric about 0, as wide as D's range
                mid, half = 0.0, 2 * half
            levels = (mid - half, mid + half)
        if (snap.d_kind, levels, heat) != self._d_scale:
            self._d_scale = (snap.d_kind, levels, heat)
            name = {"d": "D(x)", "d_star": "D*(x)", "gap": "D(x) - D*(x)"}[heat]
            label = ("critic D(x)" if levels is None else
                     f"{name} = P(real)" if snap.d_kind == "probability" and heat != "gap" else
                     f"{name}, raw output" if heat != "gap" else name)
            if self.heat != heat:
                label += " (a critic has no D*)"
            if self.contrast > 1 and levels is not None:
                label += f", contrast x{self.contrast:g}"
            self._cbar_label = label
            self._cbar_shown = None
            self._scale = None if levels is None else (label, levels)
            if levels is not None:
                self._set_levels(levels)
            self._drawn.pop("d", None)
        source = {"d": (snap.d,), "d_star": (snap.d_star,), "gap": (snap.d, snap.d_star)}[heat]
        if (all(a is not None for a in source) and self.visible["d"]
                and self._changed("d", source)):
            d = (np.asarray(source[0], dtype=np.float64) if len(source) == 1 else
                 np.asarray(source[0], dtype=np.float64) - np.asarray(source[1], dtype=np.float64))
            if levels is None:
                finite = d[np.isfinite(d)]
                lo, hi = (np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0))
                flat = finite.size and float(np.ptp(finite)) < FLAT_CRITIC * max(
                    1.0, float(np.abs(finite).max()))
                spread = float(np.ptp(finite)) if finite.size else 0.0
                self._say_flat(f"flat critic: D varies by {spread:.2g} over the plane"
                               if flat else "", f"flat critic ({spread:.2g})")
                if hi - lo < 1e-9:
                    lo, hi = lo - 0.5, hi + 0.5
                self.d_img.setImage(upsample(d), autoLevels=False)
                self.d_img.setRect(self._rect)
                self._set_levels((float(lo), float(hi)))
            else:
                self._say_flat("")
                self.d_img.setImage(upsample(d), autoLevels=False, levels=levels)
                self.d_img.setRect(self._rect)
        if snap.p_g is not None and self.visible["p_g"] and self._changed("p_g", snap.p_g):
            self.pg_img.setImage(upsample(snap.p_g), autoLevels=False, levels=self._pg_levels)
            self.pg_img.setRect(self._rect)
        if (snap.p_g is not None and self.visible["p_g_lines"]
                and self._changed("p_g_lines", snap.p_g)):
            levels = mass_levels(snap.p_g)
            for k, line in enumerate(self.pg_lines):
                line.setData(*(contour_path(snap.p_g, xs, ys, levels[k]) if k < len(levels)
                               else (np.empty(0), np.empty(0))))
        if self.visible["real"] and self._changed("real", snap.real) and snap.real is not None:
            self.real.setData(pos=snap.real)
        if self.visible["modes"] and (self._changed("mode_counts", snap.mode_counts)
                                      or self._changed("mode_centres", snap.mode_centres)):
            self._draw_modes(snap)
        self._draw_points(snap)

    def _set_levels(self, levels) -> None:
        """The colour bar's levels and ticks, always with numbers (and their factor)."""
        self.cbar.setLevels(levels)
        ticks, unit = nice_ticks(*levels)
        self.cbar.axis.setTicks([ticks])
        label = self._cbar_label + (f" ({unit})" if unit else "")
        if label != self._cbar_shown:
            self._cbar_shown = label
            self.cbar.getAxis("left").setLabel(label)

    def _say_flat(self, text: str, short: str = "") -> None:
        """Say ``text`` at the bottom edge of what is shown (the legend is at the top); in a
        plot too narrow for it (a panel of a comparison), ``short``, wrapped to fit."""
        self.flat.setTextWidth(-1)
        self.flat.setText(text)
        self.flat.setVisible(bool(text))
        if text and self._view_range is not None:
            if short and self.flat.textItem.boundingRect().width() > self.plot.vb.width():
                self.flat.setText(short)
            self._fit_text(self.flat, 1.0)
            (x0, x1), (y0, _) = self.visible_rect()
            self.flat.setPos(0.5 * (x0 + x1), y0)

    def _draw_points(self, snap) -> None:
        if snap.fake is not None and self.visible["fake"]:
            self.fake.setData(pos=snap.fake)
        if snap.fake is not None:
            self._keep_in_view(np.asarray(snap.fake, dtype=np.float64))
        self._draw_arrows(snap)

    def _set_view(self, rng) -> None:
        """Show ``rng`` ((x0, x1), (y0, y1)) with a band on top for the legend: over the
        data the legend hid modes (the top of ring8 at 1280x720)."""
        (x0, x1), (y0, y1) = rng
        self._view_range = rng
        if self.shared is not None and not self.shared.leads(self):
            return  # a linked panel: the first panel's range is shown here too
        vb_h = self.plot.vb.height()
        share = 0.0
        if vb_h > 0 and self.legend.isVisible():
            share = min(0.4, (self.legend.height() + 2 * LEGEND_GAP_PX) / vb_h)
        top = y1 + (y1 - y0) * (1.02 * share / (1.0 - share))
        self.plot.setRange(xRange=(x0, x1), yRange=(y0, top), padding=0.02)
        self.plot.disableAutoRange()

    def _fit_text(self, item, share: float) -> None:
        """Wrap a note's text to ``share`` of the plot's width (a narrow panel cut it at
        both edges); its anchor then keeps it inside."""
        width = max(self.plot.vb.width() * share, 90.0)  # a few words a line at least
        item.setTextWidth(-1)
        if item.textItem.boundingRect().width() > width:
            item.setTextWidth(width)

    def _refit(self, *_args) -> None:
        """The legend's band follows the plot's height and the legend's size."""
        if self._view_range is not None and not self._refitting and not self.held():
            self._refitting = True
            try:
                self._set_view(self._view_range)
            finally:
                self._refitting = False

    def _keep_in_view(self, fake: np.ndarray) -> None:
        """Grow the view to take in the generated samples, within EXTEND_MAX times the
        grid's span; samples still outside get an edge marker with count and direction."""
        finite = fake[np.isfinite(fake).all(axis=1)]
        if self._grid_range is None or not len(finite):
            self.edge.setVisible(False)
            return
        (gx0, gx1), (gy0, gy1) = self._grid_range
        span = max(gx1 - gx0, gy1 - gy0)
        cx, cy = 0.5 * (gx0 + gx1), 0.5 * (gy0 + gy1)
        reach = 0.5 * span * EXTEND_MAX
        lo = np.percentile(finite, 1, axis=0)
        hi = np.percentile(finite, 99, axis=0)
        pad = 0.05 * span
        want = ((max(min(gx0, lo[0] - pad), cx - reach), min(max(gx1, hi[0] + pad), cx + reach)),
                (max(min(gy0, lo[1] - pad), cy - reach), min(max(gy1, hi[1] + pad), cy + reach)))
        if self.shared is not None:  # linked panels: one range takes in every panel's samples
            self.shared.want(self, "xy", want)
        elif not self._held:
            self.apply_range("xy", want)
        # Off the plot is off what is shown: the aspect-locked plot shows more than asked.
        (vx0, vx1), (vy0, vy1) = self.visible_rect()
        out = ((finite[:, 0] < vx0) | (finite[:, 0] > vx1)
               | (finite[:, 1] < vy0) | (finite[:, 1] > vy1))
        if out.sum() < max(2, EDGE_SHARE * len(finite)):  # a stray sample is not news
            self.edge.setVisible(False)
            return
        mx, my = np.median(finite[out], axis=0)
        cx, cy = 0.5 * (vx0 + vx1), 0.5 * (vy0 + vy1)
        arrow = _direction_arrow(mx - cx, my - cy)
        self.edge.setText(f"{arrow} {int(out.sum())} of {len(finite)} samples "
                          f"near ({mx:.2g}, {my:.2g})")
        self._fit_text(self.edge, 0.5)
        # At the edge they lie beyond, inside the view, the text on the view's side.
        ex = min(max(mx, vx0), vx1)
        ey = min(max(my, vy0), vy1)
        self.edge.setAnchor((0.0 if ex - vx0 < 0.3 * (vx1 - vx0) else
                             1.0 if vx1 - ex < 0.3 * (vx1 - vx0) else 0.5,
                             1.0 if ey <= vy0 + 0.1 * (vy1 - vy0) else
                             0.0 if ey >= vy1 - 0.1 * (vy1 - vy0) else 0.5))
        self.edge.setPos(ex, ey)
        self.edge.setVisible(True)

    def has_range(self) -> bool:
        """Whether a run was drawn, so that the view has a range to keep or grow."""
        return self._grid_range is not None

    def apply_range(self, kind: str, want) -> None:
        """Show ``want`` (``kind`` "xy": ((x0, x1), (y0, y1))) if the view must change: grow at
        once; shrink back only when the view is SHRINK_AT times larger than needed in one
        direction (no jitter while the samples move about inside)."""
        (vx0, vx1), (vy0, vy1) = self._view_range or self._grid_range
        inside = (vx0 <= want[0][0] and want[0][1] <= vx1 and vy0 <= want[1][0]
                  and want[1][1] <= vy1)
        roomy = ((vx1 - vx0) > SHRINK_AT * (want[0][1] - want[0][0])
                 or (vy1 - vy0) > SHRINK_AT * (want[1][1] - want[1][0]))
        if not inside or roomy:
            self._set_view(want)

    def adopt_range(self, kind: str, leader) -> None:
        """Take the range ``leader`` (the first of linked panels) decided."""
        self._view_range = leader._view_range

    def _draw_arrows(self, snap) -> None:
        if not self.visible["arrows"] or snap.fake is None or snap.fake_grad is None:
            return
        rng = self._view_range
        if rng is not None:
            span = float(max(rng[0][1] - rng[0][0], rng[1][1] - rng[1][0]))
        else:
            span = float(np.ptp(snap.fake)) or 1.0
        if snap.z is not None and len(snap.z) == len(snap.fake):
            # The probe's z is the same array until the run changes: pick its rows once.
            if self._picked[0] is not snap.z:
                self._picked = (snap.z, spread_over_z(snap.z))
            pick = self._picked[1]
        else:
            pick = np.linspace(0, len(snap.fake) - 1, min(N_ARROWS, len(snap.fake))).astype(int)
        x, y, scale = scaled_arrows(np.asarray(snap.fake)[pick], np.asarray(snap.fake_grad)[pick],
                                    span, self.gain)
        self.arrows.setData(x, y)
        self.arrow_scale = scale
        text = (f"-grad of G's loss (full arrow: |grad| {scale:.2g})" if scale > 0
                else "-grad of G's loss (zero)")
        if text != self._arrow_text:  # a new legend text lays the legend out again
            self._arrow_text = text
            for sample, label in self.legend.items:
                if sample.item is self.arrows:
                    label.setText(text, size=self.legend.opts["labelTextSize"])
            self.legend.updateSize()

    def _draw_modes(self, snap) -> None:
        if snap.mode_centres is None:
            self.modes.setData([], [])
            self._modes_drawn = None
            return
        centres = np.asarray(snap.mode_centres)
        counts = snap.mode_counts if snap.mode_counts is not None else np.ones(len(centres))
        width = 2 * self.presenter.pen_scale
        drawn = self._modes_drawn
        if (drawn is not None and drawn[2] == width and np.array_equal(drawn[0], centres)
                and np.array_equal(drawn[1] > 0, np.asarray(counts) > 0)):
            return  # the same rings: a pen per mode costs more than the rest of a panel
        self._modes_drawn = (centres, np.asarray(counts), width)
        pens = [pg.mkPen("#ffffff" if c > 0 else "#ff5252", width=width,
                         style=pg.QtCore.Qt.PenStyle.SolidLine if c > 0
                         else pg.QtCore.Qt.PenStyle.DashLine) for c in counts]
        self.modes.setData(pos=centres, pen=pens, brush=None)

    def _changed(self, key: str, value) -> bool:
        """Whether ``value`` (an array, or a tuple of them) is not the one last drawn."""
        old = self._drawn.get(key, ())
        same = (old is value or isinstance(value, tuple) and isinstance(old, tuple)
                and len(old) == len(value) and all(a is b for a, b in zip(old, value)))
        if same:
            return False
        self._drawn[key] = value
        return True
